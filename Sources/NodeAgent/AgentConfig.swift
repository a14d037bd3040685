package import Foundation
package import KubeAPI

/// Everything `swiftlet agent` is told on its command line.
package struct AgentConfig: Sendable {
    package var serverURL: String
    package var nodeName: String
    /// Agent state: runtime/, pods/<uid>/ (volumes, checkpoints), cni/.
    package var rootDir: String = "/var/lib/swiftlet/agent"
    /// CRI log files: <podLogsDir>/<ns>_<pod>_<uid>/<container>/<restartCount>.log.
    package var podLogsDir: String = "/var/log/pods"
    package var podCIDR: String?
    package var nodeIP: String?
    /// Prefix of every cgroup the runtime creates.
    package var cgroupRoot: String = "swiftlet"
    package var maxPods: Int = 110
    package var cniConfDir: String?
    package var cniBinDir: String?
    package var registerWithTaints: [Taint] = []
    package var nodeLabels: [String: String] = [:]
    package var podManifestPath: String?
    package var kubeletPort: Int = 10250
    /// Address the kubelet API listens on.
    package var kubeletAddress: String = "0.0.0.0"
    /// How often node status is computed (posted only when it changed, or after `nodeStatusReportFrequency`).
    package var nodeStatusUpdateFrequency: Duration = .seconds(10)
    package var nodeStatusReportFrequency: Duration = .seconds(300)
    package var leaseDurationSeconds: Int32 = 40
    package var leaseRenewInterval: Duration = .seconds(10)
    /// On SIGTERM: stop pods gracefully within this time (0: leave them running, as for a restart).
    package var shutdownGracePeriod: Duration = .zero
    /// Periodic pod resync, on top of events.
    package var resyncInterval: Duration = .seconds(10)
    package var imagePullProgressDeadline: Duration = .seconds(60)
    /// CRI log rotation: size and number of files kept per container (counting the live one).
    package var containerLogMaxSize: UInt64 = 10 * 1024 * 1024
    package var containerLogMaxFiles: Int = 5
    package var containerLogMonitorInterval: Duration = .seconds(10)

    package init(serverURL: String, nodeName: String) {
        self.serverURL = serverURL
        self.nodeName = nodeName
    }

    package var runtimeRoot: String { rootDir + "/runtime" }
    package var podsDir: String { rootDir + "/pods" }
    package func podDir(_ uid: String) -> String { podsDir + "/" + uid }
}

/// Errors of the node agent, with the object they concern and their cause.
package struct AgentError: Error, CustomStringConvertible, Sendable {
    package var message: String
    package var cause: (any Error)?
    package init(_ message: String, cause: (any Error)? = nil) {
        self.message = message
        self.cause = cause
    }
    package var description: String { cause.map { "\(message): \($0)" } ?? message }
}

/// Kubernetes timestamps (RFC 3339, seconds or microseconds, UTC), through KubeAPI's `KubeTime`.
package enum Timestamps {
    package static func format(_ d: Date) -> String { KubeTime.format(d) }
    package static func now() -> String { KubeTime.now() }
    package static func micro(_ d: Date) -> String { KubeTime.formatMicro(d) }
    package static func parse(_ s: String?) -> Date? { KubeTime.parse(s) }
}
