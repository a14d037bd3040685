import KubeAPI

/// Filter: cordoned nodes (`spec.unschedulable`) take only pods that tolerate the
/// `node.kubernetes.io/unschedulable:NoSchedule` taint.
public struct NodeUnschedulable: FilterPlugin {
    public var name: String { "NodeUnschedulable" }
    public static let reason = "node(s) were unschedulable"
    static let taint = Taint(key: "node.kubernetes.io/unschedulable", effect: "NoSchedule")
    public init() {}
    public func filter(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState) -> FilterFailure? {
        if !node.unschedulable || pod.tolerates(Self.taint) { return nil }
        return FilterFailure(.unresolvable, [Self.reason], plugin: name)
    }
}
