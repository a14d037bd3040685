import Foundation
package import KubeAPI
import Runtime

/// One worker per pod: updates for a pod are coalesced (only the latest object matters) and
/// its syncs never overlap; a sync asks to be run again after a delay, and events (informer
/// updates, PLEG events, probe results) run it sooner. Admission happens when a pod is first seen.
package actor PodWorkers {
    final class Entry: @unchecked Sendable {
        let worker: PodWorker
        let wake: AsyncStream<Void>.Continuation
        var task: Task<Void, Never>?
        init(worker: PodWorker, wake: AsyncStream<Void>.Continuation) {
            self.worker = worker
            self.wake = wake
        }
    }

    private let context: PodSyncContext
    private var entries: [String: Entry] = [:]
    private var finished: Set<String> = []
    /// Allocatable resources for admission.
    private let allocatable: ResourceList
    package private(set) var syncs = 0
    let limiter = AsyncSemaphore(permits: max(4, ProcessInfo.processInfo.activeProcessorCount * 5))

    package init(context: PodSyncContext, allocatable: ResourceList) {
        self.context = context
        self.allocatable = allocatable
    }

    package var podUIDs: [String] { Array(entries.keys) }
    package func pods() async -> [Pod] {
        var out: [Pod] = []
        for e in entries.values { out.append(await e.worker.pod) }
        return out
    }

    /// A new or changed pod from the API (or a static pod manifest).
    package func update(_ pod: Pod) async {
        let uid = pod.uid
        guard !uid.isEmpty, !finished.contains(uid) else { return }
        if let e = entries[uid] {
            await e.worker.update(pod)
            e.wake.yield()
            return
        }
        if pod.isTerminal && !pod.isTerminating,
            ((try? await context.runtime.listPodSandbox(podUID: uid)) ?? []).isEmpty
        {
            return  // finished long ago and nothing of it is left here
        }
        let worker = PodWorker(pod: pod, context: context)
        if let (reason, message) = await admit(pod) {
            context.events.event(pod.ref, type: EventType.warning, reason: reason, message: message)
            await worker.reject(reason: reason, message: message)
        }
        start(uid, worker)
    }

    /// The pod object is gone from the API.
    package func deleted(_ pod: Pod) async {
        guard let e = entries[pod.uid] else { return }
        await e.worker.markDeleted()
        e.wake.yield()
    }

    /// Runs the pod's worker soon (PLEG event, probe result).
    package func wake(_ uid: String) {
        entries[uid]?.wake.yield()
    }

    private func start(_ uid: String, _ worker: PodWorker) {
        let (stream, cont) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let entry = Entry(worker: worker, wake: cont)
        entries[uid] = entry
        cont.yield()
        entry.task = Task { [weak self] in
            var timer: Task<Void, Never>?
            for await _ in stream {
                await self?.countSync()
                // Pods being started take turns (a few at a time), so under a burst they come up
                // one after another instead of all finishing together at the end.
                let starting = await worker.isStarting
                if starting { await self?.limiter.acquire() }
                let outcome = await worker.sync()
                if starting { await self?.limiter.release() }
                timer?.cancel()
                switch outcome {
                case .done:
                    cont.finish()
                case .requeue(let after):
                    timer = Task {
                        try? await Task.sleep(for: .milliseconds(Int(max(after, 0.05) * 1000)))
                        if !Task.isCancelled { cont.yield() }
                    }
                }
            }
            timer?.cancel()
            await self?.remove(uid)
        }
    }

    private func countSync() { syncs += 1 }

    private func remove(_ uid: String) {
        entries[uid] = nil
        finished.insert(uid)
    }

    /// Stops every worker (agent shutdown without stopping pods).
    package func stopAll() {
        for e in entries.values {
            e.wake.finish()
            e.task?.cancel()
        }
    }

    /// Node shutdown: stops every worker, then every pod within `grace` seconds, in parallel.
    package func shutdownPods(grace: Int64) async {
        stopAll()
        let workers = entries.values.map(\.worker)
        await withTaskGroup(of: Void.self) { g in
            for w in workers { g.addTask { await w.shutdown(grace: grace) } }
        }
    }

    /// Waits until no worker runs (bounded by `timeout`).
    package func waitIdle(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while !entries.isEmpty && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
    }

    /// Admission: max pods, then cpu and memory requests against allocatable (OutOfpods,
    /// OutOfcpu, OutOfmemory, as the kubelet reports them).
    private func admit(_ pod: Pod) async -> (String, String)? {
        let others = await pods().filter { !$0.isTerminal && $0.uid != pod.uid }
        if let max = allocatable["pods"], others.count + 1 > Int(max.value) {
            return ("OutOfpods", "Node didn't have enough resource: pods, requested: 1, used: \(others.count), capacity: \(max.value)")
        }
        for r in ["cpu", "memory"] {
            guard let cap = allocatable[r] else { continue }
            let used = others.reduce(Int64(0)) { $0 + Self.request(r, $1) }
            let want = Self.request(r, pod)
            if want > 0 && used + want > (r == "cpu" ? cap.milliValue : cap.value) {
                return ("OutOf\(r)", "Node didn't have enough resource: \(r), requested: \(want), used: \(used), capacity: \(r == "cpu" ? cap.milliValue : cap.value)")
            }
        }
        return nil
    }

    /// A pod's effective request: max(largest init container, sum of containers); cpu in millicores.
    static func request(_ r: String, _ pod: Pod) -> Int64 {
        func v(_ c: Container) -> Int64 {
            guard let q = c.resources?.requests?[r] ?? c.resources?.limits?[r] else { return 0 }
            return r == "cpu" ? q.milliValue : q.value
        }
        let sum = (pod.spec?.containers ?? []).reduce(Int64(0)) { $0 + v($1) }
        let initMax = (pod.spec?.initContainers ?? []).map(v).max() ?? 0
        return max(sum, initMax)
    }
}

/// A counting semaphore for tasks, FIFO.
actor AsyncSemaphore {
    private var permits: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []
    init(permits: Int) { self.permits = permits }

    func acquire() async {
        if permits > 0 {
            permits -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty { permits += 1 } else { waiters.removeFirst().resume() }
    }
}
