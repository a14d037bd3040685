import KubeAPI
import Testing
@testable import MiniControlPlane

/// Victim selection and candidate choice, in memory.
@Suite struct SchedulerPreemptionTests {
    typealias F = SchedFixtures

    func scheduler(_ nodes: [Node], _ pods: [Pod]) async -> Scheduler {
        let s = Scheduler(client: APIClient(baseURL: "http://127.0.0.1:1"), options: { var o = SchedulerOptions(); o.recordEvents = false; return o }())
        for n in nodes { await s.onNode(.added(n)) }
        for p in pods { await s.onPod(.added(p)) }
        return s
    }

    @Test func picksTheMinimalVictimsOnTheCheapestNode() async {
        // n1: two low pods (prio 1 and 2); n2: one prio-5 pod. The preemptor needs 2 cpus.
        let s = await scheduler([F.node("n1", cpu: "3"), F.node("n2", cpu: "3")], [
            F.pod("a", cpu: "1", priority: 1, nodeName: "n1"),
            F.pod("b", cpu: "1500m", priority: 2, nodeName: "n1"),
            F.pod("c", cpu: "2", priority: 5, nodeName: "n2"),
        ])
        let pre = PodInfo(F.pod("hi", cpu: "2", priority: 100))
        let outcome = await s.tryPreempt(pre)
        // on n1 only "b" must go (a is reprieved: 3 - 1 = 2 cpus free once b is gone)
        #expect(outcome == "n1:b")
    }

    @Test func nothingLowerMeansNoVictims() async {
        let s = await scheduler([F.node("n1", cpu: "1"), F.node("n2", cpu: "1", taints: [Taint(key: "k", effect: "NoSchedule")])],
                                [F.pod("a", cpu: "1", priority: 100, nodeName: "n1")])
        let outcome = await s.tryPreempt(PodInfo(F.pod("p", cpu: "1", priority: 10)))
        #expect(outcome == "0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling")
        let never = await s.tryPreempt(PodInfo({ var p = F.pod("q", cpu: "1", priority: 1000); p.spec?.preemptionPolicy = "Never"; return p }()))
        #expect(never == "not eligible due to preemptionPolicy=Never")
    }

    /// Victims that block the preemptor through inter-pod anti-affinity: removing them must
    /// clear the pre-filter's counts (upstream's RemovePod), and a harmless pod is reprieved.
    @Test func victimsCanClearAntiAffinity() async {
        let sel = LabelSelector(matchLabels: ["app": "x"])
        let anti = Affinity(podAntiAffinity: PodAntiAffinity(required: [PodAffinityTerm(labelSelector: sel, topologyKey: "kubernetes.io/hostname")]))
        let s = await scheduler([F.node("n1")], [
            F.pod("a", labels: ["app": "x"], priority: 1, nodeName: "n1"),
            F.pod("b", labels: ["app": "y"], priority: 1, nodeName: "n1"),
        ])
        #expect(await s.tryPreempt(PodInfo(F.pod("hi", priority: 100, affinity: anti))) == "n1:a")
    }

    /// The same for a DoNotSchedule spread constraint: zone a holds two low-priority web pods,
    /// zone b has no room; both must go for a third web pod to keep the skew at 1.
    @Test func victimsCanRestoreTopologySpread() async {
        let c = TopologySpreadConstraint(maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule",
                                         labelSelector: LabelSelector(matchLabels: ["app": "web"]))
        let s = await scheduler([F.node("n1", labels: ["zone": "a"]), F.node("n2", cpu: "4", labels: ["zone": "b"])], [
            F.pod("w1", labels: ["app": "web"], priority: 1, nodeName: "n1"),
            F.pod("w2", labels: ["app": "web"], priority: 2, nodeName: "n1"),
            F.pod("big", cpu: "4", priority: 1000, nodeName: "n2"),
        ])
        #expect(await s.tryPreempt(PodInfo(F.pod("hi", cpu: "1", labels: ["app": "web"], priority: 100, spread: [c]))) == "n1:w1,w2")
    }

    @Test func scheduleOneSpreadsEqualNodesRoundRobin() async {
        let s = await scheduler((1...4).map { F.node("n\($0)") }, [])
        var chosen: [String] = []
        for i in 0..<8 {
            let p = F.pod("p\(i)")
            if let n = await s.decide(PodInfo(p)) {
                chosen.append(n)
                await s.onPod(.added({ var b = p; b.spec?.nodeName = n; return b }()))
            }
        }
        // every node gets two pods
        #expect(Dictionary(grouping: chosen, by: { $0 }).mapValues(\.count) == ["n1": 2, "n2": 2, "n3": 2, "n4": 2])
    }
}

extension Scheduler {
    /// For tests: the node the pod would go to, without binding.
    func decide(_ pod: PodInfo) -> String? {
        if case .node(let n) = findNode(pod) { return n }
        return nil
    }

    /// For tests: "node:victim,victim" or the failure message.
    func tryPreempt(_ pod: PodInfo) -> String {
        guard case .unfit(let fit, let state) = findNode(pod) else { return "fits" }
        switch preempt(pod, fit, state) {
        case .nominated(let node, let victims): return node + ":" + victims.map(\.name).sorted().joined(separator: ",")
        case .failed(let m): return m
        }
    }
}
