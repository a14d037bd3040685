import Foundation

/// Times syncs of a large synthetic ruleset; the benchmark command wires it in. Runs against
/// the backend it is given (a socket opened inside a test network namespace), and optionally
/// loads the same ruleset with `nft -f` inside `netns` as a reference.
package enum ProxyBench {
    package struct Result: Sendable, CustomStringConvertible {
        package var services: Int
        package var endpointsPerService: Int
        package var build: Duration
        package var fullSync: Duration
        package var fullSyncOperations: Int
        package var oneServiceAdd: Duration
        package var oneEndpointChange: Duration
        package var nftFileLoad: Duration?
        /// Chains of the final desired ruleset (to compare with what the kernel lists).
        package var chains: Int

        package var description: String {
            "services=\(services)x\(endpointsPerService) chains=\(chains) build=\(build) fullSync=\(fullSync) (\(fullSyncOperations) ops) "
                + "oneServiceAdd=\(oneServiceAdd) oneEndpointChange=\(oneEndpointChange) "
                + "nft -f=\(nftFileLoad.map { "\($0)" } ?? "-")"
        }
    }

    /// Synthetic service `i`: ClusterIP 10.96.x.y:80, node port from 30000, endpoints in 10.244/16.
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

    package static func run(
        services count: Int = 10_000, endpointsPerService: Int = 2, backend: any NFTablesBackend, netns: String? = nil
    ) async throws -> Result {
        let clock = ContinuousClock()
        let config = ProxyConfig(clusterCIDR: IPv4CIDR("10.244.0.0/16"))
        let proxier = Proxier(config: config, backend: backend)
        for i in 0..<count {
            let svc = service(i)
            await proxier.upsertService(svc)
            await proxier.setEndpoints(svc.name, endpoints(i, count: endpointsPerService))
        }
        var ruleset: Ruleset? = nil
        let build = await clock.measure { ruleset = await proxier.desiredRuleset() }
        // Reference first: `nft -f` of the same table (add; delete; recreate), then ours replaces it.
        var nft: Duration? = nil
        if let netns, let rs = ruleset {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-proxybench-\(getpid()).nft").path
            let script = "add table ip \(rs.table)\ndelete table ip \(rs.table)\n" + rs.render()
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            p.arguments = ["netns", "exec", netns, "nft", "-f", path]
            let start = clock.now
            try p.run()
            p.waitUntilExit()
            nft = p.terminationStatus == 0 ? start.duration(to: clock.now) : nil
        }
        var ops = 0
        let full = try await clock.measure { ops = try await proxier.sync(full: true).operations }
        let extra = service(count)
        await proxier.upsertService(extra)
        await proxier.setEndpoints(extra.name, endpoints(count, count: endpointsPerService))
        let add = try await clock.measure { try await proxier.sync() }
        await proxier.setEndpoints(service(0).name, endpoints(0, count: endpointsPerService, generation: 7))
        let change = try await clock.measure { try await proxier.sync() }
        return Result(
            services: count, endpointsPerService: endpointsPerService, build: build, fullSync: full,
            fullSyncOperations: ops, oneServiceAdd: add, oneEndpointChange: change, nftFileLoad: nft,
            chains: await proxier.desiredRuleset().chainNames.count
        )
    }
}
