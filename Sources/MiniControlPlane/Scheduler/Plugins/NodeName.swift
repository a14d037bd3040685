import KubeAPI

/// Filter: a pod that names a node fits only that node.
public struct NodeName: FilterPlugin {
    public var name: String { "NodeName" }
    public static let reason = "node(s) didn't match the requested node name"
    public init() {}
    public func isRelevant(_ pod: PodInfo, _ state: CycleState) -> Bool { !pod.nodeName.isEmpty }
    public func filter(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> FilterFailure? {
        let want = pod.nodeName
        if want.isEmpty || want == node.name { return nil }
        return FilterFailure(.unresolvable, [Self.reason], plugin: name)
    }
}
