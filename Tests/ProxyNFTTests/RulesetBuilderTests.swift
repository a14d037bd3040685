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
        #expect(text.contains("chain masquerading {\n\t\tmeta mark & 0x4000 == 0 return\n\t\tmeta mark set meta mark ^ 0x4000\n\t\tmasquerade fully-random\n"))
        #expect(text.contains("chain reject-chain {\n\t\treject\n"))
    }

    @Test func clusterIPServiceWithTwoEndpoints() {
        let name = svcName("web")
        let svc = ServicePortInfo(name: name, clusterIPs: [ip("10.96.0.10")], port: 80)
        let eps = [EndpointInfo(ip: ip("10.244.1.6"), port: 8080), EndpointInfo(ip: ip("10.244.1.5"), port: 8080)]
        let f = builder.buildService(svc, endpoints: eps)
        let svcChain = ProxyNFTNames.serviceChain(name)
        let sep5 = ProxyNFTNames.endpointChain(name, eps[1])
        let sep6 = ProxyNFTNames.endpointChain(name, eps[0])
        #expect(f.elements["service-ips"] == [NFTElement(.ipv4ProtoPort(ip("10.96.0.10"), .tcp, 80), .goto(svcChain))])
        let chain = f.chains.first { $0.name == svcChain }!
        #expect(chain.rules.map(\.description) == [
            "ip daddr 10.96.0.10 ip saddr != 10.244.0.0/16 jump mark-for-masquerade",
            "numgen random mod 2 0 goto \(sep5)",
            "goto \(sep6)",
        ])
        let sep = f.chains.first { $0.name == sep5 }!
        #expect(sep.rules.map(\.description) == [
            "ip saddr 10.244.1.5 jump mark-for-masquerade",
            "meta l4proto tcp dnat to 10.244.1.5:8080",
        ])
        #expect(f.chains.count == 3 && f.sets.isEmpty)
    }

    /// The probability rules give every endpoint 1/N: rule i matches with 1/(N-i) of what
    /// reaches it, the last one takes the rest. Affinity lookups come first.
    @Test func endpointChoiceIsUniformAndAffinityComesFirst() {
        let name = svcName("many")
        for n in 1...7 {
            let eps = (0..<n).map { EndpointInfo(ip: IPv4Address(0x0af4_0100 + UInt32($0)), port: 80) }
            for timeout: UInt32? in [nil, 60] {
                let svc = ServicePortInfo(name: name, clusterIPs: [ip("10.96.0.20")], port: 80, sessionAffinityTimeout: timeout)
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
        #expect(f.sets == [NFTSetDef(name: set, keyType: .ipv4, isVerdictMap: false, timeoutSeconds: 10800)])
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
        let ext = ProxyNFTNames.externalChain(name)
        #expect(f.chains.first { $0.name == ext }!.rules.map(\.description) == [
            "jump mark-for-masquerade", "goto \(ProxyNFTNames.serviceChain(name))",
        ])
        #expect(f.elements["service-ips"]!.contains(NFTElement(.ipv4ProtoPort(ip("192.0.2.7"), .tcp, 80), .goto(ext))))
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
        #expect(f.chains.first { $0.name == ProxyNFTNames.serviceChain(name) }!.rules.count == 1)
    }
}
