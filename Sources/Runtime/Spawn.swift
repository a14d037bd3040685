package import Foundation
import CShim
import Glibc

/// A child started with posix_spawn and reaped with waitpid. Not Foundation's `Process`: it
/// sometimes never notices a child's exit (swift-corelibs-foundation#4795), and it cannot hand
/// the child a descriptor beyond stdio (an exec's terminal control fd).
package struct ChildProcess: Sendable {
    package let pid: Int32

    /// Starts `path args` with `fds[i]` as its descriptor i (the caller's fds are close-on-exec,
    /// so no other child inherits them), a clean signal mask and default dispositions, and
    /// `environment` (ours when nil).
    package init(_ path: String, _ args: [String], fds: [Int32], environment: [String: String]? = nil) throws {
        _ = brokenPipesFail
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (i, fd) in fds.enumerated() { posix_spawn_file_actions_adddup2(&actions, fd, Int32(i)) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([path] + args).map { strdup($0) } + [nil]
        let envp = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attr, argv, envp)
        guard rc == 0 else { throw RuntimeError(.startFailed, "spawn \(path): \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    /// Blocks until the child exits; its exit code, or 128 + the signal that ended it.
    package func waitBlocking() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return 255 }
        }
        let signaled = status & 0x7f
        return signaled == 0 ? (status >> 8) & 0xff : 128 + signaled
    }

    /// Waits on a thread of its own, not a cooperative one.
    package func wait() async -> Int32 {
        await onOwnThread { waitBlocking() }
    }
}

/// Runs blocking `body` on a thread of its own and returns its result. Not
/// `DispatchQueue.global()`: on Linux its pool has one thread per core and does not grow
/// while they block, so on two cores two blocked calls (a child's waitpid, a pipe read, a probe
/// waiting for its timeout) held up every other one, and dispatch timers with them.
package func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { cont in detachThread { cont.resume(returning: body()) } }
}

/// `onOwnThread` for blocking work that throws. The runtime actor hands it its file, mount and
/// cgroup work: done on the actor, one pod's sandbox or container set-up held up every other
/// runtime call (and a thread of the cooperative pool) for its whole length.
package func offActor<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await onOwnThread { Result { try body() } }.get()
}

/// Starts `body` on a new detached thread.
package func detachThread(_ body: @escaping @Sendable () -> Void) {
    let t = Thread(block: body)
    t.stackSize = 1 << 20
    t.start()
}

/// Writing to a child's pipe after it has exited (stdin typed into an exec that ended, a
/// terminal resize after the shim left) must fail with EPIPE, not kill this process with
/// SIGPIPE. A no-op handler rather than SIG_IGN: a handler is reset by exec, so no program we
/// start, by any means, inherits an ignored SIGPIPE.
let brokenPipesFail: Void = {
    signal(SIGPIPE) { _ in }
}()

/// A close-on-exec pipe: `read` and `write` ends.
func makePipe() throws -> (read: Int32, write: Int32) {
    var fds: [Int32] = [-1, -1]
    guard swl_pipe_cloexec(&fds) == 0 else { throw RuntimeError.sys("pipe", "") }
    return (fds[0], fds[1])
}

/// Runs helper executables (the shim, tar).
enum Spawn {
    struct Output: Sendable {
        var status: Int32
        var stdout: Data
        var stderr: Data
        var timedOut: Bool
    }

    /// Runs `path args`, collecting output; after `timeout` seconds (0 = none) sends SIGTERM.
    static func run(_ path: String, _ args: [String], timeout: Double = 0) async throws -> Output {
        let out = try makePipe(), err = try makePipe()
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let child: ChildProcess
        do {
            defer {
                close(devNull)
                close(out.write)
                close(err.write)
            }
            child = try ChildProcess(path, args, fds: [devNull, out.write, err.write])
        } catch {
            close(out.read)
            close(err.read)
            throw error
        }
        let pid = child.pid
        let fired = TimeoutFlag()
        // A dispatch timer, not a Task: the deadline must hold even when the cooperative pool
        // is busy (a starved pool let an exec run 30 s past its 1 s timeout).
        let timer: DispatchWorkItem? = timeout > 0 ? DispatchWorkItem {
            fired.set()
            Glibc.kill(pid, SIGTERM)
        } : nil
        if let timer { DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: timer) }
        nonisolated(unsafe) let cancelTimer = timer  // DispatchWorkItem.cancel is thread-safe
        return await onOwnThread {
            let group = DispatchGroup()
            let errBox = DataBox()
            group.enter()
            detachThread {
                errBox.data = FileHandle(fileDescriptor: err.read, closeOnDealloc: true).readDataToEndOfFile()
                group.leave()
            }
            let o = FileHandle(fileDescriptor: out.read, closeOnDealloc: true).readDataToEndOfFile()
            group.wait()
            let status = child.waitBlocking()
            cancelTimer?.cancel()
            return Output(status: status, stdout: o, stderr: errBox.data, timedOut: fired.isSet)
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
/// With a terminal, stderr is merged into stdout (as on a terminal) and `resize` sets its size.
package final class ExecSession: @unchecked Sendable {
    package let stdin: FileHandle
    package let stdout: FileHandle
    package let stderr: FileHandle
    private let child: ChildProcess
    private let configPath: String
    private let control: FileHandle?

    init(shim: String, config: String, tty: Bool) throws {
        configPath = config
        let i = try makePipe(), o = try makePipe(), e = try makePipe()
        let c = tty ? try makePipe() : nil
        defer {
            close(i.read)
            close(o.write)
            close(e.write)
            if let c { close(c.read) }
        }
        do {
            child = try ChildProcess(shim, ["exec", config], fds: [i.read, o.write, e.write] + (c.map { [$0.read] } ?? []))
        } catch {
            for fd in [i.write, o.read, e.read] + (c.map { [$0.write] } ?? []) { close(fd) }
            throw error
        }
        stdin = FileHandle(fileDescriptor: i.write, closeOnDealloc: true)
        stdout = FileHandle(fileDescriptor: o.read, closeOnDealloc: true)
        stderr = FileHandle(fileDescriptor: e.read, closeOnDealloc: true)
        control = c.map { FileHandle(fileDescriptor: $0.write, closeOnDealloc: true) }
    }

    /// Sets the terminal's size (no-op without a terminal).
    package func resize(width: UInt16, height: UInt16) {
        guard let control else { return }
        let msg: [UInt8] = [UInt8(width & 0xff), UInt8(width >> 8), UInt8(height & 0xff), UInt8(height >> 8)]
        try? control.write(contentsOf: msg)
    }

    /// Waits for the process and returns its exit code.
    package func wait() async -> Int32 {
        let code = await child.wait()
        unlink(configPath)
        return code
    }

    /// Kills the exec'd process (the shim forwards SIGTERM as SIGKILL).
    package func terminate() { Glibc.kill(child.pid, SIGTERM) }
}

/// write-temp-fsync-rename, then fsync the directory. Files that only the running sandbox or
/// its shim read (`durable: false`: hosts, resolv.conf, a shim's config, a seccomp program)
/// skip both fsyncs: a machine crash takes their readers with it, and an agent restart reads
/// them from the page cache. These files made 13 of the 29 fsyncs per pod start (strace, 100 pods).
func writeFileAtomically(_ path: String, _ data: Data, durable: Bool = true) throws {
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
    if !ok || durable && fsync(fd) != 0 {
        close(fd)
        throw RuntimeError.sys("write", tmp)
    }
    close(fd)
    if rename(tmp, path) != 0 { throw RuntimeError.sys("rename", path) }
    guard durable else { return }
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
