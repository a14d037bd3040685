import KubeAPI

/// Filter: the pod's requests must fit the node's allocatable minus what its pods (bound and
/// assumed) request: pods count, cpu, memory, ephemeral-storage and extended resources, each
/// failing with upstream's reason. Score: LeastAllocated over cpu and memory (weights 1, 1),
/// using the non-zero requests (containers without requests count as 100m / 200Mi).
public struct NodeResourcesFit: FilterPlugin, ScorePlugin {
    public var name: String { "NodeResourcesFit" }
    public var weight: Int64 { 1 }
    public init() {}

    /// Every reason the pod does not fit (upstream reports all of them, in this order).
    public static func insufficient(_ pod: PodInfo, allocatable a: Resources, requested r: Resources, podCount: Int) -> [String] {
        var out: [String] = []
        if Int64(podCount) + 1 > a.allowedPods { out.append("Too many pods") }
        let want = pod.requests
        if want.milliCPU == 0 && want.memory == 0 && want.ephemeralStorage == 0 && want.scalar.isEmpty { return out }
        if want.milliCPU > 0 && want.milliCPU > a.milliCPU - r.milliCPU { out.append("Insufficient cpu") }
        if want.memory > 0 && want.memory > a.memory - r.memory { out.append("Insufficient memory") }
        if want.ephemeralStorage > 0 && want.ephemeralStorage > a.ephemeralStorage - r.ephemeralStorage {
            out.append("Insufficient ephemeral-storage")
        }
        for (name, q) in want.scalar.sorted(by: { $0.key < $1.key }) where q > 0 {
            if q > (a.scalar[name] ?? 0) - (r.scalar[name] ?? 0) { out.append("Insufficient \(name)") }
        }
        return out
    }

    public func filter(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> FilterFailure? {
        // fast path for the common pod: cpu and memory only, and it fits
        let f = node.fit
        if pod.requestsOnlyCPUAndMemory && Int64(f.podCount) < f.allocatablePods
            && pod.requestCPU <= f.allocatableMilliCPU - f.requestedMilliCPU
            && pod.requestMemory <= f.allocatableMemory - f.requestedMemory
        {
            return nil
        }
        let reasons = Self.insufficient(pod, allocatable: node.allocatable, requested: node.requested, podCount: node.pods.count)
        return reasons.isEmpty ? nil : FilterFailure(.unschedulable, reasons, plugin: name)
    }

    /// (allocatable - requested) * 100 / allocatable, 0 when over.
    static func leastAllocated(requested: Int64, allocatable: Int64) -> Int64 {
        if allocatable == 0 || requested > allocatable { return 0 }
        return (allocatable - requested) * maxNodeScore / allocatable
    }

    public func score(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> Int64 {
        let f = node.fit
        let cpu = Self.leastAllocated(requested: f.nonZeroCPU + pod.nonZeroCPU, allocatable: f.allocatableMilliCPU)
        let mem = Self.leastAllocated(requested: f.nonZeroMemory + pod.nonZeroMemory, allocatable: f.allocatableMemory)
        return (cpu + mem) / 2
    }
}

/// Score: prefer nodes whose cpu and memory would be used in the same proportion
/// (1 − standard deviation of the two fractions), computed on the real requests.
public struct NodeResourcesBalancedAllocation: ScorePlugin {
    public var name: String { "NodeResourcesBalancedAllocation" }
    public var weight: Int64 { 1 }
    public init() {}

    public func score(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> Int64 {
        func fraction(_ req: Int64, _ alloc: Int64) -> Double {
            alloc == 0 ? 0 : min(1, Double(req) / Double(alloc))
        }
        let f = node.fit
        let cpu = fraction(f.requestedMilliCPU + pod.requestCPU, f.allocatableMilliCPU)
        let mem = fraction(f.requestedMemory + pod.requestMemory, f.allocatableMemory)
        let std = abs(cpu - mem) / 2
        return Int64((1 - std) * Double(maxNodeScore))
    }
}
