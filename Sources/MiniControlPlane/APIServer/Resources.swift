import Synchronization
public import KubeAPI

/// One REST resource the API server serves: its names, scope, verbs and subresources.
public struct ResourceInfo: Sendable, Hashable {
    public var group: String
    public var version: String
    /// Plural, lower case: `pods`.
    public var resource: String
    public var singular: String
    public var kind: String
    public var namespaced: Bool
    public var shortNames: [String] = []
    public var categories: [String] = []
    public var verbs: [String] = ResourceInfo.allVerbs
    public var hasStatus: Bool = false
    public var hasScale: Bool = false
    /// Extra subresources that proxy elsewhere (`log`, `exec`, `binding`, `eviction`…).
    public var otherSubresources: [String] = []
    /// For custom resources: printer columns and the schema, from the CRD.
    public var crdColumns: [CustomResourceColumnDefinition]? = nil
    public var crdSchema: JSONValue? = nil
    /// Storage key prefix, e.g. `/registry/pods/`.
    public var storagePrefix: String

    public static let allVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    public var groupVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    public var listKind: String { kind + "List" }
    /// `deployments.apps`, the way error messages name a resource.
    public var qualifiedResource: String { group.isEmpty ? resource : "\(resource).\(group)" }
    public var isCustom: Bool { crdSchema != nil || crdColumns != nil }

    public init(group: String, version: String, resource: String, singular: String, kind: String,
                namespaced: Bool, shortNames: [String] = [], categories: [String] = [],
                verbs: [String] = ResourceInfo.allVerbs, hasStatus: Bool = false, hasScale: Bool = false,
                otherSubresources: [String] = [], storagePrefix: String? = nil) {
        self.group = group
        self.version = version
        self.resource = resource
        self.singular = singular
        self.kind = kind
        self.namespaced = namespaced
        self.shortNames = shortNames
        self.categories = categories
        self.verbs = verbs
        self.hasStatus = hasStatus
        self.hasScale = hasScale
        self.otherSubresources = otherSubresources
        self.storagePrefix = storagePrefix ?? "/registry/\(resource)/"
    }

    public func key(namespace: String?, name: String) -> String {
        namespaced ? "\(storagePrefix)\(namespace ?? "")/\(name)" : "\(storagePrefix)\(name)"
    }

    public func prefix(namespace: String?) -> String {
        if namespaced, let namespace, !namespace.isEmpty { return "\(storagePrefix)\(namespace)/" }
        return storagePrefix
    }
}

