import Foundation
import Runtime

/// Reads CRI log files the way `kubectl logs` wants them: content only (or with the
/// timestamp), tail, since, limit, and follow across rotation until the container exits.
package struct ContainerLogReader: Sendable {
    package struct Options: Sendable {
        package var follow = false
        package var tailLines: Int?
        package var timestamps = false
        package var sinceSeconds: Int?
        package var limitBytes: Int?
        package init() {}
    }

    package var path: String
    package var options: Options
    /// Whether the container still runs (follow stops when it does not and the file is drained).
    package var running: @Sendable () async -> Bool

    package init(path: String, options: Options, running: @escaping @Sendable () async -> Bool) {
        self.path = path
        self.options = options
        self.running = running
    }

    /// Formats one CRI line; nil to skip it.
    func render(_ raw: Substring, since: Date?) -> String? {
        guard let l = ContainerLogManager.parse(raw) else { return nil }
        if let since, let t = Self.parseTime(l.time), t < since { return nil }
        let body = l.content + (l.partial ? "" : "\n")
        return options.timestamps ? l.time + " " + body : body
    }

    static func parseTime(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return d }
        // nanoseconds: trim to milliseconds for the formatter
        if let dot = s.firstIndex(of: "."), let end = s.lastIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }), end > dot {
            let frac = s[s.index(after: dot)..<end].prefix(3)
            return f.date(from: String(s[..<dot]) + "." + frac + String(s[end...]))
        }
        return nil
    }

    /// Streams the log through `emit` (return false to stop, e.g. the client left).
    package func stream(_ emit: @Sendable (String) async -> Bool) async {
        let since = options.sinceSeconds.map { Date().addingTimeInterval(-Double($0)) }
        var budget = options.limitBytes ?? Int.max
        func send(_ s: String) async -> Bool {
            guard budget > 0 else { return false }
            var out = s
            if out.utf8.count > budget { out = String(decoding: Array(out.utf8.prefix(budget)), as: UTF8.self) }
            budget -= out.utf8.count
            return await emit(out)
        }
        guard let fh = FileHandle(forReadingAtPath: path) else { return }
        var handle = fh
        var inode = Self.inode(path)
        let initial = (try? handle.readToEnd()) ?? Data()
        var lines = String(decoding: initial, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
        var pending = ""
        if let last = initial.last, last != 0x0a, let tail = lines.popLast() { pending = String(tail) }
        if let n = options.tailLines { lines = Array(lines.suffix(max(n, 0))) }
        var chunk = ""
        for l in lines { if let r = render(l, since: since) { chunk += r } }
        if !chunk.isEmpty, !(await send(chunk)) { return }
        guard options.follow else {
            if !pending.isEmpty, let r = render(Substring(pending), since: since) { _ = await send(r) }
            return
        }
        var idleChecks = 0
        while !Task.isCancelled {
            let data = handle.availableData
            if !data.isEmpty {
                idleChecks = 0
                pending += String(decoding: data, as: UTF8.self)
                var out = ""
                while let nl = pending.firstIndex(of: "\n") {
                    if let r = render(pending[..<nl], since: since) { out += r }
                    pending = String(pending[pending.index(after: nl)...])
                }
                if !out.isEmpty, !(await send(out)) { return }
                continue
            }
            // Rotated: the path now names a new file; finish the old one, then switch.
            let now = Self.inode(path)
            if now != 0, now != inode, let next = FileHandle(forReadingAtPath: path) {
                try? handle.close()
                handle = next
                inode = now
                continue
            }
            idleChecks += 1
            if idleChecks % 5 == 0, !(await running()) {
                let rest = handle.availableData
                if rest.isEmpty { break }
                pending += String(decoding: rest, as: UTF8.self)
                continue
            }
            if idleChecks % 50 == 0, !(await emit("")) { return }
            try? await Task.sleep(for: .milliseconds(100))
        }
        if !pending.isEmpty, let r = render(Substring(pending), since: since) { _ = await send(r) }
        try? handle.close()
    }

    static func inode(_ path: String) -> UInt64 {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_ino) : 0
    }
}
