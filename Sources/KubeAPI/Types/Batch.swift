// batch/v1, scheduling.k8s.io/v1 and a few core/apps kinds the controllers and the scheduler write.

public struct JobSpec: Codable, Sendable, Hashable {
    public var parallelism: Int32?
    public var completions: Int32?
    public var activeDeadlineSeconds: Int64?
    public var backoffLimit: Int32?
    public var selector: LabelSelector?
    public var manualSelector: Bool?
    public var template: PodTemplateSpec
    public var ttlSecondsAfterFinished: Int32?
    public var completionMode: String?
    public var suspend: Bool?
    public var podReplacementPolicy: String?
    public var unknownFields: UnknownFields?
    public init(template: PodTemplateSpec) { self.template = template }
}

public struct JobStatus: Codable, Sendable, Hashable {
    public var conditions: [Condition]?
    public var startTime: String?
    public var completionTime: String?
    public var active: Int32?
    public var succeeded: Int32?
    public var failed: Int32?
    public var terminating: Int32?
    public var ready: Int32?
    public var completedIndexes: String?
    public var uncountedTerminatedPods: JSONValue?
    public var unknownFields: UnknownFields?
    public init() {}
}

public struct Job: KubeObject, Hashable {
    public static let apiVersion = "batch/v1"
    public static let kind = "Job"
    public static let resource = "jobs"
    public static let namespaced = true
    public var apiVersion: String? = "batch/v1"
    public var kind: String? = "Job"
    public var metadata: ObjectMeta
    public var spec: JobSpec?
    public var status: JobStatus?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta, spec: JobSpec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct PriorityClass: KubeObject, Hashable {
    public static let apiVersion = "scheduling.k8s.io/v1"
    public static let kind = "PriorityClass"
    public static let resource = "priorityclasses"
    public static let namespaced = false
    public var apiVersion: String? = "scheduling.k8s.io/v1"
    public var kind: String? = "PriorityClass"
    public var metadata: ObjectMeta
    public var value: Int32
    public var globalDefault: Bool?
    public var description: String?
    public var preemptionPolicy: String?
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta, value: Int32) {
        self.metadata = metadata
        self.value = value
    }
}

/// core/v1 Binding: what `POST pods/<name>/binding` takes.
public struct Binding: KubeObject, Hashable {
    public static let apiVersion = "v1"
    public static let kind = "Binding"
    public static let resource = "bindings"
    public static let namespaced = true
    public var apiVersion: String? = "v1"
    public var kind: String? = "Binding"
    public var metadata: ObjectMeta
    public var target: ObjectReference
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta, target: ObjectReference) {
        self.metadata = metadata
        self.target = target
    }
}

/// apps/v1 ControllerRevision: the revision history of StatefulSets and DaemonSets.
public struct ControllerRevision: KubeObject, Hashable {
    public static let apiVersion = "apps/v1"
    public static let kind = "ControllerRevision"
    public static let resource = "controllerrevisions"
    public static let namespaced = true
    public var apiVersion: String? = "apps/v1"
    public var kind: String? = "ControllerRevision"
    public var metadata: ObjectMeta
    public var data: JSONValue?
    public var revision: Int64
    public var unknownFields: UnknownFields?
    public init(metadata: ObjectMeta, data: JSONValue?, revision: Int64) {
        self.metadata = metadata
        self.data = data
        self.revision = revision
    }
}
