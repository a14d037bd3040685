import FoundationEssentials
import Glibc

/// One allocation range of host-local (`ranges: [[{subnet, rangeStart, rangeEnd, gateway}]]`).
package struct IPRange: Equatable, Sendable {
    package var subnet: IPv4Prefix
    package var start: IPv4
    package var end: IPv4
    package var gateway: IPv4?

    package func contains(_ ip: IPv4) -> Bool { ip >= start && ip <= end }
    package var size: Int { Int(end.value) - Int(start.value) + 1 }
}

/// The `ipam` section of a network configuration for `host-local`.
package struct HostLocalConfig: Equatable, Sendable {
    package static let defaultDataDir = "/var/lib/cni/networks"

    package var networkName: String
    package var dataDir: String
    package var rangeSets: [[IPRange]]
    package var routes: [CNIResult.Route]
    package var reserved: Set<IPv4>

    /// Parses the `ipam` object of `conf` (the whole plugin configuration).
    package init(conf: [String: Any]) throws {
        guard let name = conf["name"] as? String, !name.isEmpty else {
            throw CNIError(.invalidConfig, "network configuration has no \"name\"", details: "add a \"name\" to the network configuration")
        }
        guard let ipam = conf["ipam"] as? [String: Any] else {
            throw CNIError(.invalidConfig, "network configuration has no \"ipam\" section")
        }
        networkName = name
        dataDir = ipam["dataDir"] as? String ?? Self.defaultDataDir
        var sets: [[IPRange]] = []
        if let ranges = ipam["ranges"] as? [Any] {
            for set in ranges {
                guard let items = set as? [Any], !items.isEmpty else {
                    throw CNIError(.invalidConfig, "ipam.ranges must be a list of non-empty lists of ranges")
                }
                sets.append(try items.map { try Self.range($0) })
            }
        } else if ipam["subnet"] != nil {
            sets = [[try Self.range(ipam)]]
        }
        if sets.isEmpty {
            throw CNIError(.invalidConfig, "ipam has no ranges", details: "set ipam.ranges to [[{\"subnet\": \"10.244.1.0/24\"}]] or ipam.subnet")
        }
        rangeSets = sets
        var routes: [CNIResult.Route] = []
        for r in ipam["routes"] as? [Any] ?? [] {
            guard let d = r as? [String: Any], let dst = d["dst"] as? String, IPv4Prefix(dst) != nil else {
                throw CNIError(.invalidConfig, "ipam.routes entries need a \"dst\" IPv4 prefix", details: "\(r)")
            }
            let gw = d["gw"] as? String
            if let gw, IPv4(gw) == nil { throw CNIError(.invalidConfig, "ipam.routes gw \(gw) is not an IPv4 address") }
            routes.append(.init(dst: dst, gw: gw))
        }
        self.routes = routes
        var reserved: Set<IPv4> = []
        for key in ["reserved", "exclude"] {
            for r in ipam[key] as? [Any] ?? [] {
                guard let s = r as? String, let ip = IPv4(s) else {
                    throw CNIError(.invalidConfig, "ipam.\(key) entries must be IPv4 addresses", details: "\(r)")
                }
                reserved.insert(ip)
            }
        }
        self.reserved = reserved
    }

    static func range(_ any: Any) throws -> IPRange {
        guard let d = any as? [String: Any], let s = d["subnet"] as? String else {
            throw CNIError(.invalidConfig, "an ipam range needs a \"subnet\"")
        }
        guard let subnet = IPv4Prefix(s)?.masked else {
            throw CNIError(.invalidConfig, "ipam subnet \(s) is not an IPv4 prefix", details: "only IPv4 is supported, e.g. 10.244.1.0/24")
        }
        guard subnet.length <= 30 else {
            throw CNIError(.invalidConfig, "ipam subnet \(s) is too small", details: "use a /30 or larger subnet")
        }
        func ip(_ key: String) throws -> IPv4? {
            guard let t = d[key] as? String else { return nil }
            guard let v = IPv4(t), subnet.contains(v) else {
                throw CNIError(.invalidConfig, "ipam \(key) \(t) is not an address inside \(subnet)")
            }
            return v
        }
        let gateway = try ip("gateway") ?? IPv4(subnet.network.value + 1)
        let start = try ip("rangeStart") ?? IPv4(subnet.network.value + 1)
        let end = try ip("rangeEnd") ?? IPv4(subnet.broadcast.value - 1)
        guard start <= end else { throw CNIError(.invalidConfig, "ipam rangeStart \(start) is after rangeEnd \(end)") }
        return IPRange(subnet: subnet, start: start, end: end, gateway: gateway)
    }
}

/// Chooses addresses; pure logic, no disk.
package enum IPAllocator {
    /// The next free address of a range set, scanning round-robin after `last` (as the reference does).
    package static func next(in ranges: [IPRange], used: Set<IPv4>, reserved: Set<IPv4>, last: IPv4?) -> (IPv4, IPRange)? {
        let total = ranges.reduce(0) { $0 + $1.size }
        guard total > 0 else { return nil }
        // Flattened position of the address after `last`.
        var startPos = 0
        if let last {
            var base = 0
            for r in ranges {
                if r.contains(last) { startPos = base + Int(last.value - r.start.value) + 1; break }
                base += r.size
            }
        }
        for step in 0..<total {
            var pos = (startPos + step) % total
            for r in ranges {
                if pos < r.size {
                    let ip = IPv4(r.start.value + UInt32(pos))
                    if ip != r.subnet.network && ip != r.subnet.broadcast && ip != r.gateway
                        && !used.contains(ip) && !reserved.contains(ip)
                    {
                        return (ip, r)
                    }
                    break
                }
                pos -= r.size
            }
        }
        return nil
    }
}
