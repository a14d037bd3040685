public import Foundation

/// A real `swiftlet server` on 127.0.0.1 with its own data dir and kubeconfig, plus a
/// kubectl bound to it. Killed (by pid) and its files removed when the harness goes away.
public final class ServerHarness: @unchecked Sendable {
    public let dir: URL
    public let port: Int
    public private(set) var server: BackgroundProcess?
    public var kubeconfig: String { dir.appendingPathComponent("kubeconfig").path }
    public var dataDir: String { dir.appendingPathComponent("data").path }
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Extra `swiftlet server` flags (e.g. `--disable-controller-manager`).
    public let extraArgs: [String]

    public init(name: String = "api", extraArgs: [String] = []) throws {
        self.extraArgs = extraArgs
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sl-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        port = try Self.freePort()
        try start()
    }

    /// Finds a free loopback port by binding port 0.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let r = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard r else { throw POSIXError(.EADDRINUSE) }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Starts (or restarts) the server on the same port and data dir; waits until it answers.
    public func start() throws {
        try? FileManager.default.removeItem(atPath: kubeconfig)
        let p = try BackgroundProcess(TestPaths.binary("swiftlet"), [
            "server", "--data-dir", dataDir, "--port", String(port), "--kubeconfig-out", kubeconfig, "--log-level", "warning",
        ] + extraArgs)
        server = p
        let up = eventually(timeout: 30) {
            FileManager.default.fileExists(atPath: kubeconfig) && (try? Command.run("/usr/bin/env", ["true"])) != nil
                && kubectlQuiet(["get", "--raw", "/healthz"]).ok
        }
        if !up { throw HarnessError.notReady("swiftlet server did not become ready:\n\(p.output.string)") }
    }

    /// Stops the server: SIGTERM for a clean stop, SIGKILL to simulate a crash.
    public func stop(_ signal: Int32 = SIGTERM) {
        server?.stop(signal)
        server = nil
    }

    func kubectlQuiet(_ args: [String]) -> CommandResult {
        (try? Command.run(TestPaths.kubectl, ["--kubeconfig", kubeconfig] + args, timeout: 10))
            ?? CommandResult(status: -1, stdout: "", stderr: "could not run kubectl")
    }

    /// Runs the real kubectl against this server.
    @discardableResult
    public func kubectl(_ args: String..., stdin: String? = nil, timeout: TimeInterval = 60) throws -> CommandResult {
        try Command.run(TestPaths.kubectl, ["--kubeconfig", kubeconfig] + args, stdin: stdin, timeout: timeout)
    }

    public func kubectl(args: [String], stdin: String? = nil, timeout: TimeInterval = 60) throws -> CommandResult {
        try Command.run(TestPaths.kubectl, ["--kubeconfig", kubeconfig] + args, stdin: stdin, timeout: timeout)
    }

    /// Starts a long-running kubectl (e.g. `get pods --watch`).
    public func kubectlBackground(_ args: String...) throws -> BackgroundProcess {
        try BackgroundProcess(TestPaths.kubectl, ["--kubeconfig", kubeconfig] + args)
    }

    deinit {
        stop(SIGKILL)
        try? FileManager.default.removeItem(at: dir)
    }
}

public enum HarnessError: Error, CustomStringConvertible {
    case notReady(String)
    public var description: String {
        switch self {
        case .notReady(let s): return s
        }
    }
}
