// swiftlet-bench proxy: the nftables service proxy at 10,000 services × 2 endpoints, in a
// network namespace of its own (swiftlet-bench-proxy-<pid>, deleted on exit, on error and on
// SIGINT/SIGTERM). Control plane: full sync, one-service add/remove and one-endpoint change
// through our libnftnl batches, each beside `nft -f` of the same ruleset or the same
// transaction, interleaved in the same run. Packet path: a ClusterIP in front of two busybox
// httpd endpoints, requests through it with 10 and with 10,000 services in the table.
import ArgumentParser
import CShim
import Foundation
import ProxyNFT
import TestSupport

struct ProxyNFTBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "nftables proxy: sync 10,000 services × 2 endpoints vs nft -f; ClusterIP requests at 10 vs 10,000 services.")

    @Option var services = 10_000
    @Option(help: "Endpoints per service.")
    var endpoints = 2
    @Option(help: "Full syncs (ours and nft -f alternately).")
    var fullRuns = 3
    @Option(help: "One-service adds/removes and one-endpoint changes (ours and nft -f each).")
    var partialRuns = 11
    @Flag(help: "Skip the packet path (ClusterIP requests).")
    var skipPacket = false
    @Flag(help: "Skip the nft -f reference (for profiling our side alone).")
    var skipReference = false
    @Option(help: "Sequential requests per packet-path run (each: connect, GET, response, close).")
    var requests = 2000
    @Option(help: "Seconds per packet-path run (bounds the request loop and wrk).")
    var seconds = 5
    @Option var wrk = "/usr/bin/wrk"

    func run() async throws {
        guard getuid() == 0 else { throw CleanExit.message("proxy benchmark: run as root (network namespace, nftables)") }
        let ns = try BenchNetns(name: "swiftlet-bench-proxy-\(getpid())")
        defer { ns.cleanup() }
        say("proxy benchmark: \(services) services × \(endpoints) endpoints, netns \(ns.name), "
            + "\(ProcessInfo.processInfo.activeProcessorCount) cores, kernel \(Self.kernel()), \(Self.nftVersion(ns))")

        // The reference table lives in a namespace of its own: the kernel validates a commit
        // per namespace, so neither table makes the other's commits dearer.
        let refNs = skipReference ? nil : try BenchNetns(name: "swiftlet-bench-proxyref-\(getpid())")
        defer { refNs?.cleanup() }
        let result = try await ProxyBench.run(
            services: services, endpointsPerService: endpoints, fullRuns: fullRuns, partialRuns: partialRuns,
            backend: try ns.backend(), referenceNetns: refNs?.name)
        say("our table: \(result.chains) chains, \(result.rules) rules, \(result.fullSyncOperations) operations in a full sync; "
            + "model → ruleset build alone \(Self.ms(result.build)) ms")
        if refNs != nil {
            say("reference: the same services laid out as kube-proxy's nftables mode does (chains per service and "
                + "endpoint), \(result.referenceChains) chains, \(result.referenceRules) rules, loaded with nft -f in \(refNs!.name)")
        }
        say("name".padding(toLength: 44, withPad: " ", startingAt: 0) + "runs".leftPad(5) + "median ms".leftPad(11)
            + "min ms".leftPad(10) + "max ms".leftPad(10))
        for (name, d) in [
            ("swiftlet first sync (model → table)", [result.firstSync]),
            ("swiftlet full resync (libnftnl batch)", result.fullSync),
            ("  of which: our encoding", result.fullSyncEncode),
            ("  of which: kernel, sendto (thread CPU)", result.fullSyncKernelCPU),
            ("nft -f, kube-proxy-style table", result.nftFullLoad),
            ("swiftlet one-service add (partial sync)", result.serviceAdd),
            ("  of which: kernel, sendto (thread CPU)", result.serviceAddKernelCPU),
            ("nft -f, kube-proxy-style add", result.nftServiceAdd),
            ("swiftlet one-service remove", result.serviceRemove),
            ("nft -f, kube-proxy-style remove", result.nftServiceRemove),
            ("swiftlet one-endpoint change", result.endpointChange),
            ("nft -f, kube-proxy-style change", result.nftEndpointChange),
        ] {
            let s = d.sorted()
            say(name.padding(toLength: 44, withPad: " ", startingAt: 0) + String(s.count).leftPad(5)
                + Self.ms(ProxyBench.median(s) ?? .zero).leftPad(11) + Self.ms(s.first ?? .zero).leftPad(10)
                + Self.ms(s.last ?? .zero).leftPad(10))
        }
        say("targets: full sync of \(services) × \(endpoints) < 1000 ms; one-service add < 5 ms")
        if !skipPacket { try await packetPath(ns) }
    }

    // MARK: packet path

    static let clusterIP = "10.96.0.10"  // ProxyBench.service(0)
    static let endpointIPs = ["10.244.1.1", "10.244.1.2"]

    /// Inside the namespace: veth pair bench0/bench1 (both ends here, nothing leaves), the client
    /// address 10.244.0.100 and the endpoints on bench0, the service range routed to bench0 (the
    /// DNAT in nat-output sends the packets to the local endpoints). Service 0's endpoints are
    /// two busybox httpd; the other services' endpoints do not exist and get no traffic.
    func packetPath(_ ns: BenchNetns) async throws {
        let www = "/tmp/swiftlet-bench-proxy-www-\(getpid())"
        try FileManager.default.createDirectory(atPath: www, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: www) }
        try "hello from the endpoint\n".write(toFile: www + "/index.html", atomically: true, encoding: .utf8)
        for argv in [
            ["link", "set", "lo", "up"],
            ["link", "add", "bench0", "type", "veth", "peer", "name", "bench1"],
            ["link", "set", "bench0", "up"], ["link", "set", "bench1", "up"],
            ["addr", "add", "10.244.0.100/16", "dev", "bench0"],
            ["addr", "add", Self.endpointIPs[0] + "/32", "dev", "bench0"],
            ["addr", "add", Self.endpointIPs[1] + "/32", "dev", "bench0"],
            ["route", "add", "10.96.0.0/12", "dev", "bench0", "src", "10.244.0.100"],
        ] {
            try ns.run(["/usr/sbin/ip"] + argv).check()
        }
        for ip in Self.endpointIPs { try ns.spawn(["/bin/busybox", "httpd", "-f", "-p", "\(ip):8080", "-h", www]) }

        // A fresh proxier (its own socket) replaces the sync benchmark's table: 10 services first.
        let proxier = Proxier(config: ProxyConfig(clusterCIDR: IPv4CIDR("10.244.0.0/16")), backend: try ns.backend())
        await ProxyBench.populate(proxier, 0..<10, endpointsPerService: endpoints)
        let real = Self.endpointIPs.map { EndpointInfo(ip: IPv4Address($0)!, port: 8080) }
        await proxier.setEndpoints(ProxyBench.service(0).name, real)
        try await proxier.sync(full: true)
        guard try waitServing(ns, Self.clusterIP, 80) else {
            throw CleanExit.message("ClusterIP \(Self.clusterIP):80 did not answer (busybox httpd at \(Self.endpointIPs))")
        }

        let hasWrk = FileManager.default.isExecutableFile(atPath: wrk)
        say("")
        say("packet path: ClusterIP \(Self.clusterIP):80 → \(Self.endpointIPs.map { $0 + ":8080" }.joined(separator: ", ")) "
            + "(busybox httpd, a new connection per request), ≤ \(requests) requests / ≤ \(seconds) s per row")
        say("name".padding(toLength: 52, withPad: " ", startingAt: 0) + "requests".leftPad(9) + "req/s".leftPad(9)
            + "p50 ms".leftPad(9) + "p99 ms".leftPad(9))
        say(try loop(ns, Self.endpointIPs[0], 8080).row("floor: endpoint direct, loop (no service)"))
        for phase in 0..<2 {
            let n = phase == 0 ? 10 : services
            if phase == 1 {
                let clock = ContinuousClock()
                await ProxyBench.populate(proxier, 10..<services, endpointsPerService: endpoints)
                let took = try await clock.measure { try await proxier.sync() }
                say("(\(services - 10) services added in one partial sync: \(Self.ms(took)) ms)")
                try ns.run(["/usr/sbin/conntrack", "-F"], timeout: 30)  // the same conntrack state for both phases
            }
            say(try loop(ns, Self.clusterIP, 80).row("\(n) services: ClusterIP, loop (1 at a time)"))
            if hasWrk { say(try wrkRun(ns).row("\(n) services: ClusterIP, wrk -t1 -c4 (\(seconds) s)")) }
        }
        if !hasWrk { say("(wrk not found at \(wrk): scripts/setup.sh --bench installs it)") }
        let spread = try Self.endpointSpread(ns)
        say("endpoint choice (conntrack, all ClusterIP connections of the last phase): "
            + spread.map { "\($0.key) \($0.value)" }.sorted().joined(separator: ", "))
        say("target: ClusterIP latency at \(services) services ≈ at 10 (O(1) dispatch: a lookup in service-ips, one in service-endpoints)")
    }

    struct LoadResult {
        var requests: Int
        var failed: Int
        var seconds: Double
        var p50: Double  // ms
        var p99: Double
        func row(_ name: String) -> String {
            name.padding(toLength: 52, withPad: " ", startingAt: 0) + String(requests).leftPad(9)
                + String(format: "%.0f", Double(requests) / max(seconds, 1e-9)).leftPad(9)
                + String(format: "%.3f", p50).leftPad(9) + String(format: "%.3f", p99).leftPad(9)
                + (failed > 0 ? "  (\(failed) failed)" : "")
        }
    }

    /// Our bounded request loop, run as `swiftlet-bench proxy-client` inside the namespace.
    func loop(_ ns: BenchNetns, _ address: String, _ port: Int) throws -> LoadResult {
        let r = try ns.run([Self.selfPath(), "proxy-client", "--address", address, "--port", String(port),
                            "--count", String(requests), "--seconds", String(seconds)], timeout: Double(seconds) + 60).check()
        var f: [String: Double] = [:]
        for field in r.stdout.split(whereSeparator: \.isWhitespace) {
            let kv = field.split(separator: "=")
            if kv.count == 2, let v = Double(kv[1]) { f[String(kv[0])] = v }
        }
        return LoadResult(requests: Int(f["requests"] ?? 0), failed: Int(f["failed"] ?? 0), seconds: f["seconds"] ?? 0,
                          p50: f["p50_ms"] ?? 0, p99: f["p99_ms"] ?? 0)
    }

    /// wrk through the ClusterIP; busybox httpd closes every connection, so wrk reconnects per
    /// request (its latency is request → response, without the connect).
    func wrkRun(_ ns: BenchNetns) throws -> LoadResult {
        let r = try ns.run([wrk, "-t1", "-c4", "-d\(seconds)s", "--timeout", "2s", "--latency", "http://\(Self.clusterIP):80/"],
                           timeout: Double(seconds) + 30).check()
        var out = LoadResult(requests: 0, failed: 0, seconds: 0, p50: 0, p99: 0)
        for line in r.stdout.split(separator: "\n") {
            let words = line.split(whereSeparator: \.isWhitespace).map(String.init)
            if words.count == 2, words[0] == "50%" { out.p50 = Self.wrkMilliseconds(words[1]) }
            if words.count == 2, words[0] == "99%" { out.p99 = Self.wrkMilliseconds(words[1]) }
            if words.count >= 4, words[1] == "requests", words[2] == "in", let n = Int(words[0]) {
                out.requests = n
                out.seconds = Self.wrkMilliseconds(words[3].trimmingCharacters(in: [","])) / 1000
            }
            if line.contains("Socket errors") || line.contains("Non-2xx") { out.failed += 1 }
        }
        return out
    }

    /// "3.02ms", "812.00us", "1.01s" → milliseconds.
    static func wrkMilliseconds(_ s: String) -> Double {
        for (unit, scale) in [("us", 0.001), ("ms", 1.0), ("m", 60_000.0), ("s", 1000.0)] where s.hasSuffix(unit) {
            if let v = Double(s.dropLast(unit.count)) { return v * scale }
        }
        return Double(s) ?? 0
    }

    /// Polls the address with single requests until one succeeds (bounded: 50 × 100 ms).
    func waitServing(_ ns: BenchNetns, _ address: String, _ port: Int) throws -> Bool {
        for _ in 0..<50 {
            let r = try ns.run([Self.selfPath(), "proxy-client", "--address", address, "--port", String(port), "--count", "1",
                                "--seconds", "2"], timeout: 10)
            if r.ok && r.stdout.contains("requests=1 ") { return true }
            usleep(100_000)
        }
        return false
    }

    /// Connections to the ClusterIP per endpoint, from the conntrack table's reply sources.
    static func endpointSpread(_ ns: BenchNetns) throws -> [String: Int] {
        let r = try ns.run(["/usr/sbin/conntrack", "-L", "-p", "tcp", "--orig-dst", clusterIP], timeout: 30)
        var counts: [String: Int] = [:]
        for line in r.stdout.split(separator: "\n") {
            // orig: src=… dst=10.96.0.10 …; reply: src=<endpoint> …
            let srcs = line.split(separator: " ").filter { $0.hasPrefix("src=") }
            if srcs.count >= 2 { counts[String(srcs[1].dropFirst(4)), default: 0] += 1 }
        }
        return counts
    }

    static func selfPath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    static func ms(_ d: Duration) -> String {
        String(format: "%.2f", Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15)
    }

    static func kernel() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    static func nftVersion(_ ns: BenchNetns) -> String {
        ((try? ns.run(["/usr/sbin/nft", "--version"]).stdout) ?? "nft ?").split(separator: "(").first.map {
            $0.trimmingCharacters(in: .whitespaces)
        } ?? "nft ?"
    }
}

