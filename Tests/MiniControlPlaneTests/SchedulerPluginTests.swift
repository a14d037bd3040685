import KubeAPI
import Testing
@testable import MiniControlPlane

/// Each filter and score plugin against in-memory nodes and pods.
@Suite struct SchedulerPluginTests {
    typealias F = SchedFixtures

    func run(_ plugin: any FilterPlugin, _ pod: Pod, _ node: Node, others: [Pod] = [], extraNodes: [Node] = []) -> FilterFailure? {
        let c = F.cache([node] + extraNodes, pods: others)
        let state = CycleState()
        let info = PodInfo(pod)
        if let f = plugin.preFilter(info, F.view(c), state) { return f }
        return plugin.filter(info, c.nodes[node.name]!, state)
    }

    @Test func podRequestsUseTheInitContainerMaxRuleAndSidecars() {
        var p = F.pod("p", cpu: "500m", memory: "100Mi")
        var big = Container(name: "init", image: "busybox")
        big.resources = ResourceRequirements(requests: ["cpu": try! Quantity("2"), "memory": try! Quantity("50Mi")])
        var small = Container(name: "init2", image: "busybox")
        small.resources = ResourceRequirements(requests: ["cpu": try! Quantity("100m"), "memory": try! Quantity("1Gi")])
        p.spec!.initContainers = [big, small]
        var r = PodRequests.compute(p.spec)
        #expect(r.milliCPU == 2000)                       // max(500m, 2)
        #expect(r.memory == 1024 * 1024 * 1024)           // max(100Mi, 1Gi)
        // a sidecar (restartPolicy Always) adds to the total and to later init containers
        var sidecar = Container(name: "sidecar", image: "busybox")
        sidecar.restartPolicy = "Always"
        sidecar.resources = ResourceRequirements(requests: ["cpu": try! Quantity("300m")])
        p.spec!.initContainers = [sidecar, big]
        r = PodRequests.compute(p.spec)
        #expect(r.milliCPU == 2300)                       // max(500m + 300m, 300m + 2)
        // scoring defaults for containers without requests
        let nz = PodRequests.compute(F.pod("q").spec, nonZero: true)
        #expect(nz.milliCPU == 100 && nz.memory == 200 * 1024 * 1024)
    }

    @Test func nodeResourcesFitReportsEveryShortage() {
        let node = F.node("n", cpu: "1", memory: "1Gi", pods: "2", extra: ["example.com/gpu": "1"])
        #expect(run(NodeResourcesFit(), F.pod("p", cpu: "500m"), node) == nil)
        let f = run(NodeResourcesFit(), F.pod("p", cpu: "2", memory: "2Gi", extra: ["example.com/gpu": "2"]), node)
        #expect(f?.reasons == ["Insufficient cpu", "Insufficient memory", "Insufficient example.com/gpu"])
        #expect(f?.code == .unschedulable)
        // requested resources of pods already there count
        let busy = [F.pod("a", cpu: "800m", nodeName: "n")]
        #expect(run(NodeResourcesFit(), F.pod("p", cpu: "300m"), node, others: busy)?.reasons == ["Insufficient cpu"])
        // pods capacity
        let full = [F.pod("a", nodeName: "n"), F.pod("b", nodeName: "n")]
        #expect(run(NodeResourcesFit(), F.pod("p"), node, others: full)?.reasons == ["Too many pods"])
        // an extended resource the node lacks
        #expect(run(NodeResourcesFit(), F.pod("p", extra: ["example.com/fpga": "1"]), node)?.reasons == ["Insufficient example.com/fpga"])
    }

