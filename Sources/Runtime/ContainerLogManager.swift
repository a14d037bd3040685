package import Foundation
import Glibc

/// CRI container log files: rotation by size with a file-count limit (the kubelet's
/// container log manager); the shim reopens its file on ReopenContainerLog.
package enum ContainerLogManager {
    /// Renames `path` to `path.<yyyyMMdd-HHmmss>` and deletes the oldest rotated files beyond
    /// `maxFiles` (counting the live file). Returns the rotated file's path.
    package static func rotate(_ path: String, maxFiles: Int, now: Date) throws -> String {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.timeZone = TimeZone(identifier: "UTC")
        var rotated = path + "." + f.string(from: now)
        var n = 0
        while FileManager.default.fileExists(atPath: rotated) && n < 1000 {
            n += 1
            rotated = path + "." + f.string(from: now) + "-\(n)"
        }
        if rename(path, rotated) != 0 { throw RuntimeError.sys("rename", path) }
        let dir = (path as NSString).deletingLastPathComponent, base = (path as NSString).lastPathComponent
        let old = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { $0.hasPrefix(base + ".") }.sorted()
        for name in old.dropLast(max(maxFiles - 1, 0)) { unlink(dir + "/" + name) }
        return rotated
    }

    /// Rotates when the file is larger than `maxBytes`; returns whether it did (then call ReopenContainerLog).
    package static func rotateIfNeeded(_ path: String, maxBytes: UInt64, maxFiles: Int, now: Date = Date()) throws -> Bool {
        var st = stat()
        guard stat(path, &st) == 0, UInt64(st.st_size) > maxBytes else { return false }
        _ = try rotate(path, maxFiles: maxFiles, now: now)
        return true
    }

    /// One parsed CRI log line.
    package struct Line: Sendable, Equatable {
        package var time: String
        package var stream: String
        package var partial: Bool
        package var content: String
    }

    /// Parses `<RFC3339Nano> <stdout|stderr> <P|F> <content>`.
    package static func parse(_ line: Substring) -> Line? {
        let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[1] == "stdout" || parts[1] == "stderr", parts[2] == "P" || parts[2] == "F" else {
            return nil
        }
        return Line(time: String(parts[0]), stream: String(parts[1]), partial: parts[2] == "P",
                    content: parts.count == 4 ? String(parts[3]) : "")
    }
}
