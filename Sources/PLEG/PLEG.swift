import Runtime

/// Pod lifecycle event kinds, as the kubelet's PLEG names them.
package enum PodLifecycleEventType: String, Sendable {
    case containerStarted = "ContainerStarted"
    case containerDied = "ContainerDied"
    case containerRemoved = "ContainerRemoved"
    case containerChanged = "ContainerChanged"
}

package let plegRuntimeName = RuntimeInfo.name
