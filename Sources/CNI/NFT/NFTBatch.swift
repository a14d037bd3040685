import CMnl
import CNftnl
import CShim
import FoundationEssentials
import Glibc

/// One nftables transaction built with libnftnl and sent over libmnl: all or nothing.
package final class NFTBatch {
    private let size = 1 << 17
    private let buf: UnsafeMutableRawPointer
    private let batch: OpaquePointer
    private var seq: UInt32 = UInt32(truncatingIfNeeded: time(nil)) &* 7
    private var acked = 0
    private let family = UInt16(NFTConst.ipv4)

    package init() {
        buf = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        buf.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        batch = mnl_nlmsg_batch_start(buf, size)
        seq &+= 1
        nftnl_batch_begin(cur, seq)
        _ = mnl_nlmsg_batch_next(batch)
    }

    deinit {
        mnl_nlmsg_batch_stop(batch)
        buf.deallocate()
    }

    private var cur: UnsafeMutablePointer<CChar> { mnl_nlmsg_batch_current(batch)!.assumingMemoryBound(to: CChar.self) }

    private func header(_ cmd: Int, flags: Int32) -> UnsafeMutablePointer<nlmsghdr> {
        seq &+= 1
        acked += 1
        return nftnl_nlmsg_build_hdr(cur, UInt16(cmd), family, UInt16(flags | NLM_F_ACK), seq)!
    }

    private func table(_ name: String) -> OpaquePointer {
        let t = nftnl_table_alloc()!
        nftnl_table_set_str(t, UInt16(n(NFTNL_TABLE_NAME)), name)
        nftnl_table_set_u32(t, UInt16(n(NFTNL_TABLE_FAMILY)), UInt32(family))
        return t
    }

    /// Adds the table if missing (no error when it exists).
    package func addTable(_ name: String) {
        let t = table(name)
        nftnl_table_nlmsg_build_payload(header(NFTConst.newTable, flags: NLM_F_CREATE), t)
        nftnl_table_free(t)
        _ = mnl_nlmsg_batch_next(batch)
    }

    /// Deletes the table (it must exist in the transaction: pair with `addTable` first for idempotence).
    package func deleteTable(_ name: String) {
        let t = table(name)
        nftnl_table_nlmsg_build_payload(header(NFTConst.delTable, flags: 0), t)
        nftnl_table_free(t)
        _ = mnl_nlmsg_batch_next(batch)
    }

    /// A base chain of type nat on `hook` with `priority`, policy accept.
    package func addNatChain(table: String, name: String, hook: Int, priority: Int32) {
        let c = nftnl_chain_alloc()!
        nftnl_chain_set_str(c, UInt16(n(NFTNL_CHAIN_TABLE)), table)
        nftnl_chain_set_str(c, UInt16(n(NFTNL_CHAIN_NAME)), name)
        nftnl_chain_set_u32(c, UInt16(n(NFTNL_CHAIN_FAMILY)), UInt32(family))
        nftnl_chain_set_u32(c, UInt16(n(NFTNL_CHAIN_HOOKNUM)), UInt32(hook))
        nftnl_chain_set_s32(c, UInt16(n(NFTNL_CHAIN_PRIO)), priority)
        nftnl_chain_set_str(c, UInt16(n(NFTNL_CHAIN_TYPE)), "nat")
        nftnl_chain_set_u32(c, UInt16(n(NFTNL_CHAIN_POLICY)), 1)
        nftnl_chain_nlmsg_build_payload(header(NFTConst.newChain, flags: NLM_F_CREATE), c)
        nftnl_chain_free(c)
        _ = mnl_nlmsg_batch_next(batch)
    }

    /// Appends a rule made of `exprs` to `chain`, with `tag` as its user data (nft shows it as a
    /// comment only when it is in nft's own TLV format; `NFTQuery.ruleTags` reads it back).
    package func addRule(table: String, chain: String, _ exprs: [NFTExpr], tag: [UInt8]? = nil) {
        let r = nftnl_rule_alloc()!
        nftnl_rule_set_str(r, UInt16(n(NFTNL_RULE_TABLE)), table)
        nftnl_rule_set_str(r, UInt16(n(NFTNL_RULE_CHAIN)), chain)
        nftnl_rule_set_u32(r, UInt16(n(NFTNL_RULE_FAMILY)), UInt32(family))
        if let tag { tag.withUnsafeBytes { _ = nftnl_rule_set_data(r, UInt16(n(NFTNL_RULE_USERDATA)), $0.baseAddress, UInt32($0.count)) } }
        for e in exprs { for x in e.make() { nftnl_rule_add_expr(r, x) } }
        nftnl_rule_nlmsg_build_payload(header(NFTConst.newRule, flags: NLM_F_CREATE | NLM_F_APPEND), r)
        nftnl_rule_free(r)
        _ = mnl_nlmsg_batch_next(batch)
    }

    /// The batch bytes (with begin/end markers), for tests.
    package func bytes() -> [UInt8] {
        finish()
        return Array(UnsafeRawBufferPointer(start: mnl_nlmsg_batch_head(batch), count: mnl_nlmsg_batch_size(batch)))
    }

    private var finished = false
    private func finish() {
        guard !finished else { return }
        finished = true
        seq &+= 1
        nftnl_batch_end(cur, seq)
        _ = mnl_nlmsg_batch_next(batch)
    }

    /// Sends the transaction in our network namespace and waits for every ack.
    package func commit() throws {
        finish()
        let nl = try openNFTSocket()
        defer { mnl_socket_close(nl) }
        let sent = mnl_socket_sendto(nl, mnl_nlmsg_batch_head(batch), mnl_nlmsg_batch_size(batch))
        guard sent >= 0 else { throw CNIError(.kernel, "nftables transaction send failed", details: String(cString: strerror(errno))) }
        var got = 0
        var rbuf = [UInt8](repeating: 0, count: 32768)
        while got < acked {
            let r = rbuf.withUnsafeMutableBytes { mnl_socket_recvfrom(nl, $0.baseAddress, $0.count) }
            guard r > 0 else { throw CNIError(.kernel, "nftables transaction: no answer from the kernel", details: String(cString: strerror(errno))) }
            for m in NLReply.split(Array(rbuf[0..<r])) where Int32(m.type) == NLMSG_ERROR {
                let code = m.payload.count >= 4 ? Int32(bitPattern: le32(m.payload, 0)) : -EIO
                if code != 0 {
                    throw CNIError(.kernel, "nftables transaction rejected", details: "\(String(cString: strerror(-code))) (errno \(-code))")
                }
                got += 1
            }
        }
    }
}

