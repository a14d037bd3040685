import Foundation
import KubeAPI
import Logging

/// StatefulSets: pods `<set>-<ordinal>` with stable names, created in order 0…N-1 (each waits
/// for the previous to be Running and Ready under OrderedReady, all at once under Parallel),
/// removed from the highest ordinal down, and rolled to a new template in reverse ordinal
/// order one pod at a time down to `partition`. Revisions are ControllerRevisions named
/// `<set>-<hash>`, recorded on pods as `controller-revision-hash`.
public struct StatefulSetController: Controller {
    public static let name = "statefulset"
    static let revisionLabel = "controller-revision-hash"
    let ctx: ControllerContext
    let recorder: EventRecorder
    let sets: Informer<StatefulSet>
    let pods: Informer<Pod>
    let revisions: Informer<ControllerRevision>
    let queue = WorkQueue<String>()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        recorder = ctx.makeRecorder("statefulset-controller")
        sets = ctx.informers.informer(StatefulSet.self)
        pods = ctx.informers.informer(Pod.self)
        revisions = ctx.informers.informer(ControllerRevision.self)
    }

    func register() async {
        let queue = self.queue
        await sets.addHandler { e in
            switch e {
            case .added(let s), .updated(_, let s), .deleted(let s): await queue.add(queueKey(s))
            }
        }
        await pods.addHandler { e in
            if let k = controllerKey(of: e.object, kind: "StatefulSet") { await queue.add(k) }
        }
    }

    static func ordinal(of pod: Pod, set: String) -> Int? {
        let prefix = set + "-"
        guard pod.name.hasPrefix(prefix), let n = Int(pod.name.dropFirst(prefix.count)), n >= 0 else { return nil }
        return n
    }

    static func partition(_ s: StatefulSet) -> Int {
        Int(s.spec?.updateStrategy?.value(at: ["rollingUpdate", "partition"])?.intValue ?? 0)
    }

    /// Finds or records the ControllerRevision of the current template.
    func updateRevision(_ s: StatefulSet, owned: [ControllerRevision]) async throws -> ControllerRevision {
        let data: JSONValue = .object(["spec": .object(["template": canonical((try? JSONValueEncoder().encode(s.spec?.template)) ?? .null),
                                                        "$patch": .string("replace")])])
        let hash = templateHash(s.spec?.template, collisionCount: s.status?.collisionCount)
        let name = "\(s.name)-\(hash)"
        if let r = owned.first(where: { $0.name == name }) { return r }
        var meta = ObjectMeta(name: name, namespace: s.metadata.namespace, labels: s.spec?.selector.matchLabels)
        meta.labels = (meta.labels ?? [:]).merging([Self.revisionLabel: hash]) { _, n in n }
        meta.ownerReferences = [controllerReference(s)]
        let next = (owned.map(\.revision).max() ?? 0) + 1
        do {
            return try await ctx.client.create(ControllerRevision(metadata: meta, data: data, revision: next))
        } catch where isAlreadyExists(error) {
            return try await ctx.client.get(ControllerRevision.self, namespace: s.metadata.namespace, name: name)
        }
    }

    func template(of rev: ControllerRevision?, fallback: PodTemplateSpec?) -> PodTemplateSpec? {
        guard let t = rev?.data?.value(at: ["spec", "template"]) else { return fallback }
        return (try? JSONValueDecoder().decode(PodTemplateSpec.self, from: t)) ?? fallback
    }

    func newPod(_ s: StatefulSet, ordinal: Int, revision: ControllerRevision, template: PodTemplateSpec?) -> Pod {
        let name = "\(s.name)-\(ordinal)"
        var pod = podFromTemplate(template, namespace: s.metadata.namespace ?? "default", owner: controllerReference(s), name: name,
                                  extraLabels: ["statefulset.kubernetes.io/pod-name": name, "apps.kubernetes.io/pod-index": String(ordinal),
                                                Self.revisionLabel: revision.name])
        pod.spec?.hostname = name
        if let svc = s.spec?.serviceName, !svc.isEmpty { pod.spec?.subdomain = svc }
        return pod
    }

    func sync(_ key: String) async throws {
        let (ns, name) = splitKey(key)
        guard let s = await sets.get(namespace: ns, name: name), let spec = s.spec,
              let selector = try? LabelSelectorExpr(spec.selector) else { return }
        let owned = await claimPods(s, selector: selector, pods: pods, client: ctx.client)
        let revs = await revisions.filter { $0.metadata.namespace == ns && $0.metadata.controllerRef?.uid == s.metadata.uid }
        let update = try await updateRevision(s, owned: revs)
        let currentName = s.status?.currentRevision ?? update.name
        let current = revs.first { $0.name == currentName } ?? update
        let replicas = Int(spec.replicas ?? 1)
        let parallel = spec.podManagementPolicy == "Parallel"
        let partition = Self.partition(s)
        var byOrdinal: [Int: Pod] = [:]
        var condemned: [Pod] = []
        for p in owned {
            guard let o = Self.ordinal(of: p, set: s.name) else { continue }
            if o < replicas { byOrdinal[o] = p } else { condemned.append(p) }
        }
        condemned.sort { (Self.ordinal(of: $0, set: s.name) ?? 0) > (Self.ordinal(of: $1, set: s.name) ?? 0) }
        var blocked = false
        if s.metadata.deletionTimestamp == nil {
            for o in 0..<replicas {
                if let p = byOrdinal[o] {
                    if p.phase == "Failed" || p.phase == "Succeeded" {
                        // a finished pod is replaced under the same name
                        if !p.isTerminating {
                            try? await ctx.client.delete(Pod.self, namespace: ns, name: p.name, uid: p.metadata.uid)
                            recorder.event(s, reason: "SuccessfulDelete", message: "delete Pod \(p.name) in StatefulSet \(s.name) successful")
                        }
                        if !parallel { blocked = true; break }
                        continue
                    }
                    if !parallel && (!p.isReady || p.phase != "Running" || p.isTerminating) { blocked = true; break }
                    continue
                }
                let rev = (currentName != update.name && o < partition) ? current : update
                let pod = newPod(s, ordinal: o, revision: rev, template: template(of: rev, fallback: spec.template))
                do {
                    let created = try await ctx.client.create(pod)
                    byOrdinal[o] = created
                    recorder.event(s, reason: "SuccessfulCreate", message: "create Pod \(pod.name) in StatefulSet \(s.name) successful")
                } catch where isAlreadyExists(error) {
                    // the informer has not seen it yet: next sync
                } catch {
                    recorder.event(s, type: EventRecorder.warning, reason: "FailedCreate",
                                       message: "create Pod \(pod.name) in StatefulSet \(s.name) failed error: \(error)")
                    throw error
                }
                if !parallel { blocked = true; break }
            }
            // scale down from the highest ordinal, one at a time unless Parallel
            if !blocked {
                for p in condemned {
                    if p.isTerminating { if !parallel { blocked = true; break } else { continue } }
                    try? await ctx.client.delete(Pod.self, namespace: ns, name: p.name, uid: p.metadata.uid)
                    recorder.event(s, reason: "SuccessfulDelete", message: "delete Pod \(p.name) in StatefulSet \(s.name) successful")
                    if !parallel { blocked = true; break }
                }
            }
            // rolling update: highest ordinal first, down to the partition, one pod at a time
            let onDelete = spec.updateStrategy?["type"]?.stringValue == "OnDelete"
            if !blocked && !onDelete && condemned.isEmpty {
                let allHealthy = (0..<replicas).allSatisfy { o in byOrdinal[o].map { $0.isReady && !$0.isTerminating } ?? false }
                if allHealthy {
                    for o in stride(from: replicas - 1, through: partition, by: -1) {
                        guard let p = byOrdinal[o], p.metadata.labels?[Self.revisionLabel] != update.name else { continue }
                        try? await ctx.client.delete(Pod.self, namespace: ns, name: p.name, uid: p.metadata.uid)
                        recorder.event(s, reason: "SuccessfulDelete", message: "delete Pod \(p.name) in StatefulSet \(s.name) successful")
                        break
                    }
                }
            }
        }
        // status
        let live = owned.filter { Self.ordinal(of: $0, set: s.name) != nil }
        var st = s.status ?? StatefulSetStatus()
        st.observedGeneration = s.metadata.generation
        st.replicas = Int32(live.count)
        st.readyReplicas = Int32(live.filter(\.isReady).count)
        st.availableReplicas = Int32(live.filter { $0.isAvailable(minReadySeconds: spec.minReadySeconds ?? 0) }.count)
        st.currentReplicas = Int32(live.filter { $0.metadata.labels?[Self.revisionLabel] == currentName }.count)
        st.updatedReplicas = Int32(live.filter { $0.metadata.labels?[Self.revisionLabel] == update.name }.count)
        st.updateRevision = update.name
        st.currentRevision = currentName
        if st.updatedReplicas == Int32(replicas) && st.readyReplicas == Int32(replicas) && live.count == replicas {
            st.currentRevision = update.name
            st.currentReplicas = st.updatedReplicas
        }
        st.collisionCount = st.collisionCount ?? 0
        if st != s.status {
            var next = s
            next.status = st
            do { _ = try await ctx.client.updateStatus(next) } catch where isNotFound(error) {}
        }
        // keep revisionHistoryLimit (default 10) unused revisions
        let limit = Int(spec.revisionHistoryLimit ?? 10)
        let inUse = Set(live.compactMap { $0.metadata.labels?[Self.revisionLabel] } + [update.name, st.currentRevision ?? ""])
        let unused = revs.filter { !inUse.contains($0.name) }.sorted { $0.revision < $1.revision }
        if unused.count > limit {
            for r in unused.prefix(unused.count - limit) {
                try? await ctx.client.delete(ControllerRevision.self, namespace: ns, name: r.name)
            }
        }
    }
}
