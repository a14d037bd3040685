/// nftables objects as plain data: what the builder produces, the differ compares, the writer
/// encodes with libnftnl and `render()` prints in `nft -f` syntax.

/// Which IPv4 header address a statement reads.
package enum IPField: String, Hashable, Sendable {
    case saddr, daddr
}

/// A verdict, in a rule or as map data.
package enum NFTVerdict: Hashable, Sendable, CustomStringConvertible {
    case jump(String)
    case goto(String)
    case `return`
    case drop
    case accept

    package var description: String {
        switch self {
        case .jump(let chain): "jump \(chain)"
        case .goto(let chain): "goto \(chain)"
        case .return: "return"
        case .drop: "drop"
        case .accept: "accept"
        }
    }

    /// The chain a jump or goto targets.
    package var chain: String? {
        switch self {
        case .jump(let chain), .goto(let chain): chain
        default: nil
        }
    }
}

/// The key layouts of our sets and maps.
package enum NFTKeyType: Hashable, Sendable {
    /// `ipv4_addr`
    case ipv4
    /// `inet_proto . inet_service`
    case protoPort
    /// `ipv4_addr . inet_proto . inet_service`
    case ipv4ProtoPort

    package var nftSyntax: String {
        switch self {
        case .ipv4: "ipv4_addr"
        case .protoPort: "inet_proto . inet_service"
        case .ipv4ProtoPort: "ipv4_addr . inet_proto . inet_service"
        }
    }
}

/// A set or map key.
package enum NFTKey: Hashable, Sendable, CustomStringConvertible {
    case ipv4(IPv4Address)
    case protoPort(L4Protocol, UInt16)
    case ipv4ProtoPort(IPv4Address, L4Protocol, UInt16)

    package var description: String {
        switch self {
        case .ipv4(let ip): "\(ip)"
        case .protoPort(let p, let port): "\(p.rawValue) . \(port)"
        case .ipv4ProtoPort(let ip, let p, let port): "\(ip) . \(p.rawValue) . \(port)"
        }
    }
}

/// One element of a set (verdict nil) or verdict map.
package struct NFTElement: Hashable, Sendable, CustomStringConvertible {
    package var key: NFTKey
    package var verdict: NFTVerdict?

    package init(_ key: NFTKey, _ verdict: NFTVerdict? = nil) {
        self.key = key
        self.verdict = verdict
    }

    package var description: String { verdict.map { "\(key) : \($0)" } ?? key.description }
}

/// A named set or verdict map.
package struct NFTSetDef: Hashable, Sendable {
    package var name: String
    package var keyType: NFTKeyType
    /// A verdict map (`map … : verdict`) rather than a set.
    package var isVerdictMap: Bool
    /// `flags dynamic,timeout; timeout Ns` (affinity sets).
    package var timeoutSeconds: UInt32?

    package init(name: String, keyType: NFTKeyType, isVerdictMap: Bool, timeoutSeconds: UInt32? = nil) {
        self.name = name
        self.keyType = keyType
        self.isVerdictMap = isVerdictMap
        self.timeoutSeconds = timeoutSeconds
    }
}

/// One statement (match or action) of a rule.
package enum NFTStatement: Hashable, Sendable {
    /// `ip saddr|daddr [!=] 1.2.3.4`
    case address(IPField, equal: Bool, IPv4Address)
    /// `ip saddr|daddr [!=] 10.0.0.0/8`
    case prefix(IPField, equal: Bool, IPv4CIDR)
    /// `meta l4proto tcp`
    case l4proto(L4Protocol)
    /// `fib saddr|daddr type local`
    case fibLocal(IPField)
    /// `ct state new`
    case ctStateNew
    /// `meta mark & M == 0`
    case markClear(UInt32)
    /// `meta mark set meta mark | M`
    case setMarkOr(UInt32)
    /// `meta mark set meta mark ^ M`
    case setMarkXor(UInt32)
    /// `ip saddr @set`
    case saddrInSet(String)
    /// `<key> vmap @map`: the key expression matches the map's key type.
    case vmap(NFTKeyType, String)
    /// `numgen random mod N 0`: true with probability 1/N, a fresh random number per
    /// evaluation. A chain of these picks an endpoint uniformly without any set (README, "Syncs").
    case numgenIsZero(modulus: UInt32)
    /// `update @set { ip saddr }`
    case updateSaddr(String)
    /// `dnat to ip:port`
    case dnat(IPv4Address, UInt16)
    /// `masquerade fully-random`
    case masquerade
    /// `reject` (ICMP port unreachable)
    case reject
    /// a verdict ends the rule
    case verdict(NFTVerdict)

    package var nftSyntax: String {
        switch self {
        case .address(let f, let eq, let ip): "ip \(f.rawValue) \(eq ? "" : "!= ")\(ip)"
        case .prefix(let f, let eq, let cidr): "ip \(f.rawValue) \(eq ? "" : "!= ")\(cidr)"
        case .l4proto(let p): "meta l4proto \(p.rawValue)"
        case .fibLocal(let f): "fib \(f.rawValue) type local"
        case .ctStateNew: "ct state new"
        case .markClear(let m): "meta mark & \(hex(m)) == 0"
        case .setMarkOr(let m): "meta mark set meta mark | \(hex(m))"
        case .setMarkXor(let m): "meta mark set meta mark ^ \(hex(m))"
        case .saddrInSet(let s): "ip saddr @\(s)"
        case .vmap(let keyType, let map):
            switch keyType {
            case .ipv4: "ip daddr vmap @\(map)"
            case .protoPort: "meta l4proto . th dport vmap @\(map)"
            case .ipv4ProtoPort: "ip daddr . meta l4proto . th dport vmap @\(map)"
            }
        case .numgenIsZero(let modulus): "numgen random mod \(modulus) 0"
        case .updateSaddr(let s): "update @\(s) { ip saddr }"
        case .dnat(let ip, let port): "dnat to \(ip):\(port)"
        case .masquerade: "masquerade fully-random"
        case .reject: "reject"
        case .verdict(let v): v.description
        }
    }

    /// Chains this statement jumps or goes to.
    package var referencedChains: [String] {
        switch self {
        case .verdict(let v): v.chain.map { [$0] } ?? []
        default: []
        }
    }
}

