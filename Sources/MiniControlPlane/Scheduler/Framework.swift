public import KubeAPI

/// Why a node does not fit: `unschedulable` may be cured by preemption,
/// `unschedulableAndUnresolvable` may not (preemption skips such nodes).
public struct FilterFailure: Sendable, Hashable {
    public enum Code: Sendable, Hashable { case unschedulable, unresolvable }
    public var code: Code
    public var reasons: [String]
    public var plugin: String
    public init(_ code: Code, _ reasons: [String], plugin: String) {
        self.code = code
        self.reasons = reasons
        self.plugin = plugin
    }
}

/// Pair of a topology key and a node's value for it.
public struct TopologyPair: Hashable, Sendable {
    public var key: String
    public var value: String
}

/// What the cluster looks like to the plugins during one scheduling cycle.
public struct ClusterView {
    public var cache: SchedulerCache
    public var namespaceLabels: [String: [String: String]]
    public func nsLabels(_ ns: String) -> [String: String] { namespaceLabels[ns] ?? [:] }
}

/// Per-cycle data the PreFilter/PreScore steps compute once for all nodes.
public final class CycleState {
    public var interPodAffinity: InterPodAffinity.FilterState?
    public var spread: PodTopologySpread.FilterState?
    public var spreadScore: PodTopologySpread.ScoreState?
    public var affinityScore: [String: [String: Int64]]?
    public var preferNoScheduleTolerations: [Toleration] = []
    /// ImageLocality: nodes holding each of the pod's images, and all nodes.
    public var imageNodes: [String: Int] = [:]
    public var totalNodes = 1
    public init() {}

    /// A copy whose pre-filter state can be changed (preemption tries victims on it).
    public func clone() -> CycleState {
        let c = CycleState()
        c.interPodAffinity = interPodAffinity
        c.spread = spread
        c.spreadScore = spreadScore
        c.affinityScore = affinityScore
        c.preferNoScheduleTolerations = preferNoScheduleTolerations
        c.imageNodes = imageNodes
        c.totalNodes = totalNodes
        return c
    }
}

/// A filter plugin: `preFilter` prepares the cycle (once per pod), `filter` judges one node.
public protocol FilterPlugin: Sendable {
    /// The plugin's upstream name (`NodeResourcesFit`…).
    var name: String { get }
    /// Computes what `filter` needs; a failure here rejects every node.
    func preFilter(_ pod: PodInfo, _ view: ClusterView, _ state: CycleState) -> FilterFailure?
    /// nil when the node fits.
    func filter(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> FilterFailure?
    /// False when `filter` cannot reject any node for this pod (asked once per cycle, after
    /// `preFilter`), so the per-node loop skips the plugin.
    func isRelevant(_ pod: PodInfo, _ state: CycleState) -> Bool
    /// Upstream's PreFilterExtensions AddPod/RemovePod: brings what `preFilter` computed from
    /// the cluster's pods up to date when `other` is added to or removed from `node` (as
    /// preemption does when it tries victims).
    func updatePreFilterState(_ pod: PodInfo, _ other: PodInfo, on node: NodeInfo, adding: Bool, _ state: CycleState)
}

extension FilterPlugin {
    public func preFilter(_ pod: PodInfo, _ view: ClusterView, _ state: CycleState) -> FilterFailure? { nil }
    public func isRelevant(_ pod: PodInfo, _ state: CycleState) -> Bool { true }
    public func updatePreFilterState(_ pod: PodInfo, _ other: PodInfo, on node: NodeInfo, adding: Bool, _ state: CycleState) {}
}

/// A score plugin: `preScore` returns false when the plugin has nothing to say about this pod
/// (it is then skipped), `score` rates one node, `normalize` maps the scores to 0…100.
public protocol ScorePlugin: Sendable {
    var name: String { get }
    var weight: Int64 { get }
    func preScore(_ pod: PodInfo, _ nodes: [NodeInfo], _ view: ClusterView, _ state: CycleState) -> Bool
    func score(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> Int64
    func normalize(_ scores: inout [Int64], _ state: CycleState)
}

extension ScorePlugin {
    public func preScore(_ pod: PodInfo, _ nodes: [NodeInfo], _ view: ClusterView, _ state: CycleState) -> Bool { true }
    public func normalize(_ scores: inout [Int64], _ state: CycleState) {}
}

public let maxNodeScore: Int64 = 100

/// upstream `DefaultNormalizeScore`: scale to 0…100 by the maximum, optionally reversed.
func defaultNormalize(_ scores: inout [Int64], reverse: Bool) {
    let maxCount = scores.max() ?? 0
    if maxCount == 0 {
        if reverse { for i in scores.indices { scores[i] = maxNodeScore } }
        return
    }
    for i in scores.indices {
        var s = maxNodeScore * scores[i] / maxCount
        if reverse { s = maxNodeScore - s }
        scores[i] = s
    }
}

/// The default profile: upstream's filter order and score weights.
public struct Framework: Sendable {
    public var filters: [any FilterPlugin]
    public var scorers: [any ScorePlugin]

    public init(filters: [any FilterPlugin], scorers: [any ScorePlugin]) {
        self.filters = filters
        self.scorers = scorers
    }

    public static let defaultFilters: [any FilterPlugin] = [
        NodeUnschedulable(), NodeName(), TaintToleration(), NodeAffinity(), NodePorts(), NodeResourcesFit(),
        PodTopologySpread(), InterPodAffinity(),
    ]

    public static let defaultScorers: [any ScorePlugin] = [
        TaintToleration(), NodeAffinity(), NodeResourcesFit(), NodeResourcesBalancedAllocation(), ImageLocality(),
        InterPodAffinity(), PodTopologySpread(),
    ]

    public static let `default` = Framework(filters: defaultFilters, scorers: defaultScorers)
    /// The benchmark's baseline: the same filters, no scoring (first feasible node wins).
    public static let filtersOnly = Framework(filters: defaultFilters, scorers: [])

    public func runPreFilters(_ pod: PodInfo, _ view: ClusterView, _ state: CycleState) -> FilterFailure? {
        for f in filters { if let failure = f.preFilter(pod, view, state) { return failure } }
        return nil
    }

    /// The first failing filter, as upstream stops at the first rejection.
    public func runFilters(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> FilterFailure? {
        Self.run(filters, pod, node, state)
    }

    /// Tells every filter that `other` joined or left `node`.
    public func updatePreFilterState(_ pod: PodInfo, _ other: PodInfo, on node: NodeInfo, adding: Bool, _ state: CycleState) {
        for i in filters.indices { filters[i].updatePreFilterState(pod, other, on: node, adding: adding, state) }
    }

    /// The filters that can reject a node for this pod.
    public func activeFilters(_ pod: PodInfo, _ state: CycleState) -> [any FilterPlugin] {
        filters.filter { $0.isRelevant(pod, state) }
    }

    static func run(_ filters: [any FilterPlugin], _ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> FilterFailure? {
        // by index: `for f in filters` copies each existential out of the array, per node
        for i in filters.indices { if let failure = filters[i].filter(pod, node, state) { return failure } }
        return nil
    }
}
