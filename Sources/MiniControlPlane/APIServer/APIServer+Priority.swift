import KubeAPI

/// The Priority admission plugin: a pod's `spec.priority` comes from its PriorityClass (or
/// the global default class, or 0), never from the client.
extension APIServer {
    /// The two classes every cluster has (created at start, as kube-apiserver does).
    static let systemPriorityClasses: [(name: String, value: Int64, description: String)] = [
        ("system-node-critical", 2_000_001_000, "Used for system critical pods that must not be moved from their current node."),
        ("system-cluster-critical", 2_000_000_000, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
    ]

    func ensureSystemPriorityClasses() async throws {
        guard let pc = registry.lookup(group: "scheduling.k8s.io", version: "v1", resource: "priorityclasses") else { return }
        for c in Self.systemPriorityClasses where store.get(pc.key(namespace: nil, name: c.name)) == nil {
            let obj: JSONValue = [
                "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": ["name": .string(c.name)], "value": .int(c.value),
                "description": .string(c.description), "preemptionPolicy": "PreemptLowerPriority",
            ]
            _ = try? await create(pc, namespace: nil, body: obj, options: WriteOptions(fieldManager: "kube-apiserver"))
        }
    }

    /// Sets `spec.priority` (and `priorityClassName` from the global default, and
    /// `preemptionPolicy` from the class when the pod has none) on a pod being created.
    func admitPriority(_ r: ResourceInfo, _ pod: inout JSONValue, name: String) throws {
        guard let pc = registry.lookup(group: "scheduling.k8s.io", version: "v1", resource: "priorityclasses") else { return }
        var spec = pod["spec"] ?? [:]
        var value: Int64 = 0
        var policy: JSONValue? = nil
        if let className = spec["priorityClassName"]?.stringValue, !className.isEmpty {
            guard let kv = store.get(pc.key(namespace: nil, name: className)), let cls = try? JSONParser.parse(kv.value) else {
                throw APIError.forbidden(r, name, "no PriorityClass with name \(className) was found")
            }
            value = cls["value"]?.intValue ?? 0
            policy = cls["preemptionPolicy"]
        } else {
            // The global default; with several, the lowest value wins (as upstream).
            // stored objects are compact JSON, so a class that is not the default never holds
            // these bytes: only the (rare) candidates are parsed
            let marker = Array(#""globalDefault":true"#.utf8)
            let defaults = store.list(prefix: pc.storagePrefix).items
                .filter { Self.find(marker, in: $0.value) != nil }
                .compactMap { try? JSONParser.parse($0.value) }
                .filter { $0["globalDefault"] == .bool(true) }
                .min { ($0["value"]?.intValue ?? 0) < ($1["value"]?.intValue ?? 0) }
            if let d = defaults {
                value = d["value"]?.intValue ?? 0
                policy = d["preemptionPolicy"]
                spec["priorityClassName"] = d.value(at: ["metadata", "name"])
            }
        }
        if let given = spec["priority"]?.intValue, given != value {
            throw APIError.forbidden(r, name, "the integer value of priority (\(given)) must not be provided in pod spec; "
                + "priority admission controller computed \(value) from the given PriorityClass name")
        }
        spec["priority"] = .int(value)
        if spec["preemptionPolicy"] == nil, let policy, policy != .null { spec["preemptionPolicy"] = policy }
        pod["spec"] = spec
    }
}
