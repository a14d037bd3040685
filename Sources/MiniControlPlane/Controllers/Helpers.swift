import Foundation
import KubeAPI

extension ObjectMeta {
    /// The owner reference with `controller: true`, if any.
    var controllerRef: OwnerReference? { ownerReferences?.first { $0.controller == true } }
    var isDeleting: Bool { deletionTimestamp != nil }
}

extension Pod {
    var phase: String { status?.phase ?? "Pending" }
    /// Running or pending and not being deleted: what a controller counts towards its replicas.
    var isActive: Bool { phase != "Succeeded" && phase != "Failed" && metadata.deletionTimestamp == nil }
    var readyCondition: Condition? { status?.conditions?.first { $0.type == "Ready" } }
    var isReady: Bool { readyCondition?.status == "True" }
    var isTerminating: Bool { metadata.deletionTimestamp != nil }
    var restartCount: Int32 { (status?.containerStatuses ?? []).map { $0.restartCount }.max() ?? 0 }

    /// Ready for at least `minReadySeconds` at `now`.
    func isAvailable(minReadySeconds: Int32, now: Date = Date()) -> Bool {
        guard isReady else { return false }
        if minReadySeconds <= 0 { return true }
        guard let t = KubeTime.parse(readyCondition?.lastTransitionTime) else { return false }
        return now.timeIntervalSince(t) >= Double(minReadySeconds)
    }
}

/// An owner reference to `owner` as its controller, blocking the owner's foreground deletion.
func controllerReference<T: KubeObject>(_ owner: T) -> OwnerReference {
    OwnerReference(apiVersion: T.apiVersion, kind: T.kind, name: owner.name, uid: owner.metadata.uid ?? "",
                   controller: true, blockOwnerDeletion: true)
}

/// A pod built from a template, as the controllers create them.
func podFromTemplate(_ template: PodTemplateSpec?, namespace: String, owner: OwnerReference?,
                     generateName: String? = nil, name: String? = nil, extraLabels: [String: String] = [:]) -> Pod
{
    var meta = ObjectMeta(name: name, namespace: namespace)
    meta.generateName = name == nil ? generateName : nil
    var labels = template?.metadata?.labels ?? [:]
    for (k, v) in extraLabels { labels[k] = v }
    meta.labels = labels.isEmpty ? nil : labels
    meta.annotations = template?.metadata?.annotations
    meta.finalizers = template?.metadata?.finalizers
    if let owner { meta.ownerReferences = [owner] }
    return Pod(metadata: meta, spec: template?.spec ?? PodSpec(containers: []))
}

/// Counts the creations and deletions a controller has asked for but not yet seen through its
/// informer, so a sync that runs before the cache catches up does not act twice (client-go's
/// ControllerExpectations with UID tracking of deletions). Expectations expire after 5 minutes.
actor Expectations {
    struct Entry {
        var adds = 0
        var deletes: Set<String> = []
        var at = ContinuousClock.now
    }
    private var entries: [String: Entry] = [:]
    static let timeout: Duration = .seconds(300)

    func expect(_ key: String, creations: Int = 0, deletions: [String] = []) {
        var e = entries[key] ?? Entry()
        e.adds += creations
        e.deletes.formUnion(deletions)
        e.at = .now
        entries[key] = e
    }

    func creationObserved(_ key: String) {
        guard var e = entries[key] else { return }
        e.adds = max(0, e.adds - 1)
        entries[key] = e
    }

    /// A create call failed: that pod will never be observed.
    func creationFailed(_ key: String, count: Int = 1) {
        guard var e = entries[key] else { return }
        e.adds = max(0, e.adds - count)
        entries[key] = e
    }

    func deletionObserved(_ key: String, pod: String) {
        guard var e = entries[key] else { return }
        e.deletes.remove(pod)
        entries[key] = e
    }

    func satisfied(_ key: String) -> Bool {
        guard let e = entries[key] else { return true }
        if e.adds <= 0 && e.deletes.isEmpty { return true }
        return ContinuousClock.now - e.at > Self.timeout
    }

    func forget(_ key: String) { entries[key] = nil }
}

