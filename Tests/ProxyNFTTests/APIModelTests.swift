import CShim
import Foundation
import KubeAPI
import Testing
@testable import ProxyNFT

private func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(json.utf8))
}

/// Service/EndpointSlice objects → the proxy's model, without a server or a kernel.
@Suite struct APIModelTests {
    @Test func servicePortsOfANodePortServiceWithAffinityAndLocalPolicies() throws {
        let svc = try decode(Service.self, """
            {"metadata": {"name": "web", "namespace": "shop"},
             "spec": {"type": "NodePort", "clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20", "fd00::20"],
                      "externalIPs": ["192.0.2.7", "2001:db8::7"], "sessionAffinity": "ClientIP",
                      "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
                      "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Local",
                      "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080},
                                {"name": "dns", "protocol": "UDP", "port": 53, "nodePort": 30053},
                                {"name": "odd", "protocol": "ICMP", "port": 7}]},
             "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.9"}, {"hostname": "lb.example"}]}}}
            """)
        let ports = APIModel.servicePorts(svc)
        #expect(ports.map(\.name) == [ServicePortName(namespace: "shop", name: "web", port: "http", proto: .tcp),
                                      ServicePortName(namespace: "shop", name: "web", port: "dns", proto: .udp)])
        let http = try #require(ports.first)
        #expect(http.clusterIPs == [ip("10.96.0.20")], "IPv6 cluster IPs are not carried by the ip-family table")
        #expect(http.port == 80 && http.nodePort == 30080)
        #expect(http.externalIPs == [ip("192.0.2.7"), ip("198.51.100.9")], "external IPs and LoadBalancer ingress IPs")
        #expect(http.sessionAffinityTimeout == 60)
        #expect(http.externalTrafficPolicy == .local && http.internalTrafficPolicy == .local)
    }

    @Test func defaultsAndIgnoredServices() throws {
        let plain = try decode(Service.self, """
            {"metadata": {"name": "a", "namespace": "default"},
             "spec": {"clusterIP": "10.96.0.5", "sessionAffinity": "ClientIP", "ports": [{"port": 443, "nodePort": 31000}]}}
            """)
        let p = try #require(APIModel.servicePorts(plain).first)
        #expect(p.name == ServicePortName(namespace: "default", name: "a", port: "", proto: .tcp))
        #expect(p.sessionAffinityTimeout == 10_800, "kube-proxy's default ClientIP timeout")
        #expect(p.nodePort == nil, "a ClusterIP service's stray nodePort is not programmed")
        #expect(p.externalTrafficPolicy == .cluster && p.internalTrafficPolicy == .cluster)
        for ignored in [
            #"{"metadata": {"name": "h"}, "spec": {"clusterIP": "None", "ports": [{"port": 80}]}}"#,
            #"{"metadata": {"name": "x"}, "spec": {"type": "ExternalName", "externalName": "example.com"}}"#,
            #"{"metadata": {"name": "v6"}, "spec": {"clusterIP": "fd00::1", "ports": [{"port": 80}]}}"#,
        ] {
            #expect(APIModel.servicePorts(try decode(Service.self, ignored)).isEmpty, "\(ignored)")
        }
    }

    @Test func endpointsMergeSlicesWithConditionDefaultsAndLocality() throws {
        let a = try decode(EndpointSlice.self, """
            {"metadata": {"name": "web-a", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
             "addressType": "IPv4",
             "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
             "endpoints": [
               {"addresses": ["10.244.1.5", "10.244.9.9"], "nodeName": "node-a"},
               {"addresses": ["10.244.2.6"], "conditions": {"ready": false, "serving": true, "terminating": true}, "nodeName": "node-b"},
               {"addresses": ["10.244.2.7"], "conditions": {"ready": false}}]}
            """)
        let b = try decode(EndpointSlice.self, """
            {"metadata": {"name": "web-b", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
             "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}],
             "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": false}}, {"addresses": ["10.244.3.8"]}]}
            """)
        let v6 = try decode(EndpointSlice.self, """
            {"metadata": {"name": "web-c", "namespace": "shop", "labels": {"kubernetes.io/service-name": "web"}},
             "addressType": "IPv6", "ports": [{"name": "http", "port": 8080}], "endpoints": [{"addresses": ["fd00::5"]}]}
            """)
        #expect(APIModel.serviceKey(of: a) == "shop/web")
        let eps = APIModel.endpoints(namespace: "shop", service: "web", slices: [b, v6, a], nodeName: "node-a")
        let list = try #require(eps[ServicePortName(namespace: "shop", name: "web", port: "http", proto: .tcp)])
        #expect(eps.count == 1)
        #expect(list.map(\.address) == ["10.244.1.5:8080", "10.244.2.6:8080", "10.244.2.7:8080", "10.244.3.8:8080"],
                "first address only; a duplicate across slices counts once (slice order by name)")
        #expect(list[0].ready && list[0].serving && !list[0].terminating && list[0].isLocal, "unset conditions: ready, serving")
        #expect(!list[1].ready && list[1].serving && list[1].terminating && !list[1].isLocal)
        #expect(!list[2].ready && list[2].serving, "serving defaults to true even when not ready")
        #expect(RulesetBuilder.usable(list).map(\.address) == ["10.244.1.5:8080", "10.244.3.8:8080"])
    }

    @Test func staleUDPFlowsAreThoseNotDNATedToACurrentEndpoint() {
        let dns = ServicePortInfo(name: svcName("dns", proto: .udp), clusterIPs: [ip("10.96.0.10")], port: 53, nodePort: 30053)
        let web = ServicePortInfo(name: svcName("web"), clusterIPs: [ip("10.96.0.11")], port: 80)
        let targets = StaleFlows.targets(services: [dns, web], endpoints: [dns.name: [EndpointInfo(ip: ip("10.244.1.5"), port: 5353)]])
        #expect(targets.count == 1, "TCP services need no conntrack clean-up")
        func flow(dst: String, dport: UInt16, replySrc: String, rport: UInt16, proto: UInt8 = 17) -> ConntrackFlow {
            ConntrackFlow(proto: proto, origSrc: ip("10.244.2.9"), origDst: ip(dst), origSrcPort: 40000, origDstPort: dport,
                          replySrc: ip(replySrc), replySrcPort: rport)
        }
        let current = flow(dst: "10.96.0.10", dport: 53, replySrc: "10.244.1.5", rport: 5353)
        let gone = flow(dst: "10.96.0.10", dport: 53, replySrc: "10.244.1.6", rport: 5353)
        let neverNATed = flow(dst: "10.96.0.10", dport: 53, replySrc: "10.96.0.10", rport: 53)
        let nodePortGone = flow(dst: "10.250.0.2", dport: 30053, replySrc: "10.244.1.6", rport: 5353)
        let nodePortLocal = flow(dst: "10.250.0.2", dport: 30053, replySrc: "10.250.0.2", rport: 30053)
        let otherPort = flow(dst: "10.96.0.10", dport: 54, replySrc: "10.244.1.6", rport: 5353)
        let tcp = flow(dst: "10.96.0.10", dport: 53, replySrc: "10.244.1.6", rport: 5353, proto: 6)
        let stale = StaleFlows.select([current, gone, neverNATed, nodePortGone, nodePortLocal, otherPort, tcp], targets: targets)
        #expect(stale == [gone, neverNATed, nodePortGone])
    }
}

