/// One nftables transaction as a list of operations, in the order the kernel must see them.
/// The writer sends it as one batch; `render()` prints it in `nft -f` syntax for tests and logs.

/// One operation of a transaction.
package enum NFTOperation: Hashable, Sendable {
    /// Create the table if missing (never fails when it exists).
    case addTable
    case deleteTable
    case addSet(NFTSetDef)
    case deleteSet(String)
    case addChain(NFTChainDef)
    /// Delete all rules of a chain.
    case flushChain(String)
    case deleteChain(String)
    case addRule(chain: String, NFTRule)
    case addElements(set: String, [NFTElement])
    case deleteElements(set: String, [NFTElement])

    /// `nft` syntax of this operation for table `table`; for element operations, optionally
    /// only the elements in `elements` (the ones of one message).
    package func render(table: String, elements range: Range<Int>? = nil) -> String {
        let t = "ip \(table)"
        switch self {
        case .addTable: return "add table \(t)"
        case .deleteTable: return "delete table \(t)"
        case .addSet(let s):
            var body = "\(s.nftLoadableType);"
            if let timeout = s.timeoutSeconds { body += " flags dynamic,timeout; timeout \(timeout)s;" }
            return "add \(s.nftKind) \(t) \(s.name) { \(body) }"
        case .deleteSet(let name): return "delete set \(t) \(name)"
        case .addChain(let c):
            if let b = c.base {
                return "add chain \(t) \(c.name) { type \(b.type) hook \(b.hook.rawValue) priority \(b.priority); }"
            }
            return "add chain \(t) \(c.name)"
        case .flushChain(let name): return "flush chain \(t) \(name)"
        case .deleteChain(let name): return "delete chain \(t) \(name)"
        case .addRule(let chain, let rule): return "add rule \(t) \(chain) \(rule)"
        case .addElements(let set, let els):
            return "add element \(t) \(set) { \(els[range ?? els.indices].map(\.description).joined(separator: ", ")) }"
        case .deleteElements(let set, let els):
            return "delete element \(t) \(set) { \(els[range ?? els.indices].map(\.key.description).joined(separator: ", ")) }"
        }
    }
}

