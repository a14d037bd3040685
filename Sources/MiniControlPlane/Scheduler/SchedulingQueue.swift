import KubeAPI

/// A pod waiting to be scheduled, with its queue bookkeeping.
public struct QueuedPod: Sendable {
    public var info: PodInfo
    /// When it entered the active queue (ordering among equal priorities).
    public var timestamp: ContinuousClock.Instant
    /// Scheduling attempts so far (drives the backoff).
    public var attempts: Int = 0
    /// When it was first seen (creation→bound latency).
    public var initialAttempt: ContinuousClock.Instant
    /// Set when the last attempt failed with a fit error (not an API error).
    public var unschedulable = false
    /// When the last attempt failed: backoff is measured from here.
    public var lastFailure: ContinuousClock.Instant?
}

/// kube-scheduler's PriorityQueue: an active queue (a heap by priority, then arrival), a backoff
/// queue (pods whose last attempt failed, released when their backoff — 1 s doubling up to
/// 10 s — ends), and the unschedulable pods, which wait for a cluster event that may help them
/// (a node added or changed, a pod deleted…) or for `maxUnschedulableDuration`. Pure state: the
/// caller passes the time, so tests need no clock.
public struct SchedulingQueue {
    public var initialBackoff: Duration = .seconds(1)
    public var maxBackoff: Duration = .seconds(10)
    public var maxUnschedulableDuration: Duration = .seconds(300)

    private var heap: [QueuedPod] = []
    private var active: Set<String> = []
    public private(set) var backoff: [String: QueuedPod] = [:]
    public private(set) var unschedulable: [String: QueuedPod] = [:]
    /// Pods handed out by `pop` and not yet done (so an update lands in the right place).
    public private(set) var inFlight: Set<String> = []
    /// Pods nominated to a node by preemption: node → pod key → pod.
    public private(set) var nominated: [String: [String: PodInfo]] = [:]
    private var nominatedNode: [String: String] = [:]

    public init() {}

    public var activeCount: Int { heap.count }
    public var isEmpty: Bool { heap.isEmpty }
    public func contains(_ key: String) -> Bool { active.contains(key) || backoff[key] != nil || unschedulable[key] != nil }

    static func before(_ a: QueuedPod, _ b: QueuedPod) -> Bool {
        if a.info.priority != b.info.priority { return a.info.priority > b.info.priority }
        return a.timestamp < b.timestamp
    }

    // MARK: heap

    private mutating func push(_ q: QueuedPod) {
        heap.append(q)
        active.insert(q.info.key)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !Self.before(heap[i], heap[parent]) { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && Self.before(heap[l], heap[m]) { m = l }
            if r < heap.count && Self.before(heap[r], heap[m]) { m = r }
            if m == i { return }
            heap.swapAt(i, m)
            i = m
        }
    }

    private mutating func removeFromHeap(_ key: String) -> QueuedPod? {
        guard active.contains(key), let i = heap.firstIndex(where: { $0.info.key == key }) else { return nil }
        active.remove(key)
        let q = heap[i]
        heap.swapAt(i, heap.count - 1)
        heap.removeLast()
        if i < heap.count {
            siftDown(i)
            var j = i
            while j > 0 {
                let parent = (j - 1) / 2
                if !Self.before(heap[j], heap[parent]) { break }
                heap.swapAt(j, parent)
                j = parent
            }
        }
        return q
    }

    // MARK: operations

    /// A new pending pod.
    public mutating func add(_ info: PodInfo, now: ContinuousClock.Instant) {
        if contains(info.key) || inFlight.contains(info.key) {
            update(info, now: now)
            return
        }
        push(QueuedPod(info: info, timestamp: now, initialAttempt: now))
        setNominated(info)
    }

    /// The highest-priority pod, or nil when the active queue is empty.
    public mutating func pop() -> QueuedPod? {
        guard !heap.isEmpty else { return nil }
        var q = heap[0]
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
        active.remove(q.info.key)
        q.attempts += 1
        inFlight.insert(q.info.key)
        return q
    }

    /// The pod handed out by `pop` is finished (bound, or re-queued).
    public mutating func done(_ key: String) { inFlight.remove(key) }

    public func backoffDuration(attempts: Int) -> Duration {
        var d = initialBackoff
        var n = 1
        while n < attempts && d < maxBackoff {
            d = d * 2
            n += 1
        }
        return min(d, maxBackoff)
    }

