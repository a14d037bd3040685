import FoundationEssentials
import Glibc

/// `host-local` IPAM: addresses from configured ranges, allocations on disk under a lock.
struct HostLocalPlugin: CNIPluginImpl {
    func add(_ ctx: PluginContext) throws -> CNIResult {
        let cfg = try HostLocalConfig(conf: ctx.conf)
        let store = HostLocalStore(dataDir: cfg.dataDir, network: cfg.networkName)
        return try store.withLock {
            var ips: [CNIResult.IPConfig] = []
            let held = Set(store.find(id: ctx.containerID, ifname: ctx.ifname))
            for (i, set) in cfg.rangeSets.enumerated() {
                if let ip = held.first(where: { ip in set.contains { $0.contains(ip) } }), let r = set.first(where: { $0.contains(ip) }) {
                    ips.append(.init(address: "\(ip)/\(r.subnet.length)", gateway: r.gateway?.description))
                    continue
                }
                var used = store.allocatedIPs()
                var chosen: (IPv4, IPRange)?
                for _ in 0..<64 {
                    guard let c = IPAllocator.next(in: set, used: used, reserved: cfg.reserved, last: store.lastReserved(set: i)) else { break }
                    if try store.reserve(c.0, id: ctx.containerID, ifname: ctx.ifname) { chosen = c; break }
                    used.insert(c.0)
                }
                guard let (ip, r) = chosen else {
                    store.release(id: ctx.containerID, ifname: ctx.ifname)
                    throw Self.exhausted(set, cfg: cfg, store: store, code: .tryAgainLater)
                }
                store.setLastReserved(ip, set: i)
                ips.append(.init(address: "\(ip)/\(r.subnet.length)", gateway: r.gateway?.description))
            }
            return CNIResult(cniVersion: ctx.cniVersion, ips: ips, routes: cfg.routes.isEmpty ? nil : cfg.routes)
        }
    }

    func del(_ ctx: PluginContext) throws {
        let cfg = try HostLocalConfig(conf: ctx.conf)
        let store = HostLocalStore(dataDir: cfg.dataDir, network: cfg.networkName)
        try store.withLock { store.release(id: ctx.containerID, ifname: ctx.ifname) }
    }

    func check(_ ctx: PluginContext) throws {
        let cfg = try HostLocalConfig(conf: ctx.conf)
        let store = HostLocalStore(dataDir: cfg.dataDir, network: cfg.networkName)
        let held = Set(store.find(id: ctx.containerID, ifname: ctx.ifname))
        for ip in ctx.prevResult?.ips ?? [] {
            guard let p = IPv4Prefix(ip.address), held.contains(p.address) else {
                throw CNIError(.checkFailed, "host-local: \(ip.address) is not allocated to \(ctx.containerID)/\(ctx.ifname)")
            }
        }
    }

    /// Ready when every range set has an address left for the next ADD (spec 1.1: code 50 when
    /// the plugin cannot service ADD requests).
    func status(_ ctx: PluginContext) throws {
        let cfg = try HostLocalConfig(conf: ctx.conf)
        let store = HostLocalStore(dataDir: cfg.dataDir, network: cfg.networkName)
        let used = store.allocatedIPs()
        for (i, set) in cfg.rangeSets.enumerated()
            where IPAllocator.next(in: set, used: used, reserved: cfg.reserved, last: store.lastReserved(set: i)) == nil
        {
            throw Self.exhausted(set, cfg: cfg, store: store, code: .notAvailable)
        }
    }

    /// The error for a range set without a free address (ADD: try again later; STATUS: not available).
    static func exhausted(_ set: [IPRange], cfg: HostLocalConfig, store: HostLocalStore, code: CNIError.Code) -> CNIError {
        let desc = set.map { "\($0.subnet) (\($0.start)-\($0.end))" }.joined(separator: ", ")
        return CNIError(code, "no IP addresses available in range set \(desc)",
                        details: "every address of network \(cfg.networkName) is allocated under \(store.dir); delete unused pods or enlarge the range")
    }

    func gc(_ ctx: PluginContext) throws {
        let cfg = try HostLocalConfig(conf: ctx.conf)
        let store = HostLocalStore(dataDir: cfg.dataDir, network: cfg.networkName)
        let valid = Set((ctx.conf["cni.dev/valid-attachments"] as? [[String: Any]] ?? []).compactMap { a -> String? in
            guard let id = a["containerID"] as? String, let ifn = a["ifname"] as? String else { return nil }
            return HostLocalStore.owner(id, ifn)
        })
        try store.withLock { store.gc(valid: valid) }
    }
}

/// `loopback`: brings `lo` up in the pod's network namespace.
struct LoopbackPlugin: CNIPluginImpl {
    func add(_ ctx: PluginContext) throws -> CNIResult {
        let pod = try RouteSocket(netns: ctx.netns)
        guard let lo = try pod.link("lo") else { throw CNIError(.ioFailure, "no lo interface in \(ctx.netns)") }
        try pod.setUp(lo.index)
        return CNIResult(cniVersion: ctx.cniVersion,
                         interfaces: [.init(name: "lo", mac: "00:00:00:00:00:00", sandbox: ctx.netns)],
                         ips: [.init(address: "127.0.0.1/8", interface: 0)])
    }

    func del(_ ctx: PluginContext) throws {}

    func check(_ ctx: PluginContext) throws {
        let pod = try RouteSocket(netns: ctx.netns)
        guard let lo = try pod.link("lo"), lo.isUp else { throw CNIError(.checkFailed, "lo is not up in \(ctx.netns)") }
    }
}

/// FNV-1a, for stable short names derived from container IDs.
package func cniHash8(_ s: String) -> String {
    var h: UInt32 = 2_166_136_261
    for b in s.utf8 { h = (h ^ UInt32(b)) &* 16_777_619 }
    return hex(h, digits: 8)
}

/// `v` in lowercase hex, zero-padded to `digits` (String(format:) costs a one-call process
/// more in Foundation's start-up than the whole formatting).
package func hex<T: BinaryInteger>(_ v: T, digits: Int) -> String {
    let s = String(v, radix: 16)
    return s.count >= digits ? s : String(repeating: "0", count: digits - s.count) + s
}