/// A bound NETLINK_NETFILTER socket in our network namespace whose reads time out after 5 s.
private func openNFTSocket() throws -> OpaquePointer {
    guard let nl = mnl_socket_open(NETLINK_NETFILTER) else {
        throw CNIError(.ioFailure, "cannot open nftables netlink socket", details: String(cString: strerror(errno)))
    }
    guard mnl_socket_bind(nl, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
        let e = errno
        mnl_socket_close(nl)
        throw CNIError(.ioFailure, "cannot bind nftables socket", details: String(cString: strerror(e)))
    }
    var tv = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    return nl
}

/// Read-only nftables requests. A process that commits an nftables transaction waits, when it
/// closes its socket, for the kernel to free what the commit replaced (an RCU grace period,
/// ~13 ms here: `nft_rcv_nl_event` flushes the destroy work); asking first and committing only
/// what is missing keeps that wait off the common path.
package enum NFTQuery {
    /// Whether table `name` (family ip) exists.
    package static func tableExists(_ name: String) throws -> Bool {
        try request(NFTConst.getTable, dump: false) { nlh in
            let t = nftnl_table_alloc()!
            nftnl_table_set_str(t, UInt16(n(NFTNL_TABLE_NAME)), name)
            nftnl_table_nlmsg_build_payload(nlh, t)
            nftnl_table_free(t)
        } != nil
    }

    /// The user data of each rule of `table`/`chain` in order ([] when either is missing).
    package static func ruleTags(table: String, chain: String) throws -> [[UInt8]] {
        try request(NFTConst.getRule, dump: true) { nlh in
            let r = nftnl_rule_alloc()!
            nftnl_rule_set_str(r, UInt16(n(NFTNL_RULE_TABLE)), table)
            nftnl_rule_set_str(r, UInt16(n(NFTNL_RULE_CHAIN)), chain)
            nftnl_rule_nlmsg_build_payload(nlh, r)
            nftnl_rule_free(r)
        }?.filter { $0.type & 0xff == UInt16(NFTConst.newRule) }.map { $0.attrs[NFTConst.ruleUserdata] ?? [] } ?? []
    }

    /// Sends one GET request and collects the answers; nil when the kernel says ENOENT.
    private static func request(_ cmd: Int, dump: Bool, _ build: (UnsafeMutablePointer<nlmsghdr>) -> Void) throws -> [NLReply]? {
        let nl = try openNFTSocket()
        defer { mnl_socket_close(nl) }
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        let seq = UInt32(truncatingIfNeeded: time(nil))
        let len = buf.withUnsafeMutableBytes { b -> Int in
            // a dump ends with DONE (an empty one when the table is missing), a GET with its ack
            let flags = dump ? Int32(NLM_F_DUMP) : Int32(NLM_F_ACK)
            let nlh = nftnl_nlmsg_build_hdr(b.baseAddress!.assumingMemoryBound(to: CChar.self), UInt16(cmd), NFTConst.ipv4, UInt16(flags), seq)!
            build(nlh)
            return Int(nlh.pointee.nlmsg_len)
        }
        guard mnl_socket_sendto(nl, buf, len) >= 0 else {
            throw CNIError(.kernel, "nftables request failed", details: String(cString: strerror(errno)))
        }
        var out: [NLReply] = []
        while true {
            let r = buf.withUnsafeMutableBytes { mnl_socket_recvfrom(nl, $0.baseAddress, $0.count) }
            guard r > 0 else { throw CNIError(.kernel, "nftables request: no answer from the kernel", details: String(cString: strerror(errno))) }
            for m in NLReply.split(Array(buf[0..<r])) {
                switch Int32(m.type) {
                case NLMSG_ERROR:
                    let code = m.payload.count >= 4 ? Int32(bitPattern: le32(m.payload, 0)) : -EIO
                    if code == -ENOENT { return nil }
                    if code != 0 { throw CNIError(.kernel, "nftables request rejected", details: "\(String(cString: strerror(-code))) (errno \(-code))") }
                    return out
                case NLMSG_DONE:
                    return out
                default:
                    out.append(NLReply(type: m.type, payload: m.payload, headerSize: 4))
                }
            }
        }
    }
}

