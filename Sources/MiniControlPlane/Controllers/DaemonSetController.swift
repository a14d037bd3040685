import Foundation
import KubeAPI
import Logging

/// DaemonSets: one pod on every node the pod may run on (nodeSelector, untolerated
/// NoSchedule/NoExecute taints, unschedulable nodes are tolerated as upstream does), bound to
/// its node through node affinity on `metadata.name` plus `spec.nodeName`; pods on nodes that
/// no longer qualify (or are gone) are deleted; a template change replaces pods one node at a time.
public struct DaemonSetController: Controller {
    public static let name = "daemonset"
    static let hashLabel = "controller-revision-hash"
    let ctx: ControllerContext
    let recorder: EventRecorder
    let sets: Informer<DaemonSet>
    let pods: Informer<Pod>
    let nodes: Informer<Node>
    let queue = WorkQueue<String>()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        recorder = ctx.makeRecorder("daemonset-controller")
        sets = ctx.informers.informer(DaemonSet.self)
        pods = ctx.informers.informer(Pod.self)
        nodes = ctx.informers.informer(Node.self)
    }

    func register() async {
        let queue = self.queue, sets = self.sets
        await sets.addHandler { e in
            switch e {
            case .added(let s), .updated(_, let s), .deleted(let s): await queue.add(queueKey(s))
            }
        }
        await pods.addHandler { e in
            if let k = controllerKey(of: e.object, kind: "DaemonSet") { await queue.add(k) }
        }
        await nodes.addHandler { _ in
            for s in await sets.items() { await queue.add(queueKey(s)) }
        }
    }

    /// Whether a daemon pod with `spec` should run on `node`.
    static func shouldRun(_ spec: PodSpec?, on node: Node) -> Bool {
        if node.metadata.deletionTimestamp != nil { return false }
        let labels = node.metadata.labels ?? [:]
        for (k, v) in spec?.nodeSelector ?? [:] where labels[k] != v { return false }
        let tolerations = (spec?.tolerations ?? []) + daemonTolerations
        for t in node.spec?.taints ?? [] where t.effect == "NoSchedule" || t.effect == "NoExecute" {
            if !tolerations.contains(where: { tolerates($0, t) }) { return false }
        }
        return true
    }

    /// The tolerations upstream adds to every daemon pod.
    static let daemonTolerations: [Toleration] = [
        Toleration(key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute"),
        Toleration(key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute"),
        Toleration(key: "node.kubernetes.io/disk-pressure", operator: "Exists", effect: "NoSchedule"),
        Toleration(key: "node.kubernetes.io/memory-pressure", operator: "Exists", effect: "NoSchedule"),
        Toleration(key: "node.kubernetes.io/pid-pressure", operator: "Exists", effect: "NoSchedule"),
        Toleration(key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule"),
    ]

    func sync(_ key: String) async throws {
        let (ns, name) = splitKey(key)
        guard let ds = await sets.get(namespace: ns, name: name), let spec = ds.spec,
              let selector = try? LabelSelectorExpr(spec.selector) else { return }
        let owned = await claimPods(ds, selector: selector, pods: pods, client: ctx.client)
        let hash = templateHash(spec.template)
        let allNodes = await nodes.items()
        var byNode: [String: [Pod]] = [:]
        for p in owned where !p.isTerminating { byNode[p.spec?.nodeName ?? "", default: []].append(p) }
        var desired = 0, ready = 0, available = 0, updated = 0, misscheduled = 0, current = 0
        if ds.metadata.deletionTimestamp == nil {
            let maxUnavailable = resolveIntOrPercent(
                spec.updateStrategy?.value(at: ["rollingUpdate", "maxUnavailable"]).flatMap { v -> IntOrString? in
                    if let i = v.intValue { return .int(Int32(i)) }
                    return v.stringValue.map { .string($0) }
                }, total: Int32(max(1, allNodes.count)), roundUp: false, default: "1")
            var unavailable = 0
            var outdated: [Pod] = []
            for node in allNodes.sorted(by: { $0.name < $1.name }) {
                let here = byNode[node.name] ?? []
                if Self.shouldRun(spec.template.spec, on: node) {
                    desired += 1
                    if here.isEmpty {
                        unavailable += 1
                        var pod = podFromTemplate(spec.template, namespace: ns, owner: controllerReference(ds), generateName: ds.name + "-",
                                                  extraLabels: [Self.hashLabel: hash, "pod-template-generation": String(ds.metadata.generation ?? 1)])
                        pod.spec?.nodeName = node.name
                        pod.spec?.affinity = .object(["nodeAffinity": .object(["requiredDuringSchedulingIgnoredDuringExecution": .object([
                            "nodeSelectorTerms": .array([.object(["matchFields": .array([.object([
                                "key": .string("metadata.name"), "operator": .string("In"), "values": .array([.string(node.name)]),
                            ])])])]),
                        ])])])
                        let own = pod.spec?.tolerations ?? []
                        pod.spec?.tolerations = own + Self.daemonTolerations.filter { t in
                            !own.contains { $0.key == t.key && $0.effect == t.effect }
                        }
                        do {
                            let created = try await ctx.client.create(pod)
                            recorder.event(ds, reason: "SuccessfulCreate", message: "Created pod: \(created.name)")
                        } catch {
                            recorder.event(ds, type: EventRecorder.warning, reason: "FailedCreate", message: "Error creating: \(error)")
                        }
                        continue
                    }
                    current += 1
                    // more than one: keep the oldest
                    for extra in here.sorted(by: { ($0.metadata.creationTimestamp ?? "") < ($1.metadata.creationTimestamp ?? "") }).dropFirst() {
                        try? await ctx.client.delete(Pod.self, namespace: ns, name: extra.name, uid: extra.metadata.uid)
                        recorder.event(ds, reason: "SuccessfulDelete", message: "Deleted pod: \(extra.name)")
                    }
                    let p = here[0]
                    if p.isReady { ready += 1 }
                    if p.isAvailable(minReadySeconds: spec.minReadySeconds ?? 0) { available += 1 } else { unavailable += 1 }
                    if p.metadata.labels?[Self.hashLabel] == hash { updated += 1 } else { outdated.append(p) }
                } else if !here.isEmpty {
                    misscheduled += here.count
                    for p in here {
                        try? await ctx.client.delete(Pod.self, namespace: ns, name: p.name, uid: p.metadata.uid)
                        recorder.event(ds, reason: "SuccessfulDelete", message: "Deleted pod: \(p.name)")
                    }
                }
            }
            // pods on nodes that no longer exist
            let nodeNames = Set(allNodes.map(\.name))
            for (n, ps) in byNode where !nodeNames.contains(n) {
                for p in ps { try? await ctx.client.delete(Pod.self, namespace: ns, name: p.name, uid: p.metadata.uid) }
            }
            // rolling update: replace outdated pods while staying within maxUnavailable
            if spec.updateStrategy?["type"]?.stringValue != "OnDelete" {
                let owned = outdated.sorted { !$0.isReady && $1.isReady }
                for p in owned where unavailable < Int(maxUnavailable) || !p.isReady {
                    try? await ctx.client.delete(Pod.self, namespace: ns, name: p.name, uid: p.metadata.uid)
                    recorder.event(ds, reason: "SuccessfulDelete", message: "Deleted pod: \(p.name)")
                    if p.isReady { unavailable += 1 }
                }
            }
        }
        var st = ds.status ?? DaemonSetStatus()
        st.desiredNumberScheduled = Int32(desired)
        st.currentNumberScheduled = Int32(current)
        st.numberReady = Int32(ready)
        st.numberAvailable = Int32(available)
        st.numberUnavailable = Int32(max(0, desired - available))
        st.updatedNumberScheduled = Int32(updated)
        st.numberMisscheduled = Int32(misscheduled)
        st.observedGeneration = ds.metadata.generation
        if st != ds.status {
            var next = ds
            next.status = st
            do { _ = try await ctx.client.updateStatus(next) } catch where isNotFound(error) {}
        }
    }
}

/// Whether toleration `t` tolerates `taint` (upstream's ToleratesTaint).
func tolerates(_ t: Toleration, _ taint: Taint) -> Bool {
    if let e = t.effect, !e.isEmpty, e != taint.effect { return false }
    if let k = t.key, !k.isEmpty, k != taint.key { return false }
    switch t.operator ?? "Equal" {
    case "Exists": return true
    default: return (t.value ?? "") == (taint.value ?? "")
    }
}
