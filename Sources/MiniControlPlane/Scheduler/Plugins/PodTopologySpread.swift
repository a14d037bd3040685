import Foundation
import KubeAPI

/// Filter (DoNotSchedule constraints): placing the pod must not make the skew — matching pods
/// in the node's domain plus this pod, minus the least-loaded domain — exceed `maxSkew`.
/// Score (ScheduleAnyway constraints): fewer matching pods in the node's domains is better.
public struct PodTopologySpread: FilterPlugin, ScorePlugin {
    public var name: String { "PodTopologySpread" }
    public var weight: Int64 { 2 }
    public static let reason = "node(s) didn't match pod topology spread constraints"
    public static let missingLabelReason = "node(s) didn't match pod topology spread constraints (missing required label)"
    public init() {}

    public func isRelevant(_ pod: PodInfo, _ state: CycleState) -> Bool { state.spread != nil }

    public struct FilterState: Sendable {
        var constraints: [SpreadConstraint]
        var counts: [TopologyPair: Int64]
        var minMatch: [Int64]
    }

    public struct ScoreState: Sendable {
        var constraints: [SpreadConstraint]
        var counts: [TopologyPair: Int64]
        var weights: [Double]
    }

    /// Whether constraint `c` of `pod` counts the pods on `node` (nodeAffinityPolicy and
    /// nodeTaintsPolicy Honor leave out nodes the pod could not go to).
    static func considers(_ c: SpreadConstraint, _ pod: PodInfo, _ node: NodeInfo) -> Bool {
        if c.honorNodeAffinity && !NodeAffinity.matchesRequired(pod, node) { return false }
        if c.honorTaints && node.taints.contains(where: { ($0.effect == "NoSchedule" || $0.effect == "NoExecute") && !pod.tolerates($0) }) {
            return false
        }
        return true
    }

    static func matches(_ c: SpreadConstraint, _ pod: PodInfo, _ other: PodInfo) -> Bool {
        other.namespace == pod.namespace && !other.isTerminating && (c.selector?.matches(other.labels) ?? false)
    }

    /// Matching pods per domain over the nodes the constraints consider.
    static func count(_ pod: PodInfo, _ constraints: [SpreadConstraint], _ nodes: [NodeInfo]) -> [TopologyPair: Int64] {
        var counts: [TopologyPair: Int64] = [:]
        for node in nodes {
            guard constraints.allSatisfy({ node.labels[$0.topologyKey] != nil }) else { continue }
            for c in constraints where considers(c, pod, node) {
                let pair = TopologyPair(key: c.topologyKey, value: node.labels[c.topologyKey]!)
                var n: Int64 = 0
                for p in node.pods.values where matches(c, pod, p) { n += 1 }
                counts[pair, default: 0] += n
            }
        }
        return counts
    }

    /// The least-loaded domain's count per constraint (0 when there are fewer domains than minDomains).
    static func minMatches(_ constraints: [SpreadConstraint], _ counts: [TopologyPair: Int64]) -> [Int64] {
        constraints.map { c in
            let domains = counts.filter { $0.key.key == c.topologyKey }
            return domains.count < c.minDomains ? 0 : (domains.values.min() ?? 0)
        }
    }

    public func preFilter(_ pod: PodInfo, _ view: ClusterView, _ state: CycleState) -> FilterFailure? {
        let hard = pod.spreadConstraints.filter(\.hard)
        if hard.isEmpty { return nil }
        let counts = Self.count(pod, hard, view.cache.nodeList)
        state.spread = FilterState(constraints: hard, counts: counts, minMatch: Self.minMatches(hard, counts))
        return nil
    }

    public func updatePreFilterState(_ pod: PodInfo, _ other: PodInfo, on node: NodeInfo, adding: Bool, _ state: CycleState) {
        guard var s = state.spread, s.constraints.allSatisfy({ node.labels[$0.topologyKey] != nil }) else { return }
        var changed = false
        for c in s.constraints where Self.considers(c, pod, node) && Self.matches(c, pod, other) {
            s.counts[TopologyPair(key: c.topologyKey, value: node.labels[c.topologyKey]!), default: 0] += adding ? 1 : -1
            changed = true
        }
        guard changed else { return }
        s.minMatch = Self.minMatches(s.constraints, s.counts)
        state.spread = s
    }

    public func filter(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> FilterFailure? {
        guard let s = state.spread else { return nil }
        for (i, c) in s.constraints.enumerated() {
            guard let v = node.labels[c.topologyKey] else { return FilterFailure(.unresolvable, [Self.missingLabelReason], plugin: name) }
            let selfMatch: Int64 = (c.selector?.matches(pod.labels) ?? false) ? 1 : 0
            let matchNum = s.counts[TopologyPair(key: c.topologyKey, value: v)] ?? 0
            if matchNum + selfMatch - s.minMatch[i] > c.maxSkew { return FilterFailure(.unschedulable, [Self.reason], plugin: name) }
        }
        return nil
    }

    public func preScore(_ pod: PodInfo, _ nodes: [NodeInfo], _ view: ClusterView, _ state: CycleState) -> Bool {
        let soft = pod.spreadConstraints.filter { !$0.hard }
        if soft.isEmpty { return false }
        let counts = Self.count(pod, soft, view.cache.nodeList)
        let weights = soft.map { c in log(Double(Set(nodes.compactMap { $0.labels[c.topologyKey] }).count + 2)) }
        state.spreadScore = ScoreState(constraints: soft, counts: counts, weights: weights)
        return true
    }

    /// -1 marks a node that lacks a topology label (it gets 0 after normalizing).
    public func score(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> Int64 {
        guard let s = state.spreadScore else { return 0 }
        var score = 0.0
        for (i, c) in s.constraints.enumerated() {
            guard let v = node.labels[c.topologyKey] else { return -1 }
            let n = Double(s.counts[TopologyPair(key: c.topologyKey, value: v)] ?? 0)
            score += n * s.weights[i] + Double(c.maxSkew - 1)
        }
        return Int64(score.rounded())
    }

    public func normalize(_ scores: inout [Int64], _ state: CycleState) {
        let valid = scores.filter { $0 >= 0 }
        guard let hi = valid.max(), let lo = valid.min() else { return }
        for i in scores.indices {
            if scores[i] < 0 { scores[i] = 0; continue }
            scores[i] = hi == 0 ? maxNodeScore : maxNodeScore * (hi + lo - scores[i]) / hi
        }
    }
}
