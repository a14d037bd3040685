// core/v1 types used by the control plane and the node agent.

public typealias ResourceList = [String: Quantity]

public struct ResourceRequirements: Codable, Sendable, Hashable {
    public var limits: ResourceList?
    public var requests: ResourceList?
    public var unknownFields: UnknownFields?
    public init(limits: ResourceList? = nil, requests: ResourceList? = nil) {
        self.limits = limits
        self.requests = requests
    }
}

public struct EnvVarSource: Codable, Sendable, Hashable {
    public var fieldRef: JSONValue?
    public var resourceFieldRef: JSONValue?
    public var configMapKeyRef: JSONValue?
    public var secretKeyRef: JSONValue?
    public var unknownFields: UnknownFields?
}

public struct EnvVar: Codable, Sendable, Hashable {
    public var name: String
    public var value: String?
    public var valueFrom: EnvVarSource?
    public var unknownFields: UnknownFields?
    public init(name: String, value: String? = nil) {
        self.name = name
        self.value = value
    }
}

public struct ContainerPort: Codable, Sendable, Hashable {
    public var name: String?
    public var containerPort: Int32
    public var hostPort: Int32?
    public var hostIP: String?
    public var `protocol`: String?
    public var unknownFields: UnknownFields?
    public init(containerPort: Int32, name: String? = nil, protocol: String? = nil) {
        self.containerPort = containerPort
        self.name = name
        self.protocol = `protocol`
    }
}

public struct VolumeMount: Codable, Sendable, Hashable {
    public var name: String
    public var mountPath: String
    public var readOnly: Bool?
    public var subPath: String?
    public var mountPropagation: String?
    public var unknownFields: UnknownFields?
}

public struct ExecAction: Codable, Sendable, Hashable {
    public var command: [String]?
    public init(command: [String]?) { self.command = command }
}

public struct HTTPHeader: Codable, Sendable, Hashable {
    public var name: String
    public var value: String
}

public struct HTTPGetAction: Codable, Sendable, Hashable {
    public var path: String?
    public var port: IntOrString
    public var host: String?
    public var scheme: String?
    public var httpHeaders: [HTTPHeader]?
}

public struct TCPSocketAction: Codable, Sendable, Hashable {
    public var port: IntOrString
    public var host: String?
    public init(port: IntOrString, host: String? = nil) {
        self.port = port
        self.host = host
    }
}

public struct GRPCAction: Codable, Sendable, Hashable {
    public var port: Int32
    public var service: String?
}

public struct Probe: Codable, Sendable, Hashable {
    public var exec: ExecAction?
    public var httpGet: HTTPGetAction?
    public var tcpSocket: TCPSocketAction?
    public var grpc: GRPCAction?
    public var initialDelaySeconds: Int32?
    public var timeoutSeconds: Int32?
    public var periodSeconds: Int32?
    public var successThreshold: Int32?
    public var failureThreshold: Int32?
    public var terminationGracePeriodSeconds: Int64?
    public var unknownFields: UnknownFields?
    public init() {}
}

public struct LifecycleHandler: Codable, Sendable, Hashable {
    public var exec: ExecAction?
    public var httpGet: HTTPGetAction?
    public var tcpSocket: TCPSocketAction?
    public var unknownFields: UnknownFields?
}

public struct Lifecycle: Codable, Sendable, Hashable {
    public var postStart: LifecycleHandler?
    public var preStop: LifecycleHandler?
    public init(postStart: LifecycleHandler? = nil, preStop: LifecycleHandler? = nil) {
        self.postStart = postStart
        self.preStop = preStop
    }
}

public struct Capabilities: Codable, Sendable, Hashable {
    public var add: [String]?
    public var drop: [String]?
}

public struct SeccompProfile: Codable, Sendable, Hashable {
    public var type: String
    public var localhostProfile: String?
}

