import KubeAPI

/// Score: prefer nodes that already hold the pod's images, weighted by image size and by how
/// widely the image is spread (so one node holding it does not attract everything).
public struct ImageLocality: ScorePlugin {
    public var name: String { "ImageLocality" }
    public var weight: Int64 { 1 }
    static let mb: Int64 = 1024 * 1024
    static let minThreshold: Int64 = 23 * mb
    static let maxContainerThreshold: Int64 = 1000 * mb
    public init() {}

    public func preScore(_ pod: PodInfo, _ nodes: [NodeInfo], _ view: ClusterView, _ state: CycleState) -> Bool {
        if pod.images.isEmpty { return false }
        // Only worth it when some node holds one of the images.
        guard pod.images.contains(where: { (view.cache.imageNodeCount[$0] ?? 0) > 0 }) else { return false }
        state.totalNodes = max(1, view.cache.nodeCount)
        for img in pod.images { state.imageNodes[img] = view.cache.imageNodeCount[img] ?? 0 }
        return true
    }

    public func score(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> Int64 {
        var sum: Int64 = 0
        for img in pod.images {
            guard let size = node.images[img] else { continue }
            sum += Int64(Double(size) * Double(state.imageNodes[img] ?? 0) / Double(state.totalNodes))
        }
        let maxThreshold = Self.maxContainerThreshold * Int64(max(1, pod.images.count))
        let clamped = min(max(sum, Self.minThreshold), maxThreshold)
        return maxNodeScore * (clamped - Self.minThreshold) / (maxThreshold - Self.minThreshold)
    }
}
