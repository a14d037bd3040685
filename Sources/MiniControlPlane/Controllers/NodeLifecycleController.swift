import Foundation
import KubeAPI
import Logging

/// Watches node heartbeats (the Lease in kube-node-lease and the Ready condition). A node
/// whose heartbeat is older than `--node-monitor-grace-period` gets its conditions set to
/// Unknown ("Kubelet stopped posting node status."), the `node.kubernetes.io/unreachable`
/// NoSchedule and NoExecute taints, and its pods marked not Ready; a node reporting
/// Ready=False gets the `not-ready` taints. Pods on a node with a NoExecute taint they do not
/// tolerate are deleted at once, or after their `tolerationSeconds` (the taint manager).
/// Heartbeat ages are measured on our own clock from when we last saw a heartbeat change.
public struct NodeLifecycleController: Controller {
    public static let name = "nodelifecycle"
    static let unreachable = "node.kubernetes.io/unreachable"
    static let notReady = "node.kubernetes.io/not-ready"

    let ctx: ControllerContext
    let recorder: EventRecorder
    let nodes: Informer<Node>
    let leases: Informer<Lease>
    let pods: Informer<Pod>
    let health = HeartbeatTracker()
    let queue = WorkQueue<String>()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        recorder = ctx.makeRecorder("node-controller")
        nodes = ctx.informers.informer(Node.self)
        leases = ctx.informers.informer(Lease.self)
        pods = ctx.informers.informer(Pod.self)
    }

    func register() async {
        let queue = self.queue
        await nodes.addHandler { e in
            switch e {
            case .added(let n), .updated(_, let n): await queue.add(n.name)
            case .deleted: break
            }
        }
        await pods.addHandler { e in
            if case .added(let p) = e, let n = p.spec?.nodeName, !n.isEmpty { await queue.add(n) }
            if case .updated(let o, let p) = e, o.spec?.nodeName != p.spec?.nodeName, let n = p.spec?.nodeName { await queue.add(n) }
        }
    }

    func run(workers: Int) async {
        let period = ctx.options.nodeMonitorPeriod
        let monitor = Task {
            while !Task.isCancelled {
                for n in await nodes.items() { await queue.add(n.name) }
                try? await Task.sleep(for: period)
            }
        }
        await runWorkers(queue, workers: workers, name: Self.name, logger: ctx.logger) { key in
            try await self.sync(key)
        }
        monitor.cancel()
    }

    func sync(_ name: String) async throws {
        guard let node = await nodes.get(namespace: nil, name: name) else {
            await health.forget(name)
            return
        }
        let lease = await leases.get(namespace: "kube-node-lease", name: name)
        let ready = node.status?.conditions?.first { $0.type == "Ready" }
        let beat = [lease?.spec?.renewTime ?? "", ready?.lastHeartbeatTime ?? ""].joined(separator: "|")
        let age = await health.observe(name, heartbeat: beat)
        let grace = ctx.options.nodeMonitorGracePeriod
        var next = node
        if age > grace, ready?.status != "Unknown" {
            // the kubelet went silent
            let now = KubeTime.now()
            var conds = node.status?.conditions ?? []
            for type in ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"] {
                var c = conds.first { $0.type == type } ?? Condition(type: type, status: "Unknown")
                c.status = "Unknown"
                c.reason = "NodeStatusUnknown"
                c.message = "Kubelet stopped posting node status."
                c.lastTransitionTime = now
                if c.lastHeartbeatTime == nil { c.lastHeartbeatTime = now }
                conds.removeAll { $0.type == type }
                conds.append(c)
            }
            next.status?.conditions = conds
            do {
                next = try await ctx.client.updateStatus(next)
            } catch where isNotFound(error) { return }
            recorder.event(ObjectReference(kind: "Node", name: name, uid: name, apiVersion: "v1"), reason: "NodeNotReady",
                               message: "Node \(name) status is now: NodeNotReady")
            await markPodsNotReady(on: name)
        }
        // taints follow the Ready condition
        let state = next.status?.conditions?.first { $0.type == "Ready" }?.status ?? "Unknown"
        var wantTaints: [String] = []
        if state == "Unknown" && age > grace { wantTaints = [Self.unreachable] }
        if state == "False" { wantTaints = [Self.notReady] }
        if state == "Unknown" && age <= grace { wantTaints = (next.spec?.taints ?? []).contains { $0.key == Self.unreachable } ? [Self.unreachable] : [] }
        var taints = next.spec?.taints ?? []
        let managed = [Self.unreachable, Self.notReady]
        let before = taints
        taints.removeAll { managed.contains($0.key) && !wantTaints.contains($0.key) }
        for key in wantTaints {
            for effect in ["NoSchedule", "NoExecute"] where !taints.contains(where: { $0.key == key && $0.effect == effect }) {
                var t = Taint(key: key, effect: effect)
                t.timeAdded = KubeTime.now()
                taints.append(t)
            }
        }
        if taints != before {
            var spec = next.spec ?? NodeSpec()
            spec.taints = taints.isEmpty ? nil : taints
            next.spec = spec
            do { next = try await ctx.client.update(next) } catch where isNotFound(error) { return }
        }
        try await evict(on: next)
        if age <= grace { queue.add(name, after: grace - age + .milliseconds(100)) }
    }

    func markPodsNotReady(on node: String) async {
        for p in await pods.filter({ $0.spec?.nodeName == node && $0.isReady }) {
            var next = p
            if let i = next.status?.conditions?.firstIndex(where: { $0.type == "Ready" }) {
                next.status?.conditions?[i].status = "False"
                next.status?.conditions?[i].lastTransitionTime = KubeTime.now()
            }
            _ = try? await ctx.client.updateStatus(next)
        }
    }

    /// The NoExecute taint manager.
    func evict(on node: Node) async throws {
        let noExecute = (node.spec?.taints ?? []).filter { $0.effect == "NoExecute" }
        guard !noExecute.isEmpty else { return }
        for p in await pods.filter({ $0.spec?.nodeName == node.name && !$0.isTerminating }) {
            var deadline: Date? = nil
            var evictNow = false
            for taint in noExecute {
                let matching = (p.spec?.tolerations ?? []).filter { tolerates($0, taint) }
                if matching.isEmpty { evictNow = true; break }
                let secs = matching.compactMap(\.tolerationSeconds)
                if matching.contains(where: { $0.tolerationSeconds == nil }) { continue }  // forever
                let added = KubeTime.parse(taint.timeAdded) ?? Date()
                let at = added.addingTimeInterval(Double(secs.min() ?? 0))
                deadline = min(deadline ?? at, at)
            }
            if !evictNow, let d = deadline, d <= Date() { evictNow = true }
            if evictNow {
                recorder.event(p, reason: "TaintManagerEviction", message: "Marking for deletion Pod \(p.metadata.namespace ?? "")/\(p.name)")
                do {
                    try await ctx.client.delete(Pod.self, namespace: p.metadata.namespace, name: p.name, uid: p.metadata.uid)
                } catch where isNotFound(error) || isConflict(error) {}
            } else if let d = deadline {
                queue.add(node.name, after: .milliseconds(Int64(max(0, d.timeIntervalSinceNow) * 1000) + 100))
            }
        }
    }
}

/// When each node's heartbeat last changed, on our monotonic clock.
actor HeartbeatTracker {
    private var seen: [String: (beat: String, at: ContinuousClock.Instant)] = [:]

    /// Records `heartbeat` and returns how long ago it last changed.
    func observe(_ node: String, heartbeat: String) -> Duration {
        let now = ContinuousClock.now
        if let s = seen[node], s.beat == heartbeat { return now - s.at }
        seen[node] = (heartbeat, now)
        return .zero
    }

    func forget(_ node: String) { seen[node] = nil }
}