private func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }

/// A rule: statements in order.
package struct NFTRule: Hashable, Sendable, CustomStringConvertible {
    package var statements: [NFTStatement]

    package init(_ statements: [NFTStatement]) { self.statements = statements }

    package var description: String { statements.map(\.nftSyntax).joined(separator: " ") }
}

/// Netfilter hooks for base chains.
package enum NFTHook: String, Hashable, Sendable {
    case prerouting, input, forward, output, postrouting

    /// `NF_INET_*`
    package var number: UInt32 {
        switch self {
        case .prerouting: 0
        case .input: 1
        case .forward: 2
        case .output: 3
        case .postrouting: 4
        }
    }
}

/// What makes a chain a base chain.
package struct NFTBaseChain: Hashable, Sendable {
    package var type: String  // "filter" | "nat"
    package var hook: NFTHook
    package var priority: Int32
}

/// A chain and its rules.
package struct NFTChainDef: Hashable, Sendable {
    package var name: String
    package var base: NFTBaseChain?
    package var rules: [NFTRule]

    package init(name: String, base: NFTBaseChain? = nil, rules: [NFTRule] = []) {
        self.name = name
        self.base = base
        self.rules = rules
    }
}

/// The objects one service port (or the shared base) contributes to the table.
package struct RulesetFragment: Hashable, Sendable {
    package var sets: [NFTSetDef] = []
    package var chains: [NFTChainDef] = []
    /// Elements added to shared maps, by map name.
    package var elements: [String: [NFTElement]] = [:]

    package init() {}
}

/// The whole desired table: the shared base plus one fragment per service port.
package struct Ruleset: Hashable, Sendable {
    package var table: String
    package var base: RulesetFragment
    package var services: [ServicePortName: RulesetFragment]

    package init(table: String, base: RulesetFragment, services: [ServicePortName: RulesetFragment] = [:]) {
        self.table = table
        self.base = base
        self.services = services
    }

    /// Base first, then services in name order.
    package var orderedFragments: [RulesetFragment] {
        [base] + services.keys.sorted().map { services[$0]! }
    }

    /// The elements of each shared map, gathered over the fragments in order; non-empty maps
    /// only, in map-name order.
    package var mergedElements: [(map: String, elements: [NFTElement])] { Self.mergedElements(orderedFragments) }

    static func mergedElements(_ fragments: [RulesetFragment]) -> [(map: String, elements: [NFTElement])] {
        var byMap: [String: [NFTElement]] = [:]
        for f in fragments { for (map, els) in f.elements { byMap[map, default: []].append(contentsOf: els) } }
        return byMap.keys.sorted().compactMap { byMap[$0]!.isEmpty ? nil : ($0, byMap[$0]!) }
    }

    /// All chain names.
    package var chainNames: Set<String> {
        var names = Set(base.chains.map(\.name))
        for f in services.values { for c in f.chains { names.insert(c.name) } }
        return names
    }

    /// The table in `nft -f` syntax (sets and maps with their elements, then chains).
    package func render() -> String {
        let fragments = orderedFragments
        var elements: [String: [NFTElement]] = [:]
        for f in fragments { for (map, els) in f.elements { elements[map, default: []].append(contentsOf: els) } }
        var out = "table ip \(table) {\n"
        for f in fragments {
            for s in f.sets {
                out += s.isVerdictMap ? "\tmap \(s.name) {\n" : "\tset \(s.name) {\n"
                out += "\t\ttype \(s.keyType.nftSyntax)\(s.isVerdictMap ? " : verdict" : "")\n"
                if let t = s.timeoutSeconds { out += "\t\tflags dynamic,timeout\n\t\ttimeout \(t)s\n" }
                if let els = elements[s.name], !els.isEmpty {
                    out += "\t\telements = { " + els.map(\.description).joined(separator: ",\n\t\t\t     ") + " }\n"
                }
                out += "\t}\n"
            }
        }
        for f in fragments {
            for c in f.chains {
                out += "\tchain \(c.name) {\n"
                if let b = c.base { out += "\t\ttype \(b.type) hook \(b.hook.rawValue) priority \(b.priority); policy accept;\n" }
                for r in c.rules { out += "\t\t\(r)\n" }
                out += "\t}\n"
            }
        }
        return out + "}\n"
    }
}
