package import Foundation
import Glibc

/// Whole-file reads with open(2)/read(2), for the agent's and runtime's files.
///
/// Foundation's readers (`FileManager.contents(atPath:)`, `String(contentsOfFile:)`,
/// `Data(contentsOf:)`) leak a 4 KiB buffer on every read of a file that stats as empty:
/// swift-foundation's Linux path for `st_size == 0` (procfs, sysfs, cgroupfs) reads into a
/// malloc'd chunk and, when nothing was read, returns an empty `Data` without freeing it. An
/// empty `cgroup.procs`, polled while a pod's processes die, or an empty file in a volume
/// read at every sync, would grow the agent by 4 KiB each time (measured: 20,000 reads of an
/// empty procfs file, +80 MB). These reads free what they allocate.
package enum FileContents {
    /// The bytes of the regular file at `path`; nil when it cannot be opened or read, or is
    /// not a regular file (as Foundation's readers).
    package static func bytes(atPath path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return nil }
        // Pseudo-files report size 0 and still have content: read until end of file.
        var out = [UInt8]()
        out.reserveCapacity(Int(st.st_size))
        let ok = withUnsafeTemporaryAllocation(byteCount: 16 * 1024, alignment: 1) { chunk -> Bool in
            while true {
                let n = read(fd, chunk.baseAddress, chunk.count)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                if n == 0 { return true }
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[..<n]))
            }
        }
        return ok ? out : nil
    }

    /// The text of the file at `path` (UTF-8, invalid sequences repaired); nil as `bytes`.
    package static func string(atPath path: String) -> String? {
        bytes(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The file's bytes as `Data`, for decoders that take it; nil as `bytes`.
    package static func data(atPath path: String) -> Data? {
        bytes(atPath: path).map { Data($0) }
    }
}
