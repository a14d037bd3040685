package import KubeAPI
package import Runtime

/// Labels and annotations the agent puts on sandboxes and containers so that it (or its
/// successor after a restart) can map runtime objects back to pods, as the kubelet does.
package enum RuntimeLabels {
    package static let podUID = "io.kubernetes.pod.uid"
    package static let podName = "io.kubernetes.pod.name"
    package static let podNamespace = "io.kubernetes.pod.namespace"
    package static let containerName = "io.kubernetes.container.name"
    package static let containerKind = "io.kubernetes.container.kind"
    package static let restartCount = "io.kubernetes.container.restartCount"
    package static let terminationGracePeriod = "io.kubernetes.pod.terminationGracePeriod"

    package static func pod(_ pod: Pod) -> [String: String] {
        [podUID: pod.metadata.uid ?? "", podName: pod.name, podNamespace: pod.namespace ?? "default"]
    }
}

extension Pod {
    package var uid: String { metadata.uid ?? "" }
    package var fullName: String { "\(name)_\(namespace ?? "default")(\(uid))" }
    package var restartPolicy: String { spec?.restartPolicy ?? "Always" }
    package var isTerminating: Bool { metadata.deletionTimestamp != nil }
    package var isTerminal: Bool { status?.phase == "Succeeded" || status?.phase == "Failed" }
    package var hostNetwork: Bool { spec?.hostNetwork ?? false }
    package var ref: ObjectReference {
        var r = ObjectReference(kind: "Pod", namespace: namespace ?? "default", name: name, uid: uid, apiVersion: "v1")
        r.resourceVersion = metadata.resourceVersion
        return r
    }
    package func ref(container: String, initContainer: Bool = false) -> ObjectReference {
        var r = ref
        r.fieldPath = initContainer ? "spec.initContainers{\(container)}" : "spec.containers{\(container)}"
        return r
    }
    /// The grace period of a deletion in progress, or the spec's, or 30 s.
    package var gracePeriod: Int64 {
        metadata.deletionGracePeriodSeconds ?? spec?.terminationGracePeriodSeconds ?? 30
    }
    package var logDirectory: String { "\(namespace ?? "default")_\(name)_\(uid)" }
}

extension Runtime.ContainerStatus {
    package var restartCount: Int { Int(attempt) }
    package var containerName: String { labels[RuntimeLabels.containerName] ?? name }
    package var isInit: Bool { labels[RuntimeLabels.containerKind] == "init" }
}
