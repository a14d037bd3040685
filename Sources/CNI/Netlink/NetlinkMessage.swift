import CMnl
import CShim
import FoundationEssentials
import Glibc

/// Builds rtnetlink requests with libmnl into byte arrays (so tests compare them as bytes).
package enum RTNL {
    package static let bufferSize = 8192

    /// A request under construction: the libmnl header plus helpers for attributes.
    package struct Builder {
        let nlh: UnsafeMutablePointer<nlmsghdr>

        package func u8(_ type: Int, _ v: UInt8) { mnl_attr_put_u8(nlh, UInt16(type), v) }
        package func u32(_ type: Int, _ v: UInt32) { mnl_attr_put_u32(nlh, UInt16(type), v) }
        package func string(_ type: Int, _ s: String) { mnl_attr_put_strz(nlh, UInt16(type), s) }
        package func bytes(_ type: Int, _ b: [UInt8]) {
            b.withUnsafeBytes { mnl_attr_put(nlh, UInt16(type), $0.count, $0.baseAddress) }
        }
        package func nest(_ type: Int, _ body: () -> Void) {
            let n = mnl_attr_nest_start(nlh, UInt16(type))
            body()
            mnl_attr_nest_end(nlh, n)
        }
        /// Appends an `ifinfomsg` (top-level family header, or inside VETH_INFO_PEER).
        package func ifinfo(family: Int32 = AF_UNSPEC, index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) {
            let p = mnl_nlmsg_put_extra_header(nlh, MemoryLayout<ifinfomsg>.size)!.assumingMemoryBound(to: ifinfomsg.self)
            p.pointee.ifi_family = UInt8(family)
            p.pointee.ifi_index = index
            p.pointee.ifi_flags = flags
            p.pointee.ifi_change = change
        }
    }

    /// Builds one message of `type` with `flags` and sequence `seq`.
    package static func message(type: Int, flags: Int32, seq: UInt32 = 1, _ body: (Builder) -> Void) -> [UInt8] {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 8)
        defer { raw.deallocate() }
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bufferSize)
        let nlh = mnl_nlmsg_put_header(raw)!
        nlh.pointee.nlmsg_type = UInt16(type)
        nlh.pointee.nlmsg_flags = UInt16(flags)
        nlh.pointee.nlmsg_seq = seq
        body(Builder(nlh: nlh))
        return Array(UnsafeRawBufferPointer(start: raw, count: Int(nlh.pointee.nlmsg_len)))
    }

    static let req = NLM_F_REQUEST | NLM_F_ACK
    static let create = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL

    /// `ip link add <name> type bridge [mtu N]`.
    package static func newBridge(name: String, mtu: Int?, seq: UInt32 = 1) -> [UInt8] {
        message(type: Int(RTM_NEWLINK), flags: create, seq: seq) { b in
            b.ifinfo()
            b.string(n(IFLA_IFNAME), name)
            if let mtu { b.u32(n(IFLA_MTU), UInt32(mtu)) }
            b.nest(n(IFLA_LINKINFO)) { b.string(n(IFLA_INFO_KIND), "bridge") }
        }
    }

    /// `ip link add <host> mtu N master <bridge> type veth peer name <peer> netns <fd>`.
    package static func newVeth(host: String, peer: String, peerNetnsFD: Int32, mtu: Int?, master: Int32?, seq: UInt32 = 1) -> [UInt8] {
        message(type: Int(RTM_NEWLINK), flags: create, seq: seq) { b in
            b.ifinfo()
            b.string(n(IFLA_IFNAME), host)
            if let mtu { b.u32(n(IFLA_MTU), UInt32(mtu)) }
            if let master { b.u32(n(IFLA_MASTER), UInt32(master)) }
            b.nest(n(IFLA_LINKINFO)) {
                b.string(n(IFLA_INFO_KIND), "veth")
                b.nest(n(IFLA_INFO_DATA)) {
                    b.nest(Int(VETH_INFO_PEER)) {
                        b.ifinfo()
                        b.string(n(IFLA_IFNAME), peer)
                        if let mtu { b.u32(n(IFLA_MTU), UInt32(mtu)) }
                        b.u32(n(IFLA_NET_NS_FD), UInt32(bitPattern: peerNetnsFD))
                    }
                }
            }
        }
    }

    /// Sets flags (`ip link set <index> up`, `promisc on`) through `change` mask.
    package static func setFlags(index: Int32, flags: UInt32, change: UInt32, seq: UInt32 = 1) -> [UInt8] {
        message(type: Int(RTM_NEWLINK), flags: req, seq: seq) { b in
            b.ifinfo(index: index, flags: flags, change: change)
        }
    }

    /// `ip link set <index> master <bridge>`.
    package static func setMaster(index: Int32, master: Int32, seq: UInt32 = 1) -> [UInt8] {
        message(type: Int(RTM_NEWLINK), flags: req, seq: seq) { b in
            b.ifinfo(index: index)
            b.u32(n(IFLA_MASTER), UInt32(master))
        }
    }

    /// `bridge link set dev <index> hairpin on|off`.
    package static func setHairpin(index: Int32, on: Bool, seq: UInt32 = 1) -> [UInt8] {
        message(type: Int(RTM_SETLINK), flags: req, seq: seq) { b in
            b.ifinfo(family: Int32(AF_BRIDGE), index: index)
            b.nest(n(IFLA_PROTINFO) | Int(NLA_F_NESTED)) {
                b.u8(Int(IFLA_BRPORT_MODE), on ? 1 : 0)
            }
        }
    }

    package static func getLink(name: String, seq: UInt32 = 1) -> [UInt8] {
        message(type: Int(RTM_GETLINK), flags: req, seq: seq) { b in
            b.ifinfo()
            b.string(n(IFLA_IFNAME), name)
        }
    }

    package static func delLink(index: Int32, seq: UInt32 = 1) -> [UInt8] {
        message(type: Int(RTM_DELLINK), flags: req, seq: seq) { b in b.ifinfo(index: index) }
    }

    /// `ip addr add <prefix> dev <index>`.
    package static func newAddress(_ p: IPv4Prefix, index: Int32, seq: UInt32 = 1) -> [UInt8] {
        message(type: Int(RTM_NEWADDR), flags: create, seq: seq) { b in
            let a = mnl_nlmsg_put_extra_header(b.nlh, MemoryLayout<ifaddrmsg>.size)!.assumingMemoryBound(to: ifaddrmsg.self)
            a.pointee.ifa_family = UInt8(AF_INET)
            a.pointee.ifa_prefixlen = UInt8(p.length)
            a.pointee.ifa_index = UInt32(index)
            b.bytes(Int(IFA_LOCAL), p.address.bytes)
            b.bytes(Int(IFA_ADDRESS), p.address.bytes)
            if p.length < 31 { b.bytes(Int(IFA_BROADCAST), p.broadcast.bytes) }
        }
    }

    package static func dumpAddresses(seq: UInt32 = 1) -> [UInt8] {
        message(type: Int(RTM_GETADDR), flags: NLM_F_REQUEST | NLM_F_DUMP, seq: seq) { b in
            let a = mnl_nlmsg_put_extra_header(b.nlh, MemoryLayout<ifaddrmsg>.size)!.assumingMemoryBound(to: ifaddrmsg.self)
            a.pointee.ifa_family = UInt8(AF_INET)
        }
    }

    /// `ip route add <dst> [via <gw>] dev <index>`.
    package static func newRoute(dst: IPv4Prefix, gateway: IPv4?, index: Int32, seq: UInt32 = 1) -> [UInt8] {
        message(type: Int(RTM_NEWROUTE), flags: create, seq: seq) { b in
            let r = mnl_nlmsg_put_extra_header(b.nlh, MemoryLayout<rtmsg>.size)!.assumingMemoryBound(to: rtmsg.self)
            r.pointee.rtm_family = UInt8(AF_INET)
            r.pointee.rtm_dst_len = UInt8(dst.length)
            r.pointee.rtm_table = UInt8(n(RT_TABLE_MAIN))
            r.pointee.rtm_protocol = UInt8(RTPROT_BOOT)
            r.pointee.rtm_scope = UInt8(gateway == nil ? RT_SCOPE_LINK.rawValue : RT_SCOPE_UNIVERSE.rawValue)
            r.pointee.rtm_type = UInt8(RTN_UNICAST)
            if dst.length > 0 { b.bytes(n(RTA_DST), dst.network.bytes) }
            if let gateway { b.bytes(n(RTA_GATEWAY), gateway.bytes) }
            b.u32(n(RTA_OIF), UInt32(index))
        }
    }
}

