import KubeAPI

/// Filter: the pod's host ports must be free on the node (0.0.0.0 clashes with every address).
public struct NodePorts: FilterPlugin {
    public var name: String { "NodePorts" }
    public static let reason = "node(s) didn't have free ports for the requested pod ports"
    public init() {}
    public func isRelevant(_ pod: PodInfo, _ state: CycleState) -> Bool { !pod.hostPorts.isEmpty }
    public func filter(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> FilterFailure? {
        if pod.hostPorts.isEmpty || !node.portsConflict(pod.hostPorts) { return nil }
        return FilterFailure(.unschedulable, [Self.reason], plugin: name)
    }
}
