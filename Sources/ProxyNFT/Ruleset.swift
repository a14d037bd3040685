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
    /// `ipv4_addr . ipv4_addr` (hairpin: source and destination are the same endpoint)
    case ipv4Pair
    /// `ipv4_addr . inet_proto . inet_service . mark`: a service IP and port and an endpoint
    /// index, the key of `numgen random mod N` endpoint maps (the index is `mark`-typed, the one
    /// 4-byte host-order integer type nft can name in a concatenation).
    case ipv4ProtoPortIndex
    /// `inet_proto . inet_service . mark`: a node port and an endpoint index.
    case protoPortIndex

    package var nftSyntax: String {
        switch self {
        case .ipv4: "ipv4_addr"
        case .protoPort: "inet_proto . inet_service"
        case .ipv4ProtoPort: "ipv4_addr . inet_proto . inet_service"
        case .ipv4Pair: "ipv4_addr . ipv4_addr"
        case .ipv4ProtoPortIndex: "ipv4_addr . inet_proto . inet_service . mark"
        case .protoPortIndex: "inet_proto . inet_service . mark"
        }
    }

    /// The packet fields a rule looks up in a set of this type (for an endpoint-index key:
    /// all but the index, which `numgen` supplies).
    package var packetFields: String {
        switch self {
        case .ipv4: "ip daddr"
        case .protoPort, .protoPortIndex: "meta l4proto . th dport"
        case .ipv4ProtoPort, .ipv4ProtoPortIndex: "ip daddr . meta l4proto . th dport"
        case .ipv4Pair: "ip saddr . ip daddr"
        }
    }
}

/// A set or map key.
package enum NFTKey: Hashable, Sendable, CustomStringConvertible {
    case ipv4(IPv4Address)
    case protoPort(L4Protocol, UInt16)
    case ipv4ProtoPort(IPv4Address, L4Protocol, UInt16)
    case ipv4Pair(IPv4Address, IPv4Address)
    case ipv4ProtoPortIndex(IPv4Address, L4Protocol, UInt16, UInt32)
    case protoPortIndex(L4Protocol, UInt16, UInt32)

    package var description: String {
        switch self {
        case .ipv4(let ip): "\(ip)"
        case .protoPort(let p, let port): "\(p.rawValue) . \(port)"
        case .ipv4ProtoPort(let ip, let p, let port): "\(ip) . \(p.rawValue) . \(port)"
        case .ipv4Pair(let a, let b): "\(a) . \(b)"
        case .ipv4ProtoPortIndex(let ip, let p, let port, let i): "\(ip) . \(p.rawValue) . \(port) . \(markHex(i))"
        case .protoPortIndex(let p, let port, let i): "\(p.rawValue) . \(port) . \(markHex(i))"
        }
    }
}

extension NFTKey {
    /// A cheap total order for deterministic transactions (not nft's order).
    var order: (Int, UInt32, UInt32, UInt32, UInt32) {
        switch self {
        case .ipv4(let ip): (0, ip.value, 0, 0, 0)
        case .protoPort(let p, let port): (1, UInt32(p.number), UInt32(port), 0, 0)
        case .ipv4ProtoPort(let ip, let p, let port): (2, ip.value, UInt32(p.number), UInt32(port), 0)
        case .ipv4Pair(let a, let b): (3, a.value, b.value, 0, 0)
        case .ipv4ProtoPortIndex(let ip, let p, let port, let i): (4, ip.value, UInt32(p.number), UInt32(port), i)
        case .protoPortIndex(let p, let port, let i): (5, UInt32(p.number), UInt32(port), i, 0)
        }
    }
}

extension SharedKey {
    /// Chains by name, then elements by set and key.
    static func inOrder(_ a: SharedKey, _ b: SharedKey) -> Bool {
        switch (a, b) {
        case (.chain(let x), .chain(let y)): x < y
        case (.chain, .element): true
        case (.element, .chain): false
        case (.element(let s, let x), .element(let t, let y)): s != t ? s < t : x.key.order < y.key.order
        }
    }
}

/// A mark as nft prints it: `0x` and eight hex digits.
func markHex(_ v: UInt32) -> String {
    let digits = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}

/// The data of a map element: a verdict, or the endpoint a DNAT map translates to.
package enum NFTElementData: Hashable, Sendable, CustomStringConvertible {
    case verdict(NFTVerdict)
    /// `ipv4_addr . inet_service`
    case endpoint(IPv4Address, UInt16)

    package var description: String {
        switch self {
        case .verdict(let v): v.description
        case .endpoint(let ip, let port): "\(ip) . \(port)"
        }
    }
}

