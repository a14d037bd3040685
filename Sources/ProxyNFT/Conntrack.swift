internal import CMnl
import Glibc

/// One conntrack entry, as much of it as stale-flow clean-up needs.
package struct ConntrackFlow: Hashable, Sendable {
    package var proto: UInt8
    /// Original direction: client → what the client addressed (a service IP or node address).
    package var origSrc: IPv4Address
    package var origDst: IPv4Address
    package var origSrcPort: UInt16
    package var origDstPort: UInt16
    /// Reply direction source: the endpoint the flow was DNATed to (equal to `origDst` without NAT).
    package var replySrc: IPv4Address
    package var replySrcPort: UInt16
    /// The raw `CTA_TUPLE_ORIG` (and `CTA_ZONE`) attributes, sent back to delete exactly this entry.
    var identity: [UInt8]

    package init(proto: UInt8, origSrc: IPv4Address, origDst: IPv4Address, origSrcPort: UInt16, origDstPort: UInt16,
                 replySrc: IPv4Address, replySrcPort: UInt16, identity: [UInt8] = [])
    {
        self.proto = proto
        self.origSrc = origSrc
        self.origDst = origDst
        self.origSrcPort = origSrcPort
        self.origDstPort = origDstPort
        self.replySrc = replySrc
        self.replySrcPort = replySrcPort
        self.identity = identity
    }
}

/// The kernel's connection tracking table, behind a protocol so clean-up logic is tested without root.
package protocol ConntrackTable: Sendable {
    /// IPv4 flows of protocol `proto`.
    func flows(proto: UInt8) throws -> [ConntrackFlow]
    /// Deletes the flows; ones already gone are not an error. Returns how many were deleted.
    func delete(_ flows: [ConntrackFlow]) throws -> Int
}

/// Which UDP flows are stale after a sync, kube-proxy's `CleanStaleEntries` rule: a flow to a
/// service IP and port (or to a local node port) whose DNAT target is not one of the endpoints
/// the service now uses. That covers endpoints that went away (a UDP client would otherwise keep
/// sending into the void, as UDP "connections" never end) and flows that were tracked before the
/// service had endpoints (no DNAT at all).
package enum StaleFlows {
    package struct ServiceTarget: Sendable {
        package var ips: [IPv4Address]
        package var port: UInt16
        package var nodePort: UInt16?
        package var endpoints: Set<EndpointInfo.Key>
    }

    /// The UDP service ports of a snapshot, with the endpoints their chains can DNAT to.
    package static func targets(services: [ServicePortInfo], endpoints: [ServicePortName: [EndpointInfo]]) -> [ServiceTarget] {
        services.filter { $0.name.proto == .udp }.map { svc in
            let eps = endpoints[svc.name] ?? []
            let used = RulesetBuilder.usable(eps) + RulesetBuilder.usable(eps.filter(\.isLocal))
            return ServiceTarget(ips: svc.clusterIPs + svc.externalIPs, port: svc.port, nodePort: svc.nodePort,
                                 endpoints: Set(used.map(\.key)))
        }
    }

    package static func select(_ flows: [ConntrackFlow], targets: [ServiceTarget]) -> [ConntrackFlow] {
        var byAddress: [IPv4Address: [UInt16: Set<EndpointInfo.Key>]] = [:]
        var byNodePort: [UInt16: Set<EndpointInfo.Key>] = [:]
        for t in targets {
            for ip in t.ips { byAddress[ip, default: [:]][t.port] = t.endpoints }
            if let np = t.nodePort { byNodePort[np] = t.endpoints }
        }
        return flows.filter { f in
            guard f.proto == L4Protocol.udp.number else { return false }
            let target = EndpointInfo.Key(ip: f.replySrc, port: f.replySrcPort)
            if let eps = byAddress[f.origDst]?[f.origDstPort] { return !eps.contains(target) }
            // Node ports: the client addressed some local address; only DNATed flows are ours.
            if let eps = byNodePort[f.origDstPort], f.replySrc != f.origDst { return !eps.contains(target) }
            return false
        }
    }
}

