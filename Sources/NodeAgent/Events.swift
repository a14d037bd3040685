import Foundation
package import KubeAPI

/// Where the agent's events go: `EventRecorder` in the agent, a recording sink in tests.
package protocol EventSink: Sendable {
    /// Records an event about `ref` (type `Normal` or `Warning`), with Kubernetes' reason and wording.
    func event(_ ref: ObjectReference, type: String, reason: String, message: String)
}

package enum EventType {
    package static let normal = "Normal"
    package static let warning = "Warning"
}

/// Event reasons, as the kubelet names them.
package enum EventReason {
    package static let pulling = "Pulling", pulled = "Pulled", failed = "Failed", backOff = "BackOff"
    package static let created = "Created", started = "Started", killing = "Killing", unhealthy = "Unhealthy"
    package static let sandboxChanged = "SandboxChanged", failedKillPod = "FailedKillPod"
    package static let failedCreatePodSandBox = "FailedCreatePodSandBox", failedMount = "FailedMount"
    package static let starting = "Starting", nodeReady = "NodeReady", registeredNode = "RegisteredNode"
    package static let failedPostStartHook = "FailedPostStartHook", failedPreStopHook = "FailedPreStopHook"
    package static let exceededGracePeriod = "ExceededGracePeriod", outOfResource = "OutOf"
}

/// The agent writes its events through KubeAPI's recorder (naming and aggregation as client-go).
extension EventRecorder: EventSink {}

/// An `EventSink` that keeps what it was given (tests).
package final class RecordingEventSink: EventSink, @unchecked Sendable {
    package struct Recorded: Sendable, Equatable {
        package var object: String
        package var fieldPath: String?
        package var type: String
        package var reason: String
        package var message: String
    }
    private let lock = NSLock()
    private var items: [Recorded] = []
    package init() {}
    package func event(_ ref: ObjectReference, type: String, reason: String, message: String) {
        lock.withLock { items.append(Recorded(object: ref.name ?? "", fieldPath: ref.fieldPath, type: type, reason: reason, message: message)) }
    }
    package var recorded: [Recorded] { lock.withLock { items } }
}