/// The 32-bit FNV-1a hash, as upstream uses for pod-template-hash and controller revisions.
func fnv32a(_ bytes: [UInt8]) -> UInt32 {
    var h: UInt32 = 2_166_136_261
    for b in bytes {
        h ^= UInt32(b)
        h = h &* 16_777_619
    }
    return h
}

/// Encodes a hash with the alphabet upstream uses for generated names (no vowels, no confusable
/// characters), so names like `web-7c5ddbdf54` look as they do in Kubernetes.
func safeEncode(_ v: UInt32) -> String {
    let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
    let digits = Array(String(v))
    return String(digits.map { alphabet[Int($0.asciiValue! - 48) % alphabet.count] })
}

/// A stable hash of a pod template (with a collision count), as the pod-template-hash label.
func templateHash(_ template: PodTemplateSpec?, collisionCount: Int32? = nil) -> String {
    var v = (try? JSONValueEncoder().encode(template)) ?? .null
    // the hash label itself is not part of the template's identity
    v.setValue(nil, at: ["metadata", "labels", "pod-template-hash"])
    var bytes = JSONWriter.bytes(canonical(v))
    if let c = collisionCount, c > 0 { bytes += Array(String(c).utf8) }
    return safeEncode(fnv32a(bytes))
}

/// The same JSON with object keys in a fixed order, so equal templates hash equally.
func canonical(_ v: JSONValue) -> JSONValue {
    switch v {
    case .object(let o):
        var out: JSONObject = [:]
        for (k, x) in o where x != .null { out[k] = canonical(x) }
        return .object(out)
    case .array(let a): return .array(a.map(canonical))
    default: return v
    }
}

/// `maxSurge`/`maxUnavailable`: an integer or a percentage of `total`, rounded up (surge) or
/// down (unavailable), as upstream resolves them.
func resolveIntOrPercent(_ v: IntOrString?, total: Int32, roundUp: Bool, default d: String) -> Int32 {
    let s: String
    switch v {
    case .int(let i)?: return Int32(i)
    case .string(let x)?: s = x
    case nil: s = d
    }
    guard s.hasSuffix("%"), let p = Double(s.dropLast()) else { return Int32(s) ?? 0 }
    let raw = p * Double(total) / 100
    return Int32(roundUp ? raw.rounded(.up) : raw.rounded(.down))
}

/// Adopts orphans that match, releases owned pods that no longer match (client-go's
/// ControllerRefManager), and returns the pods this owner controls.
func claimPods<O: KubeObject>(_ owner: O, selector: LabelSelectorExpr, pods: Informer<Pod>, client: APIClient) async -> [Pod] {
    let uid = owner.metadata.uid
    var result: [Pod] = []
    for p in await pods.items(namespace: owner.metadata.namespace) {
        let labels = p.metadata.labels ?? [:]
        if let ref = p.metadata.controllerRef {
            guard ref.uid == uid else { continue }
            if selector.matches(labels) || p.isTerminating {
                result.append(p)
            } else if owner.metadata.deletionTimestamp == nil {
                // release
                let refs = (p.metadata.ownerReferences ?? []).filter { $0.uid != uid }
                let patch: JSONValue = .object(["metadata": .object(["uid": .string(p.metadata.uid ?? ""),
                    "ownerReferences": (try? JSONValueEncoder().encode(refs)) ?? .array([])])])
                _ = try? await client.patch(Pod.self, namespace: p.metadata.namespace, name: p.name, patch: patch,
                                                 contentType: "application/merge-patch+json")
            }
        } else if !selector.isEmpty, selector.matches(labels), !p.isTerminating, owner.metadata.deletionTimestamp == nil {
            var refs = p.metadata.ownerReferences ?? []
            refs.append(controllerReference(owner))
            let patch: JSONValue = .object(["metadata": .object(["uid": .string(p.metadata.uid ?? ""),
                "ownerReferences": (try? JSONValueEncoder().encode(refs)) ?? .array([])])])
            do {
                let adopted = try await client.patch(Pod.self, namespace: p.metadata.namespace, name: p.name, patch: patch,
                                                         contentType: "application/merge-patch+json")
                result.append(adopted)
            } catch {
                continue  // gone or changed: the next sync sees it
            }
        }
    }
    return result
}

