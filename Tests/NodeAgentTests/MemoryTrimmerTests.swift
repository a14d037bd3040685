import Foundation
import Testing
@testable import NodeAgent

@Suite struct MemoryTrimmerTests {
    /// The process's anonymous resident memory, from /proc/self/status (kB).
    static func rssAnonKB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        for line in status.split(separator: "\n") where line.hasPrefix("RssAnon:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return 0
    }

    /// Freed small blocks between live ones stay resident until trimmed (free() alone only
    /// gives back the top of the heap); `trim()` returns their pages.
    @Test func trimReturnsFreedHeapPages() {
        let count = 160_000, size = 512  // ~80 MB of small blocks
        var blocks: [UnsafeMutableRawPointer] = []
        blocks.reserveCapacity(count)
        for _ in 0..<count {
            let p = malloc(size)!
            memset(p, 0xa5, size)  // touch: resident
            blocks.append(p)
        }
        var kept: [UnsafeMutableRawPointer] = []
        for (i, p) in blocks.enumerated() {
            if i % 64 == 63 { kept.append(p) } else { free(p) }
        }
        blocks = []
        let before = Self.rssAnonKB()
        MemoryTrimmer.trim()
        let after = Self.rssAnonKB()
        for p in kept { free(p) }
        #expect(before - after > 40_000, "RssAnon \(before) kB before the trim, \(after) kB after")
    }

    /// With the limit set, threads that all allocate at once share the existing arenas instead
    /// of each getting a new one (glibc's default is up to 8 per core).
    @Test func arenaLimitHoldsWhileThreadsAllocateTogether() throws {
        #expect(MemoryTrimmer.configureSmallFootprint())
        let before = MemoryTrimmer.arenaCount()
        try #require(before > 0, "malloc_info gave no arenas")
        let threads = 8
        let lock = NSCondition()
        var started = 0, release = false
        var ids: [pthread_t] = []
        final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
        for _ in 0..<threads {
            let box = Box {
                let p = malloc(4096)!
                memset(p, 1, 4096)
                lock.lock(); started += 1; lock.broadcast()
                while !release { lock.wait() }
                lock.unlock()
                free(p)
            }
            var t = pthread_t()
            let rc = pthread_create(&t, nil, { arg in
                Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue().body()
                return nil
            }, Unmanaged.passRetained(box).toOpaque())
            try #require(rc == 0)
            ids.append(t)
        }
        lock.lock()
        while started < threads { lock.wait() }
        let during = MemoryTrimmer.arenaCount()
        release = true; lock.broadcast(); lock.unlock()
        for t in ids { pthread_join(t, nil) }
        #expect(during <= max(before, 2), "\(before) arenas before, \(during) while \(threads) threads held allocations")
    }
}