public struct SecurityContext: Codable, Sendable, Hashable {
    public var capabilities: Capabilities?
    public var privileged: Bool?
    public var runAsUser: Int64?
    public var runAsGroup: Int64?
    public var runAsNonRoot: Bool?
    public var readOnlyRootFilesystem: Bool?
    public var allowPrivilegeEscalation: Bool?
    public var seccompProfile: SeccompProfile?
    public var procMount: String?
    public var unknownFields: UnknownFields?
}

public struct PodSecurityContext: Codable, Sendable, Hashable {
    public var runAsUser: Int64?
    public var runAsGroup: Int64?
    public var runAsNonRoot: Bool?
    public var supplementalGroups: [Int64]?
    public var fsGroup: Int64?
    public var seccompProfile: SeccompProfile?
    public var sysctls: [JSONValue]?
    public var unknownFields: UnknownFields?
}

public struct Container: Codable, Sendable, Hashable {
    public var name: String
    public var image: String?
    public var command: [String]?
    public var args: [String]?
    public var workingDir: String?
    public var ports: [ContainerPort]?
    public var env: [EnvVar]?
    public var envFrom: [JSONValue]?
    public var resources: ResourceRequirements?
    public var volumeMounts: [VolumeMount]?
    public var livenessProbe: Probe?
    public var readinessProbe: Probe?
    public var startupProbe: Probe?
    public var lifecycle: Lifecycle?
    public var terminationMessagePath: String?
    public var terminationMessagePolicy: String?
    public var imagePullPolicy: String?
    public var securityContext: SecurityContext?
    public var restartPolicy: String?
    public var stdin: Bool?
    public var stdinOnce: Bool?
    public var tty: Bool?
    public var unknownFields: UnknownFields?
    public init(name: String, image: String? = nil, command: [String]? = nil, args: [String]? = nil) {
        self.name = name
        self.image = image
        self.command = command
        self.args = args
    }
}

public struct Toleration: Codable, Sendable, Hashable {
    public var key: String?
    public var `operator`: String?
    public var value: String?
    public var effect: String?
    public var tolerationSeconds: Int64?
    public init(key: String? = nil, operator op: String? = nil, value: String? = nil, effect: String? = nil,
                tolerationSeconds: Int64? = nil) {
        self.key = key
        self.operator = op
        self.value = value
        self.effect = effect
        self.tolerationSeconds = tolerationSeconds
    }
}

public struct Volume: Codable, Sendable, Hashable {
    public var name: String
    public var hostPath: JSONValue?
    public var emptyDir: JSONValue?
    public var configMap: JSONValue?
    public var secret: JSONValue?
    public var downwardAPI: JSONValue?
    public var projected: JSONValue?
    public var persistentVolumeClaim: JSONValue?
    public var csi: JSONValue?
    public var unknownFields: UnknownFields?
}

public struct PodSpec: Codable, Sendable, Hashable {
    public var volumes: [Volume]?
    public var initContainers: [Container]?
    public var containers: [Container]
    public var restartPolicy: String?
    public var terminationGracePeriodSeconds: Int64?
    public var activeDeadlineSeconds: Int64?
    public var dnsPolicy: String?
    public var nodeSelector: [String: String]?
    public var serviceAccountName: String?
    public var serviceAccount: String?
    public var automountServiceAccountToken: Bool?
    public var nodeName: String?
    public var hostNetwork: Bool?
    public var hostPID: Bool?
    public var hostIPC: Bool?
    public var shareProcessNamespace: Bool?
    public var securityContext: PodSecurityContext?
    public var imagePullSecrets: [JSONValue]?
    public var hostname: String?
    public var subdomain: String?
    public var affinity: JSONValue?
    public var schedulerName: String?
    public var tolerations: [Toleration]?
    public var hostAliases: [JSONValue]?
    public var priorityClassName: String?
    public var priority: Int32?
    public var preemptionPolicy: String?
    public var topologySpreadConstraints: [JSONValue]?
    public var enableServiceLinks: Bool?
    public var unknownFields: UnknownFields?
    public init(containers: [Container]) { self.containers = containers }
}

