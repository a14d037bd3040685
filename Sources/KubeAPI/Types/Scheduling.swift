// core/v1 scheduling types: affinity, node selectors, topology spread constraints, node images.
// `PodSpec.affinity` and `topologySpreadConstraints` stay `JSONValue` so nothing is lost on a
// round trip; readers decode them with `decodedAffinity()` / `decodedTopologySpreadConstraints()`.

public struct NodeSelectorRequirement: Codable, Sendable, Hashable {
    public var key: String
    /// In, NotIn, Exists, DoesNotExist, Gt, Lt.
    public var `operator`: String
    public var values: [String]?
    public var unknownFields: UnknownFields?
    public init(key: String, operator op: String, values: [String]? = nil) {
        self.key = key
        self.operator = op
        self.values = values
    }
}

public struct NodeSelectorTerm: Codable, Sendable, Hashable {
    public var matchExpressions: [NodeSelectorRequirement]?
    public var matchFields: [NodeSelectorRequirement]?
    public var unknownFields: UnknownFields?
    public init(matchExpressions: [NodeSelectorRequirement]? = nil, matchFields: [NodeSelectorRequirement]? = nil) {
        self.matchExpressions = matchExpressions
        self.matchFields = matchFields
    }
}

public struct NodeSelector: Codable, Sendable, Hashable {
    public var nodeSelectorTerms: [NodeSelectorTerm]
    public var unknownFields: UnknownFields?
    public init(nodeSelectorTerms: [NodeSelectorTerm]) { self.nodeSelectorTerms = nodeSelectorTerms }
}

public struct PreferredSchedulingTerm: Codable, Sendable, Hashable {
    public var weight: Int32
    public var preference: NodeSelectorTerm
    public var unknownFields: UnknownFields?
    public init(weight: Int32, preference: NodeSelectorTerm) {
        self.weight = weight
        self.preference = preference
    }
}

public struct NodeAffinity: Codable, Sendable, Hashable {
    public var requiredDuringSchedulingIgnoredDuringExecution: NodeSelector?
    public var preferredDuringSchedulingIgnoredDuringExecution: [PreferredSchedulingTerm]?
    public var unknownFields: UnknownFields?
    public init(required: NodeSelector? = nil, preferred: [PreferredSchedulingTerm]? = nil) {
        requiredDuringSchedulingIgnoredDuringExecution = required
        preferredDuringSchedulingIgnoredDuringExecution = preferred
    }
}

public struct PodAffinityTerm: Codable, Sendable, Hashable {
    public var labelSelector: LabelSelector?
    public var namespaces: [String]?
    public var topologyKey: String
    public var namespaceSelector: LabelSelector?
    public var matchLabelKeys: [String]?
    public var mismatchLabelKeys: [String]?
    public var unknownFields: UnknownFields?
    public init(labelSelector: LabelSelector?, topologyKey: String, namespaces: [String]? = nil,
                namespaceSelector: LabelSelector? = nil)
    {
        self.labelSelector = labelSelector
        self.topologyKey = topologyKey
        self.namespaces = namespaces
        self.namespaceSelector = namespaceSelector
    }
}

public struct WeightedPodAffinityTerm: Codable, Sendable, Hashable {
    public var weight: Int32
    public var podAffinityTerm: PodAffinityTerm
    public var unknownFields: UnknownFields?
    public init(weight: Int32, podAffinityTerm: PodAffinityTerm) {
        self.weight = weight
        self.podAffinityTerm = podAffinityTerm
    }
}

public struct PodAffinity: Codable, Sendable, Hashable {
    public var requiredDuringSchedulingIgnoredDuringExecution: [PodAffinityTerm]?
    public var preferredDuringSchedulingIgnoredDuringExecution: [WeightedPodAffinityTerm]?
    public var unknownFields: UnknownFields?
    public init(required: [PodAffinityTerm]? = nil, preferred: [WeightedPodAffinityTerm]? = nil) {
        requiredDuringSchedulingIgnoredDuringExecution = required
        preferredDuringSchedulingIgnoredDuringExecution = preferred
    }
}

public struct PodAntiAffinity: Codable, Sendable, Hashable {
    public var requiredDuringSchedulingIgnoredDuringExecution: [PodAffinityTerm]?
    public var preferredDuringSchedulingIgnoredDuringExecution: [WeightedPodAffinityTerm]?
    public var unknownFields: UnknownFields?
    public init(required: [PodAffinityTerm]? = nil, preferred: [WeightedPodAffinityTerm]? = nil) {
        requiredDuringSchedulingIgnoredDuringExecution = required
        preferredDuringSchedulingIgnoredDuringExecution = preferred
    }
}

public struct Affinity: Codable, Sendable, Hashable {
    public var nodeAffinity: NodeAffinity?
    public var podAffinity: PodAffinity?
    public var podAntiAffinity: PodAntiAffinity?
    public var unknownFields: UnknownFields?
    public init(nodeAffinity: NodeAffinity? = nil, podAffinity: PodAffinity? = nil, podAntiAffinity: PodAntiAffinity? = nil) {
        self.nodeAffinity = nodeAffinity
        self.podAffinity = podAffinity
        self.podAntiAffinity = podAntiAffinity
    }
}

public struct TopologySpreadConstraint: Codable, Sendable, Hashable {
    public var maxSkew: Int32
    public var topologyKey: String
    /// DoNotSchedule or ScheduleAnyway.
    public var whenUnsatisfiable: String
    public var labelSelector: LabelSelector?
    public var minDomains: Int32?
    /// Honor (default) or Ignore.
    public var nodeAffinityPolicy: String?
    /// Honor or Ignore (default).
    public var nodeTaintsPolicy: String?
    public var matchLabelKeys: [String]?
    public var unknownFields: UnknownFields?
    public init(maxSkew: Int32, topologyKey: String, whenUnsatisfiable: String, labelSelector: LabelSelector?) {
        self.maxSkew = maxSkew
        self.topologyKey = topologyKey
        self.whenUnsatisfiable = whenUnsatisfiable
        self.labelSelector = labelSelector
    }
}

/// An image a node holds (`status.images[]`).
public struct ContainerImage: Codable, Sendable, Hashable {
    public var names: [String]?
    public var sizeBytes: Int64?
    public var unknownFields: UnknownFields?
    public init(names: [String], sizeBytes: Int64) {
        self.names = names
        self.sizeBytes = sizeBytes
    }
}

extension PodSpec {
    /// `spec.affinity` as typed values (nil when unset).
    public func decodedAffinity() throws -> Affinity? {
        guard let affinity, !affinity.isNull else { return nil }
        return try JSONValueDecoder().decode(Affinity.self, from: affinity)
    }

    /// `spec.topologySpreadConstraints` as typed values.
    public func decodedTopologySpreadConstraints() throws -> [TopologySpreadConstraint] {
        try (topologySpreadConstraints ?? []).map { try JSONValueDecoder().decode(TopologySpreadConstraint.self, from: $0) }
    }
}

extension NodeStatus {
    /// `status.images` as typed values; entries that do not decode are skipped.
    public var decodedImages: [ContainerImage] {
        (images ?? []).compactMap { try? JSONValueDecoder().decode(ContainerImage.self, from: $0) }
    }
}
