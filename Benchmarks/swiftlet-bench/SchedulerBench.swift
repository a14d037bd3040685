// swiftlet-bench scheduler: N pods onto M fake nodes through a real `swiftlet server`
// (SQLite, fsync on every write), scheduled by the in-process `Scheduler` over HTTP, beside a
// baseline measured in the same run: the same queue, informers and binding with the filters
// only (no scoring, first feasible node wins). Two phases per profile: a backlog of N pods
// created before the scheduler starts (throughput: informers synced → last binding acknowledged),
// then pods created while it runs (latency: creation request sent → its binding acknowledged by
// the API server). Bindings are counted through the scheduler's `onBound` hook rather than a
// watch of our own, so the harness does not take CPU from the scheduler on these two cores; a
// list after each phase checks that the server holds every pod bound.
import ArgumentParser
import AsyncHTTPClient
import Foundation
import KubeAPI
import Logging
import MiniControlPlane
import NIOCore
import NIOHTTP1

struct SchedulerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scheduler",
                                                    abstract: "Schedule 10,000 pods onto 5,000 fake nodes: full profile vs filters only.")

    @Option var pods = 10_000
    @Option var nodes = 5_000
    @Option(help: "Pod creations in flight.")
    var concurrency = 64
    @Option(help: "The scheduler's API calls (bindings) in flight.")
    var parallelism = 128
    @Option(help: "Run only one profile: default or filters.")
    var only: String?
    @Option(help: "Give up after this many seconds per run.")
    var timeout = 300
    @Option(help: "Path to the swiftlet binary (default: beside this one).")
    var swiftlet: String?
    @Option(help: "Pods created while the scheduler runs, after the backlog (latency phase).")
    var streamed = 2_000
    @Flag(help: "Skip the Scheduled events (they are on by default, as upstream).")
    var noEvents = false

    func run() async throws {
        let exe = swiftlet ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("swiftlet").path
        say("scheduler benchmark: \(pods) pods onto \(nodes) fake nodes, \(concurrency) creations in flight, "
            + "\(ProcessInfo.processInfo.activeProcessorCount) cores, events \(noEvents ? "off" : "on")")
        say("name".padding(toLength: 40, withPad: " ", startingAt: 0) + "pods".leftPad(7) + "pods/s".leftPad(10) + "p50 ms".leftPad(10) + "p99 ms".leftPad(10))
        let base = only == "default" ? nil : try await measure(exe: exe, framework: .filtersOnly, name: "filters only:")
        let full = only == "filters" ? nil : try await measure(exe: exe, framework: .default, name: "default profile:")
        say("")
        if let base, let full {
            say(String(format: "full profile / filters only: %.2fx throughput", full.rate / max(base.rate, 1e-9)))
        }
        say("target: > 1500 pods/s (kube-scheduler's CI threshold for 5000 nodes / 10000 pods: 680 pods/s)")
    }

    struct Result {
        var rate: Double
    }

    func measure(exe: String, framework: Framework, name: String) async throws -> Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-sched-bench-\(getpid())-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try BenchServer(exe: exe, dataDir: dir.appendingPathComponent("data").path,
                                     port: 21000 + Int(getpid() % 5000) + Int.random(in: 0..<2000))
        defer { server.stop() }
        let baseURL = server.baseURL
        let http = HTTPClient(eventLoopGroupProvider: .singleton,
                              configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: parallelism + concurrency + 16)))
        defer { _ = http.shutdown() }
        try await waitReady(http, baseURL + "/healthz")
        try await post(http, baseURL + "/api/v1/namespaces", ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "bench"]])

        // fake nodes
        let nodeCount = nodes
        _ = try await runLoad(count: nodeCount, concurrency: concurrency) { i in
            try await post(http, baseURL + "/api/v1/nodes", Self.node(i))
        }

        // phase 1, backlog: every pod exists before the scheduler starts; throughput is how fast
        // it drains them (from its informers having synced to the last pod seen bound)
        let count = pods
        let deadline = now() + UInt64(timeout) * 1_000_000_000
        let creation = try await runLoad(count: count, concurrency: concurrency) { i in
            try await post(http, baseURL + "/api/v1/namespaces/bench/pods", Self.pod(i))
        }
        let client = APIClient(baseURL: baseURL)
        let times = SendTimes()
        let bound = BoundLog()

        var options = SchedulerOptions()
        options.framework = framework
        options.apiParallelism = parallelism
        options.recordEvents = !noEvents
        var logger = Logger(label: "bench.scheduler")
        logger.logLevel = .error
        options.logger = logger
        options.onBound = { key, _ in bound.append(key, now()) }
        let scheduler = Scheduler(client: client, options: options)
        let schedTask = Task { await scheduler.run() }
        defer { schedTask.cancel() }
        while await !scheduler.synced, now() < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let synced = now()
        while bound.count < count && now() < deadline { try await Task.sleep(for: .milliseconds(5)) }
        // a pod can be bound before this loop saw the informers synced: count it from there
        let drain = Self.stats(bound.drain(), seconds: nil) { _, t in t > synced ? t - synced : 0 }
        say(row("\(name) backlog", drain) + (drain.ops < count ? "   (timed out: \(drain.ops) bound)" : ""))
        try await checkAllBound(client)

        // phase 2, streaming: pods created while the scheduler runs; latency is creation request
        // sent → binding acknowledged
        let streamStart = now()
        _ = try await runLoad(count: streamed, concurrency: concurrency) { i in
            times.set("bench/pod-\(count + i)", now())
            try await post(http, baseURL + "/api/v1/namespaces/bench/pods", Self.pod(count + i))
        }
        while bound.count < streamed && now() < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let stream = Self.stats(bound.drain(), seconds: Double(now() - streamStart) / 1e9) { key, t in
            times.take(key).map { t > $0 ? t - $0 : 0 }
        }
        say(row("\(name) streaming", stream) + (stream.ops < streamed ? "   (timed out: \(stream.ops) bound)" : ""))
        try await checkAllBound(client)
        let st = await scheduler.stats
        func us(_ d: Duration, _ n: Int) -> String {
            String(format: "%.0f", (Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12) / Double(max(n, 1)))
        }
        say("    creation alone (no scheduler): \(creation.rate) pods/s; scheduler: \(st.attempts) attempts, "
            + "\(us(st.cycleTime, st.attempts)) µs per cycle (\(us(st.cycleCPUTime, st.attempts)) µs CPU), \(us(st.bindTime, st.scheduled)) µs per binding, \(st.bindErrors) binding errors")
        return Result(rate: Double(drain.ops) / drain.seconds)
    }

    /// Latencies of the bindings in `log` (`latency` gives nanoseconds, or nil to leave one
    /// out); without `seconds`, the phase lasts until the last binding, measured from the
    /// latencies' common origin.
    static func stats(_ log: [(key: String, at: UInt64)], seconds: Double?, latency: (String, UInt64) -> UInt64?) -> Stats {
        var s = Stats()
        var longest: UInt64 = 0
        for (key, at) in log {
            guard let ns = latency(key, at) else { continue }
            s.record(ns: ns)
            s.ops += 1
            longest = max(longest, ns)
        }
        s.seconds = seconds ?? Double(longest) / 1e9
        return s
    }

    /// The hook counts what the scheduler believes it bound; the server must agree.
    func checkAllBound(_ client: APIClient) async throws {
        let unbound = try await client.list(Pod.self, namespace: "bench", fieldSelector: "spec.nodeName=").items
        if !unbound.isEmpty {
            say("    \(unbound.count) pods still unbound in the API server, e.g. \(unbound.prefix(3).map(\.name).joined(separator: ", "))")
        }
    }

    /// Bindings as the scheduler reports them: pod key and when.
    final class BoundLog: @unchecked Sendable {
        private var entries: [(key: String, at: UInt64)] = []
        private let lock = NSLock()
        func append(_ key: String, _ at: UInt64) {
            lock.lock()
            entries.append((key, at))
            lock.unlock()
        }
        var count: Int {
            lock.lock()
            defer { lock.unlock() }
            return entries.count
        }
        func drain() -> [(key: String, at: UInt64)] {
            lock.lock()
            defer { lock.unlock() }
            let e = entries
            entries = []
            return e
        }
    }

    static func node(_ i: Int) -> JSONValue {
        let res: JSONValue = ["cpu": "32", "memory": "128Gi", "pods": "110"]
        return ["apiVersion": "v1", "kind": "Node",
                "metadata": ["name": .string("node-\(i)"), "labels": ["kubernetes.io/hostname": .string("node-\(i)"),
                                                                      "topology.kubernetes.io/zone": .string("zone-\(i % 3)")]],
                "status": ["capacity": res, "allocatable": res,
                           "conditions": [["type": "Ready", "status": "True", "reason": "KubeletReady"]]]]
    }

    static func pod(_ i: Int) -> JSONValue {
        ["apiVersion": "v1", "kind": "Pod",
         "metadata": ["name": .string("pod-\(i)"), "namespace": "bench", "labels": ["app": "bench"]],
         "spec": ["terminationGracePeriodSeconds": 0,
                  "containers": [["name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"],
                                  "resources": ["requests": ["cpu": "100m", "memory": "128Mi"]]]]]]
    }

}

@Sendable func post(_ http: HTTPClient, _ url: String, _ body: JSONValue) async throws {
    var req = HTTPClientRequest(url: url)
    req.method = .POST
    req.headers.add(name: "Content-Type", value: "application/json")
    req.body = .bytes(ByteBuffer(bytes: JSONWriter.bytes(body)))
    let resp = try await http.execute(req, timeout: .seconds(30))
    let buf = try await resp.body.collect(upTo: 1 << 20)
    guard (200..<300).contains(Int(resp.status.code)) else {
        throw CleanExit.message("POST \(url): HTTP \(resp.status.code): \(String(buffer: buf))")
    }
}
