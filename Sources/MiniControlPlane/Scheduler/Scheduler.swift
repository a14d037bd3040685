import Foundation
public import KubeAPI
public import Logging

public struct SchedulerOptions: Sendable {
    /// Pods whose `spec.schedulerName` is this (or unset) are ours.
    public var schedulerName = "default-scheduler"
    /// 0: upstream's adaptive default (50% − nodes/125, at least 5%, at least 100 nodes).
    public var percentageOfNodesToScore = 0
    public var framework: Framework = .default
    /// API calls (bindings, status patches, preemptions) in flight at once.
    public var apiParallelism = 128
    public var initialBackoff: Duration = .seconds(1)
    public var maxBackoff: Duration = .seconds(10)
    /// Write Scheduled / FailedScheduling / Preempted events.
    public var recordEvents = true
    /// `reportingInstance` of the events (the leader-election identity).
    public var identity: String? = nil
    public var logger = Logger(label: "swiftlet.scheduler")
    /// Called after each successful binding (the pod's node is durable in the API server) with
    /// the pod's `namespace/name` and the node: a hook for metrics and the benchmark.
    public var onBound: (@Sendable (_ pod: String, _ node: String) -> Void)? = nil
    public init() {}
}

/// Counters for tests, metrics and the benchmark.
public struct SchedulerStats: Sendable {
    public var attempts = 0
    public var scheduled = 0
    public var unschedulable = 0
    public var bindErrors = 0
    public var preemptions = 0
    public var victims = 0
    /// Time spent in scheduling cycles (filter, score, assume): wall clock, and CPU time of
    /// the thread running them (the cycle never suspends, so that is its own cost); and in bind
    /// requests.
    public var cycleTime: Duration = .zero
    public var cycleCPUTime: Duration = .zero
    public var bindTime: Duration = .zero
}