public struct ContainerStateWaiting: Codable, Sendable, Hashable {
    public var reason: String?
    public var message: String?
    public init(reason: String? = nil, message: String? = nil) {
        self.reason = reason
        self.message = message
    }
}

public struct ContainerStateRunning: Codable, Sendable, Hashable {
    public var startedAt: String?
    public init(startedAt: String? = nil) { self.startedAt = startedAt }
}

public struct ContainerStateTerminated: Codable, Sendable, Hashable {
    public var exitCode: Int32
    public var signal: Int32?
    public var reason: String?
    public var message: String?
    public var startedAt: String?
    public var finishedAt: String?
    public var containerID: String?
}

public struct ContainerState: Codable, Sendable, Hashable {
    public var waiting: ContainerStateWaiting?
    public var running: ContainerStateRunning?
    public var terminated: ContainerStateTerminated?
    public init(waiting: ContainerStateWaiting? = nil, running: ContainerStateRunning? = nil,
                terminated: ContainerStateTerminated? = nil) {
        self.waiting = waiting
        self.running = running
        self.terminated = terminated
    }
}

public struct ContainerStatus: Codable, Sendable, Hashable {
    public var name: String
    public var state: ContainerState?
    public var lastState: ContainerState?
    public var ready: Bool
    public var restartCount: Int32
    public var image: String
    public var imageID: String
    public var containerID: String?
    public var started: Bool?
    public var unknownFields: UnknownFields?
}

public struct PodIP: Codable, Sendable, Hashable {
    public var ip: String
    public init(ip: String) { self.ip = ip }
}

public struct PodStatus: Codable, Sendable, Hashable {
    public var phase: String?
    public var conditions: [Condition]?
    public var message: String?
    public var reason: String?
    public var nominatedNodeName: String?
    public var hostIP: String?
    public var hostIPs: [PodIP]?
    public var podIP: String?
    public var podIPs: [PodIP]?
    public var startTime: String?
    public var initContainerStatuses: [ContainerStatus]?
    public var containerStatuses: [ContainerStatus]?
    public var qosClass: String?
    public var unknownFields: UnknownFields?
    public init(phase: String? = nil) { self.phase = phase }
}

public struct Pod: KubeObject, Hashable {
    public static let apiVersion = "v1"
    public static let kind = "Pod"
    public static let resource = "pods"
    public static let namespaced = true
    public var apiVersion: String? = "v1"
    public var kind: String? = "Pod"
    public var metadata: ObjectMeta
    public var spec: PodSpec?
    public var status: PodStatus?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta, spec: PodSpec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct Namespace: KubeObject, Hashable {
    public static let apiVersion = "v1"
    public static let kind = "Namespace"
    public static let resource = "namespaces"
    public static let namespaced = false
    public var apiVersion: String? = "v1"
    public var kind: String? = "Namespace"
    public var metadata: ObjectMeta
    public var spec: JSONValue?
    public var status: JSONValue?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta) { self.metadata = metadata }
}

public struct Taint: Codable, Sendable, Hashable {
    public var key: String
    public var value: String?
    public var effect: String
    public var timeAdded: String?
    public init(key: String, value: String? = nil, effect: String) {
        self.key = key
        self.value = value
        self.effect = effect
    }
}

public struct NodeSpec: Codable, Sendable, Hashable {
    public var podCIDR: String?
    public var podCIDRs: [String]?
    public var providerID: String?
    public var unschedulable: Bool?
    public var taints: [Taint]?
    public var unknownFields: UnknownFields?
    public init() {}
}

public struct NodeAddress: Codable, Sendable, Hashable {
    public var type: String
    public var address: String
    public init(type: String, address: String) {
        self.type = type
        self.address = address
    }
}

public struct NodeSystemInfo: Codable, Sendable, Hashable {
    public var machineID: String = ""
    public var systemUUID: String = ""
    public var bootID: String = ""
    public var kernelVersion: String = ""
    public var osImage: String = ""
    public var containerRuntimeVersion: String = ""
    public var kubeletVersion: String = ""
    public var kubeProxyVersion: String = ""
    public var operatingSystem: String = "linux"
    public var architecture: String = "amd64"
    public var unknownFields: UnknownFields?
    public init() {}
}

