import KubeAPI

/// Filter: `spec.nodeSelector` and required node affinity. Score: the summed weights of the
/// preferred terms a node matches, scaled to the best node.
public struct NodeAffinity: FilterPlugin, ScorePlugin {
    public var name: String { "NodeAffinity" }
    public var weight: Int64 { 2 }
    public static let reason = "node(s) didn't match Pod's node affinity/selector"
    public init() {}

    public func isRelevant(_ pod: PodInfo, _ state: CycleState) -> Bool { !pod.nodeSelector.isEmpty || pod.requiredNodeAffinity != nil }

    public static func matchesRequired(_ pod: PodInfo, _ node: NodeInfo) -> Bool {
        for (k, v) in pod.nodeSelector where node.labels[k] != v { return false }
        if let req = pod.requiredNodeAffinity, !NodeSelectorMatch.matches(req, node: node) { return false }
        return true
    }

    public func filter(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> FilterFailure? {
        if pod.nodeSelector.isEmpty && pod.requiredNodeAffinity == nil { return nil }
        return Self.matchesRequired(pod, node) ? nil : FilterFailure(.unresolvable, [Self.reason], plugin: name)
    }

    public func preScore(_ pod: PodInfo, _ nodes: [NodeInfo], _ view: ClusterView, _ state: CycleState) -> Bool {
        !pod.preferredNodeAffinity.isEmpty
    }

    public func score(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> Int64 {
        var s: Int64 = 0
        for t in pod.preferredNodeAffinity where t.weight != 0 && NodeSelectorMatch.matches(t.preference, node: node) { s += Int64(t.weight) }
        return s
    }

    public func normalize(_ scores: inout [Int64], _ state: CycleState) { defaultNormalize(&scores, reverse: false) }
}
