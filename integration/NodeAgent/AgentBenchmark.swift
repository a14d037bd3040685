import Foundation
import Glibc
import Testing
import TestSupport

/// The agent benchmark (not a test): 100 pods applied at once on one node until all are
/// Running and Ready, creation-to-Running percentiles; then the agent's idle RSS and CPU with
/// 10 pods. Runs only with SWIFTLET_BENCH=1 (a release build is best:
/// `SWIFTLET_BIN_DIR=.build/release`); SWIFTLET_BENCH_REFERENCE=0 leaves out the podman run
/// (for profiling our side alone); SWIFTLET_BENCH_PODS=N applies N pods instead of 100,
/// SWIFTLET_BENCH_ORDER=1 prints each pod's creation offset and latency in creation order, and
/// SWIFTLET_BENCH_HOLD=S keeps the idle agent S seconds for inspection (smaps, pagemap).
/// Prints its figures; asserts only that the pods ran.
@Suite(.serialized, .enabled(if: AgentLab.available && ProcessInfo.processInfo.environment["SWIFTLET_BENCH"] == "1",
                             "benchmark: set SWIFTLET_BENCH=1"))
struct AgentBenchmark {
    static func pods(_ n: Int, prefix: String) -> String {
        (0..<n).map { i in
            """
            apiVersion: v1
            kind: Pod
            metadata: {name: \(prefix)-\(i)}
            spec:
              nodeName: node-a
              terminationGracePeriodSeconds: 1
              containers:
              - name: app
                image: \(AgentLab.image)
                command: ["sleep", "3600"]
            """
        }.joined(separator: "\n---\n")
    }

    /// Follows `kubectl get pods -w` and timestamps each pod's first sighting and its first Ready.
    final class Watcher: @unchecked Sendable {
        var seen: [String: Date] = [:]
        var ready: [String: Date] = [:]
        var offset = 0
        let proc: BackgroundProcess
        init(_ lab: AgentLab) throws {
            proc = try lab.kubectlBackground("get", "pods", "-w", "-o",
                                             "jsonpath={.metadata.name} {.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}")
        }
        /// Reads only what kubectl wrote since the last poll: the harness shares the two cores
        /// with what it measures (re-reading the whole output every 20 ms in a debug build
        /// cost it a fifth of a core).
        func poll() {
            let new = proc.output.bytes(from: offset)
            guard let lastNL = new.lastIndex(of: UInt8(ascii: "\n")) else { return }
            let now = Date()
            offset += lastNL + 1
            let complete = String(decoding: new[...lastNL], as: UTF8.self)
            for line in complete.split(separator: "\n") {
                let f = line.split(separator: " ")
                guard let name = f.first.map(String.init) else { continue }
                if seen[name] == nil { seen[name] = now }
                if f.count > 1, f[1] == "True", ready[name] == nil { ready[name] = now }
            }
        }
    }

