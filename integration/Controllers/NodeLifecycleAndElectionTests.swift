import Foundation
import KubeAPI
import TestSupport
import Testing

@Suite(.serialized, .enabled(if: TestPaths.hasKubectl, "kubectl not installed (scripts/setup.sh installs it)"))
struct NodeLifecycleAndElectionTests {
    /// A fake node with a Ready condition and a Lease in kube-node-lease that the test renews.
    static func makeNode(_ client: APIClient, _ name: String) async throws {
        var st = NodeStatus()
        var ready = Condition(type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status")
        ready.lastHeartbeatTime = KubeTime.now()
        ready.lastTransitionTime = KubeTime.now()
        st.conditions = [ready]
        _ = try await client.create(Node(metadata: ObjectMeta(name: name)))
        // the controllers may write the new node too: re-read and retry on conflict
        for attempt in 0..<10 {
            var n = try await client.get(Node.self, name: name)
            n.status = st
            do {
                _ = try await client.updateStatus(n)
                break
            } catch let e as Status where e.code == 409 && attempt < 9 {
                continue
            }
        }
        try await renew(client, name)
    }

    static func renew(_ client: APIClient, _ name: String) async throws {
        var spec = LeaseSpec()
        spec.holderIdentity = name
        spec.leaseDurationSeconds = 40
        spec.renewTime = KubeTime.nowMicro()
        if var l = try? await client.get(Lease.self, namespace: "kube-node-lease", name: name) {
            l.spec = spec
            _ = try await client.update(l)
        } else {
            _ = try await client.create(Lease(metadata: ObjectMeta(name: name, namespace: "kube-node-lease"), spec: spec))
        }
    }

    static func pod(_ name: String, node: String, tolerationSeconds: Int?) -> Pod {
        var spec = PodSpec(containers: [Container(name: "c", image: "busybox")])
        spec.nodeName = node
        if let s = tolerationSeconds {
            spec.tolerations = [Toleration(key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: Int64(s))]
        }
        return Pod(metadata: ObjectMeta(name: name, namespace: "default"), spec: spec)
    }

    @Test func silentNodeIsTaintedAndItsPodsEvicted() async throws {
        let h = try ServerHarness(name: "ctl-node", extraArgs: ["--node-monitor-grace-period", "15s"])
        defer { h.stop() }
        let client = APIClient(baseURL: h.baseURL)
        try await Self.makeNode(client, "alive")
        try await Self.makeNode(client, "silent")
        _ = try await client.create(Self.pod("quick", node: "silent", tolerationSeconds: 1))
        _ = try await client.create(Self.pod("patient", node: "silent", tolerationSeconds: nil))  // default 300 s
        _ = try await client.create(Self.pod("elsewhere", node: "alive", tolerationSeconds: 1))
        // keep "alive" heartbeating from a process of its own, so a busy test process (other
        // suites run alongside) cannot make it look silent; "silent" stops now
        let beat = try BackgroundProcess("/bin/bash", ["-c", """
            for i in $(seq 600); do
              \(TestPaths.kubectl) --kubeconfig \(h.kubeconfig) -n kube-node-lease patch lease alive --type merge \
                -p "{\\"spec\\":{\\"renewTime\\":\\"$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)\\"}}" >/dev/null 2>&1
              sleep 0.5
            done
            """])
        defer { beat.stop(SIGKILL) }
        #expect(await until(.seconds(60)) {
            let n = try await client.get(Node.self, name: "silent")
            let taints = Set((n.spec?.taints ?? []).map { "\($0.key):\($0.effect)" })
            return taints == ["node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"]
        })
        let silent = try await client.get(Node.self, name: "silent")
        let ready = silent.status?.conditions?.first { $0.type == "Ready" }
        #expect(ready?.status == "Unknown" && ready?.reason == "NodeStatusUnknown")
        #expect(ready?.message == "Kubelet stopped posting node status.")
        // the pod tolerating 1 s is evicted (marked for deletion); the one with 300 s is not yet
        #expect(await until(.seconds(15)) { (try await client.get(Pod.self, namespace: "default", name: "quick")).metadata.deletionTimestamp != nil })
        #expect(try await client.get(Pod.self, namespace: "default", name: "patient").metadata.deletionTimestamp == nil)
        #expect(try await client.get(Pod.self, namespace: "default", name: "elsewhere").metadata.deletionTimestamp == nil)
        let alive = try await client.get(Node.self, name: "alive")
        let taints = alive.spec?.taints ?? []
        #expect(taints.isEmpty)
        let events = try await kubectl(h, "get", "events", "-A")
        #expect(events.contains("Marking for deletion Pod default/quick"))
        #expect(events.contains("NodeNotReady"))

