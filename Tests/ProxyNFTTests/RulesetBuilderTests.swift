import Testing
@testable import ProxyNFT

func ip(_ s: String) -> IPv4Address { IPv4Address(s)! }

func svcName(_ name: String, ns: String = "default", port: String = "http", proto: L4Protocol = .tcp) -> ServicePortName {
    ServicePortName(namespace: ns, name: name, port: port, proto: proto)
}

extension NFTStatement {
    /// The chain of a `goto` verdict statement.
    var gotoTarget: String? { if case .verdict(.goto(let chain)) = self { chain } else { nil } }
}

@Suite struct RulesetBuilderTests {
    let builder = RulesetBuilder(config: ProxyConfig(clusterCIDR: IPv4CIDR("10.244.0.0/16")))

    @Test func sha256KnownAnswer() {
        let hex = SHA256.hash(Array("abc".utf8)).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
        #expect(hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // Lengths around the padding boundary (one or two tail blocks) and several blocks.
        let known = [
            0: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            55: "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318",
            56: "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a",
            63: "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34",
            64: "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb",
            119: "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb",
            1000: "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3",
        ]
        for (n, digest) in known {
            let hex = SHA256.hash([UInt8](repeating: 0x61, count: n)).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
            #expect(hex == digest, "\(n) × a")
        }
    }

    @Test func chainNamesAreStableShortAndDistinct() {
        let a = ProxyNFTNames.serviceChain(svcName("web"))
        #expect(a == ProxyNFTNames.serviceChain(svcName("web")))
        #expect(a.count == 17 && a.hasPrefix("svc-"))
        #expect(a != ProxyNFTNames.serviceChain(svcName("web", proto: .udp)))
        #expect(a != ProxyNFTNames.serviceChain(svcName("web", ns: "other")))
    }

    @Test func addressParsing() {
        #expect(ip("10.96.0.1").value == 0x0a60_0001)
        #expect(IPv4Address("10.96.0") == nil && IPv4Address("10.96.0.256") == nil)
        #expect(IPv4CIDR("10.244.3.7/16")?.description == "10.244.0.0/16")
        #expect(IPv4CIDR("10.244.0.0/16")!.contains(ip("10.244.9.9")))
    }

    @Test func baseTableHasHooksPrioritiesAndMaps() {
        let text = Ruleset(table: "swiftlet-proxy", base: builder.buildBase()).render()
        #expect(text.hasPrefix("table ip swiftlet-proxy {\n"))
        #expect(text.contains("type nat hook prerouting priority -100; policy accept;"))
        #expect(text.contains("type nat hook postrouting priority 100; policy accept;"))
        #expect(text.contains("type filter hook forward priority -110; policy accept;"))
        #expect(text.contains("map service-ips {\n\t\ttype ipv4_addr . inet_proto . inet_service : verdict"))
        #expect(text.contains("ip daddr . meta l4proto . th dport vmap @service-ips"))
        #expect(text.contains("fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports"))
        #expect(text.contains("map service-endpoints {\n\t\ttypeof ip daddr . meta l4proto . th dport . numgen random mod 1 : ip daddr . th dport\n"))
        #expect(text.contains("set hairpin-endpoints {\n\t\ttype ipv4_addr . ipv4_addr\n"))
        #expect(text.contains("chain masquerading {\n\t\tct status dnat ip saddr . ip daddr @hairpin-endpoints jump mark-for-masquerade\n\t\tmeta mark & 0x4000 == 0 return\n\t\tmeta mark set meta mark ^ 0x4000\n\t\tmasquerade fully-random\n"))
        #expect(text.contains("chain reject-chain {\n\t\treject\n"))
    }

