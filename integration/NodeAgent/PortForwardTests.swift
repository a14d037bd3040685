import Foundation
import Glibc
import TestSupport
import Testing

/// `kubectl port-forward` with the real kubectl 1.35, `swiftlet server` and `swiftlet agent` in
/// a test netns host: kubectl tunnels SPDY through a WebSocket to the API server, which relays
/// it to the agent, which connects inside the pod's network namespace.
@Suite(.serialized, .enabled(if: AgentLab.available, "needs root, kubectl (scripts/setup.sh), busybox and the built swiftlet"))
struct PortForwardTests {
    /// busybox httpd bound to the pod's loopback only, so only a connection made inside the
    /// pod's network namespace can reach it; a page naming the pod and a ~1.2 MB file.
    static let webPod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: web}
        spec:
          nodeName: node-a
          terminationGracePeriodSeconds: 1
          containers:
          - name: httpd
            image: \(AgentLab.image)
            command: ["sh", "-c", "mkdir -p /www && echo \\"page of $(hostname)\\" > /www/index.html && seq 1 170000 > /www/big.txt && exec httpd -f -p 127.0.0.1:8080 -h /www"]
        """

    /// The local port kubectl reports for `remote` ("Forwarding from 127.0.0.1:N -> remote").
    static func localPort(_ output: String, remote: Int) -> Int? {
        for line in output.split(separator: "\n") where line.hasPrefix("Forwarding from 127.0.0.1:") && line.hasSuffix("-> \(remote)") {
            return Int(line.dropFirst("Forwarding from 127.0.0.1:".count).prefix { $0.isNumber })
        }
        return nil
    }

    /// curl inside the node netns (where kubectl listens), off the cooperative pool.
    static func curl(_ lab: AgentLab, _ url: String) async -> CommandResult? {
        await offload { try? lab.lab.run(in: lab.node, ["curl", "-sS", "--max-time", "20", url], timeout: 30) }
    }

    @Test func kubectlPortForwardRelaysSequentialAndConcurrentConnections() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent()
            try lab.apply(Self.webPod)
            #expect(await lab.waitReady("web"), "\(lab.diagnostics("web"))")
            // The port is not reachable from the node: httpd listens on the pod's loopback.
            let podIP = lab.jsonpath("web", ".status.podIP")
            #expect(lab.lab.httpGet(from: lab.node, host: podIP, port: 8080) == nil)

            let pf = try lab.kubectlBackground("port-forward", "pod/web", ":8080")
            defer { pf.stop(SIGKILL) }
            let ready = await offload { pf.waitForOutput("-> 8080", timeout: 30) }
            try #require(ready, "kubectl port-forward did not start listening:\n\(pf.output.string)")
            let port = try #require(Self.localPort(pf.output.string, remote: 8080), "\(pf.output.string)")

            // sequential connections over the one tunnel
            for i in 0..<3 {
                let r = await Self.curl(lab, "http://127.0.0.1:\(port)/")
                #expect(r?.ok == true && r?.stdout == "page of web\n", "request \(i): \(String(describing: r))\n\(pf.output.string)")
            }
            // two at once, one of them a 1.2 MB body
            async let page = Self.curl(lab, "http://127.0.0.1:\(port)/")
            async let big = Self.curl(lab, "http://127.0.0.1:\(port)/big.txt")
            let (p, b) = await (page, big)
            #expect(p?.stdout == "page of web\n", "\(String(describing: p))")
            let expected = (1...170_000).map(String.init).joined(separator: "\n") + "\n"
            #expect(b?.ok == true && b?.stdout.count == expected.count && b?.stdout == expected,
                    "big.txt: \(b?.stdout.count ?? -1) bytes, want \(expected.count); \(b?.stderr ?? "")")
            // one "Handling connection" line per accepted connection, and kubectl still running
            let handled = pf.output.string.components(separatedBy: "Handling connection for \(port)").count - 1
            #expect(handled == 5, "\(pf.output.string)")
            #expect(pf.process.isRunning, "\(pf.output.string)")
            let again = await Self.curl(lab, "http://127.0.0.1:\(port)/")
            #expect(again?.stdout == "page of web\n")
        }
    }

    @Test func aPortNobodyListensOnGivesKubectlTheKubeletsErrorAndSparesOtherForwards() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent()
            try lab.apply(Self.webPod)
            #expect(await lab.waitReady("web"), "\(lab.diagnostics("web"))")
            let good = try lab.kubectlBackground("port-forward", "pod/web", ":8080")
            defer { good.stop(SIGKILL) }
            let dead = try lab.kubectlBackground("port-forward", "pod/web", ":9999")
            defer { dead.stop(SIGKILL) }
            let ready = await offload { good.waitForOutput("-> 8080", timeout: 30) && dead.waitForOutput("-> 9999", timeout: 30) }
            try #require(ready, "\(good.output.string)\n\(dead.output.string)")
            let goodPort = try #require(Self.localPort(good.output.string, remote: 8080))
            let deadPort = try #require(Self.localPort(dead.output.string, remote: 9999))

            let refused = await Self.curl(lab, "http://127.0.0.1:\(deadPort)/")
            #expect(refused?.ok == false, "\(String(describing: refused))")
            // kubectl logs the error the kubelet wrote on the error stream
            let logged = await offload { dead.waitForOutput("connect: connection refused", timeout: 20) }
            let out = dead.output.string
            #expect(logged, "\(out)")
            #expect(out.contains("error forwarding port 9999 to pod "), "\(out)")
            #expect(out.contains("failed to connect to localhost:9999 inside namespace"), "\(out)")
            #expect(out.contains("dial tcp4 127.0.0.1:9999: connect: connection refused"), "\(out)")
            // kubectl 1.35 gives up its connection after an error (it exits with "lost connection to
            // pod"); the other forward and the agent are unaffected.
            let exited = await offload { eventually(timeout: 20) { !dead.process.isRunning } }
            #expect(exited && dead.output.string.contains("lost connection to pod"), "\(dead.output.string)")
            for _ in 0..<2 {
                let r = await Self.curl(lab, "http://127.0.0.1:\(goodPort)/")
                #expect(r?.stdout == "page of web\n", "\(String(describing: r))\n\(good.output.string)")
            }
            let third = try lab.kubectlBackground("port-forward", "pod/web", ":8080")
            defer { third.stop(SIGKILL) }
            try #require(await offload { third.waitForOutput("-> 8080", timeout: 30) }, "\(third.output.string)")
            let thirdPort = try #require(Self.localPort(third.output.string, remote: 8080))
            #expect(await Self.curl(lab, "http://127.0.0.1:\(thirdPort)/")?.stdout == "page of web\n")

            // a pod that does not exist: kubectl's own lookup fails first
            let missing = try lab.kubectl("port-forward", "pod/nope", ":8080", timeout: 30)
            #expect(!missing.ok && missing.stderr.contains("pods \"nope\" not found"), "\(missing)")
        }
    }

    @Test func kubectlsPlainSPDYFallbackIsServedToo() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent()
            try lab.apply(Self.webPod)
            #expect(await lab.waitReady("web"), "\(lab.diagnostics("web"))")
            // With its WebSocket dialer off, kubectl does what it falls back to: POST + Upgrade: SPDY/3.1.
            let pf = try lab.lab.spawn(in: lab.node, ["/usr/bin/env", "KUBECTL_PORT_FORWARD_WEBSOCKETS=false", TestPaths.kubectl,
                                                      "--kubeconfig", lab.kubeconfig, "port-forward", "-v=6", "pod/web", ":8080"])
            defer { pf.stop(SIGKILL) }
            try #require(await offload { pf.waitForOutput("-> 8080", timeout: 30) }, "\(pf.output.string)")
            let port = try #require(Self.localPort(pf.output.string, remote: 8080))
            #expect(pf.output.string.contains("POST") && pf.output.string.contains("101 Switching Protocols"), "\(pf.output.string)")
            async let a = Self.curl(lab, "http://127.0.0.1:\(port)/")
            async let b = Self.curl(lab, "http://127.0.0.1:\(port)/big.txt")
            let (pa, pb) = await (a, b)
            #expect(pa?.stdout == "page of web\n", "\(String(describing: pa))\n\(pf.output.string)")
            #expect(pb?.stdout.hasSuffix("\n169999\n170000\n") == true && pb?.stdout.count == 1_078_895, "\(pb?.stdout.count ?? -1)")
            #expect(await Self.curl(lab, "http://127.0.0.1:\(port)/")?.stdout == "page of web\n")

            // the plain upgrade for a pod that does not exist gets a Status, not a dropped connection
            let r = try lab.lab.run(in: lab.node, ["curl", "-sS", "-X", "POST", "-H", "Connection: Upgrade", "-H", "Upgrade: SPDY/3.1",
                                                   "-H", "X-Stream-Protocol-Version: portforward.k8s.io",
                                                   "http://127.0.0.1:\(lab.port)/api/v1/namespaces/default/pods/nope/portforward"])
            #expect(r.stdout.contains("\"code\":404") && r.stdout.contains("pods \\\"nope\\\" not found"), "\(r)")
            // and ordinary requests and exec still pass through the same listener
            #expect(try lab.kubectl("exec", "web", "--", "cat", "/www/index.html").check().stdout == "page of web\n")
        }
    }
}
