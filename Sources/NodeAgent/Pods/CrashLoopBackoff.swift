package import Foundation

/// The kubelet's container restart back-off: the first restart is immediate, later ones wait
/// 10 s, 20 s, 40 s … up to 5 min after the previous exit; a container that ran for 10 min
/// without exiting starts over at 10 s.
package struct CrashLoopBackoff: Sendable {
    package var initial: TimeInterval = 10
    package var max: TimeInterval = 300
    package var resetAfter: TimeInterval = 600
    private var entries: [String: (delay: TimeInterval, lastUpdate: Date)] = [:]

    package init(initial: TimeInterval = 10, max: TimeInterval = 300, resetAfter: TimeInterval = 600) {
        self.initial = initial
        self.max = max
        self.resetAfter = resetAfter
    }

    package static func key(podUID: String, container: String) -> String { podUID + "/" + container }

    /// The current delay for `key` (0 when none is recorded).
    package func delay(_ key: String) -> TimeInterval { entries[key]?.delay ?? 0 }

    /// When the container that exited at `finishedAt` may be restarted, or nil when it may be now.
    package func backOffUntil(_ key: String, finishedAt: Date, now: Date) -> Date? {
        guard let e = entries[key] else { return nil }
        if now.timeIntervalSince(e.lastUpdate) > 2 * max { return nil }
        let until = finishedAt.addingTimeInterval(e.delay)
        return until > now ? until : nil
    }

    /// Records a restart at `now`: the next exit waits the doubled delay. `ranFor` is how long
    /// the previous instance ran (a long run resets the back-off).
    package mutating func next(_ key: String, now: Date, ranFor: TimeInterval = 0) {
        if let e = entries[key], ranFor < resetAfter {
            entries[key] = (Swift.min(e.delay * 2, max), now)
        } else {
            entries[key] = (initial, now)
        }
    }

    package mutating func forget(prefix: String) { entries = entries.filter { !$0.key.hasPrefix(prefix) } }
}
