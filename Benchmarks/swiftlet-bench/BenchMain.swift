// swiftlet-bench: benchmarks that print figures beside a reference measured in the same run.
//
//   swiftlet-bench apiserver [--pods 10000] [--concurrency 64]
//   swiftlet-bench proxy [--services 10000]     (root: a network namespace of its own)
//
// The API server benchmark creates and updates N pods over HTTP with C requests in flight
// while a watcher receives the events, and runs the same workload (same bytes, same client,
// same concurrency) against etcd 3.4 from Debian through its JSON gateway; as a floor, the
// same writes go straight into the SQLite store in-process.
import ArgumentParser
import AsyncHTTPClient
import Foundation
import Histogram
import KubeAPI
import MiniControlPlane
import NIOCore
import NIOHTTP1

/// Prints a line at once (stdout may be a file or a pipe).
func say(_ s: String) { FileHandle.standardOutput.write(Data((s + "\n").utf8)) }

/// A `swiftlet server` started for one benchmark on 127.0.0.1:`port`, measuring the API path
/// alone (its in-process scheduler and controllers off); stopped by pid.
final class BenchServer {
    let process = Process()
    let baseURL: String

    init(exe: String, dataDir: String, port: Int) throws {
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = ["server", "--data-dir", dataDir, "--port", String(port), "--log-level", "error",
                             "--disable-controller-manager", "--disable-scheduler"]
        try process.run()
        baseURL = "http://127.0.0.1:\(port)"
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }
}

/// Polls `url` until it answers 200 (bounded: `attempts` × 50 ms).
func waitReady(_ http: HTTPClient, _ url: String, attempts: Int = 400) async throws {
    for _ in 0..<attempts {
        if let r = try? await http.execute(HTTPClientRequest(url: url), timeout: .seconds(1)), r.status == .ok { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw CleanExit.message("\(url) did not become ready")
}

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftlet-bench", abstract: "swiftlet benchmarks, each beside a reference measured in the same run.",
        subcommands: [APIServerBench.self, SchedulerBench.self, CodecBench.self, RuntimeBench.self, CNIBench.self, ProxyNFTBench.self, ProxyClientBench.self])
}

struct Stats {
    var hist = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    var ops = 0
    var seconds = 0.0
    mutating func record(ns: UInt64) { _ = hist.record(max(1, ns / 1000)) }  // µs
    func ms(_ p: Double) -> String { String(format: "%.2f", Double(hist.valueAtPercentile(p)) / 1000) }
    var rate: String { String(format: "%.0f", Double(ops) / max(seconds, 1e-9)) }
}

func row(_ name: String, _ s: Stats) -> String {
    name.padding(toLength: 40, withPad: " ", startingAt: 0) + String(s.ops).leftPad(7) + s.rate.leftPad(10)
        + s.ms(50).leftPad(10) + s.ms(99).leftPad(10)
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

/// Wall-clock nanoseconds, comparable across tasks.
func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Sent-at times of in-flight writes, so the watcher can measure delivery.
final class SendTimes: @unchecked Sendable {
    private var times: [String: UInt64] = [:]
    private let lock = NSLock()
    func set(_ k: String, _ t: UInt64) {
        lock.lock()
        times[k] = t
        lock.unlock()
    }
    func take(_ k: String) -> UInt64? {
        lock.lock()
        defer { lock.unlock() }
        return times.removeValue(forKey: k)
    }
}

final class StatsBox: @unchecked Sendable {
    var stats = Stats()
    let lock = NSLock()
    func reset() {
        lock.lock()
        stats = Stats()
        lock.unlock()
    }
    func record(ns: UInt64) {
        lock.lock()
        stats.record(ns: ns)
        stats.ops += 1
        lock.unlock()
    }
}

func podJSON(_ i: Int, label: String) -> [UInt8] {
    JSONWriter.bytes([
        "apiVersion": "v1", "kind": "Pod",
        "metadata": ["name": .string("pod-\(i)"), "namespace": "bench", "labels": ["app": "bench", "rev": .string(label)]],
        "spec": ["containers": [["name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"],
                                  "resources": ["requests": ["cpu": "10m", "memory": "16Mi"]]]]],
    ])
}

