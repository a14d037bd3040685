import Foundation
import TestSupport
import Testing

/// The scheduler as users see it: a real API server, fake nodes, `swiftlet scheduler`, kubectl.
@Suite(.serialized, .enabled(if: TestPaths.hasKubectl, "kubectl 1.35 is not installed: run scripts/setup.sh"))
struct SchedulerIntegrationTests {
    @Test func spreadsPodsAcrossEqualNodes() throws {
        let s = try SchedulerScenario("sched-spread")
        for i in 1...3 { try s.addNode("node-\(i)") }
        try s.startScheduler()
        let names = (0..<6).map { "web-\($0)" }
        for n in names { try s.apply(SchedulerScenario.pod(n, cpu: "100m")) }
        let placed = s.waitBound(names)
        #expect(placed.count == 6)
        let perNode = Dictionary(grouping: placed.values, by: { $0 }).mapValues(\.count)
        #expect(perNode == ["node-1": 2, "node-2": 2, "node-3": 2])
        // Scheduled events read like Kubernetes'
        let ev = s.events(for: "web-0", reason: "Scheduled")
        #expect(ev == ["Successfully assigned default/web-0 to \(placed["web-0"] ?? "?")"])
        let table = try s.kubectl("get", "events", "--field-selector", "reason=Scheduled")
        let row = table.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.first { $0.contains("pod/web-0") } ?? []
        #expect(Array(row.dropFirst()) == ["Normal", "Scheduled", "pod/web-0", "Successfully", "assigned", "default/web-0", "to", placed["web-0"] ?? "?"])
        let sources = try s.kubectl("get", "events", "--field-selector", "reason=Scheduled", "-o", "jsonpath={.items[*].source.component}")
        #expect(sources.stdout.split(separator: " ") == Array(repeating: "default-scheduler", count: 6))
    }