    /// A plain service is map elements only: its ClusterIP goes to the chain shared by all
    /// services with two endpoints, which picks `numgen random mod 2` in `service-endpoints`.
    @Test func clusterIPServiceWithTwoEndpointsUsesTheSharedChain() {
        let name = svcName("web")
        let svc = ServicePortInfo(name: name, clusterIPs: [ip("10.96.0.10")], port: 80)
        let eps = [EndpointInfo(ip: ip("10.244.1.6"), port: 8080), EndpointInfo(ip: ip("10.244.1.5"), port: 8080)]
        let f = builder.buildService(svc, endpoints: eps)
        #expect(f.chains.isEmpty && f.sets.isEmpty)
        #expect(f.elements["service-ips"] == [NFTElement(.ipv4ProtoPort(ip("10.96.0.10"), .tcp, 80), .goto("dispatch-cluster-2"))])
        #expect(f.elements["service-endpoints"] == [
            NFTElement(.ipv4ProtoPortIndex(ip("10.96.0.10"), .tcp, 80, 0), endpoint: ip("10.244.1.5"), 8080),
            NFTElement(.ipv4ProtoPortIndex(ip("10.96.0.10"), .tcp, 80, 1), endpoint: ip("10.244.1.6"), 8080),
        ])
        #expect(f.sharedChains.map(\.name) == ["dispatch-cluster-2"])
        #expect(f.sharedChains[0].rules.map(\.description) == [
            "ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
            "dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @service-endpoints",
        ])
        #expect(f.sharedElements["hairpin-endpoints"] == [
            NFTElement(.ipv4Pair(ip("10.244.1.5"), ip("10.244.1.5"))), NFTElement(.ipv4Pair(ip("10.244.1.6"), ip("10.244.1.6"))),
        ])
        #expect(f.elements["service-endpoints"]!.map(\.description) == [
            "10.96.0.10 . tcp . 80 . 0x00000000 : 10.244.1.5 . 8080", "10.96.0.10 . tcp . 80 . 0x00000001 : 10.244.1.6 . 8080",
        ])
    }

    /// Affinity or a Local traffic policy needs rules of the service's own: per-service chains.
    @Test func servicesThatNeedTheirOwnChains() {
        let one = [EndpointInfo(ip: ip("10.244.1.5"), port: 8080, isLocal: true)]
        let plain = ServicePortInfo(name: svcName("p"), clusterIPs: [ip("10.96.0.10")], port: 80, nodePort: 30080, externalIPs: [ip("192.0.2.1")])
        #expect(RulesetBuilder.usesSharedChains(plain, usable: 1))
        #expect(!RulesetBuilder.usesSharedChains(plain, usable: 0))
        var sticky = plain
        sticky.sessionAffinityTimeout = 60
        var itp = plain
        itp.internalTrafficPolicy = .local
        var etp = plain
        etp.externalTrafficPolicy = .local
        var etpInternalOnly = etp
        etpInternalOnly.nodePort = nil
        etpInternalOnly.externalIPs = []
        #expect(RulesetBuilder.usesSharedChains(etpInternalOnly, usable: 1))  // the policy has nothing to apply to
        for svc in [sticky, itp, etp] {
            #expect(!RulesetBuilder.usesSharedChains(svc, usable: 1))
            let f = builder.buildService(svc, endpoints: one)
            #expect(f.sharedChains.isEmpty && f.sharedElements.isEmpty && !f.chains.isEmpty)
            #expect(f.elements["service-endpoints"] == nil)
        }
    }

    /// Services with the same number of endpoints share one chain; it lives as long as one of
    /// them does, and so does an endpoint's hairpin pair.
    @Test func sharedObjectsAreCountedAcrossServices() {
        let a = ServicePortInfo(name: svcName("a"), clusterIPs: [ip("10.96.0.10")], port: 80)
        let b = ServicePortInfo(name: svcName("b"), clusterIPs: [ip("10.96.0.11")], port: 81)
        let ep = [EndpointInfo(ip: ip("10.244.1.5"), port: 8080)]
        var rs = Ruleset(table: "t", base: RulesetFragment())
        let pair = SharedKey.element(set: "hairpin-endpoints", NFTElement(.ipv4Pair(ip("10.244.1.5"), ip("10.244.1.5"))))
        #expect(rs.setService(a.name, builder.buildService(a, endpoints: ep)) == [.chain("dispatch-cluster-1"): true, pair: true])
        #expect(rs.setService(b.name, builder.buildService(b, endpoints: ep)) == [:])
        #expect(rs.chainNames == ["dispatch-cluster-1"] && rs.sharedUsers[pair] == 2)
        #expect(rs.setService(a.name, nil) == [:])
        // b grows to two endpoints: the one-endpoint chain goes, the two-endpoint chain comes.
        let two = ep + [EndpointInfo(ip: ip("10.244.1.6"), port: 8080)]
        let pair6 = SharedKey.element(set: "hairpin-endpoints", NFTElement(.ipv4Pair(ip("10.244.1.6"), ip("10.244.1.6"))))
        #expect(rs.setService(b.name, builder.buildService(b, endpoints: two))
            == [.chain("dispatch-cluster-1"): false, .chain("dispatch-cluster-2"): true, pair6: true])
        #expect(rs.setService(b.name, nil).count == 3 && rs.sharedUsers.isEmpty && rs.chainNames.isEmpty)
        // The whole table renders each shared object once.
        rs.setService(a.name, builder.buildService(a, endpoints: ep))
        rs.setService(b.name, builder.buildService(b, endpoints: ep))
        let text = Ruleset(table: "t", base: builder.buildBase(), services: rs.services).render()
        #expect(text.components(separatedBy: "chain dispatch-cluster-1 {").count == 2)
        #expect(text.components(separatedBy: "10.244.1.5 . 10.244.1.5").count == 2)
    }

    /// One index per endpoint, 0..<N in endpoint order, with N the chain's modulus: every
    /// endpoint gets 1/N of new connections; NodePort and external IPs get their own entries.
    @Test func sharedDispatchCoversEveryEndpointOnce() {
        for n in 1...6 {
            let eps = (0..<n).map { EndpointInfo(ip: IPv4Address(0x0af4_0100 + UInt32($0)), port: 80) }
            let svc = ServicePortInfo(name: svcName("n"), clusterIPs: [ip("10.96.0.20")], port: 80, nodePort: 30020, externalIPs: [ip("192.0.2.9")])
            let f = builder.buildService(svc, endpoints: eps.reversed())
            #expect(f.sharedChains.map(\.name) == ["dispatch-cluster-\(n)", "dispatch-external-\(n)", "dispatch-nodeport-\(n)"])
            for chain in f.sharedChains {
                guard case .dnatMap(_, let modulus, _) = chain.rules.last!.statements[0] else { Issue.record("no dnat map"); continue }
                #expect(modulus == UInt32(n))
            }
            for addr in [ip("10.96.0.20"), ip("192.0.2.9")] {
                let mine = f.elements["service-endpoints"]!.filter { if case .ipv4ProtoPortIndex(addr, _, _, _) = $0.key { true } else { false } }
                #expect(mine.map(\.key) == (0..<n).map { .ipv4ProtoPortIndex(addr, .tcp, 80, UInt32($0)) })
                #expect(mine.map(\.data) == eps.map { .endpoint($0.ip, $0.port) })
            }
            #expect(f.elements["nodeport-endpoints"]!.map(\.key) == (0..<n).map { .protoPortIndex(.tcp, 30020, UInt32($0)) })
            #expect(f.elements["service-nodeports"] == [NFTElement(.protoPort(.tcp, 30020), .goto("dispatch-nodeport-\(n)"))])
        }
    }

    /// The probability rules give every endpoint 1/N: rule i matches with 1/(N-i) of what
    /// reaches it, the last one takes the rest. Affinity lookups come first.
    @Test func endpointChoiceIsUniformAndAffinityComesFirst() {
        let name = svcName("many")
        for n in 1...7 {
            let eps = (0..<n).map { EndpointInfo(ip: IPv4Address(0x0af4_0100 + UInt32($0)), port: 80) }
            for timeout: UInt32? in [nil, 60] {
                // Without affinity, a Local external policy is what keeps the service's own chains.
                let svc = ServicePortInfo(name: name, clusterIPs: [ip("10.96.0.20")], port: 80, nodePort: 30020,
                                          sessionAffinityTimeout: timeout, externalTrafficPolicy: timeout == nil ? .local : .cluster)
                let rules = builder.buildService(svc, endpoints: eps).chains.first { $0.name == ProxyNFTNames.serviceChain(name) }!.rules
                    .filter { $0.statements.last?.gotoTarget?.hasPrefix("sep-") == true }
                let affinity = timeout == nil ? 0 : n
                #expect(rules.count == affinity + n)
                #expect(rules.prefix(affinity).allSatisfy { if case .saddrInSet = $0.statements[0] { true } else { false } })
                var reaching = 1.0
                var share: [String: Double] = [:]
                for rule in rules.dropFirst(affinity) {
                    let p: Double = if case .numgenIsZero(let m) = rule.statements[0] { 1 / Double(m) } else { 1 }
                    share[rule.statements.last!.gotoTarget!, default: 0] += reaching * p
                    reaching *= 1 - p
                }
                #expect(reaching == 0)
                #expect(share.count == n)
                #expect(share.values.allSatisfy { abs($0 - 1 / Double(n)) < 1e-12 }, "n=\(n): \(share)")
            }
        }
    }

    @Test func serviceWithoutEndpointsIsRejectedNotBlackholed() {
        let name = svcName("empty")
        let svc = ServicePortInfo(name: name, clusterIPs: [ip("10.96.0.11")], port: 53, nodePort: 30053, externalIPs: [ip("192.0.2.1")])
        let f = builder.buildService(svc, endpoints: [EndpointInfo(ip: ip("10.244.1.5"), port: 53, ready: false)])
        #expect(f.chains.isEmpty)
        #expect(f.elements["service-ips"] == nil)
        #expect(f.elements["no-endpoint-services"] == [
            NFTElement(.ipv4ProtoPort(ip("10.96.0.11"), .tcp, 53), .goto("reject-chain")),
            NFTElement(.ipv4ProtoPort(ip("192.0.2.1"), .tcp, 53), .goto("reject-chain")),
        ])
        #expect(f.elements["no-endpoint-nodeports"] == [NFTElement(.protoPort(.tcp, 30053), .goto("reject-chain"))])
    }

    @Test func terminatingServingEndpointsAreTheFallback() {
        let ready = EndpointInfo(ip: ip("10.244.0.1"), port: 1)
        let term = EndpointInfo(ip: ip("10.244.0.2"), port: 1, ready: false, serving: true, terminating: true)
        let gone = EndpointInfo(ip: ip("10.244.0.3"), port: 1, ready: false, serving: false, terminating: true)
        #expect(RulesetBuilder.usable([ready, term, gone]) == [ready])
        #expect(RulesetBuilder.usable([term, gone]) == [term])
        #expect(RulesetBuilder.usable([gone]).isEmpty)
    }

    @Test func sessionAffinityUsesDynamicSetsWithTimeout() {
        let name = svcName("sticky")
        let svc = ServicePortInfo(name: name, clusterIPs: [ip("10.96.0.12")], port: 80, sessionAffinityTimeout: 10800)
        let ep = EndpointInfo(ip: ip("10.244.2.2"), port: 80)
        let f = builder.buildService(svc, endpoints: [ep])
        let set = ProxyNFTNames.affinitySet(name, ep, timeout: 10800)
        let sep = ProxyNFTNames.endpointChain(name, ep)
        #expect(f.sets == [NFTSetDef(name: set, keyType: .ipv4, timeoutSeconds: 10800)])
        let svcRules = f.chains.first { $0.name == ProxyNFTNames.serviceChain(name) }!.rules.map(\.description)
        #expect(svcRules.contains("ip saddr @\(set) goto \(sep)"))
        let sepRules = f.chains.first { $0.name == sep }!.rules.map(\.description)
        #expect(sepRules.contains("update @\(set) { ip saddr }"))
        #expect(Ruleset(table: "t", base: RulesetFragment(), services: [name: f]).render().contains("flags dynamic,timeout\n\t\ttimeout 10800s"))
    }

    @Test func externalTrafficPolicyLocal() {
        let name = svcName("np")
        let svc = ServicePortInfo(name: name, clusterIPs: [ip("10.96.0.13")], port: 80, nodePort: 30080, externalTrafficPolicy: .local)
        let local = EndpointInfo(ip: ip("10.244.1.1"), port: 80, isLocal: true)
        let remote = EndpointInfo(ip: ip("10.244.2.1"), port: 80)
        let f = builder.buildService(svc, endpoints: [local, remote])
        let ext = ProxyNFTNames.externalChain(name)
        #expect(f.elements["service-nodeports"] == [NFTElement(.protoPort(.tcp, 30080), .goto(ext))])
        #expect(f.chains.first { $0.name == ext }!.rules.map(\.description) == [
            "fib saddr type local jump mark-for-masquerade",
            "fib saddr type local goto \(ProxyNFTNames.serviceChain(name))",
            "goto \(ProxyNFTNames.serviceLocalChain(name))",
        ])
        let svl = f.chains.first { $0.name == ProxyNFTNames.serviceLocalChain(name) }!
        #expect(svl.rules.map(\.description) == ["goto \(ProxyNFTNames.endpointChain(name, local))"])
        // No local endpoint: external traffic is dropped, ClusterIP still served.
        let g = builder.buildService(svc, endpoints: [remote])
        #expect(g.elements["no-endpoint-nodeports"] == [NFTElement(.protoPort(.tcp, 30080), .drop)])
        #expect(g.elements["service-ips"]?.count == 1)
    }

    @Test func externalTrafficPolicyClusterMasquerades() {
        let name = svcName("npc")
        let svc = ServicePortInfo(name: name, clusterIPs: [ip("10.96.0.14")], port: 80, nodePort: 30081, externalIPs: [ip("192.0.2.7")])
        let f = builder.buildService(svc, endpoints: [EndpointInfo(ip: ip("10.244.2.1"), port: 80)])
        #expect(f.sharedChains.first { $0.name == "dispatch-external-1" }!.rules.map(\.description) == [
            "jump mark-for-masquerade", "dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 1 map @service-endpoints",
        ])
        #expect(f.sharedChains.first { $0.name == "dispatch-nodeport-1" }!.rules.map(\.description) == [
            "jump mark-for-masquerade", "dnat ip to meta l4proto . th dport . numgen random mod 1 map @nodeport-endpoints",
        ])
        #expect(f.elements["service-ips"]!.contains(NFTElement(.ipv4ProtoPort(ip("192.0.2.7"), .tcp, 80), .goto("dispatch-external-1"))))
        // With affinity the service keeps its own external chain: mark, then its service chain.
        var sticky = svc
        sticky.sessionAffinityTimeout = 30
        let g = builder.buildService(sticky, endpoints: [EndpointInfo(ip: ip("10.244.2.1"), port: 80)])
        let ext = ProxyNFTNames.externalChain(name)
        #expect(g.chains.first { $0.name == ext }!.rules.map(\.description) == [
            "jump mark-for-masquerade", "goto \(ProxyNFTNames.serviceChain(name))",
        ])
        #expect(g.elements["service-ips"]!.contains(NFTElement(.ipv4ProtoPort(ip("192.0.2.7"), .tcp, 80), .goto(ext))))
    }

    @Test func internalTrafficPolicyLocalWithoutLocalEndpointsDrops() {
        let name = svcName("itp")
        let svc = ServicePortInfo(name: name, clusterIPs: [ip("10.96.0.15")], port: 80, internalTrafficPolicy: .local)
        let f = builder.buildService(svc, endpoints: [EndpointInfo(ip: ip("10.244.2.1"), port: 80)])
        #expect(f.elements["no-endpoint-services"] == [NFTElement(.ipv4ProtoPort(ip("10.96.0.15"), .tcp, 80), .drop)])
        let g = builder.buildService(svc, endpoints: [EndpointInfo(ip: ip("10.244.1.1"), port: 80, isLocal: true)])
        #expect(g.elements["service-ips"] == [NFTElement(.ipv4ProtoPort(ip("10.96.0.15"), .tcp, 80), .goto(ProxyNFTNames.serviceLocalChain(name)))])
    }

    @Test func noClusterCIDRMeansNoMasqueradeRule() {
        let b = RulesetBuilder(config: ProxyConfig())
        let name = svcName("web")
        let f = b.buildService(ServicePortInfo(name: name, clusterIPs: [ip("10.96.0.10")], port: 80), endpoints: [EndpointInfo(ip: ip("10.244.1.5"), port: 80)])
        #expect(f.sharedChains.first { $0.name == "dispatch-cluster-1" }!.rules.count == 1)
        let g = b.buildService(ServicePortInfo(name: name, clusterIPs: [ip("10.96.0.10")], port: 80, sessionAffinityTimeout: 5),
                               endpoints: [EndpointInfo(ip: ip("10.244.1.5"), port: 80)])
        #expect(g.chains.first { $0.name == ProxyNFTNames.serviceChain(name) }!.rules.count == 2)  // affinity lookup + goto
    }
}
