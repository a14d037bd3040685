public import Foundation
import Runtime

/// Paths to the package, its built binaries and the tools `scripts/setup.sh` installs.
public enum TestPaths {
    /// The package root (the directory holding Package.swift).
    public static var packageRoot: URL {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }

    /// The directory the test binary was built into; the package's executables sit beside it.
    public static var productsDir: URL {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent()
    }

    /// A built executable of this package (`swiftlet`, `swiftlet-cni`, `pause`).
    public static func binary(_ name: String) -> String {
        if let env = ProcessInfo.processInfo.environment["SWIFTLET_BIN_DIR"] { return env + "/" + name }
        let beside = productsDir.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return packageRoot.appendingPathComponent(".build/debug/\(name)").path
    }

    public static var kubectl: String { packageRoot.appendingPathComponent(".tools/bin/kubectl").path }
    public static var hasKubectl: Bool { FileManager.default.isExecutableFile(atPath: kubectl) }
    /// On CI (`CI=true`) a test whose tools are missing runs and fails saying so, instead of
    /// being skipped: there `scripts/setup.sh` has installed them.
    public static var onCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
    /// The Python that `scripts/setup.sh` installs the `kubernetes` client into.
    public static var python: String { packageRoot.appendingPathComponent(".tools/python/bin/python3").path }
    public static var isRoot: Bool { getuid() == 0 }
}

/// A finished command.
public struct CommandResult: Sendable, CustomStringConvertible {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var ok: Bool { status == 0 }
    public var description: String { "exit \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
}

public enum Command {
    /// Runs a program to completion (bounded by `timeout`), feeding `stdin`. Output goes to
    /// temp files rather than pipes with readability handlers: dispatch sources on pipes that
    /// close under them crash libdispatch on Linux when many processes run in parallel. The
    /// child is started with posix_spawn and reaped with waitpid here: Foundation's `Process`
    /// sometimes never notices a child's exit (seen with podman), which left `waitUntilExit`
    /// hanging on a zombie.
    public static func run(_ path: String, _ args: [String], stdin: String? = nil, env: [String: String] = [:],
                           timeout: TimeInterval = 60) throws -> CommandResult
    {
        let out = try OutputFile()
        let err = try OutputFile()
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        var fds: [Int32] = [-1, -1]
        if stdin != nil {
            // a socket pair, close-on-exec at once (no other thread's child may inherit our
            // end, which would keep the reader from seeing EOF), written with MSG_NOSIGNAL
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
        }
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { close(devNull) }
        let child: ChildProcess
        do {
            defer { if stdin != nil { close(fds[0]) } }
            child = try ChildProcess(path, args, fds: [stdin != nil ? fds[0] : devNull, out.handle.fileDescriptor, err.handle.fileDescriptor],
                                     environment: environment)
        } catch {
            if stdin != nil { close(fds[1]) }
            throw error
        }
        let pid = child.pid
        if let stdin {
            // the child may exit without reading: EPIPE, not death by SIGPIPE
            let bytes = Array(stdin.utf8)
            var off = 0
            while off < bytes.count {
                let n = bytes[off...].withUnsafeBytes { send(fds[1], $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                off += n
            }
            close(fds[1])
        }
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid || (r < 0 && errno != EINTR) { break }
            if Date() >= deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                break
            }
            usleep(5000)
        }
        // exit code, or (like Foundation's terminationStatus) the signal that ended it
        let signaled = status & 0x7f
        let code = signaled == 0 ? (status >> 8) & 0xff : signaled
        return CommandResult(status: code, stdout: out.string, stderr: err.string)
    }
}

/// A temp file a child writes its output to; read at any time, removed on deinit.
public final class OutputFile: @unchecked Sendable {
    public let path: String
    let handle: FileHandle

    public init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("sl-out-\(getpid())-\(UUID().uuidString)").path
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw POSIXError(.EIO)
        }
        handle = h
    }

    public var string: String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    /// The bytes written since `offset` (a watcher polling a growing output reads only what is new).
    public func bytes(from offset: Int) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        var at = off_t(offset)
        while true {
            let n = pread(fd, &buf, buf.count, at)
            guard n > 0 else { return out }
            out.append(contentsOf: buf[0..<n])
            at += off_t(n)
        }
    }

    deinit {
        try? handle.close()
        unlink(path)
    }
}

/// A long-running child process (a server, a `kubectl --watch`), stopped by pid.
public final class BackgroundProcess: @unchecked Sendable {
    public let process = Process()
    public let output: OutputFile

    public init(_ path: String, _ args: [String], env: [String: String] = [:]) throws {
        output = try OutputFile()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        process.environment = environment
        process.standardOutput = output.handle
        process.standardError = output.handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }

    /// Sends `signal` and waits (bounded) for the process to exit.
    public func stop(_ signal: Int32 = SIGTERM, timeout: TimeInterval = 10) {
        guard process.isRunning else { return }
        kill(pid, signal)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(5000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Waits until the output contains `text`, at most `timeout`.
    @discardableResult
    public func waitForOutput(_ text: String, timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if output.string.contains(text) { return true }
            usleep(10000)
        }
        return false
    }

    deinit { stop(SIGKILL, timeout: 2) }
}

/// Polls `condition` until it holds or `timeout` passes.
public func eventually(timeout: TimeInterval = 10, interval: TimeInterval = 0.05, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(UInt32(interval * 1_000_000))
    }
    return try condition()
}
