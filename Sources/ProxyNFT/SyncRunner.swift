/// Rate-limited sync scheduling, kube-proxy's `BoundedFrequencyRunner`: requests coalesce, syncs
/// run at most `burst` times back to back and then once per `minInterval`, and a periodic sync
/// runs every `maxInterval` even when nothing asked for one.

/// Token bucket over any clock's instants: pure, so it is tested with plain values.
package struct SyncRateLimiter<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    package let minInterval: Duration
    package let burst: Int
    private var tokens: Double
    private var last: Instant?

    package init(minInterval: Duration, burst: Int) {
        self.minInterval = minInterval
        self.burst = max(1, burst)
        self.tokens = Double(self.burst)
    }

    /// Takes one token and returns when the sync may run: `now` if a token was available,
    /// otherwise the instant the next token arrives (the token is taken at that instant).
    package mutating func reserve(now: Instant) -> Instant {
        if let last, minInterval > .zero {
            tokens = min(Double(burst), tokens + last.duration(to: now) / minInterval)
        } else if minInterval == .zero {
            tokens = Double(burst)
        }
        last = now
        if tokens >= 1 {
            tokens -= 1
            return now
        }
        let wait = minInterval * (1 - tokens)
        tokens = 0
        last = now.advanced(by: wait)
        return now.advanced(by: wait)
    }
}

/// Runs `action` when asked (coalescing requests that arrive while it waits or runs), rate
/// limited, and periodically. Generic over `Clock` so tests drive it with a manual clock.
package actor SyncRunner<C: Clock> where C.Duration == Duration {
    private let clock: C
    private var limiter: SyncRateLimiter<C.Instant>
    private let maxInterval: Duration
    private let action: @Sendable (_ periodic: Bool) async -> Void
    private var pending = false
    private var waiter: CheckedContinuation<Void, Never>?
    package private(set) var runs = 0

    /// - Parameters:
    ///   - minInterval: least time between syncs once the burst is used up.
    ///   - burst: syncs allowed back to back.
    ///   - maxInterval: a periodic sync (`periodic == true`) runs when none ran for this long.
    package init(
        clock: C, minInterval: Duration, burst: Int, maxInterval: Duration,
        action: @escaping @Sendable (_ periodic: Bool) async -> Void
    ) {
        self.clock = clock
        self.limiter = SyncRateLimiter(minInterval: minInterval, burst: burst)
        self.maxInterval = maxInterval
        self.action = action
    }

    /// Asks for a sync soon; many requests before it runs give one sync.
    package func request() {
        pending = true
        wake()
    }

    private func wake() {
        waiter?.resume()
        waiter = nil
    }

    private func waitForWake() async {
        if pending { return }
        await withCheckedContinuation { waiter = $0 }
    }

    /// The loop; returns when the calling task is cancelled.
    package func run() async {
        var lastSync = clock.now
        while !Task.isCancelled {
            let deadline = lastSync.advanced(by: maxInterval)
            if !pending && clock.now < deadline {
                await withTaskCancellationHandler {
                    await withTaskGroup(of: Void.self) { group in
                        group.addTask { [clock] in
                            try? await clock.sleep(until: deadline, tolerance: nil)
                            await self.wake()
                        }
                        await self.waitForWake()
                        group.cancelAll()
                    }
                } onCancel: {
                    Task { await self.wake() }
                }
            }
            if Task.isCancelled { return }
            let periodic = !pending
            let at = limiter.reserve(now: clock.now)
            if at > clock.now {
                do { try await clock.sleep(until: at, tolerance: nil) } catch { return }
            }
            pending = false
            runs += 1
            await action(periodic)
            lastSync = clock.now
        }
    }
}
