public import Foundation
import Synchronization

/// A private little network for tests: a harness netns holding bridge `lab0`, "hosts" (netns joined to
/// `lab0` by a veth, their end named `lab0` too) and plain namespaces (pods). Nothing routes out: the
/// harness namespace has no uplink. Names are unique per process and lab: `sl-<tag>-<pid>-<n>-…`.
/// Everything is removed by `cleanup()`, which `with(_:)` and `deinit` call even when a test fails.
public final class NetnsLab: @unchecked Sendable {
    private static let counter = Atomic<Int>(0)
    public static let ip = "/usr/sbin/ip"

    /// Prefix of every namespace this lab makes.
    public let prefix: String
    /// The harness namespace holding the `lab0` bridge.
    public let harness: String
    private let lock = NSLock()
    private var namespaces: [String] = []
    private var processes: [BackgroundProcess] = []
    private var hostCount = 0

    /// Creates the harness namespace and its bridge.
    public init(tag: String = "cni") throws {
        let n = Self.counter.add(1, ordering: .relaxed).newValue
        prefix = "sl-\(tag)-\(getpid())-\(n)"
        harness = prefix + "-lab"
        do {
            try addNamespace(harness, raw: true)
            try run(in: harness, [Self.ip, "link", "add", "lab0", "type", "bridge"]).check()
            try run(in: harness, [Self.ip, "link", "set", "lab0", "up"]).check()
            try run(in: harness, [Self.ip, "link", "set", "lo", "up"]).check()
        } catch {
            cleanup()
            throw error
        }
    }

    deinit { cleanup() }

    /// Runs `body` with a fresh lab and always cleans it up.
    public static func with<T>(tag: String = "cni", _ body: (NetnsLab) async throws -> T) async throws -> T {
        let lab = try NetnsLab(tag: tag)
        defer { lab.cleanup() }
        return try await body(lab)
    }

    /// The path of a namespace, for `CNI_NETNS`.
    public static func path(_ ns: String) -> String { "/var/run/netns/" + ns }

    /// Creates a plain namespace `<prefix>-<name>` (lo down, no interfaces), e.g. a pod's.
    @discardableResult
    public func addNamespace(_ name: String) throws -> String {
        let ns = prefix + "-" + name
        try addNamespace(ns, raw: true)
        return ns
    }

    private func addNamespace(_ ns: String, raw: Bool) throws {
        try Command.run(Self.ip, ["netns", "add", ns], timeout: 10).check()
        lock.withLock { namespaces.append(ns) }
    }

    /// Creates a host namespace `<prefix>-<name>` with `lo` up and `lab0` (veth to the harness bridge)
    /// carrying `address` (e.g. "10.250.0.2/24"). Returns the namespace name.
    @discardableResult
    public func addHost(_ name: String, address: String) throws -> String {
        let ns = try addNamespace(name)
        let idx = lock.withLock { hostCount += 1; return hostCount }
        let port = "h\(idx)"
        try run(in: harness, [Self.ip, "link", "add", port, "type", "veth", "peer", "name", "lab0", "netns", ns]).check()
        try run(in: harness, [Self.ip, "link", "set", port, "master", "lab0", "up"]).check()
        try run(in: ns, [Self.ip, "link", "set", "lo", "up"]).check()
        try run(in: ns, [Self.ip, "addr", "add", address, "dev", "lab0"]).check()
        try run(in: ns, [Self.ip, "link", "set", "lab0", "up"]).check()
        return ns
    }

    /// Runs a command inside namespace `ns` (bounded by `timeout`).
    @discardableResult
    public func run(in ns: String, _ argv: [String], stdin: String? = nil, env: [String: String] = [:],
                    timeout: TimeInterval = 30) throws -> CommandResult
    {
        try Command.run(Self.ip, ["netns", "exec", ns] + argv, stdin: stdin, env: env, timeout: timeout)
    }

    /// Starts a long-running command inside `ns`; stopped by pid at cleanup.
    @discardableResult
    public func spawn(in ns: String, _ argv: [String]) throws -> BackgroundProcess {
        let p = try BackgroundProcess(Self.ip, ["netns", "exec", ns] + argv)
        lock.withLock { processes.append(p) }
        return p
    }

    /// An HTTP/1.0 GET from inside `ns` with `busybox nc` (busybox-static's `wget` crashes on
    /// this Debian build); returns the response body, or nil when nothing answered.
    public func httpGet(from ns: String, host: String, port: Int, path: String = "/", timeout: TimeInterval = 5) -> String? {
        let req = "GET \(path) HTTP/1.0\r\nHost: \(host)\r\n\r\n"
        guard let r = try? run(in: ns, ["/bin/busybox", "nc", "-w", "2", host, String(port)], stdin: req, timeout: timeout) else { return nil }
        // headers end with a blank line; CGI output may use bare newlines
        let ends = [r.stdout.range(of: "\r\n\r\n"), r.stdout.range(of: "\n\n")].compactMap { $0 }
        guard let split = ends.min(by: { $0.lowerBound < $1.lowerBound }) else { return nil }
        return String(r.stdout[split.upperBound...])
    }

    /// `busybox ping` from `ns` to `address`: true when a reply came back.
    public func ping(from ns: String, _ address: String, count: Int = 1) -> Bool {
        (try? run(in: ns, ["/bin/busybox", "ping", "-c", "\(count)", "-W", "2", address], timeout: 10).ok) ?? false
    }

    /// Stops the lab's processes and deletes its namespaces (and with them every veth, bridge,
    /// address, route and nftables table inside). Idempotent.
    public func cleanup() {
        let (procs, nss) = lock.withLock {
            let r = (processes, namespaces)
            processes = []
            namespaces = []
            return r
        }
        for p in procs { p.stop(SIGKILL, timeout: 5) }
        for ns in nss.reversed() { _ = try? Command.run(Self.ip, ["netns", "del", ns], timeout: 10) }
    }
}

public struct CommandFailed: Error, CustomStringConvertible {
    public var result: CommandResult
    public var description: String { "command failed: \(result)" }
}

extension CommandResult {
    /// Throws unless the command succeeded.
    @discardableResult
    public func check() throws -> CommandResult {
        guard ok else { throw CommandFailed(result: self) }
        return self
    }
}
