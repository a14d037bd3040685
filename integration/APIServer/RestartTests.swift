import Foundation
import KubeAPI
import TestSupport
import Testing

@Suite(.serialized, .enabled(if: TestPaths.hasKubectl, "kubectl 1.35 is not installed: run scripts/setup.sh"))
struct RestartTests {
    @Test func everyAcknowledgedWriteSurvivesSIGKILL() throws {
        let h = try ServerHarness(name: "kill")
        try h.kubectl("apply", "-f", "-", stdin: manifest)
        for i in 0..<20 { #expect(try h.kubectl("create", "configmap", "cm-\(i)", "-n", "demo", "--from-literal=i=\(i)").ok) }
        let before = try h.kubectl("get", "cm,deploy,svc", "-n", "demo", "-o", "name").stdout
        h.stop(SIGKILL)
        try h.start()
        let after = try h.kubectl("get", "cm,deploy,svc", "-n", "demo", "-o", "name").stdout
        #expect(after == before)
        #expect(try h.kubectl("get", "cm", "cm-19", "-n", "demo", "-o", "jsonpath={.data.i}").stdout == "19")
        // the ClusterIP allocator was rebuilt: a new service never reuses an address
        let ips = Set(try h.kubectl("get", "svc", "-A", "-o", "jsonpath={.items[*].spec.clusterIP}").stdout.split(separator: " "))
        #expect(try h.kubectl("create", "service", "clusterip", "other", "--tcp=80:80", "-n", "demo").ok)
        let newIP = try h.kubectl("get", "svc", "other", "-n", "demo", "-o", "jsonpath={.spec.clusterIP}").stdout
        #expect(!ips.contains(Substring(newIP)))
    }

    @Test func watchResumesAcrossRestartWithoutMissingEvents() async throws {
        let h = try ServerHarness(name: "resume")
        let client = APIClient(baseURL: h.baseURL)
        let informer = Informer<ConfigMap>(client: client, namespace: "default")
        let seen = SeenNames()
        await informer.addHandler { e in
            if case .added(let cm) = e { await seen.add(cm.name) }
        }
        let run = Task { await informer.run() }
        defer { run.cancel() }
        await informer.waitForSync()
        #expect(try h.kubectl("create", "configmap", "before", "--from-literal=a=b").ok)
        #expect(await seen.waitFor("before"))
        h.stop(SIGKILL)
        try h.start()
        // written after the restart, before the informer re-watches
        for i in 0..<5 { #expect(try h.kubectl("create", "configmap", "after-\(i)", "--from-literal=a=b").ok) }
        for i in 0..<5 { #expect(await seen.waitFor("after-\(i)"), "missed after-\(i)") }
        #expect(await informer.lists == 1, "resumed from its resourceVersion instead of relisting")
        // a raw watch from a revision before the restart replays what happened since
        let rv = try h.kubectl("get", "cm", "before", "-o", "jsonpath={.metadata.resourceVersion}").stdout
        let stream = try await client.watch(ConfigMap.self, namespace: "default", resourceVersion: rv, timeoutSeconds: 2)
        var names: [String] = []
        for try await ev in stream where ev.type == "ADDED" {
            names.append(ev.object.value(at: "metadata.name")?.stringValue ?? "")
            if names.count == 5 { break }
        }
        #expect(names == (0..<5).map { "after-\($0)" })
    }
}

actor SeenNames {
    var names: Set<String> = []
    func add(_ n: String) { names.insert(n) }
    func waitFor(_ n: String, timeout: Duration = .seconds(15)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if names.contains(n) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return names.contains(n)
    }
}