/// Runs `count` operations with at most `concurrency` in flight, recording each latency.
func runLoad(count: Int, concurrency: Int, _ op: @escaping @Sendable (Int) async throws -> Void) async throws -> Stats {
    let box = StatsBox()
    let start = now()
    try await withThrowingTaskGroup(of: Void.self) { g in
        var next = 0
        func add() {
            let i = next
            next += 1
            g.addTask {
                let t0 = now()
                try await op(i)
                box.record(ns: now() - t0)
            }
        }
        for _ in 0..<min(concurrency, count) { add() }
        while try await g.next() != nil {
            if next < count { add() }
        }
    }
    var s = box.stats
    s.seconds = Double(now() - start) / 1e9
    return s
}

struct APIServerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "apiserver", abstract: "Create/update/watch 10,000 pods: swiftlet vs etcd 3.4.")

    @Option var pods = 10_000
    @Option var concurrency = 64
    @Option(help: "Path to the swiftlet binary (default: beside this one).")
    var swiftlet: String?
    @Option(help: "Path to etcd (Debian's etcd-server).")
    var etcd = "/usr/bin/etcd"

    func run() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let exe = swiftlet ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("swiftlet").path
        let http = HTTPClient(eventLoopGroupProvider: .singleton,
                              configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency)))
        say("API server benchmark: \(pods) pods, \(concurrency) requests in flight, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        say("name".padding(toLength: 40, withPad: " ", startingAt: 0) + "ops".leftPad(7) + "ops/s".leftPad(10) + "p50 ms".leftPad(10) + "p99 ms".leftPad(10))

        // swiftlet
        let port = 20000 + Int(getpid() % 10000)
        let server = try BenchServer(exe: exe, dataDir: dir.appendingPathComponent("swiftlet").path, port: port)
        defer { server.stop() }
        let base = server.baseURL
        try await waitReady(http, base + "/healthz")
        _ = try await send(http, .POST, base + "/api/v1/namespaces", JSONWriter.bytes(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "bench"]]))
        let swConns = try await connectAll(host: "127.0.0.1", port: port, count: concurrency)
        let sw = try await workload(connections: swConns, name: "swiftlet", serverPid: server.process.processIdentifier, watch: { times, box, count in
            try await self.watchSwiftlet(http, base, times: times, box: box, count: count)
        }, create: { c, i in
            _ = try await c.send("POST", "/api/v1/namespaces/bench/pods", body: podJSON(i, label: "a"))
        }, update: { c, i in
            _ = try await c.send("PATCH", "/api/v1/namespaces/bench/pods/pod-\(i)",
                                 body: Array(#"{"metadata":{"labels":{"rev":"b"}}}"#.utf8), contentType: "application/merge-patch+json")
        })
        for c in swConns { await c.close() }

        // etcd 3.4
        var et: (create: Stats, update: Stats, watch: Stats)? = nil
        if FileManager.default.isExecutableFile(atPath: etcd) {
            let cport = port + 1
            let etcdProc = Process()
            etcdProc.executableURL = URL(fileURLWithPath: etcd)
            etcdProc.arguments = ["--data-dir", dir.appendingPathComponent("etcd").path, "--name", "bench",
                                  "--listen-client-urls", "http://127.0.0.1:\(cport)", "--advertise-client-urls", "http://127.0.0.1:\(cport)",
                                  "--listen-peer-urls", "http://127.0.0.1:\(cport + 1)", "--initial-advertise-peer-urls", "http://127.0.0.1:\(cport + 1)",
                                  "--initial-cluster", "bench=http://127.0.0.1:\(cport + 1)", "--log-level", "error", "--quota-backend-bytes", "8589934592"]
            etcdProc.standardOutput = FileHandle.nullDevice
            etcdProc.standardError = FileHandle.nullDevice
            try etcdProc.run()
            defer { if etcdProc.isRunning { kill(etcdProc.processIdentifier, SIGTERM); etcdProc.waitUntilExit() } }
            let ebase = "http://127.0.0.1:\(cport)"
            try await waitReady(http, ebase + "/health")
            let b64: @Sendable (String) -> String = { Data($0.utf8).base64EncodedString() }
            let etConns = try await connectAll(host: "127.0.0.1", port: cport, count: concurrency)
            et = try await workload(connections: etConns, name: "etcd 3.4", serverPid: etcdProc.processIdentifier, watch: { times, box, count in
                try await self.watchEtcd(http, ebase, times: times, box: box, count: count)
            }, create: { c, i in
                let body: JSONValue = ["key": .string(b64("/registry/pods/bench/pod-\(i)")), "value": .string(Data(podJSON(i, label: "a")).base64EncodedString())]
                _ = try await c.send("POST", "/v3/kv/put", body: JSONWriter.bytes(body))
            }, update: { c, i in
                let body: JSONValue = ["key": .string(b64("/registry/pods/bench/pod-\(i)")), "value": .string(Data(podJSON(i, label: "b")).base64EncodedString())]
                _ = try await c.send("POST", "/v3/kv/put", body: JSONWriter.bytes(body))
            })
            for c in etConns { await c.close() }
        } else {
            say("(etcd not found at \(etcd): install etcd-server for the reference)")
        }

        // floor: the store alone, in-process, same concurrency
        let store = try SQLiteStore(path: dir.appendingPathComponent("floor.db").path)
        let f0 = Self.cpuSeconds(getpid())
        var floor = try await runLoad(count: pods, concurrency: concurrency) { i in
            _ = try await store.write(.create(key: "/registry/pods/bench/pod-\(i)") { _ in podJSON(i, label: "a") })
        }
        let f1 = Self.cpuSeconds(getpid())
        floor.ops = pods
        say(row("floor: SQLiteStore.write in-process", floor))

        // The API logic alone: the same creates and merge patches through `APIServer` in this
        // process, durable, same concurrency, without HTTP: what a write costs before the
        // network, the HTTP server and the watch (the difference to the server's CPU above).
        let logic = APIServer(store: try SQLiteStore(path: dir.appendingPathComponent("logic.db").path))
        try await logic.bootstrap()
        let nsInfo = logic.registry.lookup(group: "", version: "v1", resource: "namespaces")!
        let podInfo = logic.registry.lookup(group: "", version: "v1", resource: "pods")!
        let opts = WriteOptions(fieldManager: "swiftlet-bench")
        _ = try await logic.create(nsInfo, namespace: nil, body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "bench"]], options: opts)
        let l0 = Self.cpuSeconds(getpid())
        let lc = try await runLoad(count: pods, concurrency: concurrency) { i in
            _ = try await logic.create(podInfo, namespace: "bench", body: try JSONParser.parse(podJSON(i, label: "a")), options: opts)
        }
        let l1 = Self.cpuSeconds(getpid())
        let lp = try await runLoad(count: pods, concurrency: concurrency) { i in
            _ = try await logic.patch(podInfo, namespace: "bench", name: "pod-\(i)", type: .merge,
                                      patch: try JSONParser.parse(Array(#"{"metadata":{"labels":{"rev":"b"}}}"#.utf8)), options: opts)
        }
        let l2 = Self.cpuSeconds(getpid())
        say(row("API logic in-process, create", lc))
        say(row("API logic in-process, merge patch", lp))
        say(String(format: "CPU per write in this process: store alone %.0f µs; API logic (no HTTP) create %.0f µs, patch %.0f µs",
                   (f1 - f0) / Double(pods) * 1e6, (l1 - l0) / Double(pods) * 1e6, (l2 - l1) / Double(pods) * 1e6))

        say("")
        if let et {
            func ratio(_ a: Stats, _ b: Stats) -> String {
                String(format: "%.2fx", (Double(a.ops) / a.seconds) / (Double(b.ops) / b.seconds))
            }
            say("swiftlet/etcd throughput: create \(ratio(sw.create, et.create)), update \(ratio(sw.update, et.update))")
            say("p99 watch delivery: swiftlet \(sw.watch.ms(99)) ms, etcd \(et.watch.ms(99)) ms")
        }
        say("targets: >= 5000 durable writes/s; p99 watch delivery < 50 ms")
        try await http.shutdown()
    }

    /// CPU seconds (user + system) the process `pid` has used so far, from /proc.
    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // after "pid (comm)": state is field 0, utime 11, stime 12
        guard fields.count > 12, let u = Double(fields[11]), let s = Double(fields[12]) else { return 0 }
        return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func workload(connections: [LeanConnection], name: String, serverPid: Int32? = nil,
                  watch: @escaping @Sendable (SendTimes, StatsBox, Int) async throws -> Void,
                  create: @escaping @Sendable (LeanConnection, Int) async throws -> Void,
                  update: @escaping @Sendable (LeanConnection, Int) async throws -> Void) async throws -> (create: Stats, update: Stats, watch: Stats)
    {
        let times = SendTimes()
        let wbox = StatsBox()
        let count = pods
        let watcher = Task { try await watch(times, wbox, count * 2) }
        try await Task.sleep(for: .milliseconds(300))
        let cpu0 = serverPid.map(Self.cpuSeconds)
        let own0 = Self.cpuSeconds(getpid())
        let c = try await runLoad(count: pods, over: connections) { conn, i in
            times.set("pod-\(i)", now())
            try await create(conn, i)
        }
        say(row("\(name) create (HTTP)", c))
        let cpu1 = serverPid.map(Self.cpuSeconds)
        let u = try await runLoad(count: pods, over: connections) { conn, i in
            times.set("pod-\(i)", now())
            try await update(conn, i)
        }
        say(row("\(name) update (HTTP)", u))
        if let pid = serverPid, let cpu0, let cpu1 {
            let cpu2 = Self.cpuSeconds(pid)
            say(String(format: "%@ server CPU per request: create %.0f µs, update %.0f µs; load generator (this process) %.0f µs", name,
                       (cpu1 - cpu0) / Double(pods) * 1e6, (cpu2 - cpu1) / Double(pods) * 1e6,
                       (Self.cpuSeconds(getpid()) - own0) / Double(2 * pods) * 1e6))
        }
        let deadline = now() + 30_000_000_000
        while wbox.stats.ops < count * 2 && now() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        watcher.cancel()
        var w = wbox.stats
        w.seconds = c.seconds + u.seconds
        say(row("\(name) watch delivery (send → event)", w))
        return (c, u, w)
    }


    func send(_ http: HTTPClient, _ method: HTTPMethod, _ url: String, _ body: [UInt8], contentType: String = "application/json")
        async throws -> [UInt8]
    {
        var req = HTTPClientRequest(url: url)
        req.method = method
        req.headers.add(name: "Content-Type", value: contentType)
        req.body = .bytes(ByteBuffer(bytes: body))
        let resp = try await http.execute(req, timeout: .seconds(30))
        let buf = try await resp.body.collect(upTo: 1 << 20)
        guard (200..<300).contains(Int(resp.status.code)) else {
            throw CleanExit.message("\(method) \(url): HTTP \(resp.status.code): \(String(buffer: buf))")
        }
        return Array(buf.readableBytesView)
    }

    /// Streams newline-delimited JSON from a long request, calling `line` for each line.
    func stream(_ http: HTTPClient, _ req: HTTPClientRequest, line: (JSONValue) -> Bool) async throws {
        let resp = try await http.execute(req, timeout: .seconds(600))
        var pending: [UInt8] = []
        for try await chunk in resp.body {
            pending.append(contentsOf: chunk.readableBytesView)
            while let nl = pending.firstIndex(of: 0x0a) {
                let l = Array(pending[..<nl])
                pending.removeSubrange(...nl)
                if !l.isEmpty, let v = try? JSONParser.parse(l), !line(v) { return }
            }
        }
    }

    func watchSwiftlet(_ http: HTTPClient, _ base: String, times: SendTimes, box: StatsBox, count: Int) async throws {
        let list = try await send(http, .GET, base + "/api/v1/namespaces/bench/pods?limit=1", [])
        let rv = (try JSONParser.parse(list)).value(at: "metadata.resourceVersion")?.stringValue ?? "0"
        var req = HTTPClientRequest(url: base + "/api/v1/namespaces/bench/pods?watch=true&resourceVersion=\(rv)")
        req.method = .GET
        try await stream(http, req) { ev in
            let t = now()
            if let n = ev.value(at: ["object", "metadata", "name"])?.stringValue, let sent = times.take(n) { box.record(ns: t - sent) }
            return box.stats.ops < count
        }
    }

    func watchEtcd(_ http: HTTPClient, _ base: String, times: SendTimes, box: StatsBox, count: Int) async throws {
        let prefix = "/registry/pods/bench/"
        var end = Array(prefix.utf8)
        end[end.count - 1] += 1
        var req = HTTPClientRequest(url: base + "/v3/watch")
        req.method = .POST
        req.body = .bytes(ByteBuffer(bytes: JSONWriter.bytes(["create_request": [
            "key": .string(Data(prefix.utf8).base64EncodedString()), "range_end": .string(Data(end).base64EncodedString())]])))
        try await stream(http, req) { msg in
            let t = now()
            for ev in msg.value(at: ["result", "events"])?.arrayValue ?? [] {
                guard let k = ev.value(at: ["kv", "key"])?.stringValue, let d = Data(base64Encoded: k) else { continue }
                let name = String(decoding: d, as: UTF8.self).split(separator: "/").last.map(String.init) ?? ""
                if let sent = times.take(name) { box.record(ns: t - sent) }
            }
            return box.stats.ops < count
        }
    }
}
