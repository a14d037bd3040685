import CShim
import FoundationEssentials
import Glibc

/// The `bridge` plugin's configuration.
package struct BridgeConfig: Sendable, Equatable {
    package var name: String
    package var bridge: String
    package var isGateway: Bool
    package var isDefaultGateway: Bool
    package var ipMasq: Bool
    package var mtu: Int?
    package var hairpinMode: Bool
    package var promiscMode: Bool

    package init(conf: [String: Any]) throws {
        guard let name = conf["name"] as? String, !name.isEmpty else {
            throw CNIError(.invalidConfig, "network configuration has no \"name\"")
        }
        self.name = name
        bridge = conf["bridge"] as? String ?? "cni0"
        guard !bridge.isEmpty, bridge.utf8.count < 16 else {
            throw CNIError(.invalidConfig, "bridge name \"\(bridge)\" must have 1 to 15 characters")
        }
        func bool(_ k: String) throws -> Bool {
            guard let v = conf[k] else { return false }
            guard let b = v as? Bool else { throw CNIError(.invalidConfig, "\"\(k)\" must be true or false") }
            return b
        }
        isDefaultGateway = try bool("isDefaultGateway")
        isGateway = try bool("isGateway") || isDefaultGateway
        ipMasq = try bool("ipMasq")
        hairpinMode = try bool("hairpinMode")
        promiscMode = try bool("promiscMode")
        if let m = conf["mtu"] {
            guard let v = m as? Int, (68...65535).contains(v) else { throw CNIError(.invalidConfig, "\"mtu\" must be an integer from 68 to 65535") }
            mtu = v
        }
    }

    /// The host end of a pod's veth: stable, so ADD is idempotent and DEL finds it.
    package static func hostVethName(containerID: String, ifname: String) -> String {
        "veth" + cniHash8(containerID + "/" + ifname)
    }

    /// Our masquerade table for this network.
    package var masqTable: String { "swiftlet_cni_masq_" + String(name.map { $0.isLetter || $0.isNumber ? $0 : "_" }) }
}

/// `bridge`: a Linux bridge on the host, a veth pair per pod, gateway, masquerade.
struct BridgePlugin: CNIPluginImpl {
    func add(_ ctx: PluginContext) throws -> CNIResult {
        let cfg = try BridgeConfig(conf: ctx.conf)
        let pod = try RouteSocket(netns: ctx.netns)
        let host = try RouteSocket()
        guard let ipam = try ctx.delegateIPAM("ADD"), let first = ipam.ips?.first, let addr = IPv4Prefix(first.address) else {
            throw CNIError(.invalidConfig, "IPAM returned no IPv4 address")
        }
        let vethName = BridgeConfig.hostVethName(containerID: ctx.containerID, ifname: ctx.ifname)
        do {
            return try attach(ctx, cfg, pod: pod, host: host, ipam: ipam, addr: addr, vethName: vethName)
        } catch {
            _ = try? host.deleteLink(vethName)
            _ = try? ctx.delegateIPAM("DEL")
            throw error
        }
    }

    private func attach(_ ctx: PluginContext, _ cfg: BridgeConfig, pod: RouteSocket, host: RouteSocket, ipam: CNIResult,
                        addr: IPv4Prefix, vethName: String) throws -> CNIResult
    {
        // Bridge.
        var br = try host.link(cfg.bridge)
        if br == nil {
            do { try host.request("create bridge \(cfg.bridge)") { RTNL.newBridge(name: cfg.bridge, mtu: cfg.mtu, seq: $0) } } catch let e as NetlinkError where e.errno == EEXIST {}
            br = try host.link(cfg.bridge)
        }
        guard var bridge = br else { throw CNIError(.kernel, "bridge \(cfg.bridge) vanished after creation") }
        guard bridge.kind == nil || bridge.kind == "bridge" else {
            throw CNIError(.invalidConfig, "\(cfg.bridge) exists and is not a bridge (\(bridge.kind ?? "?"))")
        }
        try host.setUp(bridge.index)
        if cfg.promiscMode {
            try host.request("promisc on \(cfg.bridge)") { RTNL.setFlags(index: bridge.index, flags: UInt32(IFF_PROMISC.rawValue), change: UInt32(IFF_PROMISC.rawValue), seq: $0) }
        }
        let gateway = first(ipam)?.gateway.flatMap { IPv4($0) }
        if cfg.isGateway, let gateway {
            try host.addAddress(IPv4Prefix(address: gateway, length: addr.length), index: bridge.index)
            try? "1".write(toFile: "/proc/sys/net/ipv4/ip_forward", atomically: false, encoding: .utf8)
        }
        bridge = try host.link(cfg.bridge) ?? bridge

        // veth pair: host end on the bridge, pod end created directly in the pod netns as CNI_IFNAME.
        var veth = try host.link(vethName)
        var podIf = try pod.link(ctx.ifname)
        if veth == nil {
            if podIf != nil {
                throw CNIError(.invalidConfig, "interface \(ctx.ifname) already exists in \(ctx.netns)",
                               details: "another network owns it; DEL it first or use another CNI_IFNAME")
            }
            let nsfd = open(ctx.netns, O_RDONLY | O_CLOEXEC)
            guard nsfd >= 0 else { throw CNIError(.containerUnknown, "cannot open netns \(ctx.netns)", details: String(cString: strerror(errno))) }
            defer { close(nsfd) }
            try host.request("create veth \(vethName)") {
                RTNL.newVeth(host: vethName, peer: ctx.ifname, peerNetnsFD: nsfd, mtu: cfg.mtu, master: bridge.index, seq: $0)
            }
            veth = try host.link(vethName)
            podIf = try pod.link(ctx.ifname)
        }
        guard let veth, let podIf else { throw CNIError(.kernel, "veth \(vethName)/\(ctx.ifname) not found after creation") }
        if veth.master != bridge.index {
            try host.request("attach \(vethName) to \(cfg.bridge)") { RTNL.setMaster(index: veth.index, master: bridge.index, seq: $0) }
        }
        if cfg.hairpinMode {
            try host.request("hairpin \(vethName)") { RTNL.setHairpin(index: veth.index, on: true, seq: $0) }
        }
        try host.setUp(veth.index)

        // Pod side: up, address, routes.
        try pod.setUp(podIf.index)
        try pod.addAddress(addr, index: podIf.index)
        var routes: [CNIResult.Route] = ipam.routes ?? []
        if cfg.isDefaultGateway, let gateway, !routes.contains(where: { $0.dst == "0.0.0.0/0" }) {
            routes.append(.init(dst: "0.0.0.0/0", gw: gateway.description))
        }
        for r in routes {
            guard let dst = IPv4Prefix(r.dst) else { continue }
            let gw = r.gw.flatMap { IPv4($0) } ?? gateway
            try pod.addRoute(dst: dst.masked, gateway: gw, index: podIf.index)
        }
        if cfg.ipMasq { try Masquerade.ensure(table: cfg.masqTable, subnet: addr.masked) }

        var ips = ipam.ips ?? []
        for i in ips.indices { ips[i].interface = 2 }
        return CNIResult(cniVersion: ctx.cniVersion,
                         interfaces: [.init(name: bridge.name, mac: bridge.mac),
                                      .init(name: veth.name, mac: veth.mac),
                                      .init(name: podIf.name, mac: podIf.mac, sandbox: ctx.netns)],
                         ips: ips, routes: routes.map { .init(dst: $0.dst, gw: $0.gw ?? gateway?.description) }, dns: ipam.dns)
    }

