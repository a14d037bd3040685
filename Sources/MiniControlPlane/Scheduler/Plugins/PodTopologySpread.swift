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

    /// Matching pods per domain over the nodes the constraints consider.
    static func count(_ pod: PodInfo, _ constraints: [SpreadConstraint], _ nodes: [NodeInfo]) -> [TopologyPair: Int64] {
        var counts: [TopologyPair: Int64] = [:]
        for node in nodes {
            guard constraints.allSatisfy({ node.labels[$0.topologyKey] != nil }) else { continue }
            for c in constraints {
                if c.honorNodeAffinity && !NodeAffinity.matchesRequired(pod, node) { continue }
                if c.honorTaints && node.taints.contains(where: { ($0.effect == "NoSchedule" || $0.effect == "NoExecute") && !pod.tolerates($0) }) {
                    continue
                }
                let pair = TopologyPair(key: c.topologyKey, value: node.labels[c.topologyKey]!)
                var n: Int64 = 0
                for p in node.pods.values where p.namespace == pod.namespace && !p.isTerminating && (c.selector?.matches(p.labels) ?? false) { n += 1 }
                counts[pair, default: 0] += n
            }
        }
        return counts
    }

    public func preFilter(_ pod: PodInfo, _ view: ClusterView, _ state: CycleState) -> FilterFailure? {
        let hard = pod.spreadConstraints.filter(\.hard)
        if hard.isEmpty { return nil }
        let counts = Self.count(pod, hard, view.cache.nodeList)
        var mins: [Int64] = []
        for c in hard {
            let domains = counts.filter { $0.key.key == c.topologyKey }
            var m = domains.values.min() ?? 0
            if domains.count < c.minDomains { m = 0 }
            mins.append(m)
        }
        state.spread = FilterState(constraints: hard, counts: counts, minMatch: mins)
        return nil
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
