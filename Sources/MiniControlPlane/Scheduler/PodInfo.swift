public import KubeAPI

/// A pod with everything the plugins need computed once when it enters the scheduler or the
/// cache: requests, priority, host ports, tolerations, compiled affinity terms and topology
/// spread constraints.
public final class PodInfo: Sendable {
    public let pod: Pod
    public let key: String
    public let uid: String
    public let namespace: String
    public let name: String
    public let labels: [String: String]
    public let requests: Resources
    /// cpu (millicores) and memory requests, and whether they are all the pod asks for.
    public let requestCPU: Int64
    public let requestMemory: Int64
    public let requestsOnlyCPUAndMemory: Bool
    public let nonZeroCPU: Int64
    public let nonZeroMemory: Int64
    public let priority: Int32
    public let preemptionPolicy: String
    public let hostPorts: [HostPort]
    public let tolerations: [Toleration]
    public let nodeSelector: [String: String]
    public let requiredNodeAffinity: NodeSelector?
    public let preferredNodeAffinity: [PreferredSchedulingTerm]
    public let requiredAffinityTerms: [AffinityTerm]
    public let requiredAntiAffinityTerms: [AffinityTerm]
    public let preferredAffinityTerms: [AffinityTerm]
    public let preferredAntiAffinityTerms: [AffinityTerm]
    public let spreadConstraints: [SpreadConstraint]
    public let images: [String]
    /// When the pod started (for preemption's tie-breaks): status.startTime or creation.
    public let startTime: String
    /// Affinity or spread fields that did not parse; the pod cannot be scheduled.
    public let parseError: String?

    public var nodeName: String { pod.spec?.nodeName ?? "" }
    public var isTerminating: Bool { pod.metadata.deletionTimestamp != nil }
    public var hasAffinity: Bool { !requiredAffinityTerms.isEmpty || !requiredAntiAffinityTerms.isEmpty
        || !preferredAffinityTerms.isEmpty || !preferredAntiAffinityTerms.isEmpty }

    /// `priorityOf` resolves `priorityClassName` (the API server does not fill `spec.priority`
    /// from the class); nil means "use spec.priority".
    public init(_ pod: Pod, priorityOf: (String) -> (value: Int32, policy: String?)? = { _ in nil }) {
        self.pod = pod
        namespace = pod.metadata.namespace ?? "default"
        name = pod.metadata.name ?? ""
        key = namespace + "/" + name
        uid = pod.metadata.uid ?? ""
        labels = pod.metadata.labels ?? [:]
        let spec = pod.spec
        requests = PodRequests.compute(spec)
        requestCPU = requests.milliCPU
        requestMemory = requests.memory
        requestsOnlyCPUAndMemory = requests.scalar.isEmpty && requests.ephemeralStorage == 0
        let nz = PodRequests.compute(spec, nonZero: true)
        nonZeroCPU = nz.milliCPU
        nonZeroMemory = nz.memory
        var prio = spec?.priority ?? 0
        var policy = spec?.preemptionPolicy
        if let cls = spec?.priorityClassName, !cls.isEmpty, let resolved = priorityOf(cls) {
            prio = resolved.value
            if policy == nil { policy = resolved.policy }
        }
        priority = prio
        preemptionPolicy = policy ?? "PreemptLowerPriority"
        var ports: [HostPort] = []
        for c in (spec?.initContainers ?? []) + (spec?.containers ?? []) {
            for p in c.ports ?? [] where (p.hostPort ?? 0) > 0 {
                ports.append(HostPort(ip: (p.hostIP ?? "").isEmpty ? "0.0.0.0" : p.hostIP!, protocol: p.protocol ?? "TCP", port: p.hostPort!))
            }
        }
        hostPorts = ports
        tolerations = spec?.tolerations ?? []
        nodeSelector = spec?.nodeSelector ?? [:]
        images = (spec?.containers ?? []).compactMap(\.image).map(ImageNames.normalize)
        startTime = pod.status?.startTime ?? pod.metadata.creationTimestamp ?? ""
        var err: String? = nil
        var affinity: Affinity? = nil
        do { affinity = try spec?.decodedAffinity() } catch { err = "invalid spec.affinity: \(error)" }
        requiredNodeAffinity = affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
        preferredNodeAffinity = affinity?.nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []
        let ns = namespace
        let podLabels = labels
        func terms(_ list: [PodAffinityTerm]?, weight: Int32 = 1) -> [AffinityTerm] {
            (list ?? []).compactMap {
                do { return try AffinityTerm($0, podNamespace: ns, podLabels: podLabels, weight: weight) } catch {
                    err = "invalid affinity term: \(error)"
                    return nil
                }
            }
        }
        requiredAffinityTerms = terms(affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution)
        requiredAntiAffinityTerms = terms(affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution)
        preferredAffinityTerms = (affinity?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).flatMap {
            terms([$0.podAffinityTerm], weight: $0.weight)
        }
        preferredAntiAffinityTerms = (affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).flatMap {
            terms([$0.podAffinityTerm], weight: $0.weight)
        }
        var spread: [SpreadConstraint] = []
        do {
            for c in try spec?.decodedTopologySpreadConstraints() ?? [] {
                spread.append(try SpreadConstraint(c, podLabels: podLabels))
            }
        } catch { err = "invalid spec.topologySpreadConstraints: \(error)" }
        spreadConstraints = spread
        parseError = err
    }

    /// Does the pod tolerate `taint`? (upstream `TolerationsTolerateTaint`)
    public func tolerates(_ taint: Taint) -> Bool { Tolerations.tolerate(tolerations, taint) }
}

public struct HostPort: Sendable, Hashable {
    public var ip: String
    public var `protocol`: String
    public var port: Int32
}