public struct NodeStatus: Codable, Sendable, Hashable {
    public var capacity: ResourceList?
    public var allocatable: ResourceList?
    public var phase: String?
    public var conditions: [Condition]?
    public var addresses: [NodeAddress]?
    public var daemonEndpoints: JSONValue?
    public var nodeInfo: NodeSystemInfo?
    public var images: [JSONValue]?
    public var unknownFields: UnknownFields?
    public init() {}
}

public struct Node: KubeObject, Hashable {
    public static let apiVersion = "v1"
    public static let kind = "Node"
    public static let resource = "nodes"
    public static let namespaced = false
    public var apiVersion: String? = "v1"
    public var kind: String? = "Node"
    public var metadata: ObjectMeta
    public var spec: NodeSpec?
    public var status: NodeStatus?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta, spec: NodeSpec? = nil, status: NodeStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

public struct ServicePort: Codable, Sendable, Hashable {
    public var name: String?
    public var `protocol`: String?
    public var appProtocol: String?
    public var port: Int32
    public var targetPort: IntOrString?
    public var nodePort: Int32?
    public var unknownFields: UnknownFields?
    public init(port: Int32, targetPort: IntOrString? = nil, name: String? = nil) {
        self.port = port
        self.targetPort = targetPort
        self.name = name
    }
}

public struct ServiceSpec: Codable, Sendable, Hashable {
    public var ports: [ServicePort]?
    public var selector: [String: String]?
    public var clusterIP: String?
    public var clusterIPs: [String]?
    public var type: String?
    public var externalIPs: [String]?
    public var sessionAffinity: String?
    public var sessionAffinityConfig: JSONValue?
    public var loadBalancerIP: String?
    public var externalName: String?
    public var externalTrafficPolicy: String?
    public var internalTrafficPolicy: String?
    public var healthCheckNodePort: Int32?
    public var publishNotReadyAddresses: Bool?
    public var ipFamilies: [String]?
    public var ipFamilyPolicy: String?
    public var unknownFields: UnknownFields?
    public init() {}
}

public struct Service: KubeObject, Hashable {
    public static let apiVersion = "v1"
    public static let kind = "Service"
    public static let resource = "services"
    public static let namespaced = true
    public var apiVersion: String? = "v1"
    public var kind: String? = "Service"
    public var metadata: ObjectMeta
    public var spec: ServiceSpec?
    public var status: JSONValue?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta, spec: ServiceSpec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct ObjectReference: Codable, Sendable, Hashable {
    public var kind: String?
    public var namespace: String?
    public var name: String?
    public var uid: String?
    public var apiVersion: String?
    public var resourceVersion: String?
    public var fieldPath: String?
    public init(kind: String? = nil, namespace: String? = nil, name: String? = nil, uid: String? = nil,
                apiVersion: String? = nil) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.apiVersion = apiVersion
    }
}

public struct EndpointAddress: Codable, Sendable, Hashable {
    public var ip: String
    public var hostname: String?
    public var nodeName: String?
    public var targetRef: ObjectReference?
    public init(ip: String, hostname: String? = nil, nodeName: String? = nil, targetRef: ObjectReference? = nil) {
        self.ip = ip
        self.hostname = hostname
        self.nodeName = nodeName
        self.targetRef = targetRef
    }
}

public struct EndpointPort: Codable, Sendable, Hashable {
    public var name: String?
    public var port: Int32
    public var `protocol`: String?
    public var appProtocol: String?
    public init(name: String? = nil, port: Int32, protocol proto: String? = nil, appProtocol: String? = nil) {
        self.name = name
        self.port = port
        self.protocol = proto
        self.appProtocol = appProtocol
    }
}

public struct EndpointSubset: Codable, Sendable, Hashable {
    public var addresses: [EndpointAddress]?
    public var notReadyAddresses: [EndpointAddress]?
    public var ports: [EndpointPort]?
    public init(addresses: [EndpointAddress]? = nil, notReadyAddresses: [EndpointAddress]? = nil, ports: [EndpointPort]? = nil) {
        self.addresses = addresses
        self.notReadyAddresses = notReadyAddresses
        self.ports = ports
    }
}

public struct Endpoints: KubeObject, Hashable {
    public static let apiVersion = "v1"
    public static let kind = "Endpoints"
    public static let resource = "endpoints"
    public static let namespaced = true
    public var apiVersion: String? = "v1"
    public var kind: String? = "Endpoints"
    public var metadata: ObjectMeta
    public var subsets: [EndpointSubset]?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta) { self.metadata = metadata }
}

