package import KubeAPI
package import Logging

/// Settings of the running proxy (kube-proxy's flags of the same meaning).
package struct ServiceProxyOptions: Sendable {
    /// This node's name: endpoints with this `nodeName` are local (traffic policies `Local`).
    package var nodeName: String
    package var config: ProxyConfig
    /// Least time between syncs once `burst` syncs ran back to back (`--min-sync-period`, 1s).
    package var minSyncPeriod: Duration = .seconds(1)
    package var burst = 2
    /// A sync with a drift check runs at least this often (`--sync-period`, 30s).
    package var syncPeriod: Duration = .seconds(30)
    /// A full rewrite of the table runs at least this often (kube-proxy nftables: 1 hour).
    package var fullSyncPeriod: Duration = .seconds(3600)

    package init(nodeName: String, config: ProxyConfig = ProxyConfig()) {
        self.nodeName = nodeName
        self.config = config
    }
}

/// The service proxy of a node: Service and EndpointSlice informers feed the `Proxier`, a
/// rate-limited `SyncRunner` writes the table, stale UDP conntrack entries are deleted after
/// syncs that changed UDP services. Runs until its task is cancelled.
package actor ServiceProxy {
    package let options: ServiceProxyOptions
    private let client: APIClient
    private let proxier: Proxier
    private let conntrack: (any ConntrackTable)?
    private let logger: Logger
    private var runner: SyncRunner<ContinuousClock>?

    /// Service ports by service (`namespace/name`).
    private var services: [String: [ServicePortInfo]] = [:]
    /// Slices by service, then by slice name.
    private var slices: [String: [String: EndpointSlice]] = [:]
    /// Endpoints per service port, as last given to the proxier.
    private var endpoints: [ServicePortName: [EndpointInfo]] = [:]
    private var endpointNames: [String: Set<ServicePortName>] = [:]
    /// A UDP service port changed since the last conntrack clean-up.
    private var udpChanged = false
    private var lastFullSync = ContinuousClock.now

    /// Counters for tests and logs.
    package private(set) var syncs = 0
    package private(set) var failedSyncs = 0
    package private(set) var lastError: String?

    package init(client: APIClient, options: ServiceProxyOptions, backend: any NFTablesBackend,
                 conntrack: (any ConntrackTable)?, logger: Logger)
    {
        self.client = client
        self.options = options
        self.proxier = Proxier(config: options.config, backend: backend)
        self.conntrack = conntrack
        self.logger = logger
    }

    package func run() async {
        let serviceInformer = Informer<Service>(client: client)
        let sliceInformer = Informer<EndpointSlice>(client: client)
        await serviceInformer.addHandler { [weak self] e in await self?.handle(e) }
        await sliceInformer.addHandler { [weak self] e in await self?.handle(e) }
        let runner = SyncRunner(clock: ContinuousClock(), minInterval: options.minSyncPeriod, burst: options.burst,
                                maxInterval: options.syncPeriod) { [weak self] periodic in await self?.syncOnce(periodic: periodic) }
        self.runner = runner
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await serviceInformer.run() }
            group.addTask { await sliceInformer.run() }
            group.addTask {
                // Programming before both caches are full would reject services whose
                // endpoints are simply not listed yet.
                await serviceInformer.waitForSync()
                await sliceInformer.waitForSync()
                await runner.request()
                await runner.run()
            }
            await group.waitForAll()
        }
    }

    // MARK: informer events

    private func handle(_ event: InformerEvent<Service>) async {
        let svc = event.object
        let key = (svc.metadata.namespace ?? "default") + "/" + (svc.metadata.name ?? "")
        let new: [ServicePortInfo]
        if case .deleted = event { new = [] } else { new = APIModel.servicePorts(svc) }
        let old = services[key] ?? []
        if old == new { return }
        let names = Set(new.map(\.name))
        for p in old where !names.contains(p.name) {
            await proxier.removeService(p.name)
            if p.name.proto == .udp { udpChanged = true }
        }
        for p in new where !old.contains(p) {
            await proxier.upsertService(p)
            if p.name.proto == .udp { udpChanged = true }
        }
        services[key] = new.isEmpty ? nil : new
        await runner?.request()
    }

    private func handle(_ event: InformerEvent<EndpointSlice>) async {
        let slice = event.object
        guard let key = APIModel.serviceKey(of: slice) else { return }
        if case .deleted = event {
            slices[key]?[slice.metadata.name ?? ""] = nil
        } else {
            slices[key, default: [:]][slice.metadata.name ?? ""] = slice
        }
        let list = slices[key].map { Array($0.values) } ?? []
        if list.isEmpty { slices[key] = nil }
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        let fresh = APIModel.endpoints(namespace: parts[0], service: parts[1], slices: list, nodeName: options.nodeName)
        var changed = false
        for name in endpointNames[key] ?? [] where fresh[name] == nil {
            await proxier.setEndpoints(name, [])
            endpoints[name] = nil
            changed = true
            if name.proto == .udp { udpChanged = true }
        }
        for (name, eps) in fresh where endpoints[name] != eps {
            await proxier.setEndpoints(name, eps)
            endpoints[name] = eps
            changed = true
            if name.proto == .udp { udpChanged = true }
        }
        endpointNames[key] = fresh.isEmpty ? nil : Set(fresh.keys)
        if changed { await runner?.request() }
    }

    // MARK: sync

    private func syncOnce(periodic: Bool) async {
        let full = ContinuousClock.now - lastFullSync >= options.fullSyncPeriod
        do {
            let start = ContinuousClock.now
            let result = try await proxier.sync(full: full, checkDrift: periodic)
            syncs += 1
            lastError = nil
            if result.full { lastFullSync = .now }
            if result.driftRepaired { logger.warning("nftables table \(options.config.tableName) changed behind our back; rewrote it") }
            logger.debug("synced", metadata: ["full": "\(result.full)", "operations": "\(result.operations)",
                                              "took": "\(ContinuousClock.now - start)"])
        } catch {
            failedSyncs += 1
            lastError = "\(error)"
            logger.error("sync failed, retrying: \(error)")
            let runner = self.runner
            let delay = options.minSyncPeriod
            Task {
                try? await Task.sleep(for: delay)
                await runner?.request()
            }
            return
        }
        if udpChanged || periodic { cleanConntrack() }
    }

    /// Deletes UDP flows whose DNAT target is no longer an endpoint of their service.
    private func cleanConntrack() {
        guard let conntrack else { return }
        udpChanged = false
        let targets = StaleFlows.targets(services: services.values.flatMap { $0 }, endpoints: endpoints)
        guard !targets.isEmpty else { return }
        do {
            let stale = StaleFlows.select(try conntrack.flows(proto: L4Protocol.udp.number), targets: targets)
            if !stale.isEmpty {
                let n = try conntrack.delete(stale)
                logger.info("deleted \(n) stale UDP conntrack entries")
            }
        } catch {
            logger.warning("conntrack clean-up failed: \(error)")
            udpChanged = true
        }
    }

    /// The table as the next sync will write it (tests, debugging).
    package func desiredRuleset() async -> Ruleset { await proxier.desiredRuleset() }
}
