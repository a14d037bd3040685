import Foundation

/// Times syncs of a large synthetic ruleset; `swiftlet-bench proxy` and the kernel tests wire
/// it in. Runs against the backend it is given (a socket opened inside a test network
/// namespace) and, with `referenceNetns`, loads the same services as kube-proxy's nftables mode
/// lays them out (chains of its own for every service and endpoint: `RulesetBuilder` with
/// `sharedChains: false`) with `nft -f` in that other namespace, and applies the same changes
/// to it, interleaved with ours.
package enum ProxyBench {
    package struct Result: Sendable, CustomStringConvertible {
        package var services: Int
        package var endpointsPerService: Int
        /// Chains and rules of our table and of the kube-proxy-style reference.
        package var chains: Int
        package var rules: Int
        package var referenceChains = 0
        package var referenceRules = 0
        /// Building the whole ruleset from the model alone (part of `firstSync`).
        package var build: Duration
        /// Ours, as at start-up: the model → ruleset build plus a full sync into an empty table.
        package var firstSync: Duration = .zero
        /// Ours: full resync replacing the table (fragments already built).
        package var fullSync: [Duration] = []
        /// Of each full resync: our encoding, and the kernel's `sendto` (thread CPU time).
        package var fullSyncEncode: [Duration] = []
        package var fullSyncKernelCPU: [Duration] = []
        /// Of each one-service add: the kernel's `sendto` (thread CPU time).
        package var serviceAddKernelCPU: [Duration] = []
        package var fullSyncOperations = 0
        /// `add table; delete table; table … { … }` of the kube-proxy-style ruleset through `nft -f`.
        package var nftFullLoad: [Duration] = []
        /// Ours: one new service (model change + partial sync), and its removal.
        package var serviceAdd: [Duration] = []
        package var serviceRemove: [Duration] = []
        /// The same changes to the kube-proxy-style table through `nft -f`.
        package var nftServiceAdd: [Duration] = []
        package var nftServiceRemove: [Duration] = []
        /// Ours: one endpoint of one service replaced (partial sync).
        package var endpointChange: [Duration] = []
        package var nftEndpointChange: [Duration] = []

        package var description: String {
            func m(_ d: [Duration]) -> String { ProxyBench.median(d).map { "\($0)" } ?? "-" }
            return "services=\(services)x\(endpointsPerService) chains=\(chains) rules=\(rules) build=\(build) "
                + "firstSync=\(firstSync) fullSync=\(m(fullSync)) (\(fullSyncOperations) ops) nft -f=\(m(nftFullLoad)) "
                + "oneServiceAdd=\(m(serviceAdd)) (nft -f \(m(nftServiceAdd))) "
                + "oneServiceRemove=\(m(serviceRemove)) (nft -f \(m(nftServiceRemove))) "
                + "oneEndpointChange=\(m(endpointChange)) (nft -f \(m(nftEndpointChange)))"
        }
    }

    package static func median(_ d: [Duration]) -> Duration? { d.isEmpty ? nil : d.sorted()[d.count / 2] }

    /// Synthetic service `i`: ClusterIP 10.96.x.y:80 (10.96.0.10 for `i` = 0), node port from
    /// 30000 for the first 2,000, endpoints in 10.244/16.
    package static func service(_ i: Int) -> ServicePortInfo {
        ServicePortInfo(
            name: ServicePortName(namespace: "bench", name: "svc-\(i)", port: "http", proto: .tcp),
            clusterIPs: [IPv4Address(0x0a60_0000 + UInt32(i + 10))],
            port: 80,
            nodePort: i < 2000 ? UInt16(30000 + i) : nil
        )
    }

    package static func endpoints(_ i: Int, count: Int, generation: Int = 0) -> [EndpointInfo] {
        (0..<count).map { j in
            EndpointInfo(ip: IPv4Address(0x0af4_0000 + UInt32((i * count + j + generation) % 65_000 + 2)), port: 8080)
        }
    }

    /// Adds synthetic services `range` to `proxier` (endpoints included), without syncing.
    package static func populate(_ proxier: Proxier, _ range: Range<Int>, endpointsPerService: Int) async {
        for i in range {
            let svc = service(i)
            await proxier.upsertService(svc)
            await proxier.setEndpoints(svc.name, endpoints(i, count: endpointsPerService))
        }
    }

    /// - Parameters:
    ///   - fullRuns: full syncs (ours and `nft -f` alternately, each replacing the other's table).
    ///   - partialRuns: one-service adds/removes and endpoint changes.
    ///   - settle: pause before each full sync and full `nft -f`.
    ///   - referenceNetns: where `nft -f` loads the reference (a namespace of its own: nftables
    ///     validates per namespace, so neither table slows the other's commits); nil skips it.
    package static func run(
        services count: Int = 10_000, endpointsPerService: Int = 2, fullRuns: Int = 3, partialRuns: Int = 11,
        settle: Duration = .seconds(2), backend: any NFTablesBackend, referenceNetns netns: String? = nil
    ) async throws -> Result {
        let clock = ContinuousClock()
        let config = ProxyConfig(clusterCIDR: IPv4CIDR("10.244.0.0/16"))
        let builder = RulesetBuilder(config: config)
        let reference = RulesetBuilder(config: config, sharedChains: false)
        let proxier = Proxier(config: config, backend: backend)
        await populate(proxier, 0..<count, endpointsPerService: endpointsPerService)
        var ops = 0
        let first = try await clock.measure { ops = try await proxier.sync().operations }
        var r: Result
        let fullScript: String
        do {  // the snapshot goes out of scope before the partial syncs, so they never copy it
            let ruleset = await proxier.desiredRuleset()
            var services: [ServicePortName: ServicePortInfo] = [:]
            var eps: [ServicePortName: [EndpointInfo]] = [:]
            for i in 0..<count {
                services[service(i).name] = service(i)
                eps[service(i).name] = endpoints(i, count: endpointsPerService)
            }
            let build = clock.measure { _ = builder.build(services: services, endpoints: eps) }
            let rules = ruleset.content().chains.reduce(0) { $0 + $1.rules.count }
            r = Result(services: count, endpointsPerService: endpointsPerService, chains: ruleset.chainNames.count,
                       rules: rules, build: build, firstSync: first, fullSyncOperations: ops)
            if netns != nil {
                let kube = reference.build(services: services, endpoints: eps)
                r.referenceChains = kube.chainNames.count
                r.referenceRules = kube.content().chains.reduce(0) { $0 + $1.rules.count }
                fullScript = "add table ip \(kube.table)\ndelete table ip \(kube.table)\n" + kube.render()
            } else {
                fullScript = ""
            }
        }
        for _ in 0..<max(1, fullRuns) {
            // Each replaced table is freed by a kernel worker after the commit; let it finish
            // first (a periodic full sync never follows another one closely).
            try await Task.sleep(for: settle)
            r.fullSync.append(try await clock.measure { try await proxier.sync(full: true) })
            if let t = (backend as? NetlinkNFTables)?.lastApply {
                r.fullSyncEncode.append(t.encode)
                r.fullSyncKernelCPU.append(t.kernelCPU)
            }
            if let netns {
                try await Task.sleep(for: settle)
                r.nftFullLoad.append(try nftFile(fullScript, netns: netns))
            }
        }
        /// Times `change` + a partial sync, then `undo` + a partial sync; then the same change
        /// and its undoing to the reference table through `nft -f` (the service's kube-proxy-style
        /// objects `before` and `after`).
        func step(_ name: ServicePortName, before: RulesetFragment?, after: RulesetFragment?,
                  _ change: () async -> Void, _ undo: () async -> Void) async throws
            -> (Duration, Duration, Duration?, Duration?, Duration?)
        {
            let forward = try await clock.measure {
                await change()
                try await proxier.sync()
            }
            let forwardKernelCPU = (backend as? NetlinkNFTables)?.lastApply?.kernelCPU
            let back = try await clock.measure {
                await undo()
                try await proxier.sync()
            }
            guard let netns else { return (forward, back, nil, nil, forwardKernelCPU) }
            var a = Ruleset(table: config.tableName, base: RulesetFragment())
            var b = a
            a.setService(name, before)
            b.setService(name, after)
            let nftForward = try nftFile(NFTTransaction.partial(from: a, to: b, changed: [name]).render(), netns: netns)
            let nftBack = try nftFile(NFTTransaction.partial(from: b, to: a, changed: [name]).render(), netns: netns)
            return (forward, back, nftForward, nftBack, forwardKernelCPU)
        }

        for run in 0..<max(1, partialRuns) {
            let extra = service(count + run)
            let extraEndpoints = endpoints(count + run, count: endpointsPerService)
            let (add, remove, nftAdd, nftRemove, addKernel) = try await step(
                extra.name, before: nil, after: reference.buildService(extra, endpoints: extraEndpoints)
            ) {
                await proxier.upsertService(extra)
                await proxier.setEndpoints(extra.name, extraEndpoints)
            } _: {
                await proxier.removeService(extra.name)
                await proxier.setEndpoints(extra.name, [])
            }
            r.serviceAdd.append(add)
            if let addKernel { r.serviceAddKernelCPU.append(addKernel) }
            r.serviceRemove.append(remove)
            if let nftAdd, let nftRemove {
                r.nftServiceAdd.append(nftAdd)
                r.nftServiceRemove.append(nftRemove)
            }

            let target = service(run % max(1, count))
            let old = endpoints(run % max(1, count), count: endpointsPerService)
            var new = old
            new[0] = EndpointInfo(ip: IPv4Address(0x0af5_0000 + UInt32(run)), port: 8080)  // 10.245/16: unused elsewhere
            let (change, _, nftChange, _, _) = try await step(
                target.name, before: reference.buildService(target, endpoints: old), after: reference.buildService(target, endpoints: new)
            ) {
                await proxier.setEndpoints(target.name, new)
            } _: {
                await proxier.setEndpoints(target.name, old)
            }
            r.endpointChange.append(change)
            if let nftChange { r.nftEndpointChange.append(nftChange) }
        }
        return r
    }

    /// Runs `nft -f` on `script` inside `netns`; the wall time of the whole command (what a
    /// kube-proxy-style proxier pays per sync).
    package static func nftFile(_ script: String, netns: String) throws -> Duration {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-proxybench-\(getpid()).nft").path
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        p.arguments = ["netns", "exec", netns, "nft", "-f", path]
        p.standardOutput = FileHandle.nullDevice
        let clock = ContinuousClock()
        let start = clock.now
        try p.run()
        let deadline = start.advanced(by: .seconds(600))  // 185 s was the worst form measured
        while p.isRunning && clock.now < deadline { usleep(1000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        let took = start.duration(to: clock.now)
        guard p.terminationStatus == 0 else {
            throw NFTError(.kernel, "nft -f failed (exit \(p.terminationStatus)) on:\n\(script.prefix(2000))")
        }
        return took
    }
}