    @Test func taintsAndTolerations() {
        let node = F.node("n", taints: [Taint(key: "dedicated", value: "gpu", effect: "NoSchedule")])
        #expect(run(TaintToleration(), F.pod("p"), node)?.reasons == ["node(s) had untolerated taint(s)"])
        #expect(run(TaintToleration(), F.pod("p"), node)?.code == .unresolvable)
        let equal = Toleration(key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule")
        #expect(run(TaintToleration(), F.pod("p", tolerations: [equal]), node) == nil)
        let wrongValue = Toleration(key: "dedicated", operator: "Equal", value: "cpu")
        #expect(run(TaintToleration(), F.pod("p", tolerations: [wrongValue]), node) != nil)
        let exists = Toleration(key: "dedicated", operator: "Exists")
        #expect(run(TaintToleration(), F.pod("p", tolerations: [exists]), node) == nil)
        let everything = Toleration(operator: "Exists")
        #expect(run(TaintToleration(), F.pod("p", tolerations: [everything]), node) == nil)
        let noExecute = F.node("m", taints: [Taint(key: "k", effect: "NoExecute")])
        #expect(run(TaintToleration(), F.pod("p", tolerations: [Toleration(key: "k", operator: "Exists", effect: "NoSchedule")]), noExecute) != nil)
        // PreferNoSchedule only scores
        let soft = F.node("s", taints: [Taint(key: "k", effect: "PreferNoSchedule")])
        #expect(run(TaintToleration(), F.pod("p"), soft) == nil)
        let c = F.cache([soft, F.node("plain")])
        let state = CycleState()
        let nodes = [c.nodes["s"]!, c.nodes["plain"]!]
        let pl = TaintToleration()
        #expect(pl.preScore(PodInfo(F.pod("p")), nodes, F.view(c), state))
        var scores = nodes.map { pl.score(PodInfo(F.pod("p")), $0, state) }
        pl.normalize(&scores, state)
        #expect(scores == [0, 100])
        // the cache counts softly tainted nodes through updates and removals; none → no scoring
        var c2 = F.cache([soft, F.node("plain")])
        #expect(c2.nodesWithSoftTaints == 1)
        c2.removeNode("s")
        #expect(c2.nodesWithSoftTaints == 0)
        #expect(!pl.preScore(PodInfo(F.pod("p")), [c2.nodes["plain"]!], F.view(c2), state))
        c2.addOrUpdateNode(F.node("plain", taints: [Taint(key: "k", effect: "PreferNoSchedule")]))
        #expect(c2.nodesWithSoftTaints == 1)
        c2.addOrUpdateNode(F.node("plain"))
        #expect(c2.nodesWithSoftTaints == 0)
    }

    @Test func nodeUnschedulableAndNodeName() {
        let cordoned = F.node("n", unschedulable: true)
        #expect(run(NodeUnschedulable(), F.pod("p"), cordoned)?.reasons == ["node(s) were unschedulable"])
        let tol = Toleration(key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule")
        #expect(run(NodeUnschedulable(), F.pod("p", tolerations: [tol]), cordoned) == nil)
        #expect(run(NodeName(), F.pod("p", nodeName: "other"), F.node("n"))?.reasons == ["node(s) didn't match the requested node name"])
        #expect(run(NodeName(), F.pod("p", nodeName: "n"), F.node("n")) == nil)
    }

    @Test func nodeAffinityAndSelector() {
        let node = F.node("n", labels: ["zone": "a", "gen": "5"])
        #expect(run(NodeAffinity(), F.pod("p", nodeSelector: ["zone": "a"]), node) == nil)
        #expect(run(NodeAffinity(), F.pod("p", nodeSelector: ["zone": "b"]), node)?.reasons == ["node(s) didn't match Pod's node affinity/selector"])
        func required(_ reqs: [NodeSelectorRequirement]) -> Affinity {
            Affinity(nodeAffinity: NodeAffinity(required: NodeSelector(nodeSelectorTerms: [NodeSelectorTerm(matchExpressions: reqs)])))
        }
        #expect(run(NodeAffinity(), F.pod("p", affinity: required([.init(key: "zone", operator: "In", values: ["a", "b"])])), node) == nil)
        #expect(run(NodeAffinity(), F.pod("p", affinity: required([.init(key: "zone", operator: "NotIn", values: ["a"])])), node) != nil)
        #expect(run(NodeAffinity(), F.pod("p", affinity: required([.init(key: "gen", operator: "Gt", values: ["4"])])), node) == nil)
        #expect(run(NodeAffinity(), F.pod("p", affinity: required([.init(key: "gen", operator: "Lt", values: ["4"])])), node) != nil)
        #expect(run(NodeAffinity(), F.pod("p", affinity: required([.init(key: "gpu", operator: "DoesNotExist")])), node) == nil)
        let byName = Affinity(nodeAffinity: NodeAffinity(required: NodeSelector(nodeSelectorTerms: [
            NodeSelectorTerm(matchFields: [.init(key: "metadata.name", operator: "In", values: ["n"])])])))
        #expect(run(NodeAffinity(), F.pod("p", affinity: byName), node) == nil)
        // terms are ORed
        let either = Affinity(nodeAffinity: NodeAffinity(required: NodeSelector(nodeSelectorTerms: [
            NodeSelectorTerm(matchExpressions: [.init(key: "zone", operator: "In", values: ["x"])]),
            NodeSelectorTerm(matchExpressions: [.init(key: "zone", operator: "In", values: ["a"])])])))
        #expect(run(NodeAffinity(), F.pod("p", affinity: either), node) == nil)
        // preferred terms score
        let pref = Affinity(nodeAffinity: NodeAffinity(preferred: [
            PreferredSchedulingTerm(weight: 10, preference: NodeSelectorTerm(matchExpressions: [.init(key: "zone", operator: "In", values: ["a"])]))]))
        let c = F.cache([node, F.node("m", labels: ["zone": "b"])])
        let pod = PodInfo(F.pod("p", affinity: pref))
        let pl = NodeAffinity()
        let state = CycleState()
        let nodes = [c.nodes["n"]!, c.nodes["m"]!]
        #expect(pl.preScore(pod, nodes, F.view(c), state))
        var scores = nodes.map { pl.score(pod, $0, state) }
        pl.normalize(&scores, state)
        #expect(scores == [100, 0])
    }

    @Test func nodePortsConflict() {
        let node = F.node("n")
        let others = [F.pod("a", nodeName: "n", hostPort: 8080)]
        #expect(run(NodePorts(), F.pod("p", hostPort: 8080), node, others: others)?.reasons
            == ["node(s) didn't have free ports for the requested pod ports"])
        #expect(run(NodePorts(), F.pod("p", hostPort: 8081), node, others: others) == nil)
    }

    @Test func interPodAntiAffinityBothWays() {
        let sel = LabelSelector(matchLabels: ["app": "web"])
        let anti = Affinity(podAntiAffinity: PodAntiAffinity(required: [PodAffinityTerm(labelSelector: sel, topologyKey: "kubernetes.io/hostname")]))
        let n1 = F.node("n1"), n2 = F.node("n2")
        let existing = [F.pod("a", labels: ["app": "web"], nodeName: "n1")]
        // the incoming pod's anti-affinity
        #expect(run(InterPodAffinity(), F.pod("p", labels: ["app": "web"], affinity: anti), n1, others: existing, extraNodes: [n2])?.reasons
            == ["node(s) didn't match pod anti-affinity rules"])
        #expect(run(InterPodAffinity(), F.pod("p", labels: ["app": "web"], affinity: anti), n2, others: existing, extraNodes: [n1]) == nil)
        // an existing pod's anti-affinity against the incoming pod
        let guarded = [F.pod("a", labels: ["app": "db"], nodeName: "n1", affinity: anti)]
        #expect(run(InterPodAffinity(), F.pod("p", labels: ["app": "web"]), n1, others: guarded, extraNodes: [n2])?.reasons
            == ["node(s) didn't satisfy existing pods anti-affinity rules"])
        #expect(run(InterPodAffinity(), F.pod("p", labels: ["app": "other"]), n1, others: guarded, extraNodes: [n2]) == nil)
    }

    @Test func interPodAffinityRequiresAMatchingPodInTheDomain() {
        let sel = LabelSelector(matchLabels: ["app": "cache"])
        let aff = Affinity(podAffinity: PodAffinity(required: [PodAffinityTerm(labelSelector: sel, topologyKey: "zone")]))
        let n1 = F.node("n1", labels: ["zone": "a"]), n2 = F.node("n2", labels: ["zone": "b"]), n3 = F.node("n3", labels: ["zone": "a"])
        let existing = [F.pod("c", labels: ["app": "cache"], nodeName: "n1")]
        #expect(run(InterPodAffinity(), F.pod("p", affinity: aff), n3, others: existing, extraNodes: [n1, n2]) == nil)
        #expect(run(InterPodAffinity(), F.pod("p", affinity: aff), n2, others: existing, extraNodes: [n1, n3])?.reasons
            == ["node(s) didn't match pod affinity rules"])
        // the first pod of a self-affine group may go anywhere
        #expect(run(InterPodAffinity(), F.pod("p", labels: ["app": "cache"], affinity: aff), n2, extraNodes: [n1]) == nil)
        #expect(run(InterPodAffinity(), F.pod("p", affinity: aff), n2, extraNodes: [n1]) != nil)
    }

    @Test func podTopologySpreadDoNotSchedule() {
        let c = TopologySpreadConstraint(maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "DoNotSchedule",
                                         labelSelector: LabelSelector(matchLabels: ["app": "web"]))
        let a1 = F.node("a1", labels: ["zone": "a"]), b1 = F.node("b1", labels: ["zone": "b"])
        let existing = [F.pod("w1", labels: ["app": "web"], nodeName: "a1")]
        let pod = F.pod("p", labels: ["app": "web"], spread: [c])
        #expect(run(PodTopologySpread(), pod, a1, others: existing, extraNodes: [b1])?.reasons
            == ["node(s) didn't match pod topology spread constraints"])
        #expect(run(PodTopologySpread(), pod, b1, others: existing, extraNodes: [a1]) == nil)
        let unlabeled = F.node("x")
        #expect(run(PodTopologySpread(), pod, unlabeled, others: existing, extraNodes: [a1, b1])?.reasons
            == ["node(s) didn't match pod topology spread constraints (missing required label)"])
    }

    @Test func leastAllocatedAndBalancedScores() {
        let c = F.cache([F.node("idle", cpu: "4", memory: "8Gi"), F.node("busy", cpu: "4", memory: "8Gi")],
                        pods: [F.pod("x", cpu: "2", memory: "4Gi", nodeName: "busy")])
        let pod = PodInfo(F.pod("p", cpu: "1", memory: "2Gi"))
        let state = CycleState()
        #expect(NodeResourcesFit().score(pod, c.nodes["idle"]!, state) == 75)
        #expect(NodeResourcesFit().score(pod, c.nodes["busy"]!, state) == 25)
        #expect(NodeResourcesBalancedAllocation().score(pod, c.nodes["idle"]!, state) == 100)
        let skewed = PodInfo(F.pod("q", cpu: "4", memory: "0"))
        #expect(NodeResourcesBalancedAllocation().score(skewed, c.nodes["idle"]!, state) == 50)
    }

    @Test func imageLocalityPrefersNodesWithTheImage() {
        let c = F.cache([F.node("has", images: [("nginx:1.27", 500 * 1024 * 1024)]), F.node("lacks")])
        let pod = PodInfo(F.pod("p", image: "nginx:1.27"))
        let state = CycleState()
        let pl = ImageLocality()
        let nodes = [c.nodes["has"]!, c.nodes["lacks"]!]
        #expect(pl.preScore(pod, nodes, F.view(c), state))
        let s = nodes.map { pl.score(pod, $0, state) }
        #expect(s[0] > 0 && s[1] == 0)
        #expect(!pl.preScore(PodInfo(F.pod("q", image: "other")), nodes, F.view(c), state))
    }

    @Test func feasibleNodesToFindFollowsUpstream() {
        #expect(Scheduler.numFeasibleNodesToFind(percentage: 0, nodes: 50) == 50)
        #expect(Scheduler.numFeasibleNodesToFind(percentage: 0, nodes: 100) == 100)
        #expect(Scheduler.numFeasibleNodesToFind(percentage: 0, nodes: 1000) == 420)    // 50 - 8 = 42%
        #expect(Scheduler.numFeasibleNodesToFind(percentage: 0, nodes: 5000) == 500)    // 50 - 40 = 10%
        #expect(Scheduler.numFeasibleNodesToFind(percentage: 0, nodes: 10000) == 500)   // min 5%
        #expect(Scheduler.numFeasibleNodesToFind(percentage: 1, nodes: 5000) == 100)    // at least 100
    }
}

