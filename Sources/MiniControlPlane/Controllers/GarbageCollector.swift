import Foundation
import KubeAPI
import Logging

/// The garbage collector: deletes objects whose owners are all gone (background
/// propagation), deletes the dependents of an owner being deleted in the foreground before
/// removing its `foregroundDeletion` finalizer, and orphans the dependents of an owner deleted
/// with `orphan` (removing their owner reference, then the finalizer). It covers the kinds
/// controllers own and create.
public struct GarbageCollector: Controller {
    public static let name = "garbagecollector"
    let ctx: ControllerContext
    let kinds: [any GCKind]
    let queue = WorkQueue<String>()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        let i = ctx.informers
        kinds = [
            GCTyped(i.informer(Pod.self)), GCTyped(i.informer(ReplicaSet.self)), GCTyped(i.informer(Deployment.self)),
            GCTyped(i.informer(StatefulSet.self)), GCTyped(i.informer(DaemonSet.self)), GCTyped(i.informer(Job.self)),
            GCTyped(i.informer(ControllerRevision.self)), GCTyped(i.informer(EndpointSlice.self)),
            GCTyped(i.informer(Service.self)), GCTyped(i.informer(ConfigMap.self)), GCTyped(i.informer(Secret.self)),
            GCTyped(i.informer(Lease.self)), GCTyped(i.informer(Node.self)),
        ]
    }

    func register() async {
        let queue = self.queue, kinds = self.kinds
        for k in kinds {
            let kind = k.kind
            await k.addHandler { meta, deleted in
                let key = kind + "|" + (meta.namespace ?? "") + "|" + (meta.name ?? "")
                if !(meta.ownerReferences ?? []).isEmpty || meta.deletionTimestamp != nil { await queue.add(key) }
                if deleted, let uid = meta.uid {
                    // its dependents may now be garbage
                    for k2 in kinds {
                        for d in await k2.dependents(of: uid) {
                            await queue.add(k2.kind + "|" + (d.namespace ?? "") + "|" + (d.name ?? ""))
                        }
                    }
                }
            }
        }
    }

    func kind(_ name: String) -> (any GCKind)? { kinds.first { $0.kind == name } }

    func dependents(of uid: String) async -> [(kind: any GCKind, meta: ObjectMeta)] {
        var out: [(any GCKind, ObjectMeta)] = []
        for k in kinds { for m in await k.dependents(of: uid) { out.append((k, m)) } }
        return out
    }

    /// Whether the owner `ref` (in `namespace`) still exists with the same uid; nil when we cannot tell.
    func ownerExists(_ ref: OwnerReference, namespace: String?) async -> (exists: Bool, meta: ObjectMeta?) {
        if let k = kind(ref.kind) {
            if let m = await k.get(namespace: k.namespaced ? namespace : nil, name: ref.name) {
                return (m.uid == ref.uid, m.uid == ref.uid ? m : nil)
            }
            // the cache may lag behind: ask the server before declaring it gone
            if let m = try? await k.fetch(client: ctx.client, namespace: k.namespaced ? namespace : nil, name: ref.name) {
                return (m.uid == ref.uid, m.uid == ref.uid ? m : nil)
            }
            return (false, nil)
        }
        return (true, nil)  // a kind we do not track: never collect on its account
    }

    func sync(_ key: String) async throws {
        let parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let k = kind(parts[0]) else { return }
        let ns = parts[1].isEmpty ? nil : parts[1]
        guard let meta = await k.get(namespace: ns, name: parts[2]) else { return }
        let finalizers = meta.finalizers ?? []
        if meta.deletionTimestamp != nil, let uid = meta.uid {
            if finalizers.contains("orphan") {
                for (dk, d) in await dependents(of: uid) {
                    try await dk.removeOwner(client: ctx.client, namespace: d.namespace, name: d.name ?? "", ownerUID: uid)
                }
                try await k.removeFinalizer(client: ctx.client, namespace: ns, name: parts[2], finalizer: "orphan")
                return
            }
            if finalizers.contains("foregroundDeletion") {
                let deps = await dependents(of: uid)
                var waiting = false
                for (dk, d) in deps {
                    let blocking = (d.ownerReferences ?? []).contains { $0.uid == uid && $0.blockOwnerDeletion == true }
                    if d.deletionTimestamp == nil {
                        try await dk.delete(client: ctx.client, namespace: d.namespace, name: d.name ?? "", uid: d.uid, policy: "Foreground")
                    }
                    if blocking { waiting = true }
                }
                if waiting {
                    queue.add(key, after: .milliseconds(500))
                    return
                }
                try await k.removeFinalizer(client: ctx.client, namespace: ns, name: parts[2], finalizer: "foregroundDeletion")
                return
            }
        }
        // dependents whose owners are all gone are garbage
        let refs = meta.ownerReferences ?? []
        guard !refs.isEmpty, meta.deletionTimestamp == nil else { return }
        var anyAlive = false
        var ownerInForeground = false
        for r in refs {
            let (exists, ownerMeta) = await ownerExists(r, namespace: ns)
            if exists {
                if let om = ownerMeta, om.deletionTimestamp != nil, (om.finalizers ?? []).contains("foregroundDeletion") {
                    ownerInForeground = true
                } else {
                    anyAlive = true
                }
            }
        }
        if anyAlive { return }
        let policy = ownerInForeground ? "Foreground" : "Background"
        do {
            try await k.delete(client: ctx.client, namespace: ns, name: parts[2], uid: meta.uid, policy: policy)
            ctx.logger.debug("garbage collected \(key)")
        } catch where isNotFound(error) || isConflict(error) {}
    }
}

