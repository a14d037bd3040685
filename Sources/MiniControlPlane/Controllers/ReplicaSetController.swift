import Foundation
import KubeAPI
import Logging

/// Keeps `spec.replicas` pods of a ReplicaSet's template running: adopts matching orphans,
/// releases pods that stopped matching, creates in slow-start batches, deletes the least
/// valuable pods first, and reports status. Events as upstream: SuccessfulCreate
/// "Created pod: x", SuccessfulDelete "Deleted pod: x", FailedCreate "Error creating: …".
public struct ReplicaSetController: Controller {
    public static let name = "replicaset"
    let ctx: ControllerContext
    let recorder: EventRecorder
    let sets: Informer<ReplicaSet>
    let pods: Informer<Pod>
    let queue = WorkQueue<String>()
    let expectations = Expectations()
    static let burstReplicas = 500

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        recorder = ctx.makeRecorder("replicaset-controller")
        sets = ctx.informers.informer(ReplicaSet.self)
        pods = ctx.informers.informer(Pod.self)
    }

    func register() async {
        let queue = self.queue, expectations = self.expectations, sets = self.sets
        await sets.addHandler { e in
            switch e {
            case .added(let rs), .updated(_, let rs): await queue.add(queueKey(rs))
            case .deleted(let rs):
                await expectations.forget(queueKey(rs))
                await queue.add(queueKey(rs))
            }
        }
        await pods.addHandler { e in
            await ReplicaSetController.podChanged(e, sets: sets, queue: queue, expectations: expectations)
        }
    }

    static func podChanged(_ e: InformerEvent<Pod>, sets: Informer<ReplicaSet>, queue: WorkQueue<String>,
                           expectations: Expectations) async
    {
        func owner(_ p: Pod) async -> String? {
            guard let ref = p.metadata.controllerRef, ref.kind == "ReplicaSet",
                  let rs = await sets.get(namespace: p.metadata.namespace, name: ref.name), rs.metadata.uid == ref.uid
            else { return nil }
            return queueKey(rs)
        }
        func orphanMatches(_ p: Pod) async {
            guard p.metadata.controllerRef == nil else { return }
            for rs in await sets.items(namespace: p.metadata.namespace) {
                guard let sel = rs.spec?.selector, let expr = try? LabelSelectorExpr(sel), !expr.isEmpty,
                      expr.matches(p.metadata.labels ?? [:]) else { continue }
                await queue.add(queueKey(rs))
            }
        }
        let podKey: (Pod) -> String = { queueKey($0) }
        switch e {
        case .added(let p):
            if let k = await owner(p) {
                if p.metadata.deletionTimestamp != nil { await expectations.deletionObserved(k, pod: podKey(p)) }
                else { await expectations.creationObserved(k) }
                await queue.add(k)
            } else {
                await orphanMatches(p)
            }
        case .updated(let old, let new):
            let ko = await owner(old), kn = await owner(new)
            if let kn, new.metadata.deletionTimestamp != nil, old.metadata.deletionTimestamp == nil {
                await expectations.deletionObserved(kn, pod: podKey(new))
            }
            if let ko, ko != kn { await queue.add(ko) }
            if let kn { await queue.add(kn) } else { await orphanMatches(new) }
            if old.metadata.labels != new.metadata.labels, kn == nil { await orphanMatches(old) }
        case .deleted(let p):
            if let k = await owner(p) {
                await expectations.deletionObserved(k, pod: podKey(p))
                await queue.add(k)
            }
        }
    }

    func sync(_ key: String) async throws {
        let (ns, name) = splitKey(key)
        guard let rs = await sets.get(namespace: ns, name: name) else {
            await expectations.forget(key)
            return
        }
        guard let spec = rs.spec, let selector = try? LabelSelectorExpr(spec.selector) else { return }
        let owned = await claimPods(rs, selector: selector, pods: pods, client: ctx.client)
        let active = owned.filter(\.isActive)
        var createError: (any Error)? = nil
        if await expectations.satisfied(key), rs.metadata.deletionTimestamp == nil {
            createError = await manage(rs, active: active, key: key)
        }
        try await updateStatus(rs, owned: owned, active: active, createError: createError)
        let minReady = spec.minReadySeconds ?? 0
        if minReady > 0, active.contains(where: { $0.isReady && !$0.isAvailable(minReadySeconds: minReady) }) {
            queue.add(key, after: .seconds(Int64(minReady)))
        }
        if let createError { throw createError }
    }

    /// Creates or deletes pods towards `spec.replicas`; returns the first create error.
    func manage(_ rs: ReplicaSet, active: [Pod], key: String) async -> (any Error)? {
        let want = Int(rs.spec?.replicas ?? 1)
        let diff = active.count - want
        let ns = rs.metadata.namespace ?? "default"
        if diff < 0 {
            let n = min(-diff, Self.burstReplicas)
            await expectations.expect(key, creations: n)
            let template = rs.spec?.template
            let ref = controllerReference(rs)
            var created = 0
            var batch = 1
            var firstError: (any Error)? = nil
            // slow start: 1, 2, 4, … so a template that cannot work fails fast
            while created < n {
                let size = min(batch, n - created)
                let results = await withTaskGroup(of: Result<Pod, any Error>.self) { g in
                    for _ in 0..<size {
                        g.addTask {
                            do {
                                return .success(try await self.ctx.client.create(
                                    podFromTemplate(template, namespace: ns, owner: ref, generateName: rs.name + "-")))
                            } catch { return .failure(error) }
                        }
                    }
                    var out: [Result<Pod, any Error>] = []
                    for await r in g { out.append(r) }
                    return out
                }
                var failed = 0
                for r in results {
                    switch r {
                    case .success(let p):
                        recorder.event(rs, reason: "SuccessfulCreate", message: "Created pod: \(p.name)")
                    case .failure(let error):
                        failed += 1
                        firstError = firstError ?? error
                        recorder.event(rs, type: EventRecorder.warning, reason: "FailedCreate", message: "Error creating: \(error)")
                    }
                }
                created += size
                if failed > 0 {
                    await expectations.creationFailed(key, count: failed + (n - created))
                    break
                }
                batch *= 2
            }
            return firstError
        } else if diff > 0 {
            let victims = Array(Self.deletionOrder(active).prefix(min(diff, Self.burstReplicas)))
            await expectations.expect(key, deletions: victims.map(queueKey))
            for p in victims {
                do {
                    try await ctx.client.delete(Pod.self, namespace: ns, name: p.name, uid: p.metadata.uid)
                    recorder.event(rs, reason: "SuccessfulDelete", message: "Deleted pod: \(p.name)")
                } catch {
                    await expectations.deletionObserved(key, pod: queueKey(p))
                    if !isNotFound(error) {
                        recorder.event(rs, type: EventRecorder.warning, reason: "FailedDelete", message: "Error deleting: \(error)")
                    }
                }
            }
        }
        return nil
    }

    /// The order upstream deletes pods in when scaling down: unscheduled before scheduled,
    /// pending before running, not ready before ready, recently ready before long ready, more
    /// restarts before fewer, newer before older.
    static func deletionOrder(_ pods: [Pod]) -> [Pod] {
        func phaseRank(_ p: Pod) -> Int { ["Pending": 0, "Unknown": 1, "Running": 2][p.phase] ?? 3 }
        return pods.sorted { a, b in
            let sa = !(a.spec?.nodeName ?? "").isEmpty, sb = !(b.spec?.nodeName ?? "").isEmpty
            if sa != sb { return !sa }
            if phaseRank(a) != phaseRank(b) { return phaseRank(a) < phaseRank(b) }
            if a.isReady != b.isReady { return !a.isReady }
            if a.isReady, b.isReady {
                let ta = a.readyCondition?.lastTransitionTime ?? "", tb = b.readyCondition?.lastTransitionTime ?? ""
                if ta != tb { return ta > tb }
            }
            if a.restartCount != b.restartCount { return a.restartCount > b.restartCount }
            let ca = a.metadata.creationTimestamp ?? "", cb = b.metadata.creationTimestamp ?? ""
            if ca != cb { return ca > cb }
            return a.name > b.name
        }
    }

    func updateStatus(_ rs: ReplicaSet, owned: [Pod], active: [Pod], createError: (any Error)?) async throws {
        let templateLabels = rs.spec?.template?.metadata?.labels ?? [:]
        let minReady = rs.spec?.minReadySeconds ?? 0
        var st = rs.status ?? ReplicaSetStatus()
        st.replicas = Int32(active.count)
        st.fullyLabeledReplicas = Int32(active.filter { p in templateLabels.allSatisfy { p.metadata.labels?[$0.key] == $0.value } }.count)
        st.readyReplicas = Int32(active.filter(\.isReady).count)
        st.availableReplicas = Int32(active.filter { $0.isAvailable(minReadySeconds: minReady) }.count)
        st.observedGeneration = rs.metadata.generation
        var conds = (st.conditions ?? []).filter { $0.type != "ReplicaFailure" }
        if let createError {
            var c = Condition(type: "ReplicaFailure", status: "True", reason: "FailedCreate", message: "\(createError)")
            c.lastTransitionTime = KubeTime.now()
            conds.append(c)
        }
        st.conditions = conds.isEmpty ? nil : conds
        guard st != rs.status else { return }
        var next = rs
        next.status = st
        do {
            _ = try await ctx.client.updateStatus(next)
        } catch where isNotFound(error) {
            return
        }
    }
}
