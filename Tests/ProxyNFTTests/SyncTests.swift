import Testing
@testable import ProxyNFT

/// `ownChains`: with `externalTrafficPolicy: Local` (and a node port, 30000 + i unless given),
/// so the service keeps per-service chains instead of the shared ones.
func webService(_ i: Int, nodePort: UInt16? = nil, ownChains: Bool = false) -> ServicePortInfo {
    ServicePortInfo(name: svcName("web-\(i)"), clusterIPs: [IPv4Address(0x0a60_0100 + UInt32(i))], port: 80,
                    nodePort: nodePort ?? (ownChains ? UInt16(30000 + i) : nil), externalTrafficPolicy: ownChains ? .local : .cluster)
}

func eps(_ i: Int, _ n: Int) -> [EndpointInfo] {
    (0..<n).map { EndpointInfo(ip: IPv4Address(0x0af4_0100 + UInt32(i * 16 + $0)), port: 8080) }
}

@Suite struct TransactionTests {
    let builder = RulesetBuilder(config: ProxyConfig(clusterCIDR: IPv4CIDR("10.244.0.0/16")))

    func ruleset(_ services: [ServicePortInfo], _ endpoints: [Int: Int]) -> Ruleset {
        var s: [ServicePortName: ServicePortInfo] = [:]
        var e: [ServicePortName: [EndpointInfo]] = [:]
        for (i, svc) in services.enumerated() {
            s[svc.name] = svc
            e[svc.name] = eps(i, endpoints[i] ?? 1)
        }
        return builder.build(services: s, endpoints: e)
    }

    @Test func fullSyncRecreatesOnlyOurTableAndOrdersChainsBeforeRules() {
        let tx = NFTTransaction.full(ruleset([webService(0)], [:]))
        let lines = tx.render().split(separator: "\n").map(String.init)
        #expect(Array(lines.prefix(3)) == ["add table ip swiftlet-proxy", "delete table ip swiftlet-proxy", "add table ip swiftlet-proxy"])
        let lastChain = lines.lastIndex { $0.hasPrefix("add chain") }!
        let firstRule = lines.firstIndex { $0.hasPrefix("add rule") }!
        #expect(lastChain < firstRule)
        #expect(lines.allSatisfy { $0.contains("ip swiftlet-proxy") })
        #expect(lines.last! == "add element ip swiftlet-proxy service-ips { 10.96.1.0 . tcp . 80 : goto dispatch-cluster-1 }")
        #expect(lines.contains("add chain ip swiftlet-proxy dispatch-cluster-1"))
    }