/// What the collector needs of one kind, type-erased.
protocol GCKind: Sendable {
    var kind: String { get }
    var namespaced: Bool { get }
    func addHandler(_ h: @escaping @Sendable (ObjectMeta, Bool) async -> Void) async
    func get(namespace: String?, name: String) async -> ObjectMeta?
    func fetch(client: APIClient, namespace: String?, name: String) async throws -> ObjectMeta
    func dependents(of uid: String) async -> [ObjectMeta]
    func delete(client: APIClient, namespace: String?, name: String, uid: String?, policy: String) async throws
    func removeOwner(client: APIClient, namespace: String?, name: String, ownerUID: String) async throws
    func removeFinalizer(client: APIClient, namespace: String?, name: String, finalizer: String) async throws
}

struct GCTyped<T: KubeObject>: GCKind {
    let informer: Informer<T>
    init(_ informer: Informer<T>) { self.informer = informer }
    var kind: String { T.kind }
    var namespaced: Bool { T.namespaced }

    func addHandler(_ h: @escaping @Sendable (ObjectMeta, Bool) async -> Void) async {
        await informer.addHandler { e in
            switch e {
            case .added(let o), .updated(_, let o): await h(o.metadata, false)
            case .deleted(let o): await h(o.metadata, true)
            }
        }
    }

    func get(namespace: String?, name: String) async -> ObjectMeta? { await informer.get(namespace: namespace, name: name)?.metadata }

    func fetch(client: APIClient, namespace: String?, name: String) async throws -> ObjectMeta {
        try await client.get(T.self, namespace: namespace, name: name).metadata
    }

    func dependents(of uid: String) async -> [ObjectMeta] {
        await informer.filter { o in (o.metadata.ownerReferences ?? []).contains { $0.uid == uid } }.map(\.metadata)
    }

    func delete(client: APIClient, namespace: String?, name: String, uid: String?, policy: String) async throws {
        do {
            try await client.delete(T.self, namespace: namespace, name: name, propagationPolicy: policy, uid: uid)
        } catch where isNotFound(error) {}
    }

    func removeOwner(client: APIClient, namespace: String?, name: String, ownerUID: String) async throws {
        for _ in 0..<5 {
            var o: T
            do { o = try await client.get(T.self, namespace: namespace, name: name) } catch where isNotFound(error) { return }
            let refs = o.metadata.ownerReferences ?? []
            guard refs.contains(where: { $0.uid == ownerUID }) else { return }
            o.metadata.ownerReferences = refs.filter { $0.uid != ownerUID }
            if o.metadata.ownerReferences?.isEmpty == true { o.metadata.ownerReferences = nil }
            do {
                _ = try await client.update(o)
                return
            } catch where isConflict(error) {
                continue
            }
        }
        throw Status(message: "\(T.kind) \(name): could not remove owner \(ownerUID) (conflicts)", reason: "Conflict", code: 409)
    }

    func removeFinalizer(client: APIClient, namespace: String?, name: String, finalizer: String) async throws {
        for _ in 0..<5 {
            var o: T
            do { o = try await client.get(T.self, namespace: namespace, name: name) } catch where isNotFound(error) { return }
            guard (o.metadata.finalizers ?? []).contains(finalizer) else { return }
            o.metadata.finalizers = o.metadata.finalizers?.filter { $0 != finalizer }
            if o.metadata.finalizers?.isEmpty == true { o.metadata.finalizers = nil }
            do {
                _ = try await client.update(o)
                return
            } catch where isConflict(error) || isNotFound(error) {
                continue
            }
        }
    }
}