/// The benchmark's network namespace and the processes started in it; `cleanup()` (from a
/// defer, and from SIGINT/SIGTERM) stops those processes by pid and deletes the namespace.
final class BenchNetns: @unchecked Sendable {
    let name: String
    private let lock = NSLock()
    private var processes: [BackgroundProcess] = []
    private var removed = false

    /// Every namespace not yet cleaned up, for the signal handlers (a run may hold several).
    private static let live = NSLock()
    nonisolated(unsafe) private static var instances: [ObjectIdentifier: BenchNetns] = [:]
    nonisolated(unsafe) private static var signalSources: [any DispatchSourceSignal] = []

    init(name: String) throws {
        self.name = name
        try Command.run("/usr/sbin/ip", ["netns", "add", name], timeout: 10).check()
        Self.live.withLock {
            Self.instances[ObjectIdentifier(self)] = self
            guard Self.signalSources.isEmpty else { return }
            for sig in [SIGINT, SIGTERM] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler {
                    for ns in Self.live.withLock({ Array(Self.instances.values) }) { ns.cleanup() }
                    exit(128 + sig)
                }
                source.resume()
                Self.signalSources.append(source)
            }
        }
    }

    /// A NETLINK_NETFILTER socket inside the namespace.
    func backend() throws -> NetlinkNFTables {
        let fd = swl_netlink_socket_in_netns("/run/netns/\(name)", 12 /* NETLINK_NETFILTER */)
        guard fd >= 0 else { throw NFTError(.socket, errno: errno, "socket in netns \(name)") }
        return try NetlinkNFTables(fileDescriptor: fd)
    }

    /// Runs `argv` inside the namespace, bounded by `timeout`.
    @discardableResult
    func run(_ argv: [String], timeout: TimeInterval = 30) throws -> CommandResult {
        try Command.run("/usr/sbin/ip", ["netns", "exec", name] + argv, timeout: timeout)
    }

    /// Starts a long-running program inside the namespace (stopped by pid in `cleanup()`).
    func spawn(_ argv: [String]) throws {
        let p = try BackgroundProcess("/usr/sbin/ip", ["netns", "exec", name] + argv)
        lock.withLock { processes.append(p) }
    }

    func cleanup() {
        let (procs, first) = lock.withLock {
            let r = (processes, !removed)
            processes = []
            removed = true
            return r
        }
        for p in procs { p.stop(SIGTERM, timeout: 5) }
        if first { _ = try? Command.run("/usr/sbin/ip", ["netns", "delete", name], timeout: 10) }
        _ = Self.live.withLock { Self.instances.removeValue(forKey: ObjectIdentifier(self)) }
    }
}

