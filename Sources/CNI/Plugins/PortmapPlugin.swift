import FoundationEssentials
import Glibc

/// One `runtimeConfig.portMappings` entry.
package struct PortMapping: Sendable, Equatable {
    package var hostPort: UInt16
    package var containerPort: UInt16
    package var proto: UInt8 // 6 tcp, 17 udp
    package var hostIP: IPv4?

    package static func parse(_ conf: [String: Any]) throws -> [PortMapping] {
        let rc = conf["runtimeConfig"] as? [String: Any] ?? [:]
        return try (rc["portMappings"] as? [[String: Any]] ?? []).map { m in
            guard let hp = m["hostPort"] as? Int, let cp = m["containerPort"] as? Int,
                  (1...65535).contains(hp), (1...65535).contains(cp) else {
                throw CNIError(.invalidConfig, "portMappings entries need hostPort and containerPort from 1 to 65535", details: "\(m)")
            }
            let p = (m["protocol"] as? String ?? "tcp").lowercased()
            guard p == "tcp" || p == "udp" else { throw CNIError(.invalidConfig, "portMappings protocol \(p) is not tcp or udp") }
            var hip: IPv4?
            if let s = m["hostIP"] as? String, !s.isEmpty, s != "0.0.0.0" {
                guard let v = IPv4(s) else { throw CNIError(.invalidConfig, "portMappings hostIP \(s) is not IPv4") }
                hip = v
            }
            return PortMapping(hostPort: UInt16(hp), containerPort: UInt16(cp), proto: p == "tcp" ? 6 : 17, hostIP: hip)
        }
    }

    /// DNAT rule: `[ip daddr <hostIP> | fib daddr type local] meta l4proto P th dport H dnat to <pod>:<C>`.
    package func dnatRule(pod: IPv4) -> [NFTExpr] {
        var e: [NFTExpr] = []
        if let hostIP {
            e += [.payload(transport: false, offset: 16, len: 4), .cmpEq(hostIP.bytes)]
        } else {
            e += [.fibDaddrType, .cmpEq(withUnsafeBytes(of: UInt32(2)) { Array($0) })] // RTN_LOCAL, host order
        }
        e += [.metaL4Proto, .cmpEq([proto]), .payload(transport: true, offset: 2, len: 2), .cmpEq(be16(hostPort)),
              .dnat(address: pod.bytes, port: be16(containerPort))]
        return e
    }

    /// Hairpin SNAT: the pod reaching itself through its host port.
    package func hairpinRule(pod: IPv4) -> [NFTExpr] {
        [.payload(transport: false, offset: 12, len: 4), .cmpEq(pod.bytes), .payload(transport: false, offset: 16, len: 4), .cmpEq(pod.bytes),
         .metaL4Proto, .cmpEq([proto]), .payload(transport: true, offset: 2, len: 2), .cmpEq(be16(containerPort)), .masquerade]
    }

    private func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 255)] }
}

/// `portmap`: host ports to pod ports, one nftables table per attachment.
struct PortmapPlugin: CNIPluginImpl {
    static func table(_ ctx: PluginContext) -> String { "swiftlet_cni_hp_" + cniHash8(ctx.containerID + "/" + ctx.ifname) }

    func add(_ ctx: PluginContext) throws -> CNIResult {
        guard let prev = ctx.prevResult else {
            throw CNIError(.invalidConfig, "portmap must be chained after a plugin that assigns addresses (no prevResult)")
        }
        let maps = try PortMapping.parse(ctx.conf)
        guard !maps.isEmpty else { return prev }
        guard let podIP = prev.ips?.compactMap({ IPv4Prefix($0.address)?.address }).first else {
            throw CNIError(.invalidConfig, "portmap: prevResult has no IPv4 address")
        }
        let t = Self.table(ctx)
        let b = NFTBatch()
        b.addTable(t)
        b.deleteTable(t)
        b.addTable(t)
        b.addNatChain(table: t, name: "prerouting", hook: NFTConst.hookPrerouting, priority: -100)
        b.addNatChain(table: t, name: "output", hook: NFTConst.hookOutput, priority: -100)
        b.addNatChain(table: t, name: "postrouting", hook: NFTConst.hookPostrouting, priority: 100)
        for m in maps {
            b.addRule(table: t, chain: "prerouting", m.dnatRule(pod: podIP))
            b.addRule(table: t, chain: "output", m.dnatRule(pod: podIP))
            b.addRule(table: t, chain: "postrouting", m.hairpinRule(pod: podIP))
        }
        try b.commit()
        try? "1".write(toFile: "/proc/sys/net/ipv4/conf/all/route_localnet", atomically: false, encoding: .utf8)
        return prev
    }

    func del(_ ctx: PluginContext) throws {
        let t = Self.table(ctx)
        // most pods map no host port: ask before committing (see NFTQuery)
        guard try NFTQuery.tableExists(t) else { return }
        let b = NFTBatch()
        b.addTable(t)
        b.deleteTable(t)
        try b.commit()
    }

    func check(_ ctx: PluginContext) throws {}
}
