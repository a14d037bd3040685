import CMnl
import CShim
import FoundationEssentials
import Glibc

/// A link as rtnetlink reports it.
package struct LinkInfo: Sendable, Equatable {
    package var index: Int32
    package var name: String
    package var flags: UInt32
    package var mac: String
    package var mtu: Int
    package var master: Int32?
    package var kind: String?
    package var isUp: Bool { flags & UInt32(IFF_UP.rawValue) != 0 }
}

/// An rtnetlink socket (libmnl), opened in our namespace or inside the one at `netns`.
package final class RouteSocket {
    private let nl: OpaquePointer
    private var seq: UInt32 = UInt32(truncatingIfNeeded: time(nil))
    private let portID: UInt32
    package let netns: String?

    package init(netns: String? = nil) throws {
        self.netns = netns
        let sock: OpaquePointer?
        if let netns {
            let fd = swl_cni_socket_in_netns(netns, AF_NETLINK, Int32(SOCK_RAW.rawValue), NETLINK_ROUTE)
            guard fd >= 0 else {
                throw CNIError(fd == -ENOENT ? .containerUnknown : .ioFailure,
                               "cannot enter network namespace \(netns)", details: String(cString: strerror(-fd)))
            }
            sock = mnl_socket_fdopen(fd)
        } else {
            sock = mnl_socket_open(NETLINK_ROUTE)
        }
        guard let sock else { throw CNIError(.ioFailure, "cannot open rtnetlink socket", details: String(cString: strerror(errno))) }
        guard mnl_socket_bind(sock, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            mnl_socket_close(sock)
            throw CNIError(.ioFailure, "cannot bind rtnetlink socket", details: String(cString: strerror(errno)))
        }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(mnl_socket_get_fd(sock), SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        nl = sock
        portID = mnl_socket_get_portid(sock)
    }

    deinit { mnl_socket_close(nl) }

    /// Sends one request built by `build(seq)`; returns the data replies; throws `NetlinkError` on NLMSG_ERROR.
    @discardableResult
    package func request(_ what: String, _ build: (UInt32) -> [UInt8]) throws -> [(type: UInt16, payload: [UInt8])] {
        seq &+= 1
        let s = seq
        let msg = build(s)
        let sent = msg.withUnsafeBytes { mnl_socket_sendto(nl, $0.baseAddress, $0.count) }
        guard sent >= 0 else { throw NetlinkError(op: what, errno: errno) }
        var replies: [(UInt16, [UInt8])] = []
        var buf = [UInt8](repeating: 0, count: 32768)
        for _ in 0..<100_000 {
            let n = buf.withUnsafeMutableBytes { mnl_socket_recvfrom(nl, $0.baseAddress, $0.count) }
            guard n > 0 else { throw NetlinkError(op: what + " (no reply)", errno: n < 0 ? errno : EIO) }
            for m in NLReply.split(Array(buf[0..<n])) where m.seq == s {
                switch Int32(m.type) {
                case NLMSG_ERROR:
                    let code = m.payload.count >= 4 ? Int32(bitPattern: le32(m.payload, 0)) : -EIO
                    if code != 0 { throw NetlinkError(op: what, errno: -code) }
                    return replies
                case NLMSG_DONE:
                    return replies
                default:
                    replies.append((m.type, m.payload))
                }
            }
        }
        throw NetlinkError(op: what + " (too many replies)", errno: EIO)
    }

    /// The link named `name`, nil when there is none.
    package func link(_ name: String) throws -> LinkInfo? {
        do {
            let r = try request("get link \(name)") { RTNL.getLink(name: name, seq: $0) }
            guard let m = r.first(where: { Int($0.type) == n(RTM_NEWLINK) }) else { return nil }
            return Self.parseLink(m.payload)
        } catch let e as NetlinkError where e.errno == ENODEV {
            return nil
        }
    }

    package static func parseLink(_ payload: [UInt8]) -> LinkInfo {
        let r = NLReply(type: UInt16(RTM_NEWLINK), payload: payload, headerSize: MemoryLayout<ifinfomsg>.size)
        let h = r.header
        let index = Int32(bitPattern: h.count >= 8 ? le32(h, 4) : 0)
        let flags = h.count >= 12 ? le32(h, 8) : 0
        let mac = (r.attrs[UInt16(n(IFLA_ADDRESS))] ?? []).map { hex($0, digits: 2) }.joined(separator: ":")
        var kind: String?
        if let li = r.attrs[UInt16(n(IFLA_LINKINFO))] {
            let nested = NLReply(type: 0, payload: li, headerSize: 0)
            kind = nested.string(n(IFLA_INFO_KIND))
        }
        return LinkInfo(index: index, name: r.string(n(IFLA_IFNAME)) ?? "", flags: flags, mac: mac,
                        mtu: Int(r.u32(n(IFLA_MTU)) ?? 0), master: r.u32(n(IFLA_MASTER)).map { Int32(bitPattern: $0) }, kind: kind)
    }

    /// IPv4 addresses per interface index.
    package func addresses() throws -> [(index: Int32, prefix: IPv4Prefix)] {
        let r = try request("list addresses") { RTNL.dumpAddresses(seq: $0) }
        return r.compactMap { m in
            let a = NLReply(type: m.type, payload: m.payload, headerSize: MemoryLayout<ifaddrmsg>.size)
            guard a.header.count >= 8, let local = a.attrs[UInt16(IFA_LOCAL)] ?? a.attrs[UInt16(IFA_ADDRESS)], local.count == 4 else { return nil }
            let ip = IPv4(UInt32(local[0]) << 24 | UInt32(local[1]) << 16 | UInt32(local[2]) << 8 | UInt32(local[3]))
            return (Int32(bitPattern: le32(a.header, 4)), IPv4Prefix(address: ip, length: Int(a.header[1])))
        }
    }

    package func setUp(_ index: Int32) throws {
        try request("set link \(index) up") { RTNL.setFlags(index: index, flags: UInt32(IFF_UP.rawValue), change: UInt32(IFF_UP.rawValue), seq: $0) }
    }

    /// Adds an address, tolerating one that is already there.
    package func addAddress(_ p: IPv4Prefix, index: Int32) throws {
        do { try request("add address \(p)") { RTNL.newAddress(p, index: index, seq: $0) } } catch let e as NetlinkError where e.errno == EEXIST {}
    }

    /// Adds a route, tolerating one that is already there.
    package func addRoute(dst: IPv4Prefix, gateway: IPv4?, index: Int32) throws {
        do {
            try request("add route \(dst) via \(gateway?.description ?? "-")") { RTNL.newRoute(dst: dst, gateway: gateway, index: index, seq: $0) }
        } catch let e as NetlinkError where e.errno == EEXIST {}
    }

    /// Deletes a link by name; false when it was already gone.
    @discardableResult
    package func deleteLink(_ name: String) throws -> Bool {
        guard let l = try link(name) else { return false }
        do { try request("delete link \(name)") { RTNL.delLink(index: l.index, seq: $0) } } catch let e as NetlinkError where e.errno == ENODEV { return false }
        return true
    }
}

/// A failed netlink request: what we asked and the kernel's errno.
package struct NetlinkError: Error, CustomStringConvertible {
    package var op: String
    package var errno: Int32
    package var description: String { "\(op): \(String(cString: strerror(errno))) (errno \(errno))" }
    package var cni: CNIError { CNIError(.kernel, "netlink request failed: \(op)", details: description) }
}
