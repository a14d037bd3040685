import Foundation
import Testing
@testable import ProxyNFT

/// A clock that moves only when the test says so.
final class ManualClock: Clock, @unchecked Sendable {
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by d: Duration) -> Instant { Instant(offset: offset + d) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (l: Instant, r: Instant) -> Bool { l.offset < r.offset }
    }

    private let lock = NSLock()
    private var current = Instant(offset: .zero)
    private var sleepers: [(id: Int, deadline: Instant, continuation: CheckedContinuation<Void, any Error>)] = []
    private var nextID = 0

    var now: Instant { lock.withLock { current } }
    var minimumResolution: Duration { .zero }
    var sleeperCount: Int { lock.withLock { sleepers.count } }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let id = lock.withLock { nextID += 1; return nextID }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let resumeNow: Bool = lock.withLock {
                    if deadline <= current || Task.isCancelled { return true }
                    sleepers.append((id, deadline, c))
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let c: CheckedContinuation<Void, any Error>? = lock.withLock {
                guard let i = sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return sleepers.remove(at: i).continuation
            }
            c?.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }

    func advance(by d: Duration) {
        let due: [CheckedContinuation<Void, any Error>] = lock.withLock {
            current = current.advanced(by: d)
            let ready = sleepers.filter { $0.deadline <= current }
            sleepers.removeAll { $0.deadline <= current }
            return ready.map(\.continuation)
        }
        for c in due { c.resume() }
    }
}

/// Counts calls and lets the test await them.
actor CallLog {
    private(set) var calls: [Bool] = []
    func record(_ periodic: Bool) { calls.append(periodic) }
}

/// Yields until `condition` holds; bounded (no sleeping on the wall clock).
func eventually(_ condition: () async -> Bool) async -> Bool {
    for _ in 0..<100_000 {
        if await condition() { return true }
        await Task.yield()
    }
    return false
}

@Suite struct SyncRunnerTests {
    @Test func rateLimiterAllowsBurstThenSpacesSyncs() {
        let clock = ManualClock()
        var limiter = SyncRateLimiter<ManualClock.Instant>(minInterval: .seconds(1), burst: 2)
        let t0 = clock.now
        #expect(limiter.reserve(now: t0) == t0)
        #expect(limiter.reserve(now: t0) == t0)
        #expect(limiter.reserve(now: t0) == t0.advanced(by: .seconds(1)))
        #expect(limiter.reserve(now: t0.advanced(by: .seconds(1))) == t0.advanced(by: .seconds(2)))
        // A long quiet spell refills up to the burst, not beyond.
        let later = t0.advanced(by: .seconds(100))
        #expect(limiter.reserve(now: later) == later)
        #expect(limiter.reserve(now: later) == later)
        #expect(limiter.reserve(now: later) > later)
    }

    @Test func requestsCoalesceAndPeriodicSyncRuns() async throws {
        let clock = ManualClock()
        let log = CallLog()
        let runner = SyncRunner(clock: clock, minInterval: .seconds(1), burst: 1, maxInterval: .seconds(60)) { periodic in
            await log.record(periodic)
        }
        let task = Task { await runner.run() }
        defer { task.cancel() }
        // First request runs at once.
        await runner.request()
        #expect(await eventually { await log.calls.count == 1 })
        // A storm of requests within the interval gives one more sync, after minInterval.
        for _ in 0..<50 { await runner.request() }
        #expect(await eventually { clock.sleeperCount == 1 })
        #expect(await log.calls.count == 1)
        clock.advance(by: .seconds(1))
        #expect(await eventually { await log.calls.count == 2 })
        #expect(await log.calls == [false, false])
        // Nothing asked: the periodic sync comes after maxInterval.
        #expect(await eventually { clock.sleeperCount == 1 })
        clock.advance(by: .seconds(60))
        #expect(await eventually { await log.calls.count == 3 })
        #expect(await log.calls.last == true)
        task.cancel()
        _ = await task.value
    }
}