/// A parsed rtnetlink message: type, the family header's bytes and the attributes.
package struct NLReply: Sendable {
    package var type: UInt16
    package var header: [UInt8]
    package var attrs: [UInt16: [UInt8]]

    /// Splits a receive buffer into messages (NLMSG_ERROR / DONE included), with `headerSize` family-header bytes.
    package static func split(_ buf: [UInt8]) -> [(type: UInt16, flags: UInt16, seq: UInt32, payload: [UInt8])] {
        var out: [(UInt16, UInt16, UInt32, [UInt8])] = []
        var off = 0
        while off + 16 <= buf.count {
            let len = Int(le32(buf, off))
            guard len >= 16, off + len <= buf.count else { break }
            out.append((le16(buf, off + 4), le16(buf, off + 6), le32(buf, off + 8), Array(buf[(off + 16)..<(off + len)])))
            off += (len + 3) & ~3
        }
        return out
    }

    package init(type: UInt16, payload: [UInt8], headerSize: Int) {
        self.type = type
        header = Array(payload.prefix(headerSize))
        attrs = [:]
        var off = (headerSize + 3) & ~3
        while off + 4 <= payload.count {
            let len = Int(le16(payload, off))
            guard len >= 4, off + len <= payload.count else { break }
            let t = le16(payload, off + 2) & 0x3fff
            attrs[t] = Array(payload[(off + 4)..<(off + len)])
            off += (len + 3) & ~3
        }
    }

    package func u32(_ t: Int) -> UInt32? {
        guard let a = attrs[UInt16(t)], a.count >= 4 else { return nil }
        return le32(a, 0)
    }
    package func string(_ t: Int) -> String? {
        guard let a = attrs[UInt16(t)] else { return nil }
        return String(decoding: a.prefix { $0 != 0 }, as: UTF8.self)
    }
}

func le16(_ b: [UInt8], _ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
func le32(_ b: [UInt8], _ o: Int) -> UInt32 {
    UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
}

/// C enum constants import either as `Int` (anonymous enums) or as named enums; `n` flattens both.
func n(_ x: Int) -> Int { x }
func n(_ x: Int32) -> Int { Int(x) }
func n(_ x: UInt32) -> Int { Int(x) }
func n<T: RawRepresentable>(_ x: T) -> Int where T.RawValue: BinaryInteger { Int(x.rawValue) }
