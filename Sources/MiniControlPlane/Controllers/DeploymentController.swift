import Foundation
import KubeAPI
import Logging

/// Rolls Deployments out through ReplicaSets as kube-controller-manager does: one ReplicaSet
/// per template (named `<deployment>-<pod-template-hash>`), RollingUpdate bounded by
/// maxSurge/maxUnavailable or Recreate, revision annotations that `kubectl rollout
/// history|undo` read, revision history cleanup, Available/Progressing conditions with the
/// progress deadline, and ScalingReplicaSet events.
public struct DeploymentController: Controller {
    public static let name = "deployment"
    static let revisionAnnotation = "deployment.kubernetes.io/revision"
    static let desiredAnnotation = "deployment.kubernetes.io/desired-replicas"
    static let maxAnnotation = "deployment.kubernetes.io/max-replicas"
    static let hashLabel = "pod-template-hash"

    let ctx: ControllerContext
    let recorder: EventRecorder
    let deployments: Informer<Deployment>
    let sets: Informer<ReplicaSet>
    let pods: Informer<Pod>
    let queue = WorkQueue<String>()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        recorder = ctx.makeRecorder("deployment-controller")
        deployments = ctx.informers.informer(Deployment.self)
        sets = ctx.informers.informer(ReplicaSet.self)
        pods = ctx.informers.informer(Pod.self)
    }

    func register() async {
        let queue = self.queue, deployments = self.deployments, sets = self.sets
        await deployments.addHandler { e in
            switch e {
            case .added(let d), .updated(_, let d), .deleted(let d): await queue.add(queueKey(d))
            }
        }
        @Sendable func ownerOf(_ rs: ReplicaSet) async {
            if let ref = rs.metadata.controllerRef {
                if ref.kind == "Deployment" { await queue.add((rs.metadata.namespace ?? "") + "/" + ref.name) }
                return
            }
            for d in await deployments.items(namespace: rs.metadata.namespace) {
                if let sel = d.spec?.selector, let expr = try? LabelSelectorExpr(sel), !expr.isEmpty,
                   expr.matches(rs.metadata.labels ?? [:]) { await queue.add(queueKey(d)) }
            }
        }
        await sets.addHandler { e in
            switch e {
            case .added(let rs), .deleted(let rs): await ownerOf(rs)
            case .updated(let old, let new):
                await ownerOf(new)
                if old.metadata.controllerRef?.uid != new.metadata.controllerRef?.uid { await ownerOf(old) }
            }
        }
        // Recreate waits for the old pods to be gone.
        await pods.addHandler { e in
            guard case .deleted(let p) = e, let ref = p.metadata.controllerRef, ref.kind == "ReplicaSet",
                  let rs = await sets.get(namespace: p.metadata.namespace, name: ref.name),
                  let dref = rs.metadata.controllerRef, dref.kind == "Deployment" else { return }
            await queue.add((p.metadata.namespace ?? "") + "/" + dref.name)
        }
    }

    // MARK: sync

    func sync(_ key: String) async throws {
        let (ns, name) = splitKey(key)
        guard let d = await deployments.get(namespace: ns, name: name), let spec = d.spec else { return }
        guard let selector = try? LabelSelectorExpr(spec.selector), !selector.isEmpty else {
            recorder.event(d, type: EventRecorder.warning, reason: "SelectingAll",
                               message: "This deployment is selecting all pods. A non-empty selector is required.")
            return
        }
        var all = try await claimReplicaSets(d, selector: selector)
        if d.metadata.deletionTimestamp != nil {
            try await syncStatus(d, all: all, new: nil)
            return
        }
        if spec.paused == true {
            try await syncStatus(d, all: all, new: findNew(d, all))
            return
        }
        let (newRS, created) = try await ensureNewReplicaSet(d, all: &all)
        let olds = all.filter { $0.metadata.uid != newRS.metadata.uid }
        if created {
            recorder.event(d, reason: "ScalingReplicaSet",
                               message: "Scaled up replica set \(newRS.name) from 0 to \(newRS.spec?.replicas ?? 0)")
        }
        if spec.strategy?.type == "Recreate" {
            try await rolloutRecreate(d, new: newRS, olds: olds, all: &all)
        } else {
            try await rolloutRolling(d, new: newRS, olds: olds, all: &all)
        }
        let current = all.first { $0.metadata.uid == newRS.metadata.uid } ?? newRS
        if isComplete(d, all: all, new: current) { try await cleanup(d, olds: all.filter { $0.metadata.uid != newRS.metadata.uid }) }
        try await syncStatus(d, all: all, new: current, createdNew: created)
    }

    /// The ReplicaSets this Deployment controls (adopting matching orphans).
    func claimReplicaSets(_ d: Deployment, selector: LabelSelectorExpr) async throws -> [ReplicaSet] {
        var out: [ReplicaSet] = []
        for rs in await sets.items(namespace: d.metadata.namespace) {
            if let ref = rs.metadata.controllerRef {
                if ref.uid == d.metadata.uid { out.append(rs) }
            } else if selector.matches(rs.metadata.labels ?? [:]), d.metadata.deletionTimestamp == nil {
                var next = rs
                next.metadata.ownerReferences = (rs.metadata.ownerReferences ?? []) + [controllerReference(d)]
                if let adopted = try? await ctx.client.update(next) { out.append(adopted) }
            }
        }
        return out.sorted { ($0.metadata.creationTimestamp ?? "", $0.name) < ($1.metadata.creationTimestamp ?? "", $1.name) }
    }

    static func templateWithoutHash(_ t: PodTemplateSpec?) -> JSONValue {
        var v = (try? JSONValueEncoder().encode(t)) ?? .null
        v.setValue(nil, at: ["metadata", "labels", hashLabel])
        if v.value(at: ["metadata", "labels"])?.objectValue?.isEmpty == true { v.setValue(nil, at: ["metadata", "labels"]) }
        return canonical(v)
    }

    func findNew(_ d: Deployment, _ all: [ReplicaSet]) -> ReplicaSet? {
        let want = Self.templateWithoutHash(d.spec?.template)
        // the oldest one with the same template, as upstream picks
        return all.first { Self.templateWithoutHash($0.spec?.template) == want }
    }

    static func revision(_ rs: ReplicaSet) -> Int64 { Int64(rs.metadata.annotations?[revisionAnnotation] ?? "") ?? 0 }

    func maxSurge(_ d: Deployment) -> Int32 {
        guard d.spec?.strategy?.type != "Recreate" else { return 0 }
        return resolveIntOrPercent(d.spec?.strategy?.rollingUpdate?.maxSurge, total: d.spec?.replicas ?? 1, roundUp: true, default: "25%")
    }

    func maxUnavailable(_ d: Deployment) -> Int32 {
        guard d.spec?.strategy?.type != "Recreate" else { return 0 }
        let replicas = d.spec?.replicas ?? 1
        var mu = resolveIntOrPercent(d.spec?.strategy?.rollingUpdate?.maxUnavailable, total: replicas, roundUp: false, default: "25%")
        // both zero would deadlock: upstream then allows one unavailable
        if mu == 0 && maxSurge(d) == 0 { mu = 1 }
        return min(mu, replicas)
    }

    /// Finds or creates the ReplicaSet for the current template and keeps its revision the newest.
    func ensureNewReplicaSet(_ d: Deployment, all: inout [ReplicaSet]) async throws -> (ReplicaSet, Bool) {
        let maxOld = all.map(Self.revision).max() ?? 0
        let replicas = d.spec?.replicas ?? 1
        if var existing = findNew(d, all) {
            let rev = Self.revision(existing)
            let isNewest = all.allSatisfy { $0.metadata.uid == existing.metadata.uid || Self.revision($0) < rev }
            if !isNewest || existing.metadata.annotations?[Self.desiredAnnotation] != String(replicas) {
                var ann = existing.metadata.annotations ?? [:]
                if !isNewest { ann[Self.revisionAnnotation] = String(maxOld + 1) }
                ann[Self.desiredAnnotation] = String(replicas)
                ann[Self.maxAnnotation] = String(replicas + maxSurge(d))
                existing.metadata.annotations = ann
                existing = try await ctx.client.update(existing)
                replace(&all, existing)
            }
            try await setDeploymentRevision(d, Self.revision(existing))
            return (existing, false)
        }
        var collisions = d.status?.collisionCount
        for _ in 0..<5 {
            let hash = templateHash(d.spec?.template, collisionCount: collisions)
            var template = d.spec?.template ?? PodTemplateSpec()
            var tmeta = template.metadata ?? ObjectMeta()
            tmeta.labels = (tmeta.labels ?? [:]).merging([Self.hashLabel: hash]) { _, n in n }
            template.metadata = tmeta
            var selector = d.spec!.selector
            selector.matchLabels = (selector.matchLabels ?? [:]).merging([Self.hashLabel: hash]) { _, n in n }
            var meta = ObjectMeta(name: "\(d.name)-\(hash)", namespace: d.metadata.namespace, labels: tmeta.labels)
            meta.ownerReferences = [controllerReference(d)]
            meta.annotations = [Self.revisionAnnotation: String(maxOld + 1), Self.desiredAnnotation: String(replicas),
                                Self.maxAnnotation: String(replicas + maxSurge(d))]
            // new replica count: Recreate starts at 0 until the old pods are gone; rolling may surge
            let start = d.spec?.strategy?.type == "Recreate" ? 0 : newReplicaCount(d, new: nil, all: all)
            var rs = ReplicaSet(metadata: meta)
            rs.spec = ReplicaSetSpec(replicas: start, minReadySeconds: d.spec?.minReadySeconds, selector: selector, template: template)
            do {
                let created = try await ctx.client.create(rs)
                all.append(created)
                try await setDeploymentRevision(d, maxOld + 1)
                return (created, true)
            } catch where isAlreadyExists(error) {
                // same name, different template: a hash collision; bump the count and retry
                if let other = try? await ctx.client.get(ReplicaSet.self, namespace: d.metadata.namespace, name: meta.name!),
                   Self.templateWithoutHash(other.spec?.template) == Self.templateWithoutHash(d.spec?.template),
                   other.metadata.controllerRef?.uid == d.metadata.uid
                {
                    all.append(other)
                    return (other, false)
                }
                collisions = (collisions ?? 0) + 1
                var next = d
                var st = d.status ?? DeploymentStatus()
                st.collisionCount = collisions
                next.status = st
                _ = try? await ctx.client.updateStatus(next)
            }
        }
        throw Status(message: "deployment \(d.name): cannot create a new replica set (hash collisions)", reason: "Conflict", code: 409)
    }

    func setDeploymentRevision(_ d: Deployment, _ rev: Int64) async throws {
        guard d.metadata.annotations?[Self.revisionAnnotation] != String(rev) else { return }
        let patch: JSONValue = .object(["metadata": .object(["annotations": .object([Self.revisionAnnotation: .string(String(rev))])])])
        _ = try await ctx.client.mergePatch(Deployment.self, namespace: d.metadata.namespace, name: d.name, patch: patch)
    }

    func replace(_ all: inout [ReplicaSet], _ rs: ReplicaSet) {
        if let i = all.firstIndex(where: { $0.metadata.uid == rs.metadata.uid }) { all[i] = rs } else { all.append(rs) }
    }

    /// How far the new ReplicaSet may grow now (upstream NewRSNewReplicas).
    func newReplicaCount(_ d: Deployment, new: ReplicaSet?, all: [ReplicaSet]) -> Int32 {
        let replicas = d.spec?.replicas ?? 1
        let current = new?.spec?.replicas ?? 0
        let total = all.reduce(Int32(0)) { $0 + ($1.spec?.replicas ?? 0) }
        let maxTotal = replicas + maxSurge(d)
        if total >= maxTotal { return current }
        return current + min(maxTotal - total, max(0, replicas - current))
    }

    func scale(_ d: Deployment, _ rs: ReplicaSet, to n: Int32, all: inout [ReplicaSet]) async throws {
        let old = rs.spec?.replicas ?? 0
        let replicas = d.spec?.replicas ?? 1
        var next = rs
        next.spec?.replicas = n
        var ann = rs.metadata.annotations ?? [:]
        ann[Self.desiredAnnotation] = String(replicas)
        ann[Self.maxAnnotation] = String(replicas + maxSurge(d))
        next.metadata.annotations = ann
        guard old != n || next.metadata.annotations != rs.metadata.annotations else { return }
        let updated = try await ctx.client.update(next)
        replace(&all, updated)
        if old != n {
            recorder.event(d, reason: "ScalingReplicaSet",
                               message: "Scaled \(n > old ? "up" : "down") replica set \(rs.name) from \(old) to \(n)")
        }
    }

    func rolloutRolling(_ d: Deployment, new: ReplicaSet, olds: [ReplicaSet], all: inout [ReplicaSet]) async throws {
        let replicas = d.spec?.replicas ?? 1
        // scale the new one up (or down if it has too many)
        let cur = all.first { $0.metadata.uid == new.metadata.uid } ?? new
        let curN = cur.spec?.replicas ?? 0
        if curN > replicas {
            try await scale(d, cur, to: replicas, all: &all)
        } else if curN < replicas {
            let n = newReplicaCount(d, new: cur, all: all)
            if n != curN { try await scale(d, cur, to: n, all: &all) }
        }
        // scale old ones down as far as availability allows
        let oldIDs = Set(olds.compactMap(\.metadata.uid))
        var oldSets = all.filter { oldIDs.contains($0.metadata.uid ?? "") }
        let oldCount = oldSets.reduce(Int32(0)) { $0 + ($1.spec?.replicas ?? 0) }
        guard oldCount > 0 else { return }
        let newRS = all.first { $0.metadata.uid == new.metadata.uid } ?? new
        let allCount = all.reduce(Int32(0)) { $0 + ($1.spec?.replicas ?? 0) }
        let minAvailable = replicas - maxUnavailable(d)
        let newUnavailable = max(0, (newRS.spec?.replicas ?? 0) - (newRS.status?.availableReplicas ?? 0))
        var maxScaledDown = allCount - minAvailable - newUnavailable
        guard maxScaledDown > 0 else { return }
        // first the old pods that are not available anyway
        oldSets.sort { ($0.metadata.creationTimestamp ?? "", $0.name) < ($1.metadata.creationTimestamp ?? "", $1.name) }
        for rs in oldSets where maxScaledDown > 0 {
            let n = rs.spec?.replicas ?? 0
            let unhealthy = n - (rs.status?.availableReplicas ?? 0)
            guard unhealthy > 0, n > 0 else { continue }
            let down = min(maxScaledDown, unhealthy)
            try await scale(d, rs, to: n - down, all: &all)
            maxScaledDown -= down
        }
        // then available ones, keeping minAvailable
        let available = all.reduce(Int32(0)) { $0 + ($1.status?.availableReplicas ?? 0) }
        var budget = available - minAvailable
        guard budget > 0 else { return }
        oldSets = all.filter { oldIDs.contains($0.metadata.uid ?? "") }
            .sorted { ($0.metadata.creationTimestamp ?? "", $0.name) < ($1.metadata.creationTimestamp ?? "", $1.name) }
        for rs in oldSets where budget > 0 {
            let n = rs.spec?.replicas ?? 0
            guard n > 0 else { continue }
            let down = min(n, budget)
            try await scale(d, rs, to: n - down, all: &all)
            budget -= down
        }
    }

    func rolloutRecreate(_ d: Deployment, new: ReplicaSet, olds: [ReplicaSet], all: inout [ReplicaSet]) async throws {
        for rs in olds where (rs.spec?.replicas ?? 0) > 0 { try await scale(d, rs, to: 0, all: &all) }
        let oldIDs = Set(olds.compactMap(\.metadata.uid))
        // wait until no pod of an old ReplicaSet is left running
        let oldPods = await pods.filter { p in
            p.metadata.namespace == d.metadata.namespace && oldIDs.contains(p.metadata.controllerRef?.uid ?? "")
                && p.phase != "Succeeded" && p.phase != "Failed"
        }
        if !oldPods.isEmpty { return }
        let cur = all.first { $0.metadata.uid == new.metadata.uid } ?? new
        if (cur.spec?.replicas ?? 0) != (d.spec?.replicas ?? 1) { try await scale(d, cur, to: d.spec?.replicas ?? 1, all: &all) }
    }

    func isComplete(_ d: Deployment, all: [ReplicaSet], new: ReplicaSet) -> Bool {
        let replicas = d.spec?.replicas ?? 1
        let total = all.reduce(Int32(0)) { $0 + ($1.status?.replicas ?? 0) }
        return (new.status?.replicas ?? 0) == replicas && (new.status?.availableReplicas ?? 0) == replicas && total == replicas
            && (new.status?.observedGeneration ?? 0) >= (new.metadata.generation ?? 0)
    }

    /// Deletes old, empty ReplicaSets beyond `revisionHistoryLimit` (default 10), oldest first.
    func cleanup(_ d: Deployment, olds: [ReplicaSet]) async throws {
        let limit = Int(d.spec?.revisionHistoryLimit ?? 10)
        let empty = olds.filter { ($0.spec?.replicas ?? 0) == 0 && ($0.status?.replicas ?? 0) == 0 && $0.metadata.deletionTimestamp == nil }
            .sorted { Self.revision($0) < Self.revision($1) }
        guard empty.count > limit else { return }
        for rs in empty.prefix(empty.count - limit) {
            try? await ctx.client.delete(ReplicaSet.self, namespace: rs.metadata.namespace, name: rs.name, uid: rs.metadata.uid)
        }
    }

    // MARK: status

    func syncStatus(_ d: Deployment, all: [ReplicaSet], new: ReplicaSet?, createdNew: Bool = false) async throws {
        let replicas = d.spec?.replicas ?? 1
        var st = d.status ?? DeploymentStatus()
        st.observedGeneration = d.metadata.generation
        st.replicas = all.reduce(Int32(0)) { $0 + ($1.status?.replicas ?? 0) }
        st.updatedReplicas = new?.status?.replicas ?? 0
        st.readyReplicas = all.reduce(Int32(0)) { $0 + ($1.status?.readyReplicas ?? 0) }
        st.availableReplicas = all.reduce(Int32(0)) { $0 + ($1.status?.availableReplicas ?? 0) }
        st.unavailableReplicas = max(0, replicas - (st.availableReplicas ?? 0))
        let now = KubeTime.now()
        var conds = st.conditions ?? []
        func set(_ type: String, _ status: String, _ reason: String, _ message: String) {
            if let i = conds.firstIndex(where: { $0.type == type }) {
                let changed = conds[i].status != status
                if changed || conds[i].reason != reason || conds[i].message != message {
                    conds[i].lastUpdateTime = now
                    if changed { conds[i].lastTransitionTime = now }
                    conds[i].status = status
                    conds[i].reason = reason
                    conds[i].message = message
                }
            } else {
                var c = Condition(type: type, status: status, reason: reason, message: message)
                c.lastUpdateTime = now
                c.lastTransitionTime = now
                conds.append(c)
            }
        }
        if (st.availableReplicas ?? 0) >= replicas - maxUnavailable(d) {
            set("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        } else {
            set("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
        }
        var requeueAfter: Duration? = nil
        if let new, d.spec?.paused != true {
            let progressing = conds.first { $0.type == "Progressing" }
            if isComplete(d, all: all, new: new) {
                set("Progressing", "True", "NewReplicaSetAvailable", "ReplicaSet \"\(new.name)\" has successfully progressed.")
            } else if createdNew {
                set("Progressing", "True", "NewReplicaSetCreated", "Created new replica set \"\(new.name)\"")
            } else if progressing == nil {
                set("Progressing", "True", "FoundNewReplicaSet", "Found new replica set \"\(new.name)\"")
            } else if progressing?.reason != "ProgressDeadlineExceeded" {
                let deadline = Double(d.spec?.progressDeadlineSeconds ?? 600)
                let changedPods = st.updatedReplicas != d.status?.updatedReplicas || st.availableReplicas != d.status?.availableReplicas
                    || st.readyReplicas != d.status?.readyReplicas || st.replicas != d.status?.replicas
                if changedPods || progressing?.reason == "NewReplicaSetAvailable" {
                    set("Progressing", "True", "ReplicaSetUpdated", "ReplicaSet \"\(new.name)\" is progressing.")
                    if let i = conds.firstIndex(where: { $0.type == "Progressing" }) { conds[i].lastUpdateTime = now }
                    requeueAfter = .seconds(deadline)
                } else if let last = KubeTime.parse(progressing?.lastUpdateTime) {
                    let left = deadline - Date().timeIntervalSince(last)
                    if left <= 0 {
                        set("Progressing", "False", "ProgressDeadlineExceeded", "ReplicaSet \"\(new.name)\" has timed out progressing.")
                        recorder.event(d, type: EventRecorder.warning, reason: "ProgressDeadlineExceeded",
                                           message: "Deployment \"\(d.name)\" has timed out progressing.")
                    } else {
                        requeueAfter = .seconds(left + 0.5)
                    }
                }
            }
        }
        st.conditions = conds
        if let requeueAfter { queue.add(queueKey(d), after: requeueAfter) }
        guard st != d.status else { return }
        var next = d
        next.status = st
        do {
            _ = try await ctx.client.updateStatus(next)
        } catch where isNotFound(error) {
            return
        }
    }
}
