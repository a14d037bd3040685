import KubeAPI

/// Filter: NoSchedule and NoExecute taints must be tolerated. Score: fewer untolerated
/// PreferNoSchedule taints is better.
public struct TaintToleration: FilterPlugin, ScorePlugin {
    public var name: String { "TaintToleration" }
    public var weight: Int64 { 3 }
    public static let reason = "node(s) had untolerated taint(s)"
    public init() {}

    public func filter(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> FilterFailure? {
        if !node.hasHardTaints { return nil }
        for t in node.taints where t.effect == "NoSchedule" || t.effect == "NoExecute" {
            if !pod.tolerates(t) { return FilterFailure(.unresolvable, [Self.reason], plugin: name) }
        }
        return nil
    }

    public func preScore(_ pod: PodInfo, _ nodes: [NodeInfo], _ view: ClusterView, _ state: CycleState) -> Bool {
        if view.cache.nodesWithSoftTaints == 0 { return false }
        state.preferNoScheduleTolerations = pod.tolerations.filter { ($0.effect ?? "").isEmpty || $0.effect == "PreferNoSchedule" }
        return nodes.contains { $0.hasSoftTaints }
    }

    public func score(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> Int64 {
        var n: Int64 = 0
        for t in node.taints where t.effect == "PreferNoSchedule" && !Tolerations.tolerate(state.preferNoScheduleTolerations, t) { n += 1 }
        return n
    }

    public func normalize(_ scores: inout [Int64], _ state: CycleState) { defaultNormalize(&scores, reverse: true) }
}