/// The built-in resources, in the groups and versions Kubernetes 1.35 serves them.
enum BuiltinResources {
    static let all: [ResourceInfo] = [
        // core/v1
        ResourceInfo(group: "", version: "v1", resource: "namespaces", singular: "namespace", kind: "Namespace",
                     namespaced: false, shortNames: ["ns"], verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
                     hasStatus: true, otherSubresources: ["finalize"]),
        ResourceInfo(group: "", version: "v1", resource: "pods", singular: "pod", kind: "Pod", namespaced: true,
                     shortNames: ["po"], categories: ["all"], hasStatus: true,
                     otherSubresources: ["binding", "eviction", "log", "exec", "attach", "portforward", "proxy", "ephemeralcontainers"]),
        ResourceInfo(group: "", version: "v1", resource: "nodes", singular: "node", kind: "Node", namespaced: false,
                     shortNames: ["no"], hasStatus: true, otherSubresources: ["proxy"]),
        ResourceInfo(group: "", version: "v1", resource: "services", singular: "service", kind: "Service",
                     namespaced: true, shortNames: ["svc"], categories: ["all"],
                     verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                     hasStatus: true, otherSubresources: ["proxy"]),
        ResourceInfo(group: "", version: "v1", resource: "endpoints", singular: "endpoints", kind: "Endpoints",
                     namespaced: true, shortNames: ["ep"]),
        ResourceInfo(group: "", version: "v1", resource: "configmaps", singular: "configmap", kind: "ConfigMap",
                     namespaced: true, shortNames: ["cm"]),
        ResourceInfo(group: "", version: "v1", resource: "secrets", singular: "secret", kind: "Secret", namespaced: true),
        ResourceInfo(group: "", version: "v1", resource: "serviceaccounts", singular: "serviceaccount",
                     kind: "ServiceAccount", namespaced: true, shortNames: ["sa"], otherSubresources: ["token"]),
        ResourceInfo(group: "", version: "v1", resource: "events", singular: "event", kind: "Event", namespaced: true,
                     shortNames: ["ev"]),
        ResourceInfo(group: "", version: "v1", resource: "componentstatuses", singular: "componentstatus",
                     kind: "ComponentStatus", namespaced: false, shortNames: ["cs"], verbs: ["get", "list"]),
        ResourceInfo(group: "", version: "v1", resource: "bindings", singular: "binding", kind: "Binding",
                     namespaced: true, verbs: ["create"]),
        ResourceInfo(group: "", version: "v1", resource: "persistentvolumeclaims", singular: "persistentvolumeclaim",
                     kind: "PersistentVolumeClaim", namespaced: true, shortNames: ["pvc"], hasStatus: true),
        ResourceInfo(group: "", version: "v1", resource: "persistentvolumes", singular: "persistentvolume",
                     kind: "PersistentVolume", namespaced: false, shortNames: ["pv"], hasStatus: true),
        ResourceInfo(group: "", version: "v1", resource: "limitranges", singular: "limitrange", kind: "LimitRange",
                     namespaced: true, shortNames: ["limits"]),
        ResourceInfo(group: "", version: "v1", resource: "resourcequotas", singular: "resourcequota",
                     kind: "ResourceQuota", namespaced: true, shortNames: ["quota"], hasStatus: true),
        ResourceInfo(group: "", version: "v1", resource: "podtemplates", singular: "podtemplate", kind: "PodTemplate",
                     namespaced: true),
        ResourceInfo(group: "", version: "v1", resource: "replicationcontrollers", singular: "replicationcontroller",
                     kind: "ReplicationController", namespaced: true, shortNames: ["rc"], categories: ["all"],
                     hasStatus: true, hasScale: true),
        // apps/v1
        ResourceInfo(group: "apps", version: "v1", resource: "deployments", singular: "deployment", kind: "Deployment",
                     namespaced: true, shortNames: ["deploy"], categories: ["all"], hasStatus: true, hasScale: true),
        ResourceInfo(group: "apps", version: "v1", resource: "replicasets", singular: "replicaset", kind: "ReplicaSet",
                     namespaced: true, shortNames: ["rs"], categories: ["all"], hasStatus: true, hasScale: true),
        ResourceInfo(group: "apps", version: "v1", resource: "statefulsets", singular: "statefulset",
                     kind: "StatefulSet", namespaced: true, shortNames: ["sts"], categories: ["all"], hasStatus: true,
                     hasScale: true),
        ResourceInfo(group: "apps", version: "v1", resource: "daemonsets", singular: "daemonset", kind: "DaemonSet",
                     namespaced: true, shortNames: ["ds"], categories: ["all"], hasStatus: true),
        ResourceInfo(group: "apps", version: "v1", resource: "controllerrevisions", singular: "controllerrevision",
                     kind: "ControllerRevision", namespaced: true),
        // batch/v1
        ResourceInfo(group: "batch", version: "v1", resource: "jobs", singular: "job", kind: "Job", namespaced: true,
                     categories: ["all"], hasStatus: true),
        ResourceInfo(group: "batch", version: "v1", resource: "cronjobs", singular: "cronjob", kind: "CronJob",
                     namespaced: true, shortNames: ["cj"], categories: ["all"], hasStatus: true),
        // discovery.k8s.io/v1
        ResourceInfo(group: "discovery.k8s.io", version: "v1", resource: "endpointslices", singular: "endpointslice",
                     kind: "EndpointSlice", namespaced: true),
        // coordination.k8s.io/v1
        ResourceInfo(group: "coordination.k8s.io", version: "v1", resource: "leases", singular: "lease", kind: "Lease",
                     namespaced: true),
        // events.k8s.io/v1
        ResourceInfo(group: "events.k8s.io", version: "v1", resource: "events", singular: "event", kind: "Event",
                     namespaced: true, shortNames: ["ev"], storagePrefix: "/registry/events.k8s.io/events/"),
        // scheduling.k8s.io/v1
        ResourceInfo(group: "scheduling.k8s.io", version: "v1", resource: "priorityclasses", singular: "priorityclass",
                     kind: "PriorityClass", namespaced: false, shortNames: ["pc"]),
        // authentication.k8s.io/v1: reviews are answered, never stored
        ResourceInfo(group: "authentication.k8s.io", version: "v1", resource: "tokenreviews", singular: "tokenreview",
                     kind: "TokenReview", namespaced: false, verbs: ["create"]),
        ResourceInfo(group: "authentication.k8s.io", version: "v1", resource: "selfsubjectreviews",
                     singular: "selfsubjectreview", kind: "SelfSubjectReview", namespaced: false, verbs: ["create"]),
        // apiextensions.k8s.io/v1
        ResourceInfo(group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions",
                     singular: "customresourcedefinition", kind: "CustomResourceDefinition", namespaced: false,
                     shortNames: ["crd", "crds"], categories: ["api-extensions"], hasStatus: true),
    ]

