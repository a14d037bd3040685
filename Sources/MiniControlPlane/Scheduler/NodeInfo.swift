public import KubeAPI

/// A node as the scheduler sees it: the Node plus the pods on it (bound or assumed) and their
/// summed requests, host ports and images. Owned by the scheduler's actor.
public final class NodeInfo {
    /// The numbers every filter and score reads for every node, in one value at the front of
    /// the object: a plugin reads them with one access (one exclusivity check, one or two
    /// cache lines) instead of one per field from all over a large object.
    public struct Fit: Sendable {
        public var unschedulable = false
        /// Whether the node has any NoSchedule/NoExecute taint, any PreferNoSchedule taint.
        public var hasHardTaints = false
        public var hasSoftTaints = false
        public var podCount = 0
        public var allocatablePods: Int64 = 0
        public var allocatableMilliCPU: Int64 = 0
        public var allocatableMemory: Int64 = 0
        public var requestedMilliCPU: Int64 = 0
        public var requestedMemory: Int64 = 0
        public var nonZeroCPU: Int64 = 0
        public var nonZeroMemory: Int64 = 0
    }

    public private(set) var fit = Fit()
    public let name: String
    public private(set) var node: Node
    public private(set) var labels: [String: String] = [:]
    public private(set) var taints: [Taint] = []
    public var unschedulable: Bool { fit.unschedulable }
    public private(set) var allocatable = Resources()
    /// Images on the node: normalized name → size in bytes.
    public private(set) var images: [String: Int64] = [:]
    public private(set) var pods: [String: PodInfo] = [:]
    public private(set) var requested = Resources()
    public private(set) var usedPorts: [HostPort: Int] = [:]
    public var nonZeroCPU: Int64 { fit.nonZeroCPU }
    public var nonZeroMemory: Int64 { fit.nonZeroMemory }
    public var podCount: Int { fit.podCount }
    public var hasHardTaints: Bool { fit.hasHardTaints }
    public var hasSoftTaints: Bool { fit.hasSoftTaints }
    public private(set) var podsWithAffinity = 0
    public private(set) var podsWithRequiredAntiAffinity = 0

    public init(_ node: Node) {
        name = node.name
        self.node = node
        setNode(node)
    }

    public func setNode(_ n: Node) {
        node = n
        labels = n.metadata.labels ?? [:]
        taints = n.spec?.taints ?? []
        fit.hasHardTaints = taints.contains { $0.effect == "NoSchedule" || $0.effect == "NoExecute" }
        fit.hasSoftTaints = taints.contains { $0.effect == "PreferNoSchedule" }
        fit.unschedulable = n.spec?.unschedulable ?? false
        allocatable = Resources(n.status?.allocatable ?? n.status?.capacity)
        fit.allocatableMilliCPU = allocatable.milliCPU
        fit.allocatableMemory = allocatable.memory
        fit.allocatablePods = allocatable.allowedPods
        var imgs: [String: Int64] = [:]
        for image in n.status?.decodedImages ?? [] {
            for name in image.names ?? [] { imgs[ImageNames.normalize(name)] = image.sizeBytes ?? 0 }
        }
        images = imgs
    }

    public func add(_ p: PodInfo) {
        if let old = pods[p.key] { remove(old) }
        pods[p.key] = p
        fit.podCount = pods.count
        requested += p.requests
        fit.requestedMilliCPU += p.requestCPU
        fit.requestedMemory += p.requestMemory
        fit.nonZeroCPU += p.nonZeroCPU
        fit.nonZeroMemory += p.nonZeroMemory
        for hp in p.hostPorts { usedPorts[hp, default: 0] += 1 }
        if p.hasAffinity { podsWithAffinity += 1 }
        if !p.requiredAntiAffinityTerms.isEmpty { podsWithRequiredAntiAffinity += 1 }
    }

    @discardableResult
    public func remove(_ p: PodInfo) -> Bool {
        guard let old = pods.removeValue(forKey: p.key) else { return false }
        fit.podCount = pods.count
        requested -= old.requests
        fit.requestedMilliCPU -= old.requestCPU
        fit.requestedMemory -= old.requestMemory
        fit.nonZeroCPU -= old.nonZeroCPU
        fit.nonZeroMemory -= old.nonZeroMemory
        for hp in old.hostPorts {
            let n = (usedPorts[hp] ?? 1) - 1
            usedPorts[hp] = n > 0 ? n : nil
        }
        if old.hasAffinity { podsWithAffinity -= 1 }
        if !old.requiredAntiAffinityTerms.isEmpty { podsWithRequiredAntiAffinity -= 1 }
        return true
    }

    /// Would any of `ports` clash with a port in use? 0.0.0.0 clashes with every address.
    public func portsConflict(_ ports: [HostPort]) -> Bool {
        if usedPorts.isEmpty { return false }
        for want in ports {
            for used in usedPorts.keys where used.port == want.port && used.protocol == want.protocol {
                if used.ip == want.ip || used.ip == "0.0.0.0" || want.ip == "0.0.0.0" { return true }
            }
        }
        return false
    }

    /// A copy for what-if evaluation (preemption), sharing the immutable pod infos.
    public func clone() -> NodeInfo {
        let c = NodeInfo(node)
        for p in pods.values { c.add(p) }
        return c
    }
}
