public import KubeAPI

/// The scheduler's view of the cluster: nodes with the pods bound to them, plus pods the
/// scheduler has *assumed* onto a node while their binding is in flight, so that the next pod
/// already sees those resources taken. A failed binding forgets the assumption; the informer's
/// update confirms it.
public struct SchedulerCache {
    public private(set) var nodes: [String: NodeInfo] = [:]
    /// Nodes in a stable order for the round-robin search.
    public private(set) var nodeList: [NodeInfo] = []
    /// Pod key → node, for every pod in the cache (bound or assumed).
    public private(set) var podNodes: [String: String] = [:]
    public private(set) var assumed: Set<String> = []
    /// Pods on nodes the cache does not know (yet): kept until the node arrives.
    private var orphans: [String: [String: PodInfo]] = [:]
    /// Image name → number of nodes holding it (ImageLocality's spread factor).
    public private(set) var imageNodeCount: [String: Int] = [:]
    public private(set) var podsWithRequiredAntiAffinity = 0
    public private(set) var podsWithAffinity = 0
    /// Nodes with a PreferNoSchedule taint: TaintToleration scores only when there are any.
    public private(set) var nodesWithSoftTaints = 0

    public init() {}

    public var nodeCount: Int { nodeList.count }

    // MARK: nodes

    public mutating func addOrUpdateNode(_ n: Node) {
        if let info = nodes[n.name] {
            for img in info.images.keys { imageNodeCount[img, default: 1] -= 1 }
            if info.hasSoftTaints { nodesWithSoftTaints -= 1 }
            info.setNode(n)
            for img in info.images.keys { imageNodeCount[img, default: 0] += 1 }
            if info.hasSoftTaints { nodesWithSoftTaints += 1 }
            return
        }
        let info = NodeInfo(n)
        nodes[n.name] = info
        nodeList.append(info)
        for img in info.images.keys { imageNodeCount[img, default: 0] += 1 }
        if info.hasSoftTaints { nodesWithSoftTaints += 1 }
        for p in (orphans.removeValue(forKey: n.name) ?? [:]).values { addToNode(p, info) }
    }

    public mutating func removeNode(_ name: String) {
        guard let info = nodes.removeValue(forKey: name) else { return }
        nodeList.removeAll { $0 === info }
        for img in info.images.keys { imageNodeCount[img, default: 1] -= 1 }
        if info.hasSoftTaints { nodesWithSoftTaints -= 1 }
        // pods stay known (they still exist in the API) until they are deleted
        for p in info.pods.values {
            orphans[name, default: [:]][p.key] = p
            if p.hasAffinity { podsWithAffinity -= 1 }
            if !p.requiredAntiAffinityTerms.isEmpty { podsWithRequiredAntiAffinity -= 1 }
        }
    }

    // MARK: pods

    private mutating func addToNode(_ p: PodInfo, _ info: NodeInfo) {
        info.add(p)
        if p.hasAffinity { podsWithAffinity += 1 }
        if !p.requiredAntiAffinityTerms.isEmpty { podsWithRequiredAntiAffinity += 1 }
    }

    /// Adds or replaces a pod bound to `p.nodeName` (also confirms an assumed pod).
    public mutating func addPod(_ p: PodInfo, node: String? = nil) {
        let nodeName = node ?? p.nodeName
        removePod(key: p.key)
        podNodes[p.key] = nodeName
        if let info = nodes[nodeName] { addToNode(p, info) } else { orphans[nodeName, default: [:]][p.key] = p }
    }

    public mutating func removePod(key: String) {
        assumed.remove(key)
        guard let nodeName = podNodes.removeValue(forKey: key) else { return }
        if let info = nodes[nodeName], let p = info.pods[key] {
            info.remove(p)
            if p.hasAffinity { podsWithAffinity -= 1 }
            if !p.requiredAntiAffinityTerms.isEmpty { podsWithRequiredAntiAffinity -= 1 }
        } else {
            orphans[nodeName]?[key] = nil
        }
    }

    /// Takes `p` onto `node` before the binding is confirmed.
    public mutating func assume(_ p: PodInfo, node: String) {
        addPod(p, node: node)
        assumed.insert(p.key)
    }

    /// Undoes `assume` after a failed binding.
    public mutating func forget(key: String) {
        if assumed.contains(key) { removePod(key: key) }
    }

    public func isAssumed(_ key: String) -> Bool { assumed.contains(key) }
    public func contains(_ key: String) -> Bool { podNodes[key] != nil }
}
