// apps/v1, discovery.k8s.io/v1, coordination.k8s.io/v1 and apiextensions.k8s.io/v1 types.

public struct PodTemplateSpec: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta?
    public var spec: PodSpec?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta? = nil, spec: PodSpec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct ReplicaSetSpec: Codable, Sendable, Hashable {
    public var replicas: Int32?
    public var minReadySeconds: Int32?
    public var selector: LabelSelector
    public var template: PodTemplateSpec?
    public var unknownFields: UnknownFields?
    public init(replicas: Int32? = nil, minReadySeconds: Int32? = nil, selector: LabelSelector, template: PodTemplateSpec? = nil) {
        self.replicas = replicas
        self.minReadySeconds = minReadySeconds
        self.selector = selector
        self.template = template
    }
}

public struct ReplicaSetStatus: Codable, Sendable, Hashable {
    public var replicas: Int32?
    public var fullyLabeledReplicas: Int32?
    public var readyReplicas: Int32?
    public var availableReplicas: Int32?
    public var observedGeneration: Int64?
    public var conditions: [Condition]?
    public var unknownFields: UnknownFields?
    public init() {}
}

public struct ReplicaSet: KubeObject, Hashable {
    public static let apiVersion = "apps/v1"
    public static let kind = "ReplicaSet"
    public static let resource = "replicasets"
    public static let namespaced = true
    public var apiVersion: String? = "apps/v1"
    public var kind: String? = "ReplicaSet"
    public var metadata: ObjectMeta
    public var spec: ReplicaSetSpec?
    public var status: ReplicaSetStatus?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta, spec: ReplicaSetSpec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct RollingUpdateDeployment: Codable, Sendable, Hashable {
    public var maxUnavailable: IntOrString?
    public var maxSurge: IntOrString?
}

public struct DeploymentStrategy: Codable, Sendable, Hashable {
    public var type: String?
    public var rollingUpdate: RollingUpdateDeployment?
}

public struct DeploymentSpec: Codable, Sendable, Hashable {
    public var replicas: Int32?
    public var selector: LabelSelector
    public var template: PodTemplateSpec
    public var strategy: DeploymentStrategy?
    public var minReadySeconds: Int32?
    public var revisionHistoryLimit: Int32?
    public var paused: Bool?
    public var progressDeadlineSeconds: Int32?
    public var unknownFields: UnknownFields?
    public init(replicas: Int32? = nil, selector: LabelSelector, template: PodTemplateSpec) {
        self.replicas = replicas
        self.selector = selector
        self.template = template
    }
}

public struct DeploymentStatus: Codable, Sendable, Hashable {
    public var observedGeneration: Int64?
    public var replicas: Int32?
    public var updatedReplicas: Int32?
    public var readyReplicas: Int32?
    public var availableReplicas: Int32?
    public var unavailableReplicas: Int32?
    public var conditions: [Condition]?
    public var collisionCount: Int32?
    public var unknownFields: UnknownFields?
    public init() {}
}

public struct Deployment: KubeObject, Hashable {
    public static let apiVersion = "apps/v1"
    public static let kind = "Deployment"
    public static let resource = "deployments"
    public static let namespaced = true
    public var apiVersion: String? = "apps/v1"
    public var kind: String? = "Deployment"
    public var metadata: ObjectMeta
    public var spec: DeploymentSpec?
    public var status: DeploymentStatus?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta, spec: DeploymentSpec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct StatefulSetSpec: Codable, Sendable, Hashable {
    public var replicas: Int32?
    public var selector: LabelSelector
    public var template: PodTemplateSpec
    public var volumeClaimTemplates: [JSONValue]?
    public var serviceName: String?
    public var podManagementPolicy: String?
    public var updateStrategy: JSONValue?
    public var revisionHistoryLimit: Int32?
    public var minReadySeconds: Int32?
    public var persistentVolumeClaimRetentionPolicy: JSONValue?
    public var ordinals: JSONValue?
    public var unknownFields: UnknownFields?
    public init(replicas: Int32? = nil, selector: LabelSelector, template: PodTemplateSpec, serviceName: String? = nil) {
        self.replicas = replicas
        self.selector = selector
        self.template = template
        self.serviceName = serviceName
    }
}

public struct StatefulSetStatus: Codable, Sendable, Hashable {
    public var observedGeneration: Int64?
    public var replicas: Int32?
    public var readyReplicas: Int32?
    public var currentReplicas: Int32?
    public var updatedReplicas: Int32?
    public var currentRevision: String?
    public var updateRevision: String?
    public var collisionCount: Int32?
    public var conditions: [Condition]?
    public var availableReplicas: Int32?
    public var unknownFields: UnknownFields?
    public init() {}
}

public struct StatefulSet: KubeObject, Hashable {
    public static let apiVersion = "apps/v1"
    public static let kind = "StatefulSet"
    public static let resource = "statefulsets"
    public static let namespaced = true
    public var apiVersion: String? = "apps/v1"
    public var kind: String? = "StatefulSet"
    public var metadata: ObjectMeta
    public var spec: StatefulSetSpec?
    public var status: StatefulSetStatus?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta, spec: StatefulSetSpec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct DaemonSetSpec: Codable, Sendable, Hashable {
    public var selector: LabelSelector
    public var template: PodTemplateSpec
    public var updateStrategy: JSONValue?
    public var minReadySeconds: Int32?
    public var revisionHistoryLimit: Int32?
    public var unknownFields: UnknownFields?
    public init(selector: LabelSelector, template: PodTemplateSpec) {
        self.selector = selector
        self.template = template
    }
}

public struct DaemonSetStatus: Codable, Sendable, Hashable {
    public var currentNumberScheduled: Int32?
    public var numberMisscheduled: Int32?
    public var desiredNumberScheduled: Int32?
    public var numberReady: Int32?
    public var observedGeneration: Int64?
    public var updatedNumberScheduled: Int32?
    public var numberAvailable: Int32?
    public var numberUnavailable: Int32?
    public var collisionCount: Int32?
    public var conditions: [Condition]?
    public var unknownFields: UnknownFields?
    public init() {}
}

public struct DaemonSet: KubeObject, Hashable {
    public static let apiVersion = "apps/v1"
    public static let kind = "DaemonSet"
    public static let resource = "daemonsets"
    public static let namespaced = true
    public var apiVersion: String? = "apps/v1"
    public var kind: String? = "DaemonSet"
    public var metadata: ObjectMeta
    public var spec: DaemonSetSpec?
    public var status: DaemonSetStatus?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta, spec: DaemonSetSpec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct EndpointConditions: Codable, Sendable, Hashable {
    public var ready: Bool?
    public var serving: Bool?
    public var terminating: Bool?
    public init(ready: Bool? = nil, serving: Bool? = nil, terminating: Bool? = nil) {
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
    }
}

public struct SliceEndpoint: Codable, Sendable, Hashable {
    public var addresses: [String]
    public var conditions: EndpointConditions?
    public var hostname: String?
    public var targetRef: ObjectReference?
    public var nodeName: String?
    public var zone: String?
    public var unknownFields: UnknownFields?
    public init(addresses: [String], conditions: EndpointConditions? = nil) {
        self.addresses = addresses
        self.conditions = conditions
    }
}

public struct EndpointSlice: KubeObject, Hashable {
    public static let apiVersion = "discovery.k8s.io/v1"
    public static let kind = "EndpointSlice"
    public static let resource = "endpointslices"
    public static let namespaced = true
    public var apiVersion: String? = "discovery.k8s.io/v1"
    public var kind: String? = "EndpointSlice"
    public var metadata: ObjectMeta
    public var addressType: String
    public var endpoints: [SliceEndpoint]?
    public var ports: [EndpointPort]?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta, addressType: String = "IPv4") {
        self.metadata = metadata
        self.addressType = addressType
    }
}

public struct LeaseSpec: Codable, Sendable, Hashable {
    public var holderIdentity: String?
    public var leaseDurationSeconds: Int32?
    public var acquireTime: String?
    public var renewTime: String?
    public var leaseTransitions: Int32?
    public var strategy: String?
    public var preferredHolder: String?
    public var unknownFields: UnknownFields?
    public init() {}
}

public struct Lease: KubeObject, Hashable {
    public static let apiVersion = "coordination.k8s.io/v1"
    public static let kind = "Lease"
    public static let resource = "leases"
    public static let namespaced = true
    public var apiVersion: String? = "coordination.k8s.io/v1"
    public var kind: String? = "Lease"
    public var metadata: ObjectMeta
    public var spec: LeaseSpec?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta, spec: LeaseSpec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct CustomResourceDefinitionNames: Codable, Sendable, Hashable {
    public var plural: String
    public var singular: String?
    public var shortNames: [String]?
    public var kind: String
    public var listKind: String?
    public var categories: [String]?
}

public struct CustomResourceColumnDefinition: Codable, Sendable, Hashable {
    public var name: String
    public var type: String
    public var format: String?
    public var description: String?
    public var priority: Int32?
    public var jsonPath: String
}

public struct CustomResourceDefinitionVersion: Codable, Sendable, Hashable {
    public var name: String
    public var served: Bool
    public var storage: Bool
    public var deprecated: Bool?
    public var schema: JSONValue?
    public var subresources: JSONValue?
    public var additionalPrinterColumns: [CustomResourceColumnDefinition]?
    public var unknownFields: UnknownFields?
}

public struct CustomResourceDefinitionSpec: Codable, Sendable, Hashable {
    public var group: String
    public var names: CustomResourceDefinitionNames
    public var scope: String
    public var versions: [CustomResourceDefinitionVersion]
    public var conversion: JSONValue?
    public var preserveUnknownFields: Bool?
    public var unknownFields: UnknownFields?
}

public struct CustomResourceDefinition: KubeObject, Hashable {
    public static let apiVersion = "apiextensions.k8s.io/v1"
    public static let kind = "CustomResourceDefinition"
    public static let resource = "customresourcedefinitions"
    public static let namespaced = false
    public var apiVersion: String? = "apiextensions.k8s.io/v1"
    public var kind: String? = "CustomResourceDefinition"
    public var metadata: ObjectMeta
    public var spec: CustomResourceDefinitionSpec
    public var status: JSONValue?
    public var unknownFields: UnknownFields?
}