    static func percentile(_ xs: [Double], _ p: Double) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return .nan }
        return s[min(s.count - 1, Int((Double(s.count) * p).rounded(.up)) - 1)]
    }

    static func rssKiB(_ pid: Int32) -> Int {
        let s = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        for line in s.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(separator: " ")[1]) ?? 0
        }
        return 0
    }

    static func cpuTicks(_ pid: Int32) -> Int {
        let s = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let close = s.lastIndex(of: ")") else { return 0 }
        let f = s[s.index(after: close)...].split(separator: " ")
        return (Int(f[11]) ?? 0) + (Int(f[12]) ?? 0)  // utime, stime
    }

    @Test func hundredPodsToRunningAndIdleCost() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent()
            let n = ProcessInfo.processInfo.environment["SWIFTLET_BENCH_PODS"].flatMap(Int.init) ?? 100
            let w = try Watcher(lab)
            defer { w.proc.stop(SIGKILL) }
            try await Task.sleep(for: .milliseconds(500))
            // The watch is read while kubectl apply creates the pods (it takes a while for 100):
            // read only afterwards, every pod created before apply returned was "seen" late.
            let file = NSTemporaryDirectory() + "agent-bench-\(getpid()).yaml"
            try Self.pods(n, prefix: "bench").write(toFile: file, atomically: true, encoding: .utf8)
            defer { unlink(file) }
            let agentPid = try #require(lab.agent?.pid), serverPid = try #require(lab.server?.pid)
            let agentCPU0 = Self.cpuTicks(agentPid), serverCPU0 = Self.cpuTicks(serverPid)
            let t0 = Date()
            let apply = try lab.kubectlBackground("apply", "-f", file)
            let deadline = Date().addingTimeInterval(300)
            while w.ready.count < n && Date() < deadline {
                w.poll()
                try await Task.sleep(for: .milliseconds(20))
            }
            // What the agent and the server spent from apply to the last pod Ready, per pod
            // (the shims and the pods themselves are other processes, not counted).
            let msPerTick = 1000 / Double(sysconf(Int32(_SC_CLK_TCK)))
            let agentMs = Double(Self.cpuTicks(agentPid) - agentCPU0) * msPerTick / Double(n)
            let serverMs = Double(Self.cpuTicks(serverPid) - serverCPU0) * msPerTick / Double(n)
            apply.process.waitUntilExit()
            try #require(apply.process.terminationStatus == 0, "kubectl apply: \(apply.output.string)")
            let total = Date().timeIntervalSince(t0)
            // Percentiles of fewer pods would mislead (and of none are NaN): stop here, the lab cleans up.
            try #require(w.ready.count == n, "only \(w.ready.count) of \(n) pods became Ready")
            let lat = w.ready.compactMap { name, r in w.seen[name].map { r.timeIntervalSince($0) * 1000 } }
            if ProcessInfo.processInfo.environment["SWIFTLET_BENCH_ORDER"] == "1" {
                let order = w.seen.sorted { $0.value < $1.value }
                print(order.map { name, seen in
                    "\(Int(seen.timeIntervalSince(t0) * 1000))+\(Int((w.ready[name].map { $0.timeIntervalSince(seen) } ?? -1) * 1000))"
                }.joined(separator: " "))
            }
            print("""

                swiftlet agent, \(n) pods applied at once on one node (kubectl apply → Ready as seen by kubectl get -w):
                  all Ready after \(String(format: "%.1f", total)) s
                  creation-to-Ready ms: p50 \(Int(Self.percentile(lat, 0.5)))  p90 \(Int(Self.percentile(lat, 0.9)))  p99 \(Int(Self.percentile(lat, 0.99)))  max \(Int(lat.max() ?? 0))
                  CPU per pod until all Ready: agent \(String(format: "%.1f", agentMs)) ms, swiftlet server (API and controllers) \(String(format: "%.1f", serverMs)) ms
                """)
            try lab.kubectl("delete", "pods", "--all", "--wait=true", "--timeout=300s", timeout: 320).check()

            // Idle cost with 10 pods.
            try lab.kubectl("apply", "-f", "-", stdin: Self.pods(10, prefix: "idle")).check()
            #expect(await until(timeout: 60, interval: 0.5) {
                (try? lab.kubectl("get", "pods", "-o", "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}"))?.stdout
                    .split(separator: " ").filter { $0 == "True" }.count == 10
            })
            let pid = try #require(lab.agent?.pid)
            try await Task.sleep(for: .seconds(5))
            let c0 = Self.cpuTicks(pid), s0 = Date()
            try await Task.sleep(for: .seconds(30))
            let ticks = Self.cpuTicks(pid) - c0
            let secs = Date().timeIntervalSince(s0)
            let cpu = Double(ticks) / Double(sysconf(Int32(_SC_CLK_TCK))) / secs * 100
            print("""
                  idle with 10 pods over \(Int(secs)) s: agent RSS \(Self.rssKiB(pid) / 1024) MiB, CPU \(String(format: "%.2f", cpu))% of one core
                  (targets: p99 < 1000 ms, RSS < 40 MiB, CPU < 1%)

                """)
            if let hold = ProcessInfo.processInfo.environment["SWIFTLET_BENCH_HOLD"].flatMap(Int.init) {
                print("holding the idle agent (pid \(pid)) for \(hold) s")
                try await Task.sleep(for: .seconds(hold))
            }
            try lab.kubectl("delete", "pods", "--all", "--wait=true", "--timeout=120s", timeout: 140).check()
            if ProcessInfo.processInfo.environment["SWIFTLET_BENCH_REFERENCE"] != "0" { print(try Self.podmanReference(n: n, lab: lab)) }
        }
    }

    /// The same pods through podman + crun (`podman kube play`, no network, inside the lab's
    /// node netns and a mount namespace where crun sees plain cgroup v1): wall time for all,
    /// and each pod's start-of-play-to-running, since all pods are asked for at once as with
    /// kubectl apply.
    static func podmanReference(n: Int, lab: AgentLab) throws -> String {
        let podman = "/usr/bin/podman", crun = "/usr/bin/crun"
        guard FileManager.default.isExecutableFile(atPath: podman), FileManager.default.isExecutableFile(atPath: crun) else {
            return "  podman reference: podman/crun not installed (scripts/setup.sh --bench)"
        }
        let view = try LegacyCgroupView()
        defer { view.close() }
        // podman 4.3's kube play has no --cgroup-parent: with cgroupfs its pods go under
        // /libpod_parent, a subtree of its own, removed afterwards if this run made it
        let parent = "/libpod_parent"
        let parentExisted = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory" + parent)
        let root = lab.dir + "/podman"
        let podmanIn = try PrivatePodman(root: root, runtime: crun, view: view, netns: lab.node, podman: podman)
        func pm(_ args: [String], timeout: TimeInterval = 120) throws -> CommandResult { try podmanIn.run(args, timeout: timeout) }
        defer {
            podmanIn.reset()
            if !parentExisted { removeCgroupTrees(parent) }
        }
        try pm(["import", "--change", #"CMD ["/bin/sleep","3600"]"#, "--change", "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                lab.dir + "/busybox-layer.tar", "localhost/bench/busybox"]).check()
        let yaml = Self.pods(n, prefix: "pm").replacingOccurrences(of: "  nodeName: node-a\n", with: "")
            .replacingOccurrences(of: AgentLab.image, with: "localhost/bench/busybox:latest")
        let file = root + "/pods.yaml"
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        let t0 = Date()
        let play = try pm(["kube", "play", "--network", "none", file], timeout: 600)
        let total = Date().timeIntervalSince(t0)
        guard play.ok else { return "  podman reference failed: exit \(play.status): \(play.stderr.suffix(2000))" }
        let ids = try pm(["ps", "-q", "--filter", "status=running", "--no-trunc"]).check().stdout.split(separator: "\n").map(String.init)
        let inspect = try pm(["inspect", "--format", "{{.State.StartedAt}}"] + ids, timeout: 120).check().stdout
        // Go's time format: "2026-11-23 15:40:01.1234 +0000 UTC" (the fraction drops trailing zeros)
        let fmt = DateFormatter()
        fmt.locale = Locale(identifier: "en_US_POSIX")
        fmt.dateFormat = "yyyy-MM-dd HH:mm:ss Z"
        let started = inspect.split(separator: "\n").compactMap { line -> Double? in
            let parts = line.split(separator: " ")
            guard parts.count >= 3 else { return nil }
            let clock = parts[1].split(separator: ".", maxSplits: 1)
            let fraction = clock.count > 1 ? Double("0." + clock[1]) ?? 0 : 0
            guard let whole = fmt.date(from: "\(parts[0]) \(clock[0]) \(parts[2])") else { return nil }
            return (whole.timeIntervalSince(t0) + fraction) * 1000
        }
        return """
              podman \(try pm(["--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) + crun, the same \(n) pods (kube play, \(ids.count) containers running incl. infra):
                all running after \(String(format: "%.1f", total)) s
                play-start-to-running ms: p50 \(Int(Self.percentile(started, 0.5)))  p90 \(Int(Self.percentile(started, 0.9)))  p99 \(Int(Self.percentile(started, 0.99)))  (\(started.count) containers)

            """
    }
}