public struct ConfigMap: KubeObject, Hashable {
    public static let apiVersion = "v1"
    public static let kind = "ConfigMap"
    public static let resource = "configmaps"
    public static let namespaced = true
    public var apiVersion: String? = "v1"
    public var kind: String? = "ConfigMap"
    public var metadata: ObjectMeta
    public var data: [String: String]?
    public var binaryData: [String: String]?
    public var immutable: Bool?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta, data: [String: String]? = nil) {
        self.metadata = metadata
        self.data = data
    }
}

public struct Secret: KubeObject, Hashable {
    public static let apiVersion = "v1"
    public static let kind = "Secret"
    public static let resource = "secrets"
    public static let namespaced = true
    public var apiVersion: String? = "v1"
    public var kind: String? = "Secret"
    public var metadata: ObjectMeta
    /// base64-encoded values, as on the wire.
    public var data: [String: String]?
    public var stringData: [String: String]?
    public var type: String?
    public var immutable: Bool?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta) { self.metadata = metadata }
}

public struct ServiceAccount: KubeObject, Hashable {
    public static let apiVersion = "v1"
    public static let kind = "ServiceAccount"
    public static let resource = "serviceaccounts"
    public static let namespaced = true
    public var apiVersion: String? = "v1"
    public var kind: String? = "ServiceAccount"
    public var metadata: ObjectMeta
    public var secrets: [ObjectReference]?
    public var automountServiceAccountToken: Bool?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta) { self.metadata = metadata }
}

public struct EventSource: Codable, Sendable, Hashable {
    public var component: String?
    public var host: String?
    public init(component: String? = nil, host: String? = nil) {
        self.component = component
        self.host = host
    }
}

/// core/v1 Event.
public struct Event: KubeObject, Hashable {
    public static let apiVersion = "v1"
    public static let kind = "Event"
    public static let resource = "events"
    public static let namespaced = true
    public var apiVersion: String? = "v1"
    public var kind: String? = "Event"
    public var metadata: ObjectMeta
    public var involvedObject: ObjectReference
    public var reason: String?
    public var message: String?
    public var source: EventSource?
    public var firstTimestamp: String?
    public var lastTimestamp: String?
    public var count: Int32?
    public var type: String?
    public var eventTime: String?
    public var reportingComponent: String?
    public var reportingInstance: String?
    public var action: String?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta, involvedObject: ObjectReference) {
        self.metadata = metadata
        self.involvedObject = involvedObject
    }
}

/// events.k8s.io/v1 Event.
public struct EventV1: KubeObject, Hashable {
    public static let apiVersion = "events.k8s.io/v1"
    public static let kind = "Event"
    public static let resource = "events"
    public static let namespaced = true
    public var apiVersion: String? = "events.k8s.io/v1"
    public var kind: String? = "Event"
    public var metadata: ObjectMeta
    public var eventTime: String?
    public var series: JSONValue?
    public var reportingController: String?
    public var reportingInstance: String?
    public var action: String?
    public var reason: String?
    public var regarding: ObjectReference?
    public var related: ObjectReference?
    public var note: String?
    public var type: String?
    public var deprecatedSource: EventSource?
    public var deprecatedFirstTimestamp: String?
    public var deprecatedLastTimestamp: String?
    public var deprecatedCount: Int32?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta) { self.metadata = metadata }
}
