import CNI
import CSI
import DevicePlugins
import KubeAPI
import PLEG
import Runtime

/// NodeAgent: registration, lease heartbeat, pod workers, probes, volumes, kubelet API (a later issue).
package enum NodeAgentInfo {
    package static let runtimeVersion = "\(RuntimeInfo.name)://\(RuntimeInfo.version)"
}