/// One element of a set (data nil) or map.
package struct NFTElement: Hashable, Sendable, CustomStringConvertible {
    package var key: NFTKey
    package var data: NFTElementData?

    package init(_ key: NFTKey, _ verdict: NFTVerdict? = nil) {
        self.key = key
        self.data = verdict.map { .verdict($0) }
    }

    package init(_ key: NFTKey, endpoint ip: IPv4Address, _ port: UInt16) {
        self.key = key
        self.data = .endpoint(ip, port)
    }

    /// The verdict of a verdict-map element.
    package var verdict: NFTVerdict? { if case .verdict(let v) = data { v } else { nil } }

    package var description: String { data.map { "\(key) : \($0)" } ?? key.description }
}

/// What a map's elements carry.
package enum NFTSetDataType: Hashable, Sendable {
    /// A verdict map (`map … : verdict`).
    case verdict
    /// A DNAT map (`map … : ipv4_addr . inet_service`).
    case endpoint
}

/// A named set or map.
package struct NFTSetDef: Hashable, Sendable {
    package var name: String
    package var keyType: NFTKeyType
    /// nil for a set.
    package var dataType: NFTSetDataType?
    /// `flags dynamic,timeout; timeout Ns` (affinity sets).
    package var timeoutSeconds: UInt32?

    package init(name: String, keyType: NFTKeyType, dataType: NFTSetDataType? = nil, timeoutSeconds: UInt32? = nil) {
        self.name = name
        self.keyType = keyType
        self.dataType = dataType
        self.timeoutSeconds = timeoutSeconds
    }

    /// `set NAME` or `map NAME`, and the `type …` line as nft lists it.
    package var nftKind: String { dataType == nil ? "set" : "map" }
    package var nftType: String {
        switch dataType {
        case nil: "type \(keyType.nftSyntax)"
        case .verdict: "type \(keyType.nftSyntax) : verdict"
        case .endpoint: "type \(keyType.nftSyntax) : ipv4_addr . inet_service"
        }
    }

    /// The type line as `nft -f` accepts it: an endpoint-index map is declared with `typeof`,
    /// since nft will not match `numgen` against a `mark` member. The kernel holds the same key
    /// (type id, length, bytes) either way; only nft's user data differs.
    package var nftLoadableType: String {
        switch keyType {
        case .ipv4ProtoPortIndex: "typeof ip daddr . meta l4proto . th dport . numgen random mod 1 : ip daddr . th dport"
        case .protoPortIndex: "typeof meta l4proto . th dport . numgen random mod 1 : ip daddr . th dport"
        default: nftType
        }
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
    /// `dnat ip to <key fields> . numgen random mod N map @map`: one hash lookup picks
    /// endpoint `random mod N` of the service the packet is addressed to (an endpoint-index map:
    /// `.ipv4ProtoPortIndex` or `.protoPortIndex`).
    case dnatMap(NFTKeyType, modulus: UInt32, map: String)
    /// `ct status dnat`
    case ctStatusDNAT
    /// `ip saddr . ip daddr @set`
    case addressPairInSet(String)
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
        case .vmap(let keyType, let map): "\(keyType.packetFields) vmap @\(map)"
        case .numgenIsZero(let modulus): "numgen random mod \(modulus) 0"
        case .updateSaddr(let s): "update @\(s) { ip saddr }"
        case .dnatMap(let keyType, let modulus, let map):
            "dnat ip to \(keyType.packetFields) . numgen random mod \(modulus) map @\(map)"
        case .ctStatusDNAT: "ct status dnat"
        case .addressPairInSet(let s): "ip saddr . ip daddr @\(s)"
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
    /// Objects several fragments may contribute alike (the chains shared by all services with
    /// the same number of endpoints, the hairpin pairs of an endpoint that backs several
    /// services): the table holds each once, as long as any fragment names it.
    package var sharedChains: [NFTChainDef] = []
    package var sharedElements: [String: [NFTElement]] = [:]

    package init() {}
}

/// A shared object, as `Ruleset` counts its users.
package enum SharedKey: Hashable, Sendable {
    case chain(String)
    case element(set: String, NFTElement)
}

/// The whole desired table: the shared base plus one fragment per service port.
package struct Ruleset: Hashable, Sendable {
    package var table: String
    package var base: RulesetFragment
    package private(set) var services: [ServicePortName: RulesetFragment] = [:]
    /// How many service fragments name each shared object.
    package private(set) var sharedUsers: [SharedKey: Int] = [:]
    /// The definitions of the shared chains in use.
    package private(set) var sharedChainDefs: [String: NFTChainDef] = [:]

    package init(table: String, base: RulesetFragment, services: [ServicePortName: RulesetFragment] = [:]) {
        self.table = table
        self.base = base
        for (name, f) in services { setService(name, f) }
    }

    /// Replaces (nil: removes) one service's fragment and counts its shared objects.
    /// - Returns: the shared objects that appeared (true) or went away (false).
    @discardableResult
    package mutating func setService(_ name: ServicePortName, _ fragment: RulesetFragment?) -> [SharedKey: Bool] {
        let old = fragment == nil ? services.removeValue(forKey: name) : services.updateValue(fragment!, forKey: name)
        var changes: [SharedKey: Bool] = [:]
        if let old, !(old.sharedChains.isEmpty && old.sharedElements.isEmpty) {
            old.forEachShared { key, _ in
                let n = sharedUsers[key]! - 1
                if n == 0 {
                    sharedUsers.removeValue(forKey: key)
                    if case .chain(let c) = key { sharedChainDefs.removeValue(forKey: c) }
                    changes[key] = changes[key] == nil ? false : nil
                } else {
                    sharedUsers[key] = n
                }
            }
        }
        if let fragment, !(fragment.sharedChains.isEmpty && fragment.sharedElements.isEmpty) {
            fragment.forEachShared { key, chain in
                let n = sharedUsers[key, default: 0] + 1
                sharedUsers[key] = n
                if n == 1 {
                    if let chain { sharedChainDefs[chain.name] = chain }
                    changes[key] = changes[key] == nil ? true : nil
                }
            }
        }
        return changes
    }

    /// Base first, then services in name order.
    package var orderedFragments: [RulesetFragment] {
        [base] + services.keys.sorted().map { services[$0]! }
    }

    /// The shared chains in use, in name order.
    package var sharedChains: [NFTChainDef] { sharedChainDefs.keys.sorted().map { sharedChainDefs[$0]! } }

    /// The shared elements in use, by set.
    package var sharedElements: [String: [NFTElement]] {
        var out: [String: [NFTElement]] = [:]
        for key in sharedUsers.keys { if case .element(let set, let el) = key { out[set, default: []].append(el) } }
        return out
    }

    /// What a full sync creates, in the order it creates it: the sets, every chain (the
    /// fragments' in order, then the shared ones), the elements of each map (the fragments' in
    /// order, then the shared ones; non-empty maps only, in map-name order). The encoder,
    /// `NFTTransaction.fullOperations` and `render()` all walk this one order.
    package struct Content {
        package var sets: [NFTSetDef]
        package var chains: [NFTChainDef]
        package var elements: [(map: String, elements: [NFTElement])]
    }

    /// - Parameter sortShared: shared elements in key order (for people); otherwise in the
    ///   dictionary's order, which loads the same set.
    package func content(sortShared: Bool = false) -> Content {
        let fragments = orderedFragments
        var byMap: [String: [NFTElement]] = [:]
        for f in fragments { for (map, els) in f.elements { byMap[map, default: []].append(contentsOf: els) } }
        for (map, els) in sharedElements {
            byMap[map, default: []].append(contentsOf: sortShared ? els.sorted { $0.key.order < $1.key.order } : els)
        }
        return Content(
            sets: fragments.flatMap(\.sets),
            chains: fragments.flatMap(\.chains) + sharedChains,
            elements: byMap.keys.sorted().compactMap { byMap[$0]!.isEmpty ? nil : ($0, byMap[$0]!) })
    }

    /// All chain names.
    package var chainNames: Set<String> {
        var names = Set(base.chains.map(\.name))
        for f in services.values { for c in f.chains { names.insert(c.name) } }
        names.formUnion(sharedChainDefs.keys)
        return names
    }

    /// The table in `nft -f` syntax (sets and maps with their elements, then chains).
    package func render() -> String {
        let content = content(sortShared: true)
        var elements: [String: [NFTElement]] = [:]
        for (map, els) in content.elements { elements[map] = els }
        var out = "table ip \(table) {\n"
        for s in content.sets {
            out += "\t\(s.nftKind) \(s.name) {\n\t\t\(s.nftLoadableType)\n"
            if let t = s.timeoutSeconds { out += "\t\tflags dynamic,timeout\n\t\ttimeout \(t)s\n" }
            if let els = elements[s.name], !els.isEmpty {
                out += "\t\telements = { " + els.map(\.description).joined(separator: ",\n\t\t\t     ") + " }\n"
            }
            out += "\t}\n"
        }
        for c in content.chains {
            out += "\tchain \(c.name) {\n"
            if let b = c.base { out += "\t\ttype \(b.type) hook \(b.hook.rawValue) priority \(b.priority); policy accept;\n" }
            for r in c.rules { out += "\t\t\(r)\n" }
            out += "\t}\n"
        }
        return out + "}\n"
    }
}

extension RulesetFragment {
    /// Each shared object with, for a chain, its definition.
    func forEachShared(_ body: (SharedKey, NFTChainDef?) -> Void) {
        for c in sharedChains { body(.chain(c.name), c) }
        for (set, els) in sharedElements { for el in els { body(.element(set: set, el), nil) } }
    }
}