/// ctnetlink over a `NETLINK_NETFILTER` socket: dump (`IPCTNL_MSG_CT_GET` + `NLM_F_DUMP`) and
/// delete by original tuple (`IPCTNL_MSG_CT_DELETE`), as `conntrack -D` does.
package final class NetlinkConntrack: ConntrackTable, @unchecked Sendable {
    private var seq: UInt32 = 1

    // linux/netfilter/nfnetlink.h, nfnetlink_conntrack.h
    private static let subsysCtnetlink: UInt16 = 1
    private static let msgGet: UInt16 = 1
    private static let msgDelete: UInt16 = 2
    private static let ctaTupleOrig: UInt16 = 1, ctaTupleReply: UInt16 = 2, ctaZone: UInt16 = 18
    private static let ctaTupleIP: UInt16 = 1, ctaTupleProto: UInt16 = 2
    private static let ctaIPv4Src: UInt16 = 1, ctaIPv4Dst: UInt16 = 2
    private static let ctaProtoNum: UInt16 = 1, ctaProtoSrcPort: UInt16 = 2, ctaProtoDstPort: UInt16 = 3

    private let socket: OpaquePointer

    /// A socket in the caller's network namespace.
    package init() throws {
        guard let nl = mnl_socket_open(NETLINK_NETFILTER) else { throw NFTError(.socket, errno: errno, "conntrack netlink socket") }
        guard mnl_socket_bind(nl, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let e = errno
            mnl_socket_close(nl)
            throw NFTError(.socket, errno: e, "bind conntrack netlink socket")
        }
        socket = nl
    }

    /// Takes ownership of an open `NETLINK_NETFILTER` socket (one opened in another netns).
    package init(fileDescriptor fd: Int32) throws {
        guard let nl = mnl_socket_fdopen(fd) else { throw NFTError(.socket, errno: errno, "mnl_socket_fdopen(\(fd))") }
        socket = nl
    }

    deinit { mnl_socket_close(socket) }

    package func flows(proto: UInt8) throws -> [ConntrackFlow] {
        var out: [ConntrackFlow] = []
        try exchange(type: Self.msgGet, flags: UInt16(NLM_F_REQUEST | NLM_F_DUMP), payload: []) { attrs in
            if let flow = Self.parse(attrs), flow.proto == proto { out.append(flow) }
        }
        return out
    }

    package func delete(_ flows: [ConntrackFlow]) throws -> Int {
        var deleted = 0
        for f in flows where !f.identity.isEmpty {
            do {
                try exchange(type: Self.msgDelete, flags: UInt16(NLM_F_REQUEST | NLM_F_ACK), payload: f.identity) { _ in }
                deleted += 1
            } catch let e as NFTError where e.errno == ENOENT {
                continue
            }
        }
        return deleted
    }

    // MARK: wire format

    /// Sends one request and reads replies until DONE (dump) or the ACK; `each` gets the
    /// attribute bytes of every data message. A netlink error becomes an `NFTError`.
    private func exchange(type: UInt16, flags: UInt16, payload: [UInt8], _ each: ([UInt8]) -> Void) throws {
        seq &+= 1
        let mySeq = seq
        var msg: [UInt8] = []
        let length = 16 + 4 + payload.count
        msg.append(u32: UInt32(length))
        msg.append(u16: Self.subsysCtnetlink << 8 | type)
        msg.append(u16: flags)
        msg.append(u32: mySeq)
        msg.append(u32: 0)
        msg += [UInt8(AF_INET), 0, 0, 0]  // nfgenmsg: family, version 0, res_id 0
        msg += payload
        let sent = msg.withUnsafeBytes { mnl_socket_sendto(socket, $0.baseAddress, $0.count) }
        guard sent == msg.count else { throw NFTError(.send, errno: errno, "conntrack request") }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { mnl_socket_recvfrom(socket, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw NFTError(.receive, errno: errno, "conntrack reply")
            }
            var off = 0
            while off + 16 <= n {
                let len = Int(buffer.u32(at: off))
                let mtype = buffer.u16(at: off + 4)
                let mseq = buffer.u32(at: off + 8)
                guard len >= 16, off + len <= n else { break }
                defer { off += (len + 3) & ~3 }
                if mseq != mySeq { continue }
                switch mtype {
                case UInt16(NLMSG_DONE):
                    return
                case UInt16(NLMSG_ERROR):
                    let code = Int32(bitPattern: buffer.u32(at: off + 16))
                    if code == 0 { return }  // the ACK
                    throw NFTError(.kernel, errno: -code, type == Self.msgDelete ? "conntrack delete" : "conntrack dump")
                default:
                    if off + 20 <= off + len { each(Array(buffer[(off + 20)..<(off + len)])) }
                }
            }
        }
    }

    /// A flow from one dumped entry's attributes; nil for non-IPv4 or incomplete entries.
    static func parse(_ attrs: [UInt8]) -> ConntrackFlow? {
        var orig: [UInt8]? = nil, reply: [UInt8]? = nil
        var identity: [UInt8] = []
        for (type, range) in attributes(attrs, 0..<attrs.count) {
            switch type {
            case ctaTupleOrig:
                orig = Array(attrs[range])
                identity += attrs[(range.lowerBound - 4)..<min(attrs.count, (range.upperBound + 3) & ~3)]
            case ctaTupleReply:
                reply = Array(attrs[range])
            case ctaZone:
                identity += attrs[(range.lowerBound - 4)..<min(attrs.count, (range.upperBound + 3) & ~3)]
            default: break
            }
        }
        guard let o = orig.flatMap(tuple), let r = reply.flatMap(tuple) else { return nil }
        return ConntrackFlow(proto: o.proto, origSrc: o.src, origDst: o.dst, origSrcPort: o.sport, origDstPort: o.dport,
                             replySrc: r.src, replySrcPort: r.sport, identity: identity)
    }

    private static func tuple(_ bytes: [UInt8]) -> (src: IPv4Address, dst: IPv4Address, proto: UInt8, sport: UInt16, dport: UInt16)? {
        var src: IPv4Address?, dst: IPv4Address?, proto: UInt8?, sport: UInt16 = 0, dport: UInt16 = 0
        for (type, range) in attributes(bytes, 0..<bytes.count) {
            if type == ctaTupleIP {
                for (t, r) in attributes(bytes, range) where r.count == 4 {
                    let v = IPv4Address(bytes.u32be(at: r.lowerBound))
                    if t == ctaIPv4Src { src = v } else if t == ctaIPv4Dst { dst = v }
                }
            } else if type == ctaTupleProto {
                for (t, r) in attributes(bytes, range) {
                    if t == ctaProtoNum, r.count >= 1 { proto = bytes[r.lowerBound] }
                    if t == ctaProtoSrcPort, r.count >= 2 { sport = bytes.u16be(at: r.lowerBound) }
                    if t == ctaProtoDstPort, r.count >= 2 { dport = bytes.u16be(at: r.lowerBound) }
                }
            }
        }
        guard let src, let dst, let proto else { return nil }
        return (src, dst, proto, sport, dport)
    }

    /// Netlink attributes in `range`: (type without the nested/byte-order flags, payload range).
    private static func attributes(_ b: [UInt8], _ range: Range<Int>) -> [(UInt16, Range<Int>)] {
        var out: [(UInt16, Range<Int>)] = []
        var off = range.lowerBound
        while off + 4 <= range.upperBound {
            let len = Int(b.u16(at: off))
            guard len >= 4, off + len <= range.upperBound else { break }
            out.append((b.u16(at: off + 2) & 0x3fff, (off + 4)..<(off + len)))
            off += (len + 3) & ~3
        }
        return out
    }
}

private extension Array where Element == UInt8 {
    mutating func append(u16 v: UInt16) { append(contentsOf: Swift.withUnsafeBytes(of: v.littleEndian, Array.init)) }
    mutating func append(u32 v: UInt32) { append(contentsOf: Swift.withUnsafeBytes(of: v.littleEndian, Array.init)) }
    func u16(at i: Int) -> UInt16 { UInt16(self[i]) | UInt16(self[i + 1]) << 8 }
    func u32(at i: Int) -> UInt32 { UInt32(self[i]) | UInt32(self[i + 1]) << 8 | UInt32(self[i + 2]) << 16 | UInt32(self[i + 3]) << 24 }
    func u16be(at i: Int) -> UInt16 { UInt16(self[i]) << 8 | UInt16(self[i + 1]) }
    func u32be(at i: Int) -> UInt32 { UInt32(self[i]) << 24 | UInt32(self[i + 1]) << 16 | UInt32(self[i + 2]) << 8 | UInt32(self[i + 3]) }
}