    /// A plain service gaining an endpoint: map elements, and the two-endpoint chain the first
    /// time a service needs it; the one-endpoint chain stays (other services use it).
    @Test func partialSyncOfASharedChainServiceIsElements() {
        let services = (0..<3).map { webService($0) }
        let before = ruleset(services, [:])
        let after = ruleset(services, [1: 2])
        #expect(NFTTransaction.partial(from: before, to: after).render() == """
            add chain ip swiftlet-proxy dispatch-cluster-2
            delete element ip swiftlet-proxy service-ips { 10.96.1.1 . tcp . 80 }
            add rule ip swiftlet-proxy dispatch-cluster-2 ip saddr != 10.244.0.0/16 jump mark-for-masquerade
            add rule ip swiftlet-proxy dispatch-cluster-2 dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @service-endpoints
            add element ip swiftlet-proxy hairpin-endpoints { 10.244.1.17 . 10.244.1.17 }
            add element ip swiftlet-proxy service-endpoints { 10.96.1.1 . tcp . 80 . 0x00000001 : 10.244.1.17 . 8080 }
            add element ip swiftlet-proxy service-ips { 10.96.1.1 . tcp . 80 : goto dispatch-cluster-2 }

            """)
        // Another service with two endpoints: elements only.
        let third = ruleset(services, [1: 2, 2: 2])
        let lines = NFTTransaction.partial(from: after, to: third).render().split(separator: "\n")
        #expect(lines.allSatisfy { $0.hasPrefix("add element") || $0.hasPrefix("delete element") }, "\(lines)")
        // Back to one endpoint each: the two-endpoint chain goes, after the elements that use it.
        let back = NFTTransaction.partial(from: third, to: before).render().split(separator: "\n").map(String.init)
        #expect(back.suffix(2) == ["flush chain ip swiftlet-proxy dispatch-cluster-2", "delete chain ip swiftlet-proxy dispatch-cluster-2"]
            || back.last == "delete chain ip swiftlet-proxy dispatch-cluster-2")
        let deleteChain = back.firstIndex(of: "delete chain ip swiftlet-proxy dispatch-cluster-2")!
        #expect(back[..<deleteChain].contains("delete element ip swiftlet-proxy service-ips { 10.96.1.1 . tcp . 80, 10.96.1.2 . tcp . 80 }"))
    }

    @Test func partialSyncTouchesOnlyTheChangedService() {
        let services = (0..<3).map { webService($0, ownChains: true) }
        let before = ruleset(services, [:])
        let after = ruleset(services, [1: 2])
        let tx = NFTTransaction.partial(from: before, to: after)
        let svc1 = ProxyNFTNames.serviceChain(services[1].name)
        let newSep = ProxyNFTNames.endpointChain(services[1].name, eps(1, 2)[1])
        #expect(tx.render() == """
            add chain ip swiftlet-proxy \(newSep)
            flush chain ip swiftlet-proxy \(svc1)
            add rule ip swiftlet-proxy \(newSep) ip saddr 10.244.1.17 jump mark-for-masquerade
            add rule ip swiftlet-proxy \(newSep) meta l4proto tcp dnat to 10.244.1.17:8080
            add rule ip swiftlet-proxy \(svc1) ip daddr 10.96.1.1 ip saddr != 10.244.0.0/16 jump mark-for-masquerade
            add rule ip swiftlet-proxy \(svc1) numgen random mod 2 0 goto \(ProxyNFTNames.endpointChain(services[1].name, eps(1, 2)[0]))
            add rule ip swiftlet-proxy \(svc1) goto \(newSep)

            """)
        #expect(NFTTransaction.partial(from: after, to: after).isEmpty)
        // Restricting the comparison to the changed service gives the same transaction.
        #expect(NFTTransaction.partial(from: before, to: after, changed: [services[1].name]) == tx)
    }

    @Test func removedServiceLosesElementsBeforeItsChains() {
        let services = (0..<2).map { webService($0, ownChains: true) }
        let before = ruleset(services, [:])
        var after = before
        after.setService(services[0].name, nil)
        let lines = NFTTransaction.partial(from: before, to: after).render().split(separator: "\n").map(String.init)
        // (No endpoint is local: the node port drops, so there is no ext chain.)
        #expect(lines.first == "delete element ip swiftlet-proxy no-endpoint-nodeports { tcp . 30000 }")
        #expect(lines[1] == "delete element ip swiftlet-proxy service-ips { 10.96.1.0 . tcp . 80 }")
        #expect(lines.filter { $0.hasPrefix("delete chain") }.count == 2)  // svc, sep
        let firstDelete = lines.firstIndex { $0.hasPrefix("delete chain") }!
        #expect(lines[..<firstDelete].allSatisfy { !$0.hasPrefix("delete chain") })
        #expect(lines[firstDelete...].allSatisfy { $0.hasPrefix("delete chain") })
    }

    @Test func lastEndpointGoneMovesServiceToReject() {
        let svc = webService(0)
        let before = ruleset([svc], [:])
        var after = before
        after.setService(svc.name, builder.buildService(svc, endpoints: []))
        let text = NFTTransaction.partial(from: before, to: after).render()
        #expect(text.contains("delete element ip swiftlet-proxy service-ips { 10.96.1.0 . tcp . 80 }"))
        #expect(text.contains("add element ip swiftlet-proxy no-endpoint-services { 10.96.1.0 . tcp . 80 : goto reject-chain }"))
    }
}

@Suite struct ProxierTests {
    @Test func firstSyncIsFullThenPartialAndFailureForcesFull() async throws {
        let fake = FakeNFTables()
        let proxier = Proxier(config: ProxyConfig(), backend: fake)
        await proxier.upsertService(webService(0))
        await proxier.setEndpoints(webService(0).name, eps(0, 2))
        #expect(try await proxier.sync().full)
        #expect(try await proxier.sync().operations == 0)
        await proxier.upsertService(webService(1))
        let r = try await proxier.sync()
        #expect(!r.full && r.operations > 0)
        #expect(fake.transactions.last!.render().contains("no-endpoint-services"))
        fake.failNext(NFTError(.kernel, errno: 22, "boom"))
        await proxier.removeService(webService(1).name)
        await #expect(throws: NFTError.self) { try await proxier.sync() }
        #expect(try await proxier.sync().full)
    }

    /// The proxier keeps only the replaced fragments, not a second ruleset: its partial
    /// transaction must still be the diff between what the kernel holds and what is wanted.
    @Test func partialSyncIsTheDiffSinceTheLastSuccessfulSync() async throws {
        let fake = FakeNFTables()
        let proxier = Proxier(config: ProxyConfig(clusterCIDR: IPv4CIDR("10.244.0.0/16")), backend: fake)
        for i in 0..<5 {
            await proxier.upsertService(webService(i, nodePort: UInt16(30000 + i)))
            await proxier.setEndpoints(webService(i).name, eps(i, 2))
        }
        try await proxier.sync()
        let before = await proxier.desiredRuleset()
        await proxier.setEndpoints(webService(1).name, eps(1, 3))
        _ = await proxier.desiredRuleset()  // rebuilt in between: the kernel's fragment is the one to diff from
        await proxier.setEndpoints(webService(1).name, eps(1, 1))
        await proxier.removeService(webService(2).name)
        await proxier.upsertService(webService(7))
        await proxier.setEndpoints(webService(3).name, eps(3, 2))  // no change
        await proxier.upsertService(webService(8))
        _ = await proxier.desiredRuleset()
        await proxier.removeService(webService(8).name)  // came and went
        let after = await proxier.desiredRuleset()
        // The drift check compares the kernel with the fragments it still holds, not the new ones.
        let r = try await proxier.sync(checkDrift: true)
        #expect(!r.full && !r.driftRepaired)
        #expect(fake.transactions.last == NFTTransaction.partial(from: before, to: after))
        #expect(fake.chains == after.chainNames)
        // The next drift check compares against the new state and finds nothing.
        #expect(try await proxier.sync(checkDrift: true) == .init(full: false, operations: 0, driftRepaired: false))
    }

    /// A big batch of changes is built on all cores; the result is the builder's, fragment for fragment.
    @Test func largeRebuildEqualsTheBuilder() async throws {
        let config = ProxyConfig(clusterCIDR: IPv4CIDR("10.244.0.0/16"))
        let proxier = Proxier(config: config, backend: FakeNFTables())
        var services: [ServicePortName: ServicePortInfo] = [:]
        var endpoints: [ServicePortName: [EndpointInfo]] = [:]
        for i in 0..<1500 {
            let svc = webService(i, nodePort: i % 3 == 0 ? UInt16(30000 + i) : nil)
            services[svc.name] = svc
            endpoints[svc.name] = eps(i % 200, 1 + i % 3)
            await proxier.upsertService(svc)
            await proxier.setEndpoints(svc.name, endpoints[svc.name]!)
        }
        #expect(await proxier.desiredRuleset() == RulesetBuilder(config: config).build(services: services, endpoints: endpoints))
    }

    @Test func driftCheckForcesFullResync() async throws {
        let fake = FakeNFTables()
        let proxier = Proxier(config: ProxyConfig(), backend: fake)
        await proxier.upsertService(webService(0))
        await proxier.setEndpoints(webService(0).name, eps(0, 1))
        try await proxier.sync()
        #expect(try await proxier.sync(checkDrift: true) == .init(full: false, operations: 0, driftRepaired: false))
        fake.chains?.remove("dispatch-cluster-1")  // somebody deleted a chain
        let r = try await proxier.sync(checkDrift: true)
        #expect(r.full && r.driftRepaired)
        fake.chains = nil  // somebody deleted the table
        #expect(try await proxier.sync(checkDrift: true).driftRepaired)
        #expect(fake.chains == (await proxier.desiredRuleset()).chainNames)
    }

    @Test func cleanupNamesOnlyOurTable() throws {
        let fake = FakeNFTables()
        try Proxier.cleanup(backend: fake)
        #expect(fake.transactions.last!.render() == "add table ip swiftlet-proxy\ndelete table ip swiftlet-proxy\n")
    }
}
