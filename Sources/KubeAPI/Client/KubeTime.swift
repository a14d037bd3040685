public import Foundation

/// Timestamps as the API writes them: `metav1.Time` (RFC 3339, seconds) and
/// `metav1.MicroTime` (RFC 3339 with six fractional digits).
public enum KubeTime {
    nonisolated(unsafe) private static let seconds: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f
    }()
    private static let lock = NSLock()

    /// `2026-11-23T10:00:00Z`, in UTC, computed without a formatter or a lock (the API
    /// server stamps every write with it).
    public static func format(_ d: Date) -> String {
        KubeProtobuf.formatRFC3339(seconds: Int64(d.timeIntervalSince1970.rounded(.down)), micros: nil)
    }
    public static func now() -> String { format(Date()) }

    /// `2026-11-23T10:00:00.123456Z`
    public static func formatMicro(_ d: Date) -> String {
        let t = d.timeIntervalSince1970
        let whole = Date(timeIntervalSince1970: t.rounded(.down))
        let micros = Int(((t - t.rounded(.down)) * 1_000_000).rounded(.down))
        var s = format(whole)
        s.removeLast()  // "Z"
        return s + "." + String(format: "%06d", micros) + "Z"
    }
    public static func nowMicro() -> String { formatMicro(Date()) }

    /// Parses both forms (and offsets other than Z).
    public static func parse(_ s: String?) -> Date? {
        guard var s, !s.isEmpty else { return nil }
        var fraction = 0.0
        if let dot = s.firstIndex(of: ".") {
            var end = s.index(after: dot)
            while end < s.endIndex, s[end].isNumber { end = s.index(after: end) }
            fraction = Double("0" + s[dot..<end]) ?? 0
            s.removeSubrange(dot..<end)
        }
        guard let d = lock.withLock({ seconds.date(from: s) }) else { return nil }
        return d.addingTimeInterval(fraction)
    }
}