/// `swiftlet-bench proxy-client`: the bounded request loop the proxy benchmark runs inside its
/// namespace. One request at a time: connect, `GET /` (HTTP/1.0), read to EOF, close; the
/// latency covers all of it, so the SYN that goes through the NAT chains is included.
struct ProxyClientBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy-client", abstract: "(used by `proxy`) sequential HTTP requests, bounded in count and time.",
        shouldDisplay: false)

    @Option var address: String
    @Option var port: Int
    @Option var count = 2000
    @Option var seconds = 5.0

    func run() throws {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        guard inet_pton(AF_INET, address, &addr.sin_addr) == 1 else { throw ValidationError("bad address \(address)") }
        let request = Array("GET / HTTP/1.0\r\nHost: \(address)\r\n\r\n".utf8)
        var buffer = [UInt8](repeating: 0, count: 8192)
        var latencies: [UInt64] = []
        latencies.reserveCapacity(count)
        var failed = 0
        let start = now()
        let deadline = start + UInt64(seconds * 1e9)
        for _ in 0..<count {
            let t0 = now()
            if t0 >= deadline { break }
            if exchange(addr, request, &buffer) { latencies.append(now() - t0) } else { failed += 1 }
        }
        let elapsed = Double(now() - start) / 1e9
        latencies.sort()
        func p(_ q: Double) -> Double {
            latencies.isEmpty ? 0 : Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * q))]) / 1e6
        }
        print(String(format: "requests=%d failed=%d seconds=%.3f p50_ms=%.3f p99_ms=%.3f ", latencies.count, failed, elapsed,
                     p(0.5), p(0.99)))
    }

    /// One request on a fresh connection; true when a `200` answer arrived and the server closed.
    func exchange(_ addr: sockaddr_in, _ request: [UInt8], _ buffer: inout [UInt8]) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var tv = timeval(tv_sec: 2, tv_usec: 0)  // bounds connect, write and each read
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var a = addr
        let connected = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0, write(fd, request, request.count) == request.count else { return false }
        var total = 0
        var status = false
        for _ in 0..<1000 {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { return false }
            if n == 0 { break }
            if total == 0 { status = String(decoding: buffer[0..<min(n, 12)], as: UTF8.self).hasSuffix(" 200") }
            total += n
        }
        return status
    }
}