/// An ordered list of operations applied atomically.
package struct NFTTransaction: Hashable, Sendable {
    package var table: String
    /// A full sync recreates the whole table.
    package var isFull: Bool
    /// For a full sync, the ruleset itself: the encoder walks its fragments, and the operation
    /// list (106,000 entries at 10,000 services × 2 endpoints, 35 ms to build) is only made
    /// when asked for (render, tests, the operation named in a kernel error).
    package let fullRuleset: Ruleset?
    private let listed: [NFTOperation]

    package init(table: String, operations: [NFTOperation] = [], isFull: Bool = false) {
        self.table = table
        self.listed = operations
        self.isFull = isFull
        self.fullRuleset = nil
    }

    private init(full rs: Ruleset) {
        table = rs.table
        listed = []
        isFull = true
        fullRuleset = rs
    }

    /// The operations in the order the kernel sees them.
    package var operations: [NFTOperation] { fullRuleset.map(Self.fullOperations) ?? listed }

    package var operationCount: Int {
        guard let rs = fullRuleset else { return listed.count }
        var n = 3
        var maps = Set<String>()
        func count(_ f: RulesetFragment) {
            n += f.sets.count + f.chains.count
            for c in f.chains { n += c.rules.count }
            for (map, els) in f.elements where !els.isEmpty { maps.insert(map) }
        }
        count(rs.base)
        for f in rs.services.values { count(f) }
        for c in rs.sharedChainDefs.values { n += 1 + c.rules.count }
        for key in rs.sharedUsers.keys { if case .element(let set, _) = key { maps.insert(set) } }
        return n + maps.count
    }

    package var isEmpty: Bool { operationCount == 0 }

    /// The transaction as an `nft -f` script.
    package func render() -> String { operations.map { $0.render(table: table) }.joined(separator: "\n") + "\n" }

    /// Full sync: create-if-missing, delete and recreate our table, all in one transaction, so
    /// stale chains, rules and elements (ours or anybody's drift) cannot survive. Other tables
    /// are never named.
    package static func full(_ rs: Ruleset) -> NFTTransaction { NFTTransaction(full: rs) }

    /// The operations of a full sync: the table, sets, chains, then rules (every chain exists
    /// before a rule jumps to it), then elements gathered per map (one operation each, sent 512
    /// to a message: one message per service's element cost the kernel a set lookup and a
    /// message parse apiece). `NFTEncoder` walks the ruleset in exactly this order.
    static func fullOperations(_ rs: Ruleset) -> [NFTOperation] {
        let content = rs.content()
        var ops: [NFTOperation] = [.addTable, .deleteTable, .addTable]
        for s in content.sets { ops.append(.addSet(s)) }
        for c in content.chains { ops.append(.addChain(NFTChainDef(name: c.name, base: c.base))) }
        for c in content.chains { for r in c.rules { ops.append(.addRule(chain: c.name, r)) } }
        for (map, els) in content.elements { ops.append(.addElements(set: map, els)) }
        return ops
    }

    /// Partial sync from `old` (what the kernel holds) to `new`: only the fragments that differ
    /// are touched. Changed chains are flushed and refilled, new ones created, removed ones
    /// flushed and deleted after every reference to them is gone; map elements are added and
    /// deleted one by one.
    /// - Parameters:
    ///   - changed: when given, only these service fragments (and the base) are compared; the
    ///     caller vouches that the others are unchanged.
    ///   - shared: shared objects that appeared (true) or went away (false) between `old` and
    ///     `new`, when the two do not carry every fragment (the caller tracks them); nil: from
    ///     the two rulesets' own counts.
    package static func partial(
        from old: Ruleset, to new: Ruleset, changed: Set<ServicePortName>? = nil, shared: [SharedKey: Bool]? = nil
    ) -> NFTTransaction {
        var sets: [NFTOperation] = []
        var newChains: [NFTOperation] = []
        var delElements: [String: [NFTElement]] = [:]
        var flushes: [NFTOperation] = []
        var rules: [NFTOperation] = []
        var addElements: [String: [NFTElement]] = [:]
        var deletions: [NFTOperation] = []

        func diff(_ a: RulesetFragment?, _ b: RulesetFragment?) {
            let a = a ?? RulesetFragment()
            let b = b ?? RulesetFragment()
            if a == b { return }
            let oldSets = Dictionary(a.sets.map { ($0.name, $0) }, uniquingKeysWith: { x, _ in x })
            let newSets = Dictionary(b.sets.map { ($0.name, $0) }, uniquingKeysWith: { x, _ in x })
            for s in b.sets where oldSets[s.name] == nil { sets.append(.addSet(s)) }
            let oldChains = Dictionary(a.chains.map { ($0.name, $0) }, uniquingKeysWith: { x, _ in x })
            let newChainNames = Set(b.chains.map(\.name))
            for c in b.chains {
                if let prev = oldChains[c.name] {
                    if prev.rules != c.rules {
                        flushes.append(.flushChain(c.name))
                        rules.append(contentsOf: c.rules.map { .addRule(chain: c.name, $0) })
                    }
                } else {
                    newChains.append(.addChain(NFTChainDef(name: c.name, base: c.base)))
                    rules.append(contentsOf: c.rules.map { .addRule(chain: c.name, $0) })
                }
            }
            for c in a.chains where !newChainNames.contains(c.name) {
                if !c.rules.isEmpty { flushes.append(.flushChain(c.name)) }
                deletions.append(.deleteChain(c.name))
            }
            for s in a.sets where newSets[s.name] == nil { deletions.append(.deleteSet(s.name)) }
            for map in Set(a.elements.keys).union(b.elements.keys).sorted() {
                let before = a.elements[map] ?? []
                let after = b.elements[map] ?? []
                if before == after { continue }
                let afterSet = Set(after)
                let beforeSet = Set(before)
                let gone = before.filter { !afterSet.contains($0) }
                let added = after.filter { !beforeSet.contains($0) }
                if !gone.isEmpty { delElements[map, default: []].append(contentsOf: gone) }
                if !added.isEmpty { addElements[map, default: []].append(contentsOf: added) }
            }
        }

        diff(old.base, new.base)
        for name in (changed ?? Set(old.services.keys).union(new.services.keys)).sorted() {
            diff(old.services[name], new.services[name])
        }

        // Shared objects: created when their first user appears, deleted with their last.
        var sharedChanges = shared ?? [:]
        if shared == nil {
            for key in Set(old.sharedUsers.keys).union(new.sharedUsers.keys) {
                let before = old.sharedUsers[key] != nil, after = new.sharedUsers[key] != nil
                if before != after { sharedChanges[key] = after }
            }
        }
        var sharedChainOps: [NFTOperation] = [], sharedChainDeletions: [NFTOperation] = []
        for (key, appeared) in sharedChanges.sorted(by: { SharedKey.inOrder($0.key, $1.key) }) {
            switch key {
            case .chain(let name):
                if appeared {
                    let c = new.sharedChainDefs[name]!
                    newChains.append(.addChain(NFTChainDef(name: name, base: c.base)))
                    sharedChainOps.append(contentsOf: c.rules.map { .addRule(chain: name, $0) })
                } else {
                    flushes.append(.flushChain(name))
                    sharedChainDeletions.append(.deleteChain(name))
                }
            case .element(let set, let el):
                if appeared { addElements[set, default: []].append(el) } else { delElements[set, default: []].append(el) }
            }
        }
        rules = sharedChainOps + rules
        deletions = sharedChainDeletions + deletions
        var ops = sets + newChains
        for map in delElements.keys.sorted() { ops.append(.deleteElements(set: map, delElements[map]!)) }
        ops += flushes + rules
        for map in addElements.keys.sorted() { ops.append(.addElements(set: map, addElements[map]!)) }
        // Chains before sets: a rule being removed may reference a set.
        ops += deletions.filter { if case .deleteChain = $0 { true } else { false } }
        ops += deletions.filter { if case .deleteSet = $0 { true } else { false } }
        return NFTTransaction(table: new.table, operations: ops, isFull: false)
    }
}
