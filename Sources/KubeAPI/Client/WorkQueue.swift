/// A controller work queue with client-go's semantics: a key is queued at most once, a key
/// being processed is never handed out twice (adds during processing re-queue it when `done`),
/// delayed adds, and per-item exponential backoff for retries (`addRateLimited`/`forget`).
public actor WorkQueue<Key: Hashable & Sendable> {
    private var queue: [Key] = []
    private var head = 0
    private var dirty: Set<Key> = []
    private var processing: Set<Key> = []
    private var failures: [Key: Int] = [:]
    private var waiters: [CheckedContinuation<Key?, Never>] = []
    private var shuttingDown = false
    public let baseDelay: Duration
    public let maxDelay: Duration

    public init(baseDelay: Duration = .milliseconds(5), maxDelay: Duration = .seconds(1000)) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    public var count: Int { queue.count - head }
    public var isShuttingDown: Bool { shuttingDown }

    public func add(_ key: Key) {
        if shuttingDown || dirty.contains(key) { return }
        dirty.insert(key)
        if processing.contains(key) { return }
        if !waiters.isEmpty {
            let w = waiters.removeFirst()
            dirty.remove(key)
            processing.insert(key)
            w.resume(returning: key)
            return
        }
        queue.append(key)
    }

    public nonisolated func add(_ key: Key, after delay: Duration) {
        if delay <= .zero {
            Task { await self.add(key) }
            return
        }
        Task {
            try? await Task.sleep(for: delay)
            await self.add(key)
        }
    }

    /// Re-queues `key` after its backoff (base × 2^failures, capped) and counts a failure.
    public func addRateLimited(_ key: Key) {
        let n = failures[key, default: 0]
        failures[key] = n + 1
        add(key, after: backoff(failures: n))
    }

    public func backoff(failures n: Int) -> Duration {
        let factor = n >= 40 ? Double.greatestFiniteMagnitude : Double(1 << n)
        let ms = Double(baseDelay.components.seconds) * 1000 + Double(baseDelay.components.attoseconds) / 1e15
        let capMs = Double(maxDelay.components.seconds) * 1000
        return .milliseconds(Int64(min(ms * factor, capMs)))
    }

    public func forget(_ key: Key) { failures[key] = nil }
    public func retries(_ key: Key) -> Int { failures[key, default: 0] }

    /// The next key, waiting until one is queued; nil once the queue shuts down.
    public func get() async -> Key? {
        if head < queue.count {
            let k = queue[head]
            head += 1
            if head > 1024 && head * 2 > queue.count { queue.removeFirst(head); head = 0 }
            dirty.remove(k)
            processing.insert(k)
            return k
        }
        if shuttingDown { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    public func done(_ key: Key) {
        processing.remove(key)
        if dirty.contains(key) {
            dirty.remove(key)
            add(key)
        }
    }

    public func shutDown() {
        shuttingDown = true
        for w in waiters { w.resume(returning: nil) }
        waiters = []
    }
}
