import KubeAPI
@testable import MiniControlPlane

/// In-memory objects for the scheduler's unit tests.
enum SchedFixtures {
    static func node(_ name: String, cpu: String = "4", memory: String = "8Gi", pods: String = "110",
                     labels: [String: String] = [:], taints: [Taint] = [], unschedulable: Bool = false,
                     extra: [String: String] = [:], images: [(String, Int64)] = []) -> Node
    {
        var l = labels
        l["kubernetes.io/hostname"] = l["kubernetes.io/hostname"] ?? name
        var n = Node(metadata: ObjectMeta(name: name, labels: l))
        var spec = NodeSpec()
        spec.taints = taints.isEmpty ? nil : taints
        spec.unschedulable = unschedulable ? true : nil
        n.spec = spec
        var st = NodeStatus()
        var alloc: ResourceList = ["cpu": try! Quantity(cpu), "memory": try! Quantity(memory), "pods": try! Quantity(pods)]
        for (k, v) in extra { alloc[k] = try! Quantity(v) }
        st.allocatable = alloc
        st.capacity = alloc
        if !images.isEmpty {
            st.images = images.map { try! JSONValueEncoder().encode(ContainerImage(names: [$0.0], sizeBytes: $0.1)) }
        }
        n.status = st
        return n
    }

    static func pod(_ name: String, ns: String = "default", cpu: String? = nil, memory: String? = nil,
                    extra: [String: String] = [:], labels: [String: String] = [:], priority: Int32? = nil,
                    nodeName: String? = nil, tolerations: [Toleration]? = nil, nodeSelector: [String: String]? = nil,
                    affinity: Affinity? = nil, spread: [TopologySpreadConstraint] = [], hostPort: Int32? = nil,
                    image: String = "busybox:1.36") -> Pod
    {
        var c = Container(name: "c", image: image)
        var req: ResourceList = [:]
        if let cpu { req["cpu"] = try! Quantity(cpu) }
        if let memory { req["memory"] = try! Quantity(memory) }
        for (k, v) in extra { req[k] = try! Quantity(v) }
        if !req.isEmpty { c.resources = ResourceRequirements(limits: extra.isEmpty ? nil : req, requests: req) }
        if let hostPort {
            var p = ContainerPort(containerPort: 80)
            p.hostPort = hostPort
            c.ports = [p]
        }
        var spec = PodSpec(containers: [c])
        spec.priority = priority
        spec.nodeName = nodeName
        spec.tolerations = tolerations
        spec.nodeSelector = nodeSelector
        if let affinity { spec.affinity = try! JSONValueEncoder().encode(affinity) }
        if !spread.isEmpty { spec.topologySpreadConstraints = spread.map { try! JSONValueEncoder().encode($0) } }
        var meta = ObjectMeta(name: name, namespace: ns, labels: labels.isEmpty ? nil : labels)
        meta.uid = "uid-\(name)"
        meta.creationTimestamp = "2026-11-23T10:00:00Z"
        return Pod(metadata: meta, spec: spec)
    }

    static func info(_ p: Pod) -> PodInfo { PodInfo(p) }

    static func cache(_ nodes: [Node], pods: [Pod] = []) -> SchedulerCache {
        var c = SchedulerCache()
        for n in nodes { c.addOrUpdateNode(n) }
        for p in pods { c.addPod(PodInfo(p)) }
        return c
    }

    static func view(_ c: SchedulerCache) -> ClusterView { ClusterView(cache: c, namespaceLabels: [:]) }
}