/// Scores of the plugins that look at other pods.
@Suite struct SchedulerPodScoreTests {
    typealias F = SchedFixtures

    func scores(_ plugin: any ScorePlugin, _ pod: Pod, _ c: SchedulerCache, _ names: [String]) -> [Int64]? {
        let state = CycleState()
        let info = PodInfo(pod)
        let nodes = names.map { c.nodes[$0]! }
        guard plugin.preScore(info, nodes, F.view(c), state) else { return nil }
        var s = nodes.map { plugin.score(info, $0, state) }
        plugin.normalize(&s, state)
        return s
    }

    @Test func scheduleAnywaySpreadPrefersTheEmptierDomain() {
        let c = F.cache([F.node("a1", labels: ["zone": "a"]), F.node("b1", labels: ["zone": "b"])],
                        pods: [F.pod("w1", labels: ["app": "web"], nodeName: "a1"), F.pod("w2", labels: ["app": "web"], nodeName: "a1")])
        let soft = TopologySpreadConstraint(maxSkew: 1, topologyKey: "zone", whenUnsatisfiable: "ScheduleAnyway",
                                            labelSelector: LabelSelector(matchLabels: ["app": "web"]))
        let s = scores(PodTopologySpread(), F.pod("p", labels: ["app": "web"], spread: [soft]), c, ["a1", "b1"])
        #expect(s != nil)
        #expect(s![1] == 100 && s![0] < s![1])
        #expect(scores(PodTopologySpread(), F.pod("p"), c, ["a1", "b1"]) == nil)   // no constraints: skipped
    }

    @Test func preferredPodAffinityAndAntiAffinityScore() {
        let c = F.cache([F.node("n1"), F.node("n2")], pods: [F.pod("cache", labels: ["app": "cache"], nodeName: "n1")])
        let term = PodAffinityTerm(labelSelector: LabelSelector(matchLabels: ["app": "cache"]), topologyKey: "kubernetes.io/hostname")
        let near = Affinity(podAffinity: PodAffinity(preferred: [WeightedPodAffinityTerm(weight: 50, podAffinityTerm: term)]))
        #expect(scores(InterPodAffinity(), F.pod("p", affinity: near), c, ["n1", "n2"]) == [100, 0])
        let away = Affinity(podAntiAffinity: PodAntiAffinity(preferred: [WeightedPodAffinityTerm(weight: 50, podAffinityTerm: term)]))
        #expect(scores(InterPodAffinity(), F.pod("p", affinity: away), c, ["n1", "n2"]) == [0, 100])
        #expect(scores(InterPodAffinity(), F.pod("p"), c, ["n1", "n2"]) == nil)
    }
}