        // the node comes back: heartbeats and Ready from its kubelet remove the taints
        try await Self.renew(client, "silent")
        var n = try await client.get(Node.self, name: "silent")
        var c = Condition(type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status")
        c.lastHeartbeatTime = KubeTime.now()
        c.lastTransitionTime = KubeTime.now()
        n.status?.conditions = [c]
        _ = try await client.updateStatus(n)
        #expect(await until(.seconds(20)) { (try await client.get(Node.self, name: "silent")).spec?.taints == nil })
    }

    /// Two controller managers against one API server: one leads; killing it with SIGKILL hands
    /// the work to the other within the lease duration, and nothing is done twice.
    @Test func controllerManagerFailoverWithinLeaseDuration() async throws {
        let h = try ServerHarness(name: "ctl-ha", extraArgs: ["--disable-controller-manager"])
        defer { h.stop() }
        let client = APIClient(baseURL: h.baseURL)
        var managers: [String: BackgroundProcess] = [:]
        defer { for p in managers.values { p.stop(SIGKILL) } }
        for id in ["cm-a", "cm-b"] {
            managers[id] = try BackgroundProcess(TestPaths.binary("swiftlet"), [
                "controller-manager", "--server", h.baseURL, "--identity", id, "--leader-elect-lease-duration", "4s",
                "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "500ms", "--log-level", "warning",
            ])
        }
        var leader = ""
        #expect(await until(.seconds(20)) {
            leader = (try await client.get(Lease.self, namespace: "kube-system", name: "kube-controller-manager")).spec?.holderIdentity ?? ""
            return !leader.isEmpty
        })
        try await kubectl(h, "create", "deployment", "one", "--image=busybox", "--replicas=3")
        #expect(await until(.seconds(20)) { try await client.list(Pod.self, namespace: "default").items.count == 3 })
        // events are written asynchronously: let the leader's SuccessfulCreate events land first
        func createEvents() async throws -> [String] {
            try await kubectl(h, "get", "events").components(separatedBy: "\n").filter { $0.contains("SuccessfulCreate") && $0.contains("replicaset/one-") }
        }
        #expect(await until(.seconds(10)) { try await createEvents().count == 3 })

        let killedAt = ContinuousClock.now
        managers[leader]?.stop(SIGKILL)
        managers[leader] = nil
        let survivor = leader == "cm-a" ? "cm-b" : "cm-a"
        try await kubectl(h, "create", "deployment", "two", "--image=busybox", "--replicas=2")
        #expect(await until(.seconds(20)) {
            (try await client.get(Lease.self, namespace: "kube-system", name: "kube-controller-manager")).spec?.holderIdentity == survivor
        })
        let takeover = ContinuousClock.now - killedAt
        // lease duration + a retry period + polling, with slack for a loaded machine
        #expect(takeover < .seconds(4 + 3), "took \(takeover) to take over a 4 s lease")
        #expect(await until(.seconds(20)) { try await client.list(Pod.self, namespace: "default").items.count == 5 })
        try await Task.sleep(for: .seconds(2))
        // nothing was created twice: exactly the replicas, one ReplicaSet per deployment
        let pods = try await client.list(Pod.self, namespace: "default").items
        #expect(pods.count == 5)
        #expect(pods.filter { $0.name.hasPrefix("one-") }.count == 3)
        #expect(try await client.list(ReplicaSet.self, namespace: "default").items.count == 2)
        let lease = try await client.get(Lease.self, namespace: "kube-system", name: "kube-controller-manager")
        #expect((lease.spec?.leaseTransitions ?? 0) >= 1)
        let creates = try await createEvents()
        #expect(creates.count == 3, "SuccessfulCreate events for one: \(creates)")
    }
}
