import Foundation
@testable import Runtime
import Testing

/// Blocking work (waitpid, pipe reads, probes) must not wait for other blocking work: more
/// blocked calls than cores all make progress at once.
@Suite struct BlockingWorkTests {
    /// Eight calls that each block until all eight have arrived. Own threads arrive within
    /// milliseconds; dispatch's global queue on Linux starts as wide as the cores and adds a
    /// thread for blocked ones only every ~0.75 s (8 took 6 s here), past the 3 s fallback.
    @Test func moreBlockedCallsThanCoresAllRunAtOnce() async {
        let arrived = ArrivalCounter()
        let n = max(8, ProcessInfo.processInfo.activeProcessorCount * 4)
        let results = await withTaskGroup(of: Bool.self) { g in
            for _ in 0..<n {
                g.addTask { await onOwnThread { arrived.arriveAndWait(for: n, timeout: 3) } }
            }
            return await g.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == n && results.allSatisfy { $0 })
    }

    /// Children waited for at once: each exits only after all have been started and are waited on.
    @Test func concurrentSpawnsCollectTheirOutputs() async throws {
        let dir = NSTemporaryDirectory() + "swiftlet-spawn-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let outs = try await withThrowingTaskGroup(of: Spawn.Output.self) { g in
            for i in 0..<6 {
                g.addTask {
                    try await Spawn.run("/bin/sh", ["-c", "touch \(dir)/\(i); n=0; while [ $(ls \(dir) | wc -l) -lt 6 ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n+1)); done; echo out\(i); echo err\(i) >&2"],
                                        timeout: 30)
                }
            }
            return try await g.reduce(into: [Spawn.Output]()) { $0.append($1) }
        }
        #expect(Set(outs.map { String(decoding: $0.stdout, as: UTF8.self) }) == Set((0..<6).map { "out\($0)\n" }))
        #expect(Set(outs.map { String(decoding: $0.stderr, as: UTF8.self) }) == Set((0..<6).map { "err\($0)\n" }))
        #expect(outs.allSatisfy { $0.status == 0 && !$0.timedOut })
    }
}

final class ArrivalCounter: @unchecked Sendable {
    private let cond = NSCondition()
    private var count = 0

    /// Counts this arrival, then waits until `n` have arrived; false after `timeout` seconds.
    func arriveAndWait(for n: Int, timeout: TimeInterval) -> Bool {
        cond.lock()
        defer { cond.unlock() }
        count += 1
        cond.broadcast()
        let deadline = Date().addingTimeInterval(timeout)
        while count < n {
            if !cond.wait(until: deadline) { return count >= n }
        }
        return true
    }
}
