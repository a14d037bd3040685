import Foundation
import Glibc
import Testing
import TestSupport

/// Services end to end: the real server, the real agent with its service proxy (nftables in
/// the node's netns), real pods on the CNI bridge, and traffic from the node, from a pod and
/// from another test host.
@Suite(.serialized, .enabled(if: AgentLab.available, "needs root, kubectl (scripts/setup.sh), busybox and the built swiftlet"))
struct ServiceProxyTests {
    static let clientIP = "10.250.0.3"

    static func deployment(_ name: String, replicas: Int) -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: \(name)}
        spec:
          replicas: \(replicas)
          selector: {matchLabels: {app: \(name)}}
          template:
            metadata: {labels: {app: \(name)}}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: httpd
                image: \(AgentLab.image)
                command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && echo ok > /www/ready.html && exec httpd -f -p 8080 -h /www"]
                readinessProbe:
                  httpGet: {path: /ready.html, port: 8080}
                  periodSeconds: 1
                  failureThreshold: 1
        """
    }

    static func service(_ name: String, selector: String, type: String = "ClusterIP", affinity: Bool = false) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name)}
        spec:
          type: \(type)
          selector: {\(selector)}
          ports: [{port: 80, targetPort: 8080}]
        """ + (affinity ? "\n  sessionAffinity: ClientIP" : "")
    }

    /// The lab: node (server + agent with proxy) and a second host on the lab bridge. The
    /// node's default route leads into the lab bridge, which has no way out.
    static func withCluster(_ body: (AgentLab, String) async throws -> Void) async throws {
        try await AgentLab.with { lab in
            let client = try lab.lab.addHost("client", address: clientIP + "/24")
            try lab.lab.run(in: lab.node, ["/usr/sbin/ip", "route", "add", "default", "dev", "lab0"]).check()
            try await lab.startAgent(extra: ["--cluster-cidr", "10.244.0.0/16", "--min-sync-period", "100ms"])
            try await body(lab, client)
        }
    }

    /// Who answered `GET /` at `host:port` from the node (the pod's hostname), or nil.
    static func ask(_ lab: AgentLab, from ns: String? = nil, _ host: String, _ port: Int = 80) -> String? {
        lab.lab.httpGet(from: ns ?? lab.node, host: host, port: port)?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Asks `probe` (off the cooperative pool) until it has named every one of `expected` or
    /// 40 answers / 30 s have passed; returns every distinct answer, wrong ones included. No
    /// answer (the proxy not synced yet) waits a little before the next try.
    static func collect(_ expected: Set<String>, _ probe: @escaping @Sendable () -> String?) async -> Set<String> {
        var seen = Set<String>()
        var answers = 0
        let deadline = Date().addingTimeInterval(30)
        for _ in 0..<300 where answers < 40 && Date() < deadline && !expected.isSubset(of: seen) {
            if let who = await offload(probe), !who.isEmpty {
                seen.insert(who)
                answers += 1
            } else {
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        return seen
    }

    static func pods(_ lab: AgentLab, _ app: String) -> [String] {
        ((try? lab.kubectl("get", "pods", "-l", "app=\(app)", "-o", "jsonpath={.items[*].metadata.name}"))?.stdout ?? "")
            .split(separator: " ").map(String.init)
    }

    static func readyEndpoints(_ lab: AgentLab, _ svc: String) -> Int {
        let out = (try? lab.kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=\(svc)", "-o",
                                    "jsonpath={range .items[*].endpoints[*]}{.conditions.ready}{\" \"}{end}"))?.stdout ?? ""
        return out.split(separator: " ").filter { $0 == "true" }.count
    }

    @Test func clusterIPNodePortReadinessAndScaleToZero() async throws {
        try await Self.withCluster { lab, client in
            try lab.apply(Self.deployment("web", replicas: 3))
            try lab.apply(Self.service("web", selector: "app: web", type: "NodePort"))
            #expect(await until(timeout: 90, interval: 0.5) { Self.readyEndpoints(lab, "web") == 3 }, "\(lab.agent?.output.string.suffix(4000) ?? "")")
            let backends = Set(Self.pods(lab, "web"))
            #expect(backends.count == 3)
            let ip = try lab.kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}").check().stdout
            let nodePort = Int(try lab.kubectl("get", "svc", "web", "-o", "jsonpath={.spec.ports[0].nodePort}").check().stdout) ?? 0
            #expect((30000...32767).contains(nodePort))

            // From the node: every backend answers the ClusterIP, and nothing else does.
            let seen = await Self.collect(backends) { Self.ask(lab, ip) }
            #expect(seen == backends, "answers from \(seen), backends \(backends)")

            // From a client pod: the same through its own network namespace (the bridge, then DNAT).
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: client}
                spec:
                  terminationGracePeriodSeconds: 1
                  containers: [{name: c, image: \(AgentLab.image), command: ["sleep", "3600"]}]
                """)
            #expect(await lab.waitReady("client"), "\(lab.diagnostics("client"))")
            let pod = "client"
            let fromPod = await Self.collect(backends) {
                (try? lab.kubectl("exec", pod, "--", "sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 \(ip) 80 | tail -n 1"))?
                    .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            #expect(fromPod == backends, "answers from a pod: \(fromPod)")

            // From another test host: the NodePort on the node's address.
            let viaNodePort = await Self.collect(backends) { Self.ask(lab, from: client, AgentLab.nodeIP, nodePort) }
            #expect(viaNodePort == backends, "answers via NodePort from \(viaNodePort)")

            // A pod that fails readiness stops receiving traffic (and comes back when ready).
            let sick = backends.sorted()[1]
            try lab.kubectl("exec", sick, "--", "rm", "/www/ready.html").check()
            #expect(await until(timeout: 30, interval: 0.3) { Self.readyEndpoints(lab, "web") == 2 })
            // Once the proxy has synced (within its min sync period), the sick pod gets nothing.
            #expect(await until(timeout: 15, interval: 0.2) { !(0..<10).compactMap { _ in Self.ask(lab, ip) }.contains(sick) })
            let answers = await offload { (0..<30).compactMap { _ in Self.ask(lab, ip) } }
            #expect(answers.count == 30 && !answers.contains(sick), "\(sick) is unready but answered: \(answers)")

            // Scaled to zero: connection refused at once (ICMP port unreachable), not a hang.
            try lab.kubectl("scale", "deployment", "web", "--replicas=0").check()
            #expect(await until(timeout: 60, interval: 0.3) { Self.readyEndpoints(lab, "web") == 0 && Self.pods(lab, "web").isEmpty })
            // Wait for the proxy's sync: the service moves to the no-endpoints map.
            #expect(await until(timeout: 15, interval: 0.2) {
                ((try? lab.lab.run(in: lab.node, ["/usr/sbin/nft", "list", "map", "ip", "swiftlet-proxy", "no-endpoint-services"]))?.stdout ?? "")
                    .contains("\(ip) . tcp . 80")
            })
            let start = Date()
            let r = try lab.lab.run(in: lab.node, ["/bin/busybox", "nc", "-w", "5", ip, "80"], stdin: "GET / HTTP/1.0\r\n\r\n", timeout: 10)
            #expect(!r.ok && r.stderr.contains("Connection refused"), "\(r.stderr)")
            #expect(Date().timeIntervalSince(start) < 4, "refused quickly, not after a timeout")
            let np = try lab.lab.run(in: client, ["/bin/busybox", "nc", "-w", "5", AgentLab.nodeIP, String(nodePort)], stdin: "x", timeout: 10)
            #expect(!np.ok && np.stderr.contains("Connection refused"), "\(np.stderr)")
        }
    }

    @Test func clientIPAffinitySticksAndHairpinReachesItself() async throws {
        try await Self.withCluster { lab, _ in
            try lab.apply(Self.deployment("sticky", replicas: 3))
            try lab.apply(Self.service("sticky", selector: "app: sticky", affinity: true))
            try lab.apply(Self.deployment("solo", replicas: 1))
            try lab.apply(Self.service("solo", selector: "app: solo"))
            #expect(await until(timeout: 90, interval: 0.5) { Self.readyEndpoints(lab, "sticky") == 3 && Self.readyEndpoints(lab, "solo") == 1 })
            let ip = try lab.kubectl("get", "svc", "sticky", "-o", "jsonpath={.spec.clusterIP}").check().stdout
            #expect(await until(timeout: 15, interval: 0.2) { Self.ask(lab, ip) != nil }, "the proxy programs the service")
            let answers = await offload { (0..<20).compactMap { _ in Self.ask(lab, ip) } }
            #expect(answers.count == 20 && Set(answers).count == 1, "ClientIP affinity: one backend for one client, got \(answers)")
            // The affinity is a dynamic set with the service's timeout (10800 s by default).
            let table = try lab.lab.run(in: lab.node, ["/usr/sbin/nft", "list", "table", "ip", "swiftlet-proxy"]).check().stdout
            #expect(table.contains("timeout 3h"), "\(table)")

            // Hairpin: the only backend of "solo" reaches itself through its own Service.
            let solo = Self.pods(lab, "solo")
            let soloIP = try lab.kubectl("get", "svc", "solo", "-o", "jsonpath={.spec.clusterIP}").check().stdout
            #expect(solo.count == 1)
            let r = try lab.kubectl("exec", solo.first ?? "", "--", "sh", "-c",
                                    "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 \(soloIP) 80 | tail -n 1")
            #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == solo.first, "hairpin: \(r.stdout) \(r.stderr)")
        }
    }

    @Test func standaloneProxyAndCleanupRemovesOnlyItsTable() async throws {
        try await AgentLab.with { lab in
            try lab.lab.run(in: lab.node, ["/usr/sbin/ip", "route", "add", "default", "dev", "lab0"]).check()
            try await lab.startAgent(extra: ["--disable-proxy"])
            // Someone else's table in the node's namespace, which the proxy must never touch.
            try lab.lab.run(in: lab.node, ["/usr/sbin/nft", "add table inet bystander"]).check()
            try lab.lab.run(in: lab.node, ["/usr/sbin/nft", "add chain inet bystander c { type filter hook input priority 0 ; }"]).check()
            try lab.apply(Self.deployment("one", replicas: 1))
            try lab.apply(Self.service("one", selector: "app: one"))
            #expect(await until(timeout: 90, interval: 0.5) { Self.readyEndpoints(lab, "one") == 1 })
            let ip = try lab.kubectl("get", "svc", "one", "-o", "jsonpath={.spec.clusterIP}").check().stdout
            let tables = { (try? lab.lab.run(in: lab.node, ["/usr/sbin/nft", "list", "tables"]))?.stdout ?? "" }
            #expect(!tables().contains("swiftlet-proxy"), "--disable-proxy: the agent programs nothing")

            let proxy = try lab.lab.spawn(in: lab.node, [TestPaths.binary("swiftlet"), "proxy", "--server", "http://127.0.0.1:\(lab.port)",
                                                          "--node-name", "node-a", "--cluster-cidr", "10.244.0.0/16"])
            let pod = Self.pods(lab, "one").first ?? "?"
            #expect(await until(timeout: 30, interval: 0.3) { Self.ask(lab, ip) == pod }, "\(proxy.output.string.suffix(3000))")
            proxy.stop(SIGTERM)

            let r = try lab.lab.run(in: lab.node, [TestPaths.binary("swiftlet"), "proxy", "--cleanup"]).check()
            #expect(r.stdout.contains("removed nftables table ip swiftlet-proxy"))
            #expect(!tables().contains("swiftlet-proxy") && tables().contains("table inet bystander"), "\(tables())")
            #expect(Self.ask(lab, ip) == nil, "no proxy rules, no answer from the ClusterIP")
            // Twice is fine: nothing to remove is not an error.
            try lab.lab.run(in: lab.node, [TestPaths.binary("swiftlet"), "proxy", "--cleanup"]).check()
            let bad = try lab.lab.run(in: lab.node, [TestPaths.binary("swiftlet"), "proxy", "--node-name", "x"])
            #expect(!bad.ok && bad.stderr.contains("--server is required"), "\(bad.stderr)")
        }
    }
}