    @Test func insufficientCpuIsReportedExactlyAndRetriedWhenANodeArrives() throws {
        let s = try SchedulerScenario("sched-cpu")
        try s.addNode("small", cpu: "1")
        try s.addNode("tainted-1", taints: [("dedicated", "gpu", "NoSchedule")])
        try s.addNode("tainted-2", taints: [("dedicated", "gpu", "NoSchedule")])
        try s.startScheduler()
        try s.apply(SchedulerScenario.pod("big", cpu: "2"))
        let expected = "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s). no new claims to deallocate, "
            + "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling."
        var events: [String] = []
        #expect(eventually(timeout: 20, interval: 0.2) {
            events = s.events(for: "big", reason: "FailedScheduling")
            return !events.isEmpty
        })
        #expect(events.first == expected)
        #expect(eventually(timeout: 10, interval: 0.2) { s.jsonpath("pod", "big", "{.status.conditions[?(@.type==\"PodScheduled\")].reason}") == "Unschedulable" })
        #expect(s.jsonpath("pod", "big", "{.status.conditions[?(@.type==\"PodScheduled\")].status}") == "False")
        #expect(s.jsonpath("pod", "big", "{.status.conditions[?(@.type==\"PodScheduled\")].message}") == expected)
        let describe = try s.kubectl("describe", "pod", "big")
        #expect(describe.stdout.contains("FailedScheduling"))
        // a node with room arrives: the pod is retried at once, not after a poll
        try s.addNode("large", cpu: "8")
        #expect(s.waitBound(["big"], timeout: 15)["big"] == "large")
    }

    @Test func taintsAndTolerations() throws {
        let s = try SchedulerScenario("sched-taint")
        try s.addNode("gpu", taints: [("dedicated", "gpu", "NoSchedule")])
        try s.addNode("plain", cpu: "1")
        try s.startScheduler()
        try s.apply(SchedulerScenario.pod("tolerant", cpu: "2", spec: """
              tolerations: [{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]
            """))
        try s.apply(SchedulerScenario.pod("intolerant", cpu: "500m"))
        let placed = s.waitBound(["tolerant", "intolerant"])
        #expect(placed["tolerant"] == "gpu")
        #expect(placed["intolerant"] == "plain")
        try s.apply(SchedulerScenario.pod("stuck", cpu: "2"))
        #expect(eventually(timeout: 20, interval: 0.2) { !s.events(for: "stuck", reason: "FailedScheduling").isEmpty })
        #expect(s.events(for: "stuck", reason: "FailedScheduling").first?.hasPrefix(
            "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s).") == true)
    }

    @Test func nodeAffinityAndNodeSelector() throws {
        let s = try SchedulerScenario("sched-affinity")
        try s.addNode("zone-a", labels: ["topology.kubernetes.io/zone": "a", "disk": "hdd"])
        try s.addNode("zone-b", labels: ["topology.kubernetes.io/zone": "b", "disk": "ssd"])
        try s.startScheduler()
        try s.apply(SchedulerScenario.pod("wants-b", spec: """
              affinity:
                nodeAffinity:
                  requiredDuringSchedulingIgnoredDuringExecution:
                    nodeSelectorTerms:
                    - matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [b]}]
            """))
        try s.apply(SchedulerScenario.pod("wants-hdd", spec: "  nodeSelector: {disk: hdd}"))
        try s.apply(SchedulerScenario.pod("prefers-a", spec: """
              affinity:
                nodeAffinity:
                  preferredDuringSchedulingIgnoredDuringExecution:
                  - weight: 100
                    preference: {matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [a]}]}
            """))
        try s.apply(SchedulerScenario.pod("wants-nvme", spec: "  nodeSelector: {disk: nvme}"))
        let placed = s.waitBound(["wants-b", "wants-hdd", "prefers-a"])
        #expect(placed["wants-b"] == "zone-b")
        #expect(placed["wants-hdd"] == "zone-a")
        #expect(placed["prefers-a"] == "zone-a")
        #expect(eventually(timeout: 20, interval: 0.2) { !s.events(for: "wants-nvme", reason: "FailedScheduling").isEmpty })
        #expect(s.events(for: "wants-nvme", reason: "FailedScheduling").first == "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. "
            + "no new claims to deallocate, preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.")
    }

    @Test func extendedResources() throws {
        let s = try SchedulerScenario("sched-gpu")
        try s.addNode("gpu-node", extra: ["example.com/gpu": "2"])
        try s.addNode("cpu-node")
        try s.startScheduler()
        let gpu = "resources: {requests: {example.com/gpu: \"1\"}, limits: {example.com/gpu: \"1\"}}"
        for i in 0..<3 { try s.apply(SchedulerScenario.pod("train-\(i)", resources: gpu)) }
        var placed: [String: String] = [:]
        _ = eventually(timeout: 20, interval: 0.2) {
            placed = [:]
            for i in 0..<3 {
                let n = s.nodeOf("train-\(i)")
                if !n.isEmpty { placed["train-\(i)"] = n }
            }
            return placed.count == 2
        }
        #expect(placed.count == 2)
        #expect(placed.values.allSatisfy { $0 == "gpu-node" })
        let pending = (0..<3).map { "train-\($0)" }.first { placed[$0] == nil } ?? ""
        #expect(eventually(timeout: 20, interval: 0.2) { !s.events(for: pending, reason: "FailedScheduling").isEmpty })
        #expect(s.events(for: pending, reason: "FailedScheduling").first?.hasPrefix(
            "0/2 nodes are available: 2 Insufficient example.com/gpu.") == true)
        // freeing one GPU lets the third pod in
        let bound = placed.keys.sorted().first!
        _ = try s.kubectl("delete", "pod", bound, "--grace-period=0", "--force")
        #expect(s.waitBound([pending], timeout: 15)[pending] == "gpu-node")
    }

    @Test func podAntiAffinityKeepsReplicasApart() throws {
        let s = try SchedulerScenario("sched-anti")
        for i in 1...3 { try s.addNode("node-\(i)") }
        try s.startScheduler()
        let anti = """
              affinity:
                podAntiAffinity:
                  requiredDuringSchedulingIgnoredDuringExecution:
                  - labelSelector: {matchLabels: {app: db}}
                    topologyKey: kubernetes.io/hostname
            """
        for i in 0..<4 { try s.apply(SchedulerScenario.pod("db-\(i)", labels: "{app: db}", spec: anti)) }
        var placed: [String: String] = [:]
        _ = eventually(timeout: 20, interval: 0.2) {
            placed = [:]
            for i in 0..<4 {
                let n = s.nodeOf("db-\(i)")
                if !n.isEmpty { placed["db-\(i)"] = n }
            }
            return placed.count == 3
        }
        #expect(placed.count == 3)
        #expect(Set(placed.values).count == 3)
        let pending = (0..<4).map { "db-\($0)" }.first { placed[$0] == nil } ?? ""
        #expect(eventually(timeout: 20, interval: 0.2) { !s.events(for: pending, reason: "FailedScheduling").isEmpty })
        #expect(s.events(for: pending, reason: "FailedScheduling").first?.hasPrefix(
            "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.") == true)
    }

    @Test func preemptionEvictsLowerPriorityPods() throws {
        let s = try SchedulerScenario("sched-preempt")
        try s.addNode("only", cpu: "2")
        try s.apply("""
            apiVersion: scheduling.k8s.io/v1
            kind: PriorityClass
            metadata: {name: high}
            value: 1000
            ---
            apiVersion: scheduling.k8s.io/v1
            kind: PriorityClass
            metadata: {name: low}
            value: 10
            """)
        try s.startScheduler()
        try s.apply(SchedulerScenario.pod("low-1", cpu: "1", spec: "  priorityClassName: low"))
        try s.apply(SchedulerScenario.pod("low-2", cpu: "1", spec: "  priorityClassName: low"))
        #expect(s.waitBound(["low-1", "low-2"]).count == 2)
        try s.apply(SchedulerScenario.pod("vip", cpu: "1", spec: "  priorityClassName: high"))
        #expect(s.waitBound(["vip"], timeout: 30)["vip"] == "only")
        let gone = ["low-1", "low-2"].filter { !((try? s.kubectl("get", "pod", $0))?.ok ?? true) }
        #expect(gone.count == 1, "exactly one victim: \(gone)")
        let uid = s.jsonpath("pod", "vip", "{.metadata.uid}")
        #expect(eventually(timeout: 10, interval: 0.2) {
            let r = try? s.kubectl("get", "events", "--field-selector", "reason=Preempted", "-o", "jsonpath={.items[*].message}")
            return r?.stdout == "Preempted by pod \(uid) on node only"
        })
        // a pod that may not preempt says so
        try s.apply(SchedulerScenario.pod("polite", cpu: "1", spec: "  priorityClassName: high\n  preemptionPolicy: Never"))
        #expect(eventually(timeout: 20, interval: 0.2) { !s.events(for: "polite", reason: "FailedScheduling").isEmpty })
        #expect(s.events(for: "polite", reason: "FailedScheduling").first == "0/1 nodes are available: 1 Insufficient cpu. "
            + "no new claims to deallocate, preemption: not eligible due to preemptionPolicy=Never.")
    }

    @Test func leaderFailoverSchedulesEveryPodOnce() throws {
        let s = try SchedulerScenario("sched-ha")
        for i in 1...3 { try s.addNode("node-\(i)") }
        let a = try s.startScheduler(leaderElect: true, identity: "sched-a", leaseDuration: "4s", renewDeadline: "3s", retryPeriod: "500ms")
        let b = try s.startScheduler(leaderElect: true, identity: "sched-b", leaseDuration: "4s", renewDeadline: "3s", retryPeriod: "500ms")
        var leader = ""
        #expect(eventually(timeout: 15, interval: 0.2) {
            leader = s.jsonpath("lease", "kube-scheduler", "{.spec.holderIdentity}", ns: "kube-system")
            return !leader.isEmpty
        })
        for i in 0..<5 { try s.apply(SchedulerScenario.pod("before-\(i)", cpu: "100m")) }
        #expect(s.waitBound((0..<5).map { "before-\($0)" }).count == 5)
        // kill the leader without a chance to release the lease
        let killedAt = Date()
        (leader == "sched-a" ? a : b).stop(SIGKILL)
        // The takeover is timed by the lease changing hands (kubectl's own latency under a
        // loaded suite is not the scheduler's); binding the pods is checked separately.
        var took = 0.0
        #expect(eventually(timeout: 20, interval: 0.2) {
            let holder = s.jsonpath("lease", "kube-scheduler", "{.spec.holderIdentity}", ns: "kube-system")
            took = Date().timeIntervalSince(killedAt)
            return !holder.isEmpty && holder != leader
        })
        #expect(took < 4 + 3, "the standby took over within the lease duration (plus a retry): \(took)s")
        for i in 0..<5 { try s.apply(SchedulerScenario.pod("after-\(i)", cpu: "100m")) }
        let after = s.waitBound((0..<5).map { "after-\($0)" }, timeout: 20)
        #expect(after.count == 5)
        let newLeader = s.jsonpath("lease", "kube-scheduler", "{.spec.holderIdentity}", ns: "kube-system")
        #expect(!newLeader.isEmpty && newLeader != leader)
        #expect(s.jsonpath("lease", "kube-scheduler", "{.spec.leaseTransitions}", ns: "kube-system") == "1")
        // no pod was bound twice: one Scheduled event each, and no binding conflicts
        for p in (0..<5).map({ "before-\($0)" }) + (0..<5).map({ "after-\($0)" }) {
            #expect(s.events(for: p, reason: "Scheduled").count == 1, "\(p)")
        }
    }
}
