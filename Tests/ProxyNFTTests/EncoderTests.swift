internal import CMnl
internal import CNftnl
import Testing
@testable import ProxyNFT

/// The rule and chain messages are written with libmnl directly (NFTMessage); these tests parse
/// every one with libnftnl and rebuild it: the bytes must come back identical, so the encoding is
/// exactly what libnftnl (and nft) would send.
@Suite struct EncoderTests {
    /// Every statement kind: the KernelTests services plus the base table.
    func ruleset() -> Ruleset {
        let builder = RulesetBuilder(config: ProxyConfig(clusterCIDR: IPv4CIDR("10.244.0.0/16")))
        let a = ServicePortInfo(name: svcName("a"), clusterIPs: [ip("10.96.0.10")], port: 80)
        let b = ServicePortInfo(
            name: svcName("b", proto: .udp), clusterIPs: [ip("10.96.0.11")], port: 53, nodePort: 30053,
            externalIPs: [ip("192.0.2.10")], sessionAffinityTimeout: 600, externalTrafficPolicy: .local)
        let c = ServicePortInfo(name: svcName("c"), clusterIPs: [ip("10.96.0.12")], port: 443, nodePort: 30443)
        // Shared chains for ClusterIP, external IP and node port traffic.
        let d = ServicePortInfo(name: svcName("d"), clusterIPs: [ip("10.96.0.13")], port: 8443, nodePort: 30844, externalIPs: [ip("192.0.2.11")])
        let three = (5...7).map { EndpointInfo(ip: IPv4Address(0x0af4_0100 + UInt32($0)), port: 8080) }
        return builder.build(
            services: [a.name: a, b.name: b, c.name: c, d.name: d],
            endpoints: [
                a.name: three,
                d.name: three,
                b.name: [EndpointInfo(ip: ip("10.244.1.7"), port: 5353, isLocal: true), EndpointInfo(ip: ip("10.244.2.7"), port: 5353)],
            ])
    }

    /// (type, bytes) of each message between BEGIN and END.
    func messages(_ batch: NetlinkBatch) -> [(UInt16, [UInt8])] {
        let bytes = batch.bytes
        var out: [(UInt16, [UInt8])] = []
        var offset = 0
        while offset + 16 <= bytes.count {
            let len = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            let type = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self)
            out.append((type, Array(bytes[offset..<offset + len])))
            offset += (len + 3) & ~3
        }
        return out
    }

    /// Parses `message` with `parse` into a fresh libnftnl object and rebuilds it with `build`.
    func rebuilt(_ message: [UInt8], parse: (UnsafePointer<nlmsghdr>) -> [UInt8]) -> [UInt8] {
        message.withUnsafeBytes { raw in
            let copy = UnsafeMutableRawPointer.allocate(byteCount: raw.count, alignment: 16)
            defer { copy.deallocate() }
            copy.copyMemory(from: raw.baseAddress!, byteCount: raw.count)
            return parse(copy.assumingMemoryBound(to: nlmsghdr.self))
        }
    }

    @Test func rulesAndChainsRoundTripThroughLibnftnl() {
        let rs = ruleset()
        var removed = rs
        removed.setService(svcName("a"), nil)
        var batches = [NFTEncoder.encode(NFTTransaction.full(rs), firstSeq: 1)]
        batches.append(NFTEncoder.encode(NFTTransaction.partial(from: rs, to: removed), firstSeq: 1))  // element deletions
        var rules = 0, chains = 0, elements = 0
        for batch in batches {
        for (type, message) in messages(batch) {
            let kind = type & 0xff
            guard type >> 8 == 10, [K.msgNewRule, K.msgNewChain, K.msgNewSetElem, K.msgDelSetElem].contains(kind) else { continue }
            let again = rebuilt(message) { nlh in
                let buf = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
                buf.initializeMemory(as: UInt8.self, repeating: 0, count: 1 << 16)
                defer { buf.deallocate() }
                let out = nftnl_nlmsg_build_hdr(buf.assumingMemoryBound(to: CChar.self), kind, K.nfprotoIPv4,
                                                nlh.pointee.nlmsg_flags, nlh.pointee.nlmsg_seq)!
                if kind == K.msgNewRule {
                    let r = nftnl_rule_alloc()!
                    defer { nftnl_rule_free(r) }
                    #expect(nftnl_rule_nlmsg_parse(nlh, r) >= 0)
                    nftnl_rule_nlmsg_build_payload(out, r)
                    rules += 1
                } else if kind == K.msgNewSetElem || kind == K.msgDelSetElem {
                    let s = nftnl_set_alloc()!
                    defer { nftnl_set_free(s) }
                    #expect(nftnl_set_elems_nlmsg_parse(nlh, s) >= 0)
                    nftnl_set_elems_nlmsg_build_payload(out, s)
                    listElemTypes(out)
                    elements += 1
                } else {
                    let c = nftnl_chain_alloc()!
                    defer { nftnl_chain_free(c) }
                    #expect(nftnl_chain_nlmsg_parse(nlh, c) >= 0)
                    nftnl_chain_nlmsg_build_payload(out, c)
                    chains += 1
                }
                return Array(UnsafeRawBufferPointer(start: out, count: Int(out.pointee.nlmsg_len)))
            }
            #expect(again == message, "message type \(kind): \(hex(message)) vs libnftnl \(hex(again))")
        }
        }
        #expect(rules > 25 && chains > 15 && elements >= 8, "rules \(rules) chains \(chains) element messages \(elements)")
    }

    /// A full sync is encoded from the ruleset without listing its operations; the bytes equal
    /// those of the listed operations, so errors name the right operation.
    @Test func fullSyncFromTheRulesetEqualsItsOperationList() {
        let rs = ruleset()
        let direct = NFTEncoder.encode(NFTTransaction.full(rs), firstSeq: 7)
        let listed = NFTEncoder.encode(NFTTransaction(table: rs.table, operations: NFTTransaction.full(rs).operations, isFull: true), firstSeq: 7)
        #expect(Array(direct.bytes) == Array(listed.bytes))
        #expect(NFTTransaction.full(rs).operationCount == NFTTransaction.full(rs).operations.count)
        #expect(direct.operation(forSeq: direct.lastSeq)?.index == NFTTransaction.full(rs).operations.count - 1)
    }

    /// libnftnl numbers the elements of a set element list 1, 2, 3, … when it builds (and then
    /// only parses NFTA_LIST_ELEM, 1); the kernel takes any type. We send 1 for each: make the
    /// rebuilt message say so too before comparing.
    func listElemTypes(_ nlh: UnsafeMutablePointer<nlmsghdr>) {
        let raw = UnsafeMutableRawPointer(nlh)
        let end = Int(nlh.pointee.nlmsg_len)
        var offset = 20  // nlmsghdr + nfgenmsg
        while offset + 4 <= end {
            let len = Int(raw.load(fromByteOffset: offset, as: UInt16.self))
            let type = raw.load(fromByteOffset: offset + 2, as: UInt16.self) & 0x7fff
            if type == 3 {  // NFTA_SET_ELEM_LIST_ELEMENTS
                var inner = offset + 4
                while inner + 4 <= offset + len {
                    let l = Int(raw.load(fromByteOffset: inner, as: UInt16.self))
                    raw.storeBytes(of: UInt16(0x8001), toByteOffset: inner + 2, as: UInt16.self)
                    inner += (l + 3) & ~3
                }
            }
            offset += (len + 3) & ~3
        }
    }

    func hex(_ b: [UInt8]) -> String { b.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }
}
