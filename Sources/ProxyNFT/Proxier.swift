import Foundation

/// The proxy's state and sync logic: the current services and endpoints, the ruleset the
/// kernel holds, and what changed since. `sync()` writes one transaction: a full one when the
/// kernel state is unknown (start, failure, drift, periodic resync), a partial one otherwise.
package actor Proxier {
    /// What one sync did.
    package struct SyncResult: Sendable, Equatable {
        package var full: Bool
        package var operations: Int
        /// A drift check found the table or chains changed behind our back.
        package var driftRepaired: Bool
    }

    package let config: ProxyConfig
    private let builder: RulesetBuilder
    private let backend: any NFTablesBackend
    private var services: [ServicePortName: ServicePortInfo] = [:]
    private var endpoints: [ServicePortName: [EndpointInfo]] = [:]
    private var dirty = Set<ServicePortName>()
    /// The desired ruleset, kept up to date fragment by fragment.
    private var desired: Ruleset
    /// Whether the kernel holds `desired` as of our last successful transaction, apart from
    /// the fragments in `replaced`. False means unknown: the next sync is a full one.
    private var inKernel = false
    /// For each service port changed since the last successful transaction, the fragment the
    /// kernel holds for it (nil: none). Kept instead of a second whole `Ruleset` so that
    /// updating `desired` never copies the 10,000-entry dictionary a shared copy would force.
    private var replaced: [ServicePortName: RulesetFragment?] = [:]
    /// Shared objects (`RulesetFragment.sharedChains`, `.sharedElements`) that appeared (true)
    /// or went away (false) since the last successful transaction.
    private var sharedChanges: [SharedKey: Bool] = [:]

    package init(config: ProxyConfig, backend: any NFTablesBackend) {
        self.config = config
        self.builder = RulesetBuilder(config: config)
        self.backend = backend
        self.desired = Ruleset(table: config.tableName, base: builder.buildBase())
    }

    // MARK: changes (from the informers)

    package func upsertService(_ info: ServicePortInfo) {
        if services[info.name] != info {
            services[info.name] = info
            dirty.insert(info.name)
        }
    }

    package func removeService(_ name: ServicePortName) {
        if services.removeValue(forKey: name) != nil { dirty.insert(name) }
    }

    /// Replaces the endpoints of one service port (all slices merged).
    package func setEndpoints(_ name: ServicePortName, _ list: [EndpointInfo]) {
        let sorted = list.sorted()
        if (endpoints[name] ?? []) != sorted {
            endpoints[name] = sorted.isEmpty ? nil : sorted
            dirty.insert(name)
        }
    }

    /// Forget what the kernel holds: the next sync is a full one.
    package func invalidate() {
        inKernel = false
        replaced.removeAll()
        sharedChanges.removeAll()
    }

    package var pendingChanges: Int { dirty.count }

    /// The ruleset as it will be after the next sync (for tests and debugging).
    package func desiredRuleset() -> Ruleset {
        rebuildDirty()
        return desired
    }

    private func rebuildDirty() {
        let names = Array(dirty)
        dirty.removeAll()
        let inputs = names.map { name in services[name].map { ($0, endpoints[name] ?? []) } }
        let fragments = Self.build(inputs, with: builder)
        for (name, fragment) in zip(names, fragments) {
            if inKernel && replaced.index(forKey: name) == nil { replaced[name] = .some(desired.services[name]) }
            let changes = desired.setService(name, fragment)
            guard inKernel else { continue }
            for (key, appeared) in changes {
                // Back where the kernel has it: no change (an object can come and go between syncs).
                if let earlier = sharedChanges[key], earlier != appeared {
                    sharedChanges.removeValue(forKey: key)
                } else {
                    sharedChanges[key] = appeared
                }
            }
        }
    }

    /// Fragments for (service, endpoints) inputs (nil input: removed service). A large batch,
    /// such as every service at start-up, is built on all cores: at 10,000 services the build
    /// is ~150 ms on one.
    private static func build(_ inputs: [(ServicePortInfo, [EndpointInfo])?], with builder: RulesetBuilder) -> [RulesetFragment?] {
        @Sendable func one(_ input: (ServicePortInfo, [EndpointInfo])?) -> RulesetFragment? {
            input.map { builder.buildService($0.0, endpoints: $0.1) }
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard inputs.count >= 1024, cores > 1 else { return inputs.map(one) }
        var out = [RulesetFragment?](repeating: nil, count: inputs.count)
        out.withUnsafeMutableBufferPointer { buffer in
            let slots = UnsafeSendableBuffer(buffer)
            let chunk = (inputs.count + cores - 1) / cores
            DispatchQueue.concurrentPerform(iterations: cores) { c in
                for i in c * chunk..<min(inputs.count, (c + 1) * chunk) { slots.buffer[i] = one(inputs[i]) }
            }
        }
        return out
    }

    /// The chain names the kernel holds: `desired`'s, with the replaced fragments swapped back.
    private var chainNamesInKernel: Set<String> {
        var names = desired.chainNames
        for name in replaced.keys { for c in desired.services[name]?.chains ?? [] { names.remove(c.name) } }
        for old in replaced.values { for c in old?.chains ?? [] { names.insert(c.name) } }
        for (key, appeared) in sharedChanges {
            guard case .chain(let name) = key else { continue }
            if appeared { names.remove(name) } else { names.insert(name) }
        }
        return names
    }

    // MARK: sync

    /// Syncs the kernel to the desired state.
    /// - Parameters:
    ///   - full: force a full sync (periodic resync).
    ///   - checkDrift: read the table's chains back first; a difference forces a full sync.
    @discardableResult
    package func sync(full: Bool = false, checkDrift: Bool = false) throws -> SyncResult {
        rebuildDirty()
        var drift = false
        if checkDrift && inKernel {
            let chains = try backend.listChains(table: config.tableName)
            drift = chains != chainNamesInKernel
        }
        let tx: NFTTransaction
        if full || drift || !inKernel {
            tx = .full(desired)
        } else {
            // Two small rulesets holding only the changed service ports: what the kernel has, what we want.
            var old = Ruleset(table: desired.table, base: desired.base)
            var new = old
            for (name, fragment) in replaced {
                old.setService(name, fragment)
                new.setService(name, desired.services[name])
            }
            tx = .partial(from: old, to: new, changed: Set(replaced.keys), shared: sharedChanges)
        }
        do {
            try backend.apply(tx)
        } catch {
            invalidate()
            throw error
        }
        inKernel = true
        replaced.removeAll()
        sharedChanges.removeAll()
        return SyncResult(full: tx.isFull, operations: tx.operationCount, driftRepaired: drift)
    }

    /// Removes our table (and only it). Missing is fine.
    package static func cleanup(table: String = ProxyNFTNames.table, backend: any NFTablesBackend) throws {
        try backend.apply(NFTTransaction(table: table, operations: [.addTable, .deleteTable]))
    }
}

/// Disjoint slots of one buffer, each written by one `concurrentPerform` iteration.
private struct UnsafeSendableBuffer<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<T>
    init(_ buffer: UnsafeMutableBufferPointer<T>) { self.buffer = buffer }
}