    public func backoffExpiry(_ q: QueuedPod) -> ContinuousClock.Instant {
        (q.lastFailure ?? q.timestamp) + backoffDuration(attempts: max(q.attempts, 1))
    }

    /// An attempt failed: to the unschedulable pods (fit error) or the backoff queue (error).
    public mutating func requeueFailed(_ q: QueuedPod, unschedulable isFit: Bool, now: ContinuousClock.Instant) {
        inFlight.remove(q.info.key)
        var q = q
        q.unschedulable = isFit
        q.lastFailure = now
        q.timestamp = now
        if isFit { unschedulable[q.info.key] = q } else { backoff[q.info.key] = q }
    }

    /// An update of a pending pod: replace it where it is; an unschedulable pod whose spec
    /// changed gets another chance.
    public mutating func update(_ info: PodInfo, now: ContinuousClock.Instant) {
        let key = info.key
        setNominated(info)
        if active.contains(key), let i = heap.firstIndex(where: { $0.info.key == key }) {
            let oldPriority = heap[i].info.priority
            heap[i].info = info
            if oldPriority != info.priority, var q = removeFromHeap(key) {
                q.info = info
                push(q)
            }
            return
        }
        if var q = backoff[key] {
            q.info = info
            backoff[key] = q
            return
        }
        if var q = unschedulable.removeValue(forKey: key) {
            let changed = q.info.pod.spec != info.pod.spec || q.info.labels != info.labels
            q.info = info
            if changed { moveOne(q, now: now) } else { unschedulable[key] = q }
            return
        }
        if inFlight.contains(key) { return }
        push(QueuedPod(info: info, timestamp: now, initialAttempt: now))
    }

    public mutating func delete(_ key: String) {
        _ = removeFromHeap(key)
        backoff[key] = nil
        unschedulable[key] = nil
        inFlight.remove(key)
        clearNominated(key)
    }

    private mutating func moveOne(_ q: QueuedPod, now: ContinuousClock.Instant) {
        if backoffExpiry(q) > now { backoff[q.info.key] = q } else { push(q) }
    }

    /// A cluster event that may make unschedulable pods schedulable: move them all to the
    /// active queue (or to backoff while their backoff runs). Returns how many moved.
    @discardableResult
    public mutating func moveAllToActiveOrBackoff(now: ContinuousClock.Instant) -> Int {
        let pods = unschedulable.values
        unschedulable.removeAll()
        for q in pods { moveOne(q, now: now) }
        return pods.count
    }

    /// Periodic flush: backoff expired → active; unschedulable for too long → active/backoff.
    @discardableResult
    public mutating func flush(now: ContinuousClock.Instant) -> Int {
        var moved = 0
        for (k, q) in backoff where backoffExpiry(q) <= now {
            backoff[k] = nil
            push(q)
            moved += 1
        }
        for (k, q) in unschedulable where now - (q.lastFailure ?? q.timestamp) >= maxUnschedulableDuration {
            unschedulable[k] = nil
            moveOne(q, now: now)
            moved += 1
        }
        return moved
    }

    /// The earliest time a backoff ends (so the flusher can sleep until then).
    public func nextBackoffExpiry() -> ContinuousClock.Instant? { backoff.values.map(backoffExpiry).min() }

    // MARK: nominated pods

    /// Takes the nomination from the pod's status; a pod without one keeps what `nominate` set
    /// (the status patch may not have come back through the informer yet).
    private mutating func setNominated(_ info: PodInfo) {
        if let n = info.pod.status?.nominatedNodeName, !n.isEmpty {
            clearNominated(info.key)
            nominated[n, default: [:]][info.key] = info
            nominatedNode[info.key] = n
        }
    }

    public mutating func nominate(_ info: PodInfo, node: String) {
        clearNominated(info.key)
        nominated[node, default: [:]][info.key] = info
        nominatedNode[info.key] = node
    }

    public mutating func clearNominated(_ key: String) {
        if let n = nominatedNode.removeValue(forKey: key) {
            nominated[n]?[key] = nil
            if nominated[n]?.isEmpty == true { nominated[n] = nil }
        }
    }

    public func nominatedPods(on node: String) -> [PodInfo] { nominated[node].map { Array($0.values) } ?? [] }
}