/// An nftables expression description, made into a libnftnl expr when the rule is built.
package enum NFTExpr: Sendable {
    /// Load `len` bytes at `offset` of the network (`transport: false`) or transport header into reg 1.
    case payload(transport: Bool, offset: UInt32, len: UInt32)
    /// reg1 = reg1 & mask.
    case mask([UInt8])
    case cmpEq([UInt8])
    case cmpNeq([UInt8])
    case metaL4Proto
    /// fib daddr type → reg 1.
    case fibDaddrType
    case counter
    case masquerade
    /// dnat to address:port (both network order bytes).
    case dnat(address: [UInt8], port: [UInt8])

    func make() -> [OpaquePointer] { [one()] + extra() }

    private func extra() -> [OpaquePointer] {
        guard case let .dnat(_, port) = self else { return [] }
        func imm(_ reg: UInt32, _ b: [UInt8]) -> OpaquePointer {
            let e = nftnl_expr_alloc("immediate")!
            nftnl_expr_set_u32(e, UInt16(n(NFTNL_EXPR_IMM_DREG)), reg)
            b.withUnsafeBytes { _ = nftnl_expr_set(e, UInt16(n(NFTNL_EXPR_IMM_DATA)), $0.baseAddress, UInt32($0.count)) }
            return e
        }
        let nat = nftnl_expr_alloc("nat")!
        nftnl_expr_set_u32(nat, UInt16(n(NFTNL_EXPR_NAT_TYPE)), NFTConst.natDnat)
        nftnl_expr_set_u32(nat, UInt16(n(NFTNL_EXPR_NAT_FAMILY)), UInt32(NFTConst.ipv4))
        nftnl_expr_set_u32(nat, UInt16(n(NFTNL_EXPR_NAT_REG_ADDR_MIN)), NFTConst.reg1)
        nftnl_expr_set_u32(nat, UInt16(n(NFTNL_EXPR_NAT_REG_PROTO_MIN)), NFTConst.reg1 + 1)
        return [imm(NFTConst.reg1 + 1, port), nat]
    }

    private func one() -> OpaquePointer {
        func data(_ e: OpaquePointer, _ attr: UInt16, _ b: [UInt8]) {
            b.withUnsafeBytes { _ = nftnl_expr_set(e, attr, $0.baseAddress, UInt32($0.count)) }
        }
        let reg1 = NFTConst.reg1
        switch self {
        case let .payload(transport, offset, len):
            let e = nftnl_expr_alloc("payload")!
            nftnl_expr_set_u32(e, UInt16(n(NFTNL_EXPR_PAYLOAD_DREG)), reg1)
            nftnl_expr_set_u32(e, UInt16(n(NFTNL_EXPR_PAYLOAD_BASE)),
                               UInt32(transport ? NFTConst.payloadTransport : NFTConst.payloadNetwork))
            nftnl_expr_set_u32(e, UInt16(n(NFTNL_EXPR_PAYLOAD_OFFSET)), offset)
            nftnl_expr_set_u32(e, UInt16(n(NFTNL_EXPR_PAYLOAD_LEN)), len)
            return e
        case let .mask(m):
            let e = nftnl_expr_alloc("bitwise")!
            nftnl_expr_set_u32(e, UInt16(n(NFTNL_EXPR_BITWISE_SREG)), reg1)
            nftnl_expr_set_u32(e, UInt16(n(NFTNL_EXPR_BITWISE_DREG)), reg1)
            nftnl_expr_set_u32(e, UInt16(n(NFTNL_EXPR_BITWISE_LEN)), UInt32(m.count))
            data(e, UInt16(n(NFTNL_EXPR_BITWISE_MASK)), m)
            data(e, UInt16(n(NFTNL_EXPR_BITWISE_XOR)), [UInt8](repeating: 0, count: m.count))
            return e
        case let .cmpEq(d), let .cmpNeq(d):
            let e = nftnl_expr_alloc("cmp")!
            var eq = false
            if case .cmpEq = self { eq = true }
            nftnl_expr_set_u32(e, UInt16(n(NFTNL_EXPR_CMP_SREG)), reg1)
            nftnl_expr_set_u32(e, UInt16(n(NFTNL_EXPR_CMP_OP)), UInt32(eq ? NFTConst.cmpEq : NFTConst.cmpNeq))
            data(e, UInt16(n(NFTNL_EXPR_CMP_DATA)), d)
            return e
        case .metaL4Proto:
            let e = nftnl_expr_alloc("meta")!
            nftnl_expr_set_u32(e, UInt16(n(NFTNL_EXPR_META_KEY)), NFTConst.metaL4Proto)
            nftnl_expr_set_u32(e, UInt16(n(NFTNL_EXPR_META_DREG)), reg1)
            return e
        case .fibDaddrType:
            let e = nftnl_expr_alloc("fib")!
            nftnl_expr_set_u32(e, UInt16(n(NFTNL_EXPR_FIB_FLAGS)), NFTConst.fibDaddr)
            nftnl_expr_set_u32(e, UInt16(n(NFTNL_EXPR_FIB_RESULT)), NFTConst.fibAddrType)
            nftnl_expr_set_u32(e, UInt16(n(NFTNL_EXPR_FIB_DREG)), reg1)
            return e
        case .counter:
            return nftnl_expr_alloc("counter")!
        case .masquerade:
            return nftnl_expr_alloc("masq")!
        case let .dnat(address, port):
            // immediate reg1 = address; `extra()` adds the port and the nat expression.
            _ = port
            let e = nftnl_expr_alloc("immediate")!
            nftnl_expr_set_u32(e, UInt16(n(NFTNL_EXPR_IMM_DREG)), NFTConst.reg1)
            address.withUnsafeBytes { _ = nftnl_expr_set(e, UInt16(n(NFTNL_EXPR_IMM_DATA)), $0.baseAddress, UInt32($0.count)) }
            return e
        }
    }
}

/// nf_tables constants (linux/netfilter*.h clash with Glibc's netinet/in.h in one module, so they live here).
package enum NFTConst {
    static let ipv4: UInt16 = 2 // NFPROTO_IPV4
    static let newTable = 0, getTable = 1, delTable = 2, newChain = 3, newRule = 6, getRule = 7 // NFT_MSG_*
    static let ruleUserdata: UInt16 = 7 // NFTA_RULE_USERDATA
    package static let hookPrerouting = 0, hookOutput = 3, hookPostrouting = 4 // NF_INET_*
    static let reg1: UInt32 = 1
    static let payloadNetwork: UInt32 = 1, payloadTransport: UInt32 = 2
    static let cmpEq: UInt32 = 0, cmpNeq: UInt32 = 1
    static let metaL4Proto: UInt32 = 16
    static let fibDaddr: UInt32 = 1 << 1, fibAddrType: UInt32 = 3
    static let natDnat: UInt32 = 1
}
