import KubeAPI

/// Filter: the pod's required affinity (some matching pod in the node's topology domain; the
/// first pod of a self-affine group may go anywhere that has the topology labels), its required
/// anti-affinity (no matching pod in the domain), and existing pods' required anti-affinity
/// against this pod. Score: preferred terms both ways (existing pods' required affinity counts
/// with weight 1), min-max scaled.
public struct InterPodAffinity: FilterPlugin, ScorePlugin {
    public var name: String { "InterPodAffinity" }
    public var weight: Int64 { 2 }
    public static let affinityReason = "node(s) didn't match pod affinity rules"
    public static let antiAffinityReason = "node(s) didn't match pod anti-affinity rules"
    public static let existingAntiAffinityReason = "node(s) didn't satisfy existing pods anti-affinity rules"
    public init() {}

    public func isRelevant(_ pod: PodInfo, _ state: CycleState) -> Bool { state.interPodAffinity != nil }

    public struct FilterState: Sendable {
        var existingAntiAffinityCounts: [TopologyPair: Int] = [:]
        var affinityCounts: [TopologyPair: Int] = [:]
        var antiAffinityCounts: [TopologyPair: Int] = [:]
        var podMatchesOwnAffinity = false
        var namespaceLabels: [String: [String: String]] = [:]

        /// Counts what `existing` on `node` means for `pod`, `by` +1 (there) or -1 (gone);
        /// domains that drop to zero are forgotten, as the filter reads an empty map as "none".
        mutating func update(_ pod: PodInfo, with existing: PodInfo, on node: NodeInfo, by delta: Int) {
            let labels = namespaceLabels
            let nsLabels = { (ns: String) in labels[ns] ?? [:] }
            func bump(_ counts: inout [TopologyPair: Int], _ key: String) {
                guard let v = node.labels[key] else { return }
                let pair = TopologyPair(key: key, value: v)
                let n = (counts[pair] ?? 0) + delta
                counts[pair] = n == 0 ? nil : n
            }
            for term in existing.requiredAntiAffinityTerms where term.matches(pod, nsLabels: nsLabels) {
                bump(&existingAntiAffinityCounts, term.topologyKey)
            }
            if !pod.requiredAffinityTerms.isEmpty, pod.requiredAffinityTerms.allSatisfy({ $0.matches(existing, nsLabels: nsLabels) }) {
                for term in pod.requiredAffinityTerms { bump(&affinityCounts, term.topologyKey) }
            }
            for term in pod.requiredAntiAffinityTerms where term.matches(existing, nsLabels: nsLabels) {
                bump(&antiAffinityCounts, term.topologyKey)
            }
        }
    }

    public func preFilter(_ pod: PodInfo, _ view: ClusterView, _ state: CycleState) -> FilterFailure? {
        let hasTerms = !pod.requiredAffinityTerms.isEmpty || !pod.requiredAntiAffinityTerms.isEmpty
        if !hasTerms && view.cache.podsWithRequiredAntiAffinity == 0 { return nil }
        var s = FilterState()
        s.namespaceLabels = view.namespaceLabels
        s.podMatchesOwnAffinity = !pod.requiredAffinityTerms.isEmpty && pod.requiredAffinityTerms.allSatisfy { $0.matches(pod, nsLabels: view.nsLabels) }
        for node in view.cache.nodeList {
            if !hasTerms && node.podsWithRequiredAntiAffinity == 0 { continue }
            for existing in node.pods.values { s.update(pod, with: existing, on: node, by: 1) }
        }
        state.interPodAffinity = s
        return nil
    }

    public func updatePreFilterState(_ pod: PodInfo, _ other: PodInfo, on node: NodeInfo, adding: Bool, _ state: CycleState) {
        state.interPodAffinity?.update(pod, with: other, on: node, by: adding ? 1 : -1)
    }

    public func filter(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> FilterFailure? {
        guard let s = state.interPodAffinity else { return nil }
        if !pod.requiredAffinityTerms.isEmpty {
            var podsExist = true
            for term in pod.requiredAffinityTerms {
                guard let v = node.labels[term.topologyKey] else { return FilterFailure(.unresolvable, [Self.affinityReason], plugin: name) }
                if (s.affinityCounts[TopologyPair(key: term.topologyKey, value: v)] ?? 0) <= 0 { podsExist = false }
            }
            if !podsExist && !(s.affinityCounts.isEmpty && s.podMatchesOwnAffinity) {
                return FilterFailure(.unresolvable, [Self.affinityReason], plugin: name)
            }
        }
        for term in pod.requiredAntiAffinityTerms {
            if let v = node.labels[term.topologyKey], (s.antiAffinityCounts[TopologyPair(key: term.topologyKey, value: v)] ?? 0) > 0 {
                return FilterFailure(.unschedulable, [Self.antiAffinityReason], plugin: name)
            }
        }
        if !s.existingAntiAffinityCounts.isEmpty {
            for (k, v) in node.labels where (s.existingAntiAffinityCounts[TopologyPair(key: k, value: v)] ?? 0) > 0 {
                return FilterFailure(.unschedulable, [Self.existingAntiAffinityReason], plugin: name)
            }
        }
        return nil
    }

    public func preScore(_ pod: PodInfo, _ nodes: [NodeInfo], _ view: ClusterView, _ state: CycleState) -> Bool {
        let hasPreferred = !pod.preferredAffinityTerms.isEmpty || !pod.preferredAntiAffinityTerms.isEmpty
        if !hasPreferred && view.cache.podsWithAffinity == 0 { return false }
        let ns = view.nsLabels
        var scores: [String: [String: Int64]] = [:]
        func add(_ key: String, _ node: NodeInfo, _ w: Int64) {
            guard let v = node.labels[key] else { return }
            scores[key, default: [:]][v, default: 0] += w
        }
        for node in view.cache.nodeList {
            if !hasPreferred && node.podsWithAffinity == 0 { continue }
            for existing in node.pods.values {
                for t in pod.preferredAffinityTerms where t.matches(existing, nsLabels: ns) { add(t.topologyKey, node, Int64(t.weight)) }
                for t in pod.preferredAntiAffinityTerms where t.matches(existing, nsLabels: ns) { add(t.topologyKey, node, -Int64(t.weight)) }
                for t in existing.requiredAffinityTerms where t.matches(pod, nsLabels: ns) { add(t.topologyKey, node, 1) }
                for t in existing.preferredAffinityTerms where t.matches(pod, nsLabels: ns) { add(t.topologyKey, node, Int64(t.weight)) }
                for t in existing.preferredAntiAffinityTerms where t.matches(pod, nsLabels: ns) { add(t.topologyKey, node, -Int64(t.weight)) }
            }
        }
        if scores.isEmpty { return false }
        state.affinityScore = scores
        return true
    }

    public func score(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> Int64 {
        guard let scores = state.affinityScore else { return 0 }
        var s: Int64 = 0
        for (key, values) in scores { if let v = node.labels[key], let w = values[v] { s += w } }
        return s
    }

    public func normalize(_ scores: inout [Int64], _ state: CycleState) {
        guard let lo = scores.min(), let hi = scores.max(), hi != lo else {
            for i in scores.indices { scores[i] = 0 }
            return
        }
        for i in scores.indices { scores[i] = maxNodeScore * (scores[i] - lo) / (hi - lo) }
    }
}
