import Runtime

/// Pod lifecycle event kinds, as the kubelet's PLEG names them.
package enum PodLifecycleEventType: String, Sendable {
    case containerStarted = "ContainerStarted"
    case containerDied = "ContainerDied"
    case containerRemoved = "ContainerRemoved"
    case containerChanged = "ContainerChanged"
}

/// One change in a pod's containers (or its sandbox, reported like a container, as the kubelet does).
package struct PodLifecycleEvent: Sendable, Equatable, CustomStringConvertible {
    /// The pod's UID, from the runtime label `io.kubernetes.pod.uid`.
    package var podUID: String
    package var type: PodLifecycleEventType
    /// Container or sandbox id.
    package var id: String

    package init(podUID: String, type: PodLifecycleEventType, id: String) {
        self.podUID = podUID
        self.type = type
        self.id = id
    }

    package var description: String { "\(type.rawValue) \(id) (pod \(podUID))" }
}

/// The label every sandbox and container of a pod carries.
package let podUIDLabel = "io.kubernetes.pod.uid"

package let plegRuntimeName = RuntimeInfo.name
