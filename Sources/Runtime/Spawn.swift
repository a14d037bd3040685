package import Foundation
import Glibc

/// Runs helper executables (the shim, tar). Process uses posix_spawn: no fork in Swift.
enum Spawn {
    struct Output: Sendable {
        var status: Int32
        var stdout: Data
        var stderr: Data
        var timedOut: Bool
    }

    /// Runs `path args`, collecting output; after `timeout` seconds (0 = none) sends SIGTERM.
    static func run(_ path: String, _ args: [String], timeout: Double = 0) async throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        do { try p.run() } catch {
            throw RuntimeError(.startFailed, "spawn \(path): \(error.localizedDescription)")
        }
        let pid = p.processIdentifier
        let fired = TimeoutFlag()
        // A dispatch timer, not a Task: the deadline must hold even when the cooperative pool
        // is busy (a starved pool let an exec run 30 s past its 1 s timeout).
        let timer: DispatchWorkItem? = timeout > 0 ? DispatchWorkItem {
            fired.set()
            Glibc.kill(pid, SIGTERM)
        } : nil
        if let timer { DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer) }
        nonisolated(unsafe) let cancelTimer = timer  // DispatchWorkItem.cancel is thread-safe
        return await withCheckedContinuation { cont in
            DispatchQueue.global().async {
                let group = DispatchGroup()
                let errBox = DataBox()
                group.enter()
                DispatchQueue.global().async {
                    errBox.data = err.fileHandleForReading.readDataToEndOfFile()
                    group.leave()
                }
                let o = out.fileHandleForReading.readDataToEndOfFile()
                group.wait()
                p.waitUntilExit()
                cancelTimer?.cancel()
                cont.resume(returning: Output(status: p.terminationStatus, stdout: o, stderr: errBox.data,
                                              timedOut: fired.isSet))
            }
        }
    }
}

final class TimeoutFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

final class DataBox: @unchecked Sendable {
    var data = Data()
}

/// An exec'd process with piped stdio, for streaming bridges (kubectl exec over WebSocket).
package final class ExecSession: @unchecked Sendable {
    package let stdin: FileHandle
    package let stdout: FileHandle
    package let stderr: FileHandle
    private let process: Process
    private let configPath: String

    init(shim: String, config: String) throws {
        process = Process()
        configPath = config
        process.executableURL = URL(fileURLWithPath: shim)
        process.arguments = ["exec", config]
        let i = Pipe(), o = Pipe(), e = Pipe()
        process.standardInput = i
        process.standardOutput = o
        process.standardError = e
        stdin = i.fileHandleForWriting
        stdout = o.fileHandleForReading
        stderr = e.fileHandleForReading
        do { try process.run() } catch {
            throw RuntimeError(.startFailed, "spawn \(shim): \(error.localizedDescription)")
        }
    }

    /// Waits for the process and returns its exit code.
    package func wait() async -> Int32 {
        await withCheckedContinuation { cont in
            DispatchQueue.global().async {
                self.process.waitUntilExit()
                unlink(self.configPath)
                cont.resume(returning: self.process.terminationStatus)
            }
        }
    }

    /// Kills the exec'd process (the shim forwards SIGTERM as SIGKILL).
    package func terminate() { Glibc.kill(process.processIdentifier, SIGTERM) }
}

/// write-temp-fsync-rename, then fsync the directory.
func writeFileAtomically(_ path: String, _ data: Data) throws {
    let tmp = path + ".tmp"
    let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    if fd < 0 { throw RuntimeError.sys("open", tmp) }
    let ok = data.withUnsafeBytes { buf -> Bool in
        var off = 0
        while off < buf.count {
            let n = write(fd, buf.baseAddress! + off, buf.count - off)
            if n <= 0 { return false }
            off += n
        }
        return true
    }
    if !ok || fsync(fd) != 0 {
        close(fd)
        throw RuntimeError.sys("write", tmp)
    }
    close(fd)
    if rename(tmp, path) != 0 { throw RuntimeError.sys("rename", path) }
    let dir = (path as NSString).deletingLastPathComponent
    let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if dfd >= 0 {
        fsync(dfd)
        close(dfd)
    }
}

/// The shim's config file: "key value" lines, newline/tab/backslash escaped; lists repeat keys.
struct ShimConfig {
    private(set) var lines: [String] = []

    mutating func add(_ key: String, _ value: String) {
        var v = ""
        for c in value {
            switch c {
            case "\\": v += "\\\\"
            case "\n": v += "\\n"
            default: v.append(c)
            }
        }
        lines.append("\(key) \(v)")
    }

    var text: String { lines.joined(separator: "\n") + "\n" }
}