    /// The order groups are listed in discovery, as Kubernetes orders them.
    static let groupOrder = ["", "apps", "events.k8s.io", "batch", "coordination.k8s.io", "discovery.k8s.io",
                             "authentication.k8s.io", "scheduling.k8s.io", "apiextensions.k8s.io"]
}

/// All resources the server serves now: the built-ins plus those CRDs added. Every request
/// looks its resource up here, so reads take a lock (no actor hop) and a hashed index.
public final class ResourceRegistry: Sendable {
    private struct State {
        var resources: [ResourceInfo]
        var byPath: [String: ResourceInfo]
        var groupVersions: Set<String>
        init(_ resources: [ResourceInfo]) {
            self.resources = resources
            byPath = [:]
            groupVersions = []
            for r in resources {
                byPath[r.group + "/" + r.version + "/" + r.resource] = r
                groupVersions.insert(r.group + "/" + r.version)
            }
        }
    }
    private let state: Mutex<State>

    public init() { state = Mutex(State(BuiltinResources.all)) }

    public func all() -> [ResourceInfo] { state.withLock { $0.resources } }

    public func lookup(group: String, version: String, resource: String) -> ResourceInfo? {
        state.withLock { $0.byPath[group + "/" + version + "/" + resource] }
    }

    public func lookup(kind: String, groupVersion: String) -> ResourceInfo? {
        state.withLock { $0.resources.first { $0.kind == kind && $0.groupVersion == groupVersion } }
    }

    public func hasGroupVersion(group: String, version: String) -> Bool {
        state.withLock { $0.groupVersions.contains(group + "/" + version) }
    }

    /// Registers (or replaces) the served versions of a CRD.
    public func register(crd: CustomResourceDefinition) {
        let spec = crd.spec
        var added: [ResourceInfo] = []
        for v in spec.versions where v.served {
            var info = ResourceInfo(
                group: spec.group, version: v.name, resource: spec.names.plural,
                singular: spec.names.singular ?? spec.names.kind.lowercased(), kind: spec.names.kind,
                namespaced: spec.scope == "Namespaced", shortNames: spec.names.shortNames ?? [],
                categories: spec.names.categories ?? [],
                hasStatus: v.subresources?["status"] != nil, hasScale: v.subresources?["scale"] != nil,
                storagePrefix: "/registry/\(spec.group)/\(spec.names.plural)/")
            info.crdColumns = v.additionalPrinterColumns ?? []
            info.crdSchema = v.schema?["openAPIV3Schema"] ?? .emptyObject
            added.append(info)
        }
        state.withLock { st in
            var rs = st.resources
            rs.removeAll { $0.group == spec.group && $0.resource == spec.names.plural }
            st = State(rs + added)
        }
    }

    public func unregister(group: String, plural: String) {
        state.withLock { st in st = State(st.resources.filter { !($0.group == group && $0.resource == plural && $0.isCustom) }) }
    }
}