/// ctnetlink against the kernel, in a test network namespace.
@Suite(.serialized, .enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/usr/sbin/conntrack"),
                             "needs root and conntrack(8) to insert entries"))
struct ConntrackKernelTests {
    @Test func dumpsAndDeletesExactlyTheStaleFlows() throws {
        let ns = try TestNetns()
        defer { ns.remove() }
        func conntrack(_ args: [String]) throws -> (status: Int32, output: String) {
            try run("/usr/sbin/ip", ["netns", "exec", ns.name, "/usr/sbin/conntrack"] + args)
        }
        // Two UDP flows to a service IP, DNATed to two endpoints, and one TCP flow.
        for (ep, sport) in [("10.244.1.5", "40001"), ("10.244.1.6", "40002")] {
            let r = try conntrack(["-I", "-p", "udp", "-s", "10.244.2.9", "-d", "10.96.0.10", "--sport", sport, "--dport", "53",
                                   "-r", ep, "-q", "10.244.2.9", "--reply-port-src", "5353", "--reply-port-dst", sport, "-t", "120"])
            #expect(r.status == 0, "conntrack -I: \(r.output)")
        }
        _ = try conntrack(["-I", "-p", "tcp", "-s", "10.244.2.9", "-d", "10.96.0.10", "--sport", "40003", "--dport", "53",
                           "-r", "10.244.1.6", "-q", "10.244.2.9", "--reply-port-src", "5353", "--reply-port-dst", "40003",
                           "--state", "ESTABLISHED", "-t", "120"])
        let fd = swl_netlink_socket_in_netns("/run/netns/\(ns.name)", 12 /* NETLINK_NETFILTER */)
        try #require(fd >= 0)
        let table = try NetlinkConntrack(fileDescriptor: fd)
        let flows = try table.flows(proto: 17)
        #expect(flows.count == 2)
        #expect(Set(flows.map(\.replySrc)) == [ip("10.244.1.5"), ip("10.244.1.6")])
        #expect(flows.allSatisfy { $0.origDst == ip("10.96.0.10") && $0.origDstPort == 53 && $0.replySrcPort == 5353 })

        let dns = ServicePortInfo(name: svcName("dns", proto: .udp), clusterIPs: [ip("10.96.0.10")], port: 53)
        let targets = StaleFlows.targets(services: [dns], endpoints: [dns.name: [EndpointInfo(ip: ip("10.244.1.5"), port: 5353)]])
        let stale = StaleFlows.select(flows, targets: targets)
        #expect(try table.delete(stale) == 1)
        #expect(try table.delete(stale) == 0, "deleting a flow that is already gone is not an error")
        let left = try conntrack(["-L"]).output
        #expect(left.contains("10.244.1.5") && !left.contains("dport=40002"), "\(left)")
        #expect(left.contains("tcp"), "other protocols are untouched: \(left)")
    }
}