/// The scheduler: informers on pods, nodes, priority classes and namespaces feed a cache and a
/// scheduling queue; one loop takes the most important pending pod, runs the filter and score
/// plugins over the nodes, assumes the pod onto the best node in the cache and hands the binding
/// to a bounded pool of API workers, so the next pod is scheduled while the binding is in
/// flight. Pods that fit nowhere get a FailedScheduling event, the PodScheduled=False condition
/// and, when their priority allows, preemption of lower-priority pods.
public actor Scheduler {
    public let client: APIClient
    public let options: SchedulerOptions
    var cache = SchedulerCache()
    var queue = SchedulingQueue()
    var priorityClasses: [String: PriorityClass] = [:]
    var namespaceLabels: [String: [String: String]] = [:]
    var nextStartNodeIndex = 0
    var tieBreak = 0
    public private(set) var stats = SchedulerStats()
    private var popWaiter: CheckedContinuation<Void, Never>?
    private let work: AsyncStream<APIWork>
    private let workSink: AsyncStream<APIWork>.Continuation
    let recorder: EventRecorder?
    var logger: Logger { options.logger }

    enum APIWork: Sendable {
        case bind(QueuedPod, node: String)
        case unschedulable(PodInfo, message: String, nominatedNode: String?)
        /// Nominate the preemptor (status), then mark and delete each victim, in that order.
        case preempt(preemptor: PodInfo, node: String, victims: [PodInfo], message: String)
    }

    public init(client: APIClient, options: SchedulerOptions = SchedulerOptions()) {
        self.client = client
        self.options = options
        (work, workSink) = AsyncStream<APIWork>.makeStream()
        recorder = options.recordEvents ? EventRecorder(client: client, component: options.schedulerName, host: options.identity) : nil
        queue.initialBackoff = options.initialBackoff
        queue.maxBackoff = options.maxBackoff
    }

    // MARK: run

    /// Schedules until the task is cancelled.
    public func run() async {
        let pods = Informer<Pod>(client: client, stripManagedFields: true)
        let nodes = Informer<Node>(client: client, stripManagedFields: true)
        let classes = Informer<PriorityClass>(client: client, stripManagedFields: true)
        let namespaces = Informer<Namespace>(client: client, stripManagedFields: true)
        await classes.addHandler { e in await self.onPriorityClass(e) }
        await namespaces.addHandler { e in await self.onNamespace(e) }
        await nodes.addHandler { e in await self.onNode(e) }
        await pods.addHandler { e in await self.onPod(e) }
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { g in
                g.addTask { await classes.run() }
                g.addTask { await namespaces.run() }
                g.addTask { await nodes.run() }
                g.addTask { await pods.run() }
                g.addTask { await self.runAPIWorkers() }
                g.addTask {
                    // the informers' own state, not the API: wait until all four have listed
                    while !Task.isCancelled {
                        let a = await classes.hasSynced, b = await namespaces.hasSynced
                        let c = await nodes.hasSynced, d = await pods.hasSynced
                        if a && b && c && d { break }
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                    if Task.isCancelled { return }
                    await self.markSynced()
                    await withTaskGroup(of: Void.self) { inner in
                        inner.addTask { await self.scheduleLoop() }
                        inner.addTask { await self.flushLoop() }
                    }
                }
            }
        } onCancel: {
            Task { await self.stop() }
        }
        // write the events still queued, but never hold up a new leadership term for long
        if let recorder {
            // (a checked continuation, because this task is already cancelled)
            let once = Once()
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                Task {
                    await recorder.shutdown()
                    if await once.fire() { c.resume() }
                }
                Task {
                    try? await Task.sleep(for: .seconds(2))
                    if await once.fire() { c.resume() }
                }
            }
        }
    }

    private var stopped = false
    public private(set) var synced = false
    private func markSynced() { synced = true }

    private func stop() {
        stopped = true
        workSink.finish()
        popWaiter?.resume()
        popWaiter = nil
    }

    private func wake() {
        if !queue.isEmpty, let w = popWaiter {
            popWaiter = nil
            w.resume()
        }
    }

    private func scheduleLoop() async {
        while !Task.isCancelled && !stopped {
            if queue.isEmpty {
                await withCheckedContinuation { popWaiter = $0 }
                continue
            }
            guard let q = queue.pop() else { continue }
            let t0 = ContinuousClock.now
            let c0 = Self.threadCPUTime()
            scheduleOne(q)
            stats.cycleCPUTime += Self.threadCPUTime() - c0
            stats.cycleTime += ContinuousClock.now - t0
            // let informer events and binding results in between pods
            await Task.yield()
        }
    }

    private func flushLoop() async {
        while !Task.isCancelled {
            let now = ContinuousClock.now
            var wait: Duration = .seconds(1)
            if let next = queue.nextBackoffExpiry() { wait = max(.milliseconds(10), min(wait, next - now)) }
            try? await Task.sleep(for: wait)
            if queue.flush(now: .now) > 0 { wake() }
        }
    }

    // MARK: informer handlers

    func priorityOf(_ name: String) -> (value: Int32, policy: String?)? {
        if let pc = priorityClasses[name] { return (pc.value, pc.preemptionPolicy) }
        switch name {
        case "system-node-critical": return (2_000_001_000, nil)
        case "system-cluster-critical": return (2_000_000_000, nil)
        default: return nil
        }
    }

    func makeInfo(_ pod: Pod) -> PodInfo { PodInfo(pod, priorityOf: { self.priorityOf($0) }) }

    func isOurs(_ pod: Pod) -> Bool {
        let name = pod.spec?.schedulerName ?? ""
        let phase = pod.status?.phase ?? ""
        return (name.isEmpty || name == options.schedulerName) && pod.metadata.deletionTimestamp == nil
            && phase != "Succeeded" && phase != "Failed"
    }

    static func isAssigned(_ pod: Pod) -> Bool { !(pod.spec?.nodeName ?? "").isEmpty }
    static func isTerminal(_ pod: Pod) -> Bool { ["Succeeded", "Failed"].contains(pod.status?.phase ?? "") }

    func onPod(_ e: InformerEvent<Pod>) {
        let now = ContinuousClock.now
        switch e {
        case .added(let p):
            if Self.isAssigned(p) {
                if !Self.isTerminal(p) { cache.addPod(makeInfo(p)) }
            } else if isOurs(p) {
                queue.add(makeInfo(p), now: now)
                wake()
            }
        case .updated(let old, let new):
            if Self.isAssigned(new) {
                if !Self.isAssigned(old) { queue.delete(PodInfo.key(new)) }
                if Self.isTerminal(new) {
                    cache.removePod(key: PodInfo.key(new))
                    moveAll()
                } else {
                    cache.addPod(makeInfo(new))
                    if new.metadata.deletionTimestamp == nil && old.metadata.labels != new.metadata.labels { moveAll() }
                }
            } else if isOurs(new) {
                queue.update(makeInfo(new), now: now)
                wake()
            } else {
                queue.delete(PodInfo.key(new))
            }
        case .deleted(let p):
            let key = PodInfo.key(p)
            if cache.contains(key) && !cache.isAssumed(key) {
                cache.removePod(key: key)
                moveAll()
            } else {
                queue.delete(key)
            }
        }
    }

    func onNode(_ e: InformerEvent<Node>) {
        switch e {
        case .added(let n):
            cache.addOrUpdateNode(n)
            moveAll()
        case .updated(let old, let new):
            cache.addOrUpdateNode(new)
            if old.metadata.labels != new.metadata.labels || old.spec != new.spec
                || old.status?.allocatable != new.status?.allocatable
            {
                moveAll()
            }
        case .deleted(let n):
            cache.removeNode(n.name)
        }
    }

    func onPriorityClass(_ e: InformerEvent<PriorityClass>) {
        switch e {
        case .added(let pc), .updated(_, let pc): priorityClasses[pc.name] = pc
        case .deleted(let pc): priorityClasses[pc.name] = nil
        }
    }

    func onNamespace(_ e: InformerEvent<Namespace>) {
        switch e {
        case .added(let ns), .updated(_, let ns): namespaceLabels[ns.name] = ns.metadata.labels ?? [:]
        case .deleted(let ns): namespaceLabels[ns.name] = nil
        }
    }

    private func moveAll() {
        if queue.moveAllToActiveOrBackoff(now: .now) > 0 { wake() }
    }

    // MARK: one scheduling cycle

    /// Upstream's `numFeasibleNodesToFind`.
    public static func numFeasibleNodesToFind(percentage: Int, nodes: Int) -> Int {
        let minNodes = 100
        if nodes < minNodes { return nodes }
        var p = percentage
        if p <= 0 { p = max(5, 50 - nodes / 125) }
        return max(minNodes, nodes * min(p, 100) / 100)
    }

    enum Decision {
        case node(String)
        case unfit(FitError, CycleState)
    }

    func view() -> ClusterView { ClusterView(cache: cache, namespaceLabels: namespaceLabels) }

    /// Runs `filters` on the node, and again with the pods nominated to it (by preemption)
    /// that are at least as important as this one: the pod must fit both ways.
    func filter(_ pod: PodInfo, _ node: NodeInfo, _ state: CycleState, _ filters: [any FilterPlugin]) -> FilterFailure? {
        if !queue.nominated.isEmpty {
            let nominated = queue.nominatedPods(on: node.name).filter { $0.key != pod.key && $0.priority >= pod.priority }
            if !nominated.isEmpty {
                let withNominated = node.clone()
                for n in nominated { withNominated.add(n) }
                if let f = Framework.run(filters, pod, withNominated, state) { return f }
            }
        }
        return Framework.run(filters, pod, node, state)
    }

    func findNode(_ pod: PodInfo) -> Decision {
        let state = CycleState()
        let nodes = cache.nodeList
        let n = nodes.count
        if n == 0 { return .unfit(FitError(numAllNodes: 0, failures: [:]), state) }
        if let err = pod.parseError { return .unfit(FitError(numAllNodes: n, failures: [:], preFilterMessage: err), state) }
        let v = view()
        if let f = options.framework.runPreFilters(pod, v, state) {
            var failures: [String: FilterFailure] = [:]
            for node in nodes { failures[node.name] = f }
            return .unfit(FitError(numAllNodes: n, failures: failures, preFilterMessage: f.reasons.joined(separator: ", ")), state)
        }
        let active = options.framework.activeFilters(pod, state)
        if let nn = pod.pod.status?.nominatedNodeName, let node = cache.nodes[nn], filter(pod, node, state, active) == nil {
            return .node(nn)
        }
        let want = Self.numFeasibleNodesToFind(percentage: options.percentageOfNodesToScore, nodes: n)
        var feasible: [NodeInfo] = []
        feasible.reserveCapacity(min(want, n))
        var failures: [String: FilterFailure] = [:]
        var processed = 0
        let start = nextStartNodeIndex % n
        let anyNominated = !queue.nominated.isEmpty
        for i in 0..<n {
            let node = nodes[(start + i) % n]
            processed += 1
            let failure = anyNominated ? filter(pod, node, state, active) : Framework.run(active, pod, node, state)
            if let f = failure {
                failures[node.name] = f
            } else {
                feasible.append(node)
                if feasible.count >= want { break }
            }
        }
        nextStartNodeIndex = (start + processed) % n
        if feasible.isEmpty { return .unfit(FitError(numAllNodes: n, failures: failures), state) }
        if feasible.count == 1 || options.framework.scorers.isEmpty { return .node(feasible[0].name) }
        var total = [Int64](repeating: 0, count: feasible.count)
        for s in options.framework.scorers {
            guard s.preScore(pod, feasible, v, state) else { continue }
            var scores = feasible.map { s.score(pod, $0, state) }
            s.normalize(&scores, state)
            for i in total.indices { total[i] += scores[i] * s.weight }
        }
        let best = total.max()!
        let ties = total.indices.filter { total[$0] == best }
        let pick = ties[tieBreak % ties.count]
        tieBreak &+= 1
        return .node(feasible[pick].name)
    }

    func scheduleOne(_ q: QueuedPod) {
        let pod = q.info
        if cache.contains(pod.key) || pod.isTerminating {
            queue.done(pod.key)
            return
        }
        stats.attempts += 1
        switch findNode(pod) {
        case .node(let node):
            cache.assume(pod, node: node)
            queue.clearNominated(pod.key)
            workSink.yield(.bind(q, node: node))
        case .unfit(var fitError, let state):
            stats.unschedulable += 1
            var nominated: String? = nil
            var lastPreemption: PreemptionOutcome? = nil
            if fitError.numAllNodes > 0 && fitError.preFilterMessage == nil {
                let outcome = preempt(pod, fitError, state)
                lastPreemption = outcome
                switch outcome {
                case .nominated(let node, let victims):
                    nominated = node
                    fitError.postFilterFailed = false
                    stats.preemptions += 1
                    stats.victims += victims.count
                    queue.nominate(pod, node: node)
                case .failed(let message):
                    fitError.preemptionMessage = "preemption: " + message
                }
            }
            queue.requeueFailed(q, unschedulable: true, now: .now)
            let message = fitError.message
            logger.debug("unable to schedule pod \(pod.key): \(message)")
            recorder?.event(pod.pod, type: EventRecorder.warning, reason: "FailedScheduling", message: message)
            if let nominated, case .nominated(_, let victims) = lastPreemption {
                workSink.yield(.preempt(preemptor: pod, node: nominated, victims: victims, message: message))
            } else {
                workSink.yield(.unschedulable(pod, message: message, nominatedNode: nil))
            }
        }
    }

    // MARK: API work

    private func runAPIWorkers() async {
        let limit = max(1, options.apiParallelism)
        await withTaskGroup(of: Void.self) { g in
            var running = 0
            for await item in work {
                if running >= limit {
                    await g.next()
                    running -= 1
                }
                g.addTask { await self.perform(item) }
                running += 1
            }
        }
    }

    private nonisolated func perform(_ item: APIWork) async {
        switch item {
        case .bind(let q, let node):
            do {
                let t0 = ContinuousClock.now
                try await client.bind(podNamespace: q.info.namespace, podName: q.info.name, podUID: q.info.uid, node: node)
                await bound(q, node: node, took: ContinuousClock.now - t0)
            } catch {
                await bindFailed(q, node: node, error: error)
            }
        case .unschedulable(let pod, let message, let nominated):
            await markUnschedulable(pod, message: message, nominated: nominated)
        case .preempt(let preemptor, let node, let victims, let message):
            await markUnschedulable(preemptor, message: message, nominated: node)
            for victim in victims {
                let cond: JSONValue = ["type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                                       "message": .string("\(options.schedulerName): preempting to accommodate a higher priority pod"),
                                       "lastTransitionTime": .string(KubeTime.now())]
                _ = try? await client.patch(Pod.self, namespace: victim.namespace, name: victim.name,
                                            patch: ["status": ["conditions": [cond]]],
                                            contentType: "application/strategic-merge-patch+json", subresource: "status")
                do {
                    try await client.delete(Pod.self, namespace: victim.namespace, name: victim.name, uid: victim.uid.isEmpty ? nil : victim.uid)
                    recorder?.event(victim.pod, reason: "Preempted", message: "Preempted by pod \(preemptor.uid) on node \(node)")
                } catch {
                    options.logger.warning("cannot preempt pod \(victim.key) for \(preemptor.key): \(error)")
                }
            }
        }
    }

    /// PodScheduled=False, reason Unschedulable, the FailedScheduling text; and the nominated
    /// node when preemption chose one. Skipped when nothing changed or the pod got bound.
    private nonisolated func markUnschedulable(_ pod: PodInfo, message: String, nominated: String?) async {
        guard await stillPending(pod.key) else { return }
        var cond: JSONObject = ["type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                         "message": .string(message), "lastProbeTime": .null]
        let existing = pod.pod.status?.conditions?.first { $0.type == "PodScheduled" }
        if existing?.status == "False", existing?.reason == "Unschedulable", existing?.message == message,
           nominated == nil || nominated == pod.pod.status?.nominatedNodeName
        {
            return  // nothing new to say
        }
        let since = existing?.status == "False" ? (existing?.lastTransitionTime ?? KubeTime.now()) : KubeTime.now()
        cond["lastTransitionTime"] = .string(since)
        var status: JSONObject = ["conditions": .array([.object(cond)])]
        if let nominated { status["nominatedNodeName"] = .string(nominated) }
        do {
            _ = try await client.patch(Pod.self, namespace: pod.namespace, name: pod.name, patch: .object(["status": .object(status)]),
                                       contentType: "application/strategic-merge-patch+json", subresource: "status")
        } catch {
            options.logger.debug("cannot update status of pod \(pod.key): \(error)")
        }
    }

    func stillPending(_ key: String) -> Bool { !cache.contains(key) }

    func bound(_ q: QueuedPod, node: String, took: Duration) {
        stats.scheduled += 1
        stats.bindTime += took
        queue.done(q.info.key)
        options.onBound?(q.info.key, node)
        recorder?.event(q.info.pod, reason: "Scheduled", message: "Successfully assigned \(q.info.key) to \(node)")
    }

    func bindFailed(_ q: QueuedPod, node: String, error: any Error) {
        stats.bindErrors += 1
        cache.forget(key: q.info.key)
        if let s = error as? Status, s.code == 404 || (s.code == 409 && (s.message ?? "").contains("already assigned")) {
            // gone, or bound by someone else: the informer will tell us
            queue.done(q.info.key)
            return
        }
        logger.warning("binding pod \(q.info.key) to \(node) failed: \(error)")
        queue.requeueFailed(q, unschedulable: false, now: .now)
        moveAll()
        recorder?.event(q.info.pod, type: EventRecorder.warning, reason: "FailedScheduling",
                        message: "running Bind plugin \"DefaultBinder\": \(error)")
    }

    static func threadCPUTime() -> Duration {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return .seconds(ts.tv_sec) + .nanoseconds(ts.tv_nsec)
    }

    // MARK: introspection (tests)

    public func pendingCount() -> Int { queue.activeCount + queue.backoff.count + queue.unschedulable.count }
    public func nodeOf(_ key: String) -> String? { cache.podNodes[key] }
}

/// True for the first caller only.
actor Once {
    private var fired = false
    func fire() -> Bool {
        defer { fired = true }
        return !fired
    }
}

extension PodInfo {
    static func key(_ p: Pod) -> String { (p.metadata.namespace ?? "default") + "/" + (p.metadata.name ?? "") }
}
