// meta/v1 types. Every struct ends with `unknownFields` so fields we do not model survive
// a read-modify-write through `JSONValueDecoder`/`JSONValueEncoder`.

public struct OwnerReference: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?
    public var unknownFields: UnknownFields?
    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool? = nil,
                blockOwnerDeletion: Bool? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }
}

public struct ManagedFieldsEntry: Codable, Sendable, Hashable {
    public var manager: String?
    public var operation: String?
    public var apiVersion: String?
    public var time: String?
    public var fieldsType: String?
    public var fieldsV1: JSONValue?
    public var subresource: String?
    public var unknownFields: UnknownFields?
}

public struct ObjectMeta: Codable, Sendable, Hashable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int64?
    public var creationTimestamp: String?
    public var deletionTimestamp: String?
    public var deletionGracePeriodSeconds: Int64?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var ownerReferences: [OwnerReference]?
    public var finalizers: [String]?
    public var managedFields: [ManagedFieldsEntry]?
    public var unknownFields: UnknownFields?

    public init(name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil,
                annotations: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
    }
}

public struct ListMeta: Codable, Sendable, Hashable {
    public var resourceVersion: String?
    public var `continue`: String?
    public var remainingItemCount: Int64?
    public var unknownFields: UnknownFields?
    public init(resourceVersion: String? = nil) { self.resourceVersion = resourceVersion }
}

public struct StatusCause: Codable, Sendable, Hashable {
    public var reason: String?
    public var message: String?
    public var field: String?
    public init(reason: String? = nil, message: String? = nil, field: String? = nil) {
        self.reason = reason
        self.message = message
        self.field = field
    }
}

public struct StatusDetails: Codable, Sendable, Hashable {
    public var name: String?
    public var group: String?
    public var kind: String?
    public var uid: String?
    public var causes: [StatusCause]?
    public var retryAfterSeconds: Int32?
    public init(name: String? = nil, group: String? = nil, kind: String? = nil, causes: [StatusCause]? = nil) {
        self.name = name
        self.group = group
        self.kind = kind
        self.causes = causes
    }
}

/// `metav1.Status`: what every API error carries.
public struct Status: Codable, Sendable, Hashable, Error, CustomStringConvertible {
    public var kind: String? = "Status"
    public var apiVersion: String? = "v1"
    public var metadata: ListMeta? = ListMeta()
    public var status: String?
    public var message: String?
    public var reason: String?
    public var details: StatusDetails?
    public var code: Int32?

    public init(status: String = "Failure", message: String, reason: String, code: Int32,
                details: StatusDetails? = nil) {
        self.status = status
        self.message = message
        self.reason = reason
        self.code = code
        self.details = details
    }

    public var description: String { message ?? reason ?? "unknown error" }
}

public struct TableColumnDefinition: Codable, Sendable, Hashable {
    public var name: String
    public var type: String
    public var format: String
    public var description: String
    public var priority: Int32
    public init(name: String, type: String = "string", format: String = "", description: String = "",
                priority: Int32 = 0) {
        self.name = name
        self.type = type
        self.format = format
        self.description = description
        self.priority = priority
    }
}

public struct Condition: Codable, Sendable, Hashable {
    public var type: String
    public var status: String
    public var observedGeneration: Int64?
    public var lastTransitionTime: String?
    public var lastHeartbeatTime: String?
    public var lastProbeTime: String?
    public var lastUpdateTime: String?
    public var reason: String?
    public var message: String?
    public var unknownFields: UnknownFields?
    public init(type: String, status: String, reason: String? = nil, message: String? = nil) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
    }
}

public struct LabelSelectorRequirement: Codable, Sendable, Hashable {
    public var key: String
    public var `operator`: String
    public var values: [String]?
}

public struct LabelSelector: Codable, Sendable, Hashable {
    public var matchLabels: [String: String]?
    public var matchExpressions: [LabelSelectorRequirement]?
    public var unknownFields: UnknownFields?
    public init(matchLabels: [String: String]? = nil) { self.matchLabels = matchLabels }
}

/// A watch event as the API streams it: `{"type": "ADDED", "object": {...}}`.
public struct WatchEvent<Object: Codable & Sendable>: Codable, Sendable {
    public var type: String
    public var object: Object
}

/// A typed list (`PodList`, …).
public struct ObjectList<Item: Codable & Sendable>: Codable, Sendable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ListMeta?
    public var items: [Item]
}

/// An object any of whose kinds the client can read and write.
public protocol KubeObject: Codable, Sendable {
    static var apiVersion: String { get }
    static var kind: String { get }
    /// The plural resource name (`pods`).
    static var resource: String { get }
    static var namespaced: Bool { get }
    var metadata: ObjectMeta { get set }
}

extension KubeObject {
    public static var group: String {
        let parts = apiVersion.split(separator: "/")
        return parts.count == 2 ? String(parts[0]) : ""
    }
    public static var version: String { String(apiVersion.split(separator: "/").last ?? "v1") }
    public var name: String { metadata.name ?? "" }
    public var namespace: String? { metadata.namespace }
}

/// `meta.k8s.io/v1` Table, as servers return for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
public struct Table: Codable, Sendable, Hashable {
    public var kind: String? = "Table"
    public var apiVersion: String? = "meta.k8s.io/v1"
    public var metadata: ListMeta?
    public var columnDefinitions: [TableColumnDefinition]
    public var rows: [TableRow]
    public init(columnDefinitions: [TableColumnDefinition], rows: [TableRow], metadata: ListMeta? = nil) {
        self.columnDefinitions = columnDefinitions
        self.rows = rows
        self.metadata = metadata
    }
}

public struct TableRow: Codable, Sendable, Hashable {
    public var cells: [JSONValue]
    public var conditions: [JSONValue]?
    /// The object (or its PartialObjectMetadata), as `includeObject` asked.
    public var object: JSONValue?
    public init(cells: [JSONValue], object: JSONValue? = nil) {
        self.cells = cells
        self.object = object
    }
}
