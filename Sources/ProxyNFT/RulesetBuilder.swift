/// Pure translation of the input model into nftables objects, after kube-proxy's nftables mode.
/// No kernel, no I/O: the same input always gives the same `Ruleset`.
package struct RulesetBuilder: Sendable {
    package var config: ProxyConfig
    /// Whether plain services use the shared dispatch chains (always, in the product). Off, every
    /// service gets chains of its own, kube-proxy's layout: the benchmark's reference.
    package var sharedChains: Bool

    package init(config: ProxyConfig, sharedChains: Bool = true) {
        self.config = config
        self.sharedChains = sharedChains
    }

    /// Base chains as a data table: name, type, hook, priority, rules. Priorities are the
    /// numeric values of nft's `dstnat` (-100) and `srcnat` (100); the filter chains run at
    /// -110, before the DNAT chains and before any other filter table at priority 0.
    package static let baseChains: [(name: String, base: NFTBaseChain, rules: [[NFTStatement]])] = [
        ("filter-input", NFTBaseChain(type: "filter", hook: .input, priority: -110), [
            [.ctStateNew, .verdict(.jump(ProxyNFTNames.nodePortEndpointsCheckChain))],
            [.ctStateNew, .verdict(.jump(ProxyNFTNames.serviceEndpointsCheckChain))],
        ]),
        ("filter-forward", NFTBaseChain(type: "filter", hook: .forward, priority: -110), [
            [.ctStateNew, .verdict(.jump(ProxyNFTNames.serviceEndpointsCheckChain))],
        ]),
        ("filter-output", NFTBaseChain(type: "filter", hook: .output, priority: -110), [
            [.ctStateNew, .verdict(.jump(ProxyNFTNames.serviceEndpointsCheckChain))],
        ]),
        ("nat-prerouting", NFTBaseChain(type: "nat", hook: .prerouting, priority: -100), [
            [.verdict(.jump(ProxyNFTNames.servicesChain))],
        ]),
        ("nat-output", NFTBaseChain(type: "nat", hook: .output, priority: -100), [
            [.verdict(.jump(ProxyNFTNames.servicesChain))],
        ]),
        ("nat-postrouting", NFTBaseChain(type: "nat", hook: .postrouting, priority: 100), [
            [.verdict(.jump(ProxyNFTNames.masqueradingChain))],
        ]),
    ]

    /// The shared maps and chains.
    package func buildBase() -> RulesetFragment {
        typealias N = ProxyNFTNames
        let mark = config.masqueradeMark
        var f = RulesetFragment()
        f.sets = [
            NFTSetDef(name: N.serviceIPsMap, keyType: .ipv4ProtoPort, dataType: .verdict),
            NFTSetDef(name: N.serviceNodePortsMap, keyType: .protoPort, dataType: .verdict),
            NFTSetDef(name: N.noEndpointServicesMap, keyType: .ipv4ProtoPort, dataType: .verdict),
            NFTSetDef(name: N.noEndpointNodePortsMap, keyType: .protoPort, dataType: .verdict),
            NFTSetDef(name: N.serviceEndpointsMap, keyType: .ipv4ProtoPortIndex, dataType: .endpoint),
            NFTSetDef(name: N.nodePortEndpointsMap, keyType: .protoPortIndex, dataType: .endpoint),
            NFTSetDef(name: N.hairpinSet, keyType: .ipv4Pair),
        ]
        let loopback = IPv4CIDR(IPv4Address(0x7f00_0000), prefixLength: 8)
        f.chains = [
            NFTChainDef(name: N.rejectChain, rules: [NFTRule([.reject])]),
            NFTChainDef(name: N.markForMasqueradeChain, rules: [NFTRule([.setMarkOr(mark)])]),
            NFTChainDef(name: N.masqueradingChain, rules: [
                NFTRule([.ctStatusDNAT, .addressPairInSet(N.hairpinSet), .verdict(.jump(N.markForMasqueradeChain))]),
                NFTRule([.markClear(mark), .verdict(.return)]),
                NFTRule([.setMarkXor(mark)]),
                NFTRule([.masquerade]),
            ]),
            NFTChainDef(name: N.servicesChain, rules: [
                NFTRule([.vmap(.ipv4ProtoPort, N.serviceIPsMap)]),
                NFTRule([.fibLocal(.daddr), .prefix(.daddr, equal: false, loopback), .vmap(.protoPort, N.serviceNodePortsMap)]),
            ]),
            NFTChainDef(name: N.serviceEndpointsCheckChain, rules: [
                NFTRule([.vmap(.ipv4ProtoPort, N.noEndpointServicesMap)]),
            ]),
            NFTChainDef(name: N.nodePortEndpointsCheckChain, rules: [
                NFTRule([.fibLocal(.daddr), .prefix(.daddr, equal: false, loopback), .vmap(.protoPort, N.noEndpointNodePortsMap)]),
            ]),
        ]
        for b in Self.baseChains {
            f.chains.append(NFTChainDef(name: b.name, base: b.base, rules: b.rules.map(NFTRule.init)))
        }
        return f
    }

    /// kube-proxy's endpoint choice: ready endpoints; when none is ready, the serving
    /// terminating ones (graceful termination).
    package static func usable(_ endpoints: [EndpointInfo]) -> [EndpointInfo] {
        let ready = endpoints.filter(\.ready)
        if !ready.isEmpty { return ready.sorted() }
        return endpoints.filter { $0.serving && $0.terminating }.sorted()
    }

    /// Whether a service port is served by the chains shared by all services with its number
    /// of endpoints: nothing about it needs a rule of its own (no ClientIP affinity, both
    /// traffic policies Cluster) and it has endpoints. Its table entries are then map elements
    /// only — the `service-ips` goto and one `service-endpoints` element per endpoint — so
    /// adding it creates no chain and no rule (README, "Shared dispatch chains").
    package static func usesSharedChains(_ svc: ServicePortInfo, usable: Int) -> Bool {
        usable > 0 && svc.sessionAffinityTimeout == nil && svc.internalTrafficPolicy == .cluster
            && (svc.externalTrafficPolicy == .cluster || !svc.hasExternal)
    }

    /// The shared chains for services with `count` endpoints.
    package func clusterDispatchChain(_ count: Int) -> NFTChainDef {
        typealias N = ProxyNFTNames
        var rules: [NFTRule] = []
        if let cidr = config.clusterCIDR {
            rules.append(NFTRule([.prefix(.saddr, equal: false, cidr), .verdict(.jump(N.markForMasqueradeChain))]))
        }
        rules.append(NFTRule([.dnatMap(.ipv4ProtoPortIndex, modulus: UInt32(count), map: N.serviceEndpointsMap)]))
        return NFTChainDef(name: N.clusterDispatchChainPrefix + String(count), rules: rules)
    }

    /// External-IP traffic: always masqueraded (Cluster policy), then the same endpoint map.
    package func externalDispatchChain(_ count: Int) -> NFTChainDef {
        Self.masqueradingDispatchChain(ProxyNFTNames.externalDispatchChainPrefix, count, .ipv4ProtoPortIndex, ProxyNFTNames.serviceEndpointsMap)
    }

    /// Node-port traffic: always masqueraded, endpoints keyed by node port.
    package func nodePortDispatchChain(_ count: Int) -> NFTChainDef {
        Self.masqueradingDispatchChain(ProxyNFTNames.nodePortDispatchChainPrefix, count, .protoPortIndex, ProxyNFTNames.nodePortEndpointsMap)
    }

    private static func masqueradingDispatchChain(_ prefix: String, _ count: Int, _ key: NFTKeyType, _ map: String) -> NFTChainDef {
        NFTChainDef(name: prefix + String(count), rules: [
            NFTRule([.verdict(.jump(ProxyNFTNames.markForMasqueradeChain))]),
            NFTRule([.dnatMap(key, modulus: UInt32(count), map: map)]),
        ])
    }

    /// A shared-chain service port: map elements, plus the names of the shared objects it uses.
    func buildShared(_ svc: ServicePortInfo, _ eps: [EndpointInfo]) -> RulesetFragment {
        typealias N = ProxyNFTNames
        let proto = svc.name.proto
        var f = RulesetFragment()
        var serviceIPs: [NFTElement] = []
        var endpoints: [NFTElement] = []
        func entries(_ ip: IPv4Address, _ chain: String) {
            serviceIPs.append(NFTElement(.ipv4ProtoPort(ip, proto, svc.port), .goto(chain)))
            for (i, e) in eps.enumerated() {
                endpoints.append(NFTElement(.ipv4ProtoPortIndex(ip, proto, svc.port, UInt32(i)), endpoint: e.ip, e.port))
            }
        }
        if !svc.clusterIPs.isEmpty {
            let chain = clusterDispatchChain(eps.count)
            f.sharedChains.append(chain)
            for ip in svc.clusterIPs { entries(ip, chain.name) }
        }
        if !svc.externalIPs.isEmpty {
            let chain = externalDispatchChain(eps.count)
            f.sharedChains.append(chain)
            for ip in svc.externalIPs { entries(ip, chain.name) }
        }
        f.elements[N.serviceIPsMap] = serviceIPs
        f.elements[N.serviceEndpointsMap] = endpoints
        if let nodePort = svc.nodePort {
            let chain = nodePortDispatchChain(eps.count)
            f.sharedChains.append(chain)
            f.elements[N.serviceNodePortsMap] = [NFTElement(.protoPort(proto, nodePort), .goto(chain.name))]
            f.elements[N.nodePortEndpointsMap] = eps.enumerated().map { i, e in
                NFTElement(.protoPortIndex(proto, nodePort, UInt32(i)), endpoint: e.ip, e.port)
            }
        }
        var seen = Set<IPv4Address>()
        f.sharedElements[N.hairpinSet] = eps.compactMap { e in seen.insert(e.ip).inserted ? NFTElement(.ipv4Pair(e.ip, e.ip)) : nil }
        return f
    }

    /// The objects of one service port.
    package func buildService(_ svc: ServicePortInfo, endpoints: [EndpointInfo]) -> RulesetFragment {
        typealias N = ProxyNFTNames
        let name = svc.name
        let proto = svc.name.proto
        var f = RulesetFragment()

        let cluster = Self.usable(endpoints)
        if sharedChains && Self.usesSharedChains(svc, usable: cluster.count) { return buildShared(svc, cluster) }
        let local = Self.usable(endpoints.filter(\.isLocal))
        let needsLocal = svc.externalTrafficPolicy == .local || svc.internalTrafficPolicy == .local
        let hash = N.hash(name.description)  // once for the three per-service chain names
        let svcChain = N.serviceChainPrefix + hash
        let svlChain = N.serviceLocalChainPrefix + hash
        let extChain = N.externalChainPrefix + hash
        let noEndpointVerdict: NFTVerdict = cluster.isEmpty ? .goto(N.rejectChain) : .drop

        // Endpoint chains (and affinity sets) for every endpoint either policy chain uses.
        var used = cluster
        if needsLocal { for e in local where !used.contains(e) { used.append(e) } }
        var affinity: [EndpointInfo: String] = [:]
        for e in used.sorted() {
            let chain = N.endpointChain(name, e)
            var rules = [NFTRule([.address(.saddr, equal: true, e.ip), .verdict(.jump(N.markForMasqueradeChain))])]
            if let timeout = svc.sessionAffinityTimeout {
                let set = N.affinitySet(name, e, timeout: timeout)
                affinity[e] = set
                f.sets.append(NFTSetDef(name: set, keyType: .ipv4, timeoutSeconds: timeout))
                rules.append(NFTRule([.updateSaddr(set)]))
            }
            rules.append(NFTRule([.l4proto(proto), .dnat(e.ip, e.port)]))
            f.chains.append(NFTChainDef(name: chain, rules: rules))
        }

        // Affinity first (a client seen before keeps its endpoint), then a uniform pick with
        // iptables-statistic-style probability rules: rule i (of N) matches with probability
        // 1/(N-i), the last one always, so every endpoint gets 1/N. No anonymous or shared
        // verdict map: those make a 10,000-service transaction quadratic in the kernel (README).
        func dispatchRules(_ eps: [EndpointInfo]) -> [NFTRule] {
            var rules: [NFTRule] = []
            for e in eps { if let set = affinity[e] { rules.append(NFTRule([.saddrInSet(set), .verdict(.goto(N.endpointChain(name, e)))])) } }
            for (i, e) in eps.enumerated() {
                let go = NFTStatement.verdict(.goto(N.endpointChain(name, e)))
                rules.append(NFTRule(i == eps.count - 1 ? [go] : [.numgenIsZero(modulus: UInt32(eps.count - i)), go]))
            }
            return rules
        }

        // Cluster-policy chain: masquerade ClusterIP traffic from outside the cluster CIDR.
        if !cluster.isEmpty {
            var rules: [NFTRule] = []
            if let cidr = config.clusterCIDR {
                for ip in svc.clusterIPs {
                    rules.append(NFTRule([
                        .address(.daddr, equal: true, ip), .prefix(.saddr, equal: false, cidr),
                        .verdict(.jump(N.markForMasqueradeChain)),
                    ]))
                }
            }
            f.chains.append(NFTChainDef(name: svcChain, rules: rules + dispatchRules(cluster)))
        }
        if needsLocal && !local.isEmpty {
            f.chains.append(NFTChainDef(name: svlChain, rules: dispatchRules(local)))
        }

        // ClusterIPs → internal-policy chain, or reject (no endpoints) / drop (none local).
        let internalTarget: String? = svc.internalTrafficPolicy == .local
            ? (local.isEmpty ? nil : svlChain) : (cluster.isEmpty ? nil : svcChain)
        for ip in svc.clusterIPs {
            let key = NFTKey.ipv4ProtoPort(ip, proto, svc.port)
            if let target = internalTarget {
                f.elements[N.serviceIPsMap, default: []].append(NFTElement(key, .goto(target)))
            } else {
                f.elements[N.noEndpointServicesMap, default: []].append(NFTElement(key, noEndpointVerdict))
            }
        }

        // External traffic (NodePort, external IPs) → ext chain, which applies externalTrafficPolicy.
        if svc.hasExternal {
            var extRules: [NFTRule]? = nil
            if !cluster.isEmpty {
                if svc.externalTrafficPolicy == .cluster {
                    extRules = [
                        NFTRule([.verdict(.jump(N.markForMasqueradeChain))]),
                        NFTRule([.verdict(.goto(svcChain))]),
                    ]
                } else if !local.isEmpty {
                    // Traffic from this node itself may use any endpoint (and is masqueraded).
                    extRules = [
                        NFTRule([.fibLocal(.saddr), .verdict(.jump(N.markForMasqueradeChain))]),
                        NFTRule([.fibLocal(.saddr), .verdict(.goto(svcChain))]),
                        NFTRule([.verdict(.goto(svlChain))]),
                    ]
                }
            }
            if let rules = extRules {
                f.chains.append(NFTChainDef(name: extChain, rules: rules))
            }
            for ip in svc.externalIPs {
                let key = NFTKey.ipv4ProtoPort(ip, proto, svc.port)
                if extRules != nil {
                    f.elements[N.serviceIPsMap, default: []].append(NFTElement(key, .goto(extChain)))
                } else {
                    f.elements[N.noEndpointServicesMap, default: []].append(NFTElement(key, noEndpointVerdict))
                }
            }
            if let nodePort = svc.nodePort {
                let key = NFTKey.protoPort(proto, nodePort)
                if extRules != nil {
                    f.elements[N.serviceNodePortsMap, default: []].append(NFTElement(key, .goto(extChain)))
                } else {
                    f.elements[N.noEndpointNodePortsMap, default: []].append(NFTElement(key, noEndpointVerdict))
                }
            }
        }
        return f
    }

    /// The whole table for a snapshot of services and endpoints.
    package func build(services: [ServicePortName: ServicePortInfo], endpoints: [ServicePortName: [EndpointInfo]]) -> Ruleset {
        var rs = Ruleset(table: config.tableName, base: buildBase())
        for (name, svc) in services {
            rs.setService(name, buildService(svc, endpoints: endpoints[name] ?? []))
        }
        return rs
    }
}