    private func first(_ r: CNIResult) -> CNIResult.IPConfig? { r.ips?.first }

    func del(_ ctx: PluginContext) throws {
        let cfg = try BridgeConfig(conf: ctx.conf)
        try ctx.delegateIPAM("DEL")
        let host = try RouteSocket()
        try host.deleteLink(BridgeConfig.hostVethName(containerID: ctx.containerID, ifname: ctx.ifname))
        if !ctx.netns.isEmpty, FileManager.default.fileExists(atPath: ctx.netns), let pod = try? RouteSocket(netns: ctx.netns) {
            try pod.deleteLink(ctx.ifname)
        }
        _ = cfg
    }

    func gc(_ ctx: PluginContext) throws { try ctx.delegateIPAM("GC") }

    func status(_ ctx: PluginContext) throws { try ctx.delegateIPAM("STATUS") }

    func check(_ ctx: PluginContext) throws {
        let cfg = try BridgeConfig(conf: ctx.conf)
        guard let prev = ctx.prevResult else { throw CNIError(.invalidConfig, "CHECK needs prevResult") }
        try ctx.delegateIPAM("CHECK")
        let host = try RouteSocket()
        let pod = try RouteSocket(netns: ctx.netns)
        let vethName = BridgeConfig.hostVethName(containerID: ctx.containerID, ifname: ctx.ifname)
        guard let br = try host.link(cfg.bridge) else { throw CNIError(.checkFailed, "bridge \(cfg.bridge) is missing") }
        guard let veth = try host.link(vethName) else { throw CNIError(.checkFailed, "host veth \(vethName) of \(ctx.containerID) is missing") }
        guard veth.master == br.index else { throw CNIError(.checkFailed, "host veth \(vethName) is not attached to \(cfg.bridge)") }
        guard let podIf = try pod.link(ctx.ifname) else { throw CNIError(.checkFailed, "\(ctx.ifname) is missing in \(ctx.netns)") }
        guard podIf.isUp else { throw CNIError(.checkFailed, "\(ctx.ifname) is down in \(ctx.netns)") }
        let have = Set(try pod.addresses().filter { $0.index == podIf.index }.map(\.prefix))
        for ip in prev.ips ?? [] {
            guard let p = IPv4Prefix(ip.address), have.contains(p) else {
                throw CNIError(.checkFailed, "\(ctx.ifname) in \(ctx.netns) lacks address \(ip.address)",
                               details: "has \(have.map(\.description).sorted().joined(separator: ", "))")
            }
        }
    }
}

/// The network's masquerade rule: traffic from the pod subnet to anywhere outside it.
enum Masquerade {
    /// Replaces the table unless it already holds exactly our one rule for `subnet` (every ADD
    /// after a network's first finds it so and commits nothing).
    static func ensure(table: String, subnet: IPv4Prefix) throws {
        let tag = Array("swiftlet-cni masquerade \(subnet)".utf8)
        if try NFTQuery.ruleTags(table: table, chain: "postrouting") == [tag] { return }
        let b = NFTBatch()
        b.addTable(table)
        b.deleteTable(table)
        b.addTable(table)
        b.addNatChain(table: table, name: "postrouting", hook: NFTConst.hookPostrouting, priority: 100)
        b.addRule(table: table, chain: "postrouting", rule(subnet), tag: tag)
        try b.commit()
    }

    /// `ip saddr <subnet> ip daddr != <subnet> counter masquerade`.
    package static func rule(_ subnet: IPv4Prefix) -> [NFTExpr] {
        let mask = IPv4(subnet.mask).bytes
        return [.payload(transport: false, offset: 12, len: 4), .mask(mask), .cmpEq(subnet.network.bytes),
                .payload(transport: false, offset: 16, len: 4), .mask(mask), .cmpNeq(subnet.network.bytes),
                .counter, .masquerade]
    }
}
