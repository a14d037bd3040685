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

    /// glibc takes the settings (the arena limit only binds while the process has at most 8
    /// arenas, so the agent sets it first thing; its effect on the idle agent is measured by
    /// AgentBenchmark, since this shared test process is long past that point).
    @Test func smallFootprintSettingsAreAccepted() {
        #expect(MemoryTrimmer.configureSmallFootprint())
    }
}
