public import Foundation

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
    /// close under them crash libdispatch on Linux when many processes run in parallel.
    public static func run(_ path: String, _ args: [String], stdin: String? = nil, env: [String: String] = [:],
                           timeout: TimeInterval = 60) throws -> CommandResult
    {
        let out = try OutputFile()
        let err = try OutputFile()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        p.standardOutput = out.handle
        p.standardError = err.handle
        let inp = Pipe()
        p.standardInput = stdin == nil ? FileHandle.nullDevice : inp
        try p.run()
        if let stdin {
            try? inp.fileHandleForWriting.write(contentsOf: Data(stdin.utf8))
            try? inp.fileHandleForWriting.close()
        }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(5000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        return CommandResult(status: p.terminationStatus, stdout: out.string, stderr: err.string)
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
