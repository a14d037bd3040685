internal import CShim

/// Hands the heap's free pages back to the kernel now and then. glibc keeps what a burst of
/// pod starts freed in its arenas (one per thread that allocated), where it counts as the
/// agent's resident memory until it is reused: ~5 MiB after 100 pods, measured. `malloc_trim`
/// walks the arenas once (about a millisecond here), so every 30 s costs nothing measurable.
package enum MemoryTrimmer {
    static func run(every interval: Duration = .seconds(30)) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            trim()
        }
    }

    /// Returns free heap pages to the kernel; true when some were released.
    @discardableResult
    package static func trim() -> Bool { swl_malloc_trim() == 1 }
}