public enum Tolerations {
    public static func tolerates(_ t: Toleration, _ taint: Taint) -> Bool {
        if let e = t.effect, !e.isEmpty, e != taint.effect { return false }
        let key = t.key ?? ""
        if !key.isEmpty, key != taint.key { return false }
        switch t.operator ?? "Equal" {
        case "Exists": return true
        case "Equal", "": return (t.value ?? "") == (taint.value ?? "")
        default: return false
        }
    }

    public static func tolerate(_ ts: [Toleration], _ taint: Taint) -> Bool { ts.contains { tolerates($0, taint) } }
}

/// A pod (anti-)affinity term ready to match: selector, namespaces, topology key.
public struct AffinityTerm: Sendable {
    /// nil (no labelSelector) matches no pod.
    public var selector: LabelSelectorExpr?
    public var namespaces: Set<String>
    /// nil: only `namespaces`; empty: every namespace.
    public var namespaceSelector: LabelSelectorExpr?
    public var topologyKey: String
    public var weight: Int32

    init(_ t: PodAffinityTerm, podNamespace: String, podLabels: [String: String], weight: Int32) throws {
        // matchLabelKeys / mismatchLabelKeys merge the pod's own label values into the selector.
        var extra: [(String, String, [String])] = []
        for k in t.matchLabelKeys ?? [] { if let v = podLabels[k] { extra.append((k, "In", [v])) } }
        for k in t.mismatchLabelKeys ?? [] { if let v = podLabels[k] { extra.append((k, "NotIn", [v])) } }
        selector = try t.labelSelector.map { try Selectors.compile($0, adding: extra) }
        namespaces = Set(t.namespaces ?? [])
        namespaceSelector = try t.namespaceSelector.map(LabelSelectorExpr.init)
        if namespaces.isEmpty && namespaceSelector == nil { namespaces = [podNamespace] }
        topologyKey = t.topologyKey
        self.weight = weight
    }

    /// Does `pod` (in a namespace labelled `nsLabels`) match this term?
    public func matches(_ pod: PodInfo, nsLabels: (String) -> [String: String]) -> Bool {
        if namespaces.contains(pod.namespace) || (namespaceSelector.map { $0.matches(nsLabels(pod.namespace)) } ?? false) {
            return selector?.matches(pod.labels) ?? false
        }
        return false
    }
}

/// A topology spread constraint with its selector compiled.
public struct SpreadConstraint: Sendable {
    public var maxSkew: Int64
    public var topologyKey: String
    public var hard: Bool
    /// nil (no labelSelector) matches no pod.
    public var selector: LabelSelectorExpr?
    public var minDomains: Int
    public var honorNodeAffinity: Bool
    public var honorTaints: Bool

    init(_ c: TopologySpreadConstraint, podLabels: [String: String]) throws {
        maxSkew = Int64(c.maxSkew)
        topologyKey = c.topologyKey
        hard = c.whenUnsatisfiable != "ScheduleAnyway"
        var extra: [(String, String, [String])] = []
        for k in c.matchLabelKeys ?? [] { if let v = podLabels[k] { extra.append((k, "In", [v])) } }
        selector = try c.labelSelector.map { try Selectors.compile($0, adding: extra) }
        minDomains = Int(c.minDomains ?? 1)
        honorNodeAffinity = c.nodeAffinityPolicy != "Ignore"
        honorTaints = c.nodeTaintsPolicy == "Honor"
    }
}

/// Node selector terms as upstream matches them.
public enum NodeSelectorMatch {
    public static func matches(_ sel: NodeSelector, node: NodeInfo) -> Bool {
        sel.nodeSelectorTerms.contains { matches($0, node: node) }
    }

    /// A term is the AND of its requirements; a term with none matches nothing.
    public static func matches(_ term: NodeSelectorTerm, node: NodeInfo) -> Bool {
        let exprs = term.matchExpressions ?? []
        let fields = term.matchFields ?? []
        if exprs.isEmpty && fields.isEmpty { return false }
        for r in exprs where !requirement(r, value: node.labels[r.key]) { return false }
        for r in fields {
            guard r.key == "metadata.name" else { return false }
            if !requirement(r, value: node.name) { return false }
        }
        return true
    }

    static func requirement(_ r: NodeSelectorRequirement, value: String?) -> Bool {
        let values = r.values ?? []
        switch r.operator {
        case "In": return value.map(values.contains) ?? false
        case "NotIn": return !(value.map(values.contains) ?? false)
        case "Exists": return value != nil
        case "DoesNotExist": return value == nil
        case "Gt", "Lt":
            guard let v = value.flatMap({ Int64($0) }), values.count == 1, let bound = Int64(values[0]) else { return false }
            return r.operator == "Gt" ? v > bound : v < bound
        default: return false
        }
    }
}

enum ImageNames {
    /// `busybox` → `busybox:latest`; names with a tag or digest stay as they are.
    static func normalize(_ image: String) -> String {
        if image.contains("@") { return image }
        let lastSlash = image.lastIndex(of: "/").map { image.index(after: $0) } ?? image.startIndex
        return image[lastSlash...].contains(":") ? image : image + ":latest"
    }
}

enum Selectors {
    /// A label selector with extra requirements (key, operator, values) ANDed in.
    static func compile(_ base: LabelSelector, adding extra: [(String, String, [String])]) throws -> LabelSelectorExpr {
        var sel = base
        if !extra.isEmpty {
            var exprs = sel.matchExpressions ?? []
            for (k, op, values) in extra {
                let raw: JSONValue = ["key": .string(k), "operator": .string(op), "values": .array(values.map(JSONValue.string))]
                exprs.append(try JSONValueDecoder().decode(LabelSelectorRequirement.self, from: raw))
            }
            sel.matchExpressions = exprs
        }
        return try LabelSelectorExpr(sel)
    }
}
