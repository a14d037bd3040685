import Foundation
import Glibc
import PLEG
import Runtime
import Testing
import TestSupport

/// The PLEG against the real runtime: a container's death reaches its event stream within
/// 100 ms of the exit the shim records (inotify on the state files, not the 1 s relist).
@Suite(.enabled(if: AgentLab.available, "needs root and busybox"))
struct PLEGLatencyTests {
    @Test func containerDeathReachesThePLEGFast() async throws {
        try await AgentLab.with(withServer: false) { lab in try await run(lab) }
    }

    /// How late this test process's own tasks run (other suites in the same process can hold
    /// the cooperative threads): a sample taken while tasks here were stalled says nothing
    /// about the PLEG.
    final class Heartbeat: @unchecked Sendable {
        private let lock = NSLock()
        private var stalls: [(Date, Double)] = []
        func record(_ at: Date, _ stall: Double) { lock.withLock { stalls.append((at, stall)) } }
        func maxStall(from: Date, to: Date) -> Double {
            lock.withLock { stalls.filter { $0.0 >= from && $0.0 <= to.addingTimeInterval(0.05) }.map(\.1).max() ?? 0 }
        }
    }

    final class Seen: @unchecked Sendable {
        private let lock = NSLock()
        private var died: [String: Date] = [:]
        func add(_ id: String) { lock.withLock { if died[id] == nil { died[id] = Date() } } }
        func died(_ id: String) -> Date? { lock.withLock { died[id] } }
    }

    func run(_ lab: AgentLab) async throws {
        var rc = RuntimeConfig(root: lab.root + "/runtime")
        rc.cgroupRoot = lab.cgroupRoot
        let rt = try LinuxRuntime(config: rc)
        // A long relist period: only inotify can make the event fast.
        let pleg = GenericPLEG(runtime: rt, stateRoot: rc.root, relistPeriod: .seconds(30))
        let seen = Seen()
        let running = Task { await pleg.run() }
        let consumer = Task { for await e in pleg.events where e.type == .containerDied { seen.add(e.id) } }
        let heartbeat = Heartbeat()
        let beat = Task {
            while !Task.isCancelled {
                let t = Date()
                try? await Task.sleep(for: .milliseconds(10))
                heartbeat.record(Date(), Date().timeIntervalSince(t) * 1000 - 10)
            }
        }
        defer {
            running.cancel()
            consumer.cancel()
            beat.cancel()
        }
        var sbc = PodSandboxConfig(name: "p", namespace: "default", uid: "uid-pleg")
        sbc.labels = [podUIDLabel: "uid-pleg"]
        sbc.cgroupParent = "kubepods/besteffort/poduid-pleg"
        sbc.logDirectory = lab.logs + "/default_p_uid-pleg"
        let sb = try await rt.runPodSandbox(sbc)
        var latencies: [Double] = []
        var unstalled: [Double] = []
        for i in 0..<7 {
            var c = ContainerConfig(name: "c\(i)", image: AgentLab.image)
            c.command = ["sh", "-c", "sleep 0.5; exit 7"]
            c.labels = [podUIDLabel: "uid-pleg"]
            let id = try await rt.createContainer(sandboxID: sb, c)
            await pleg.relist()  // let the watcher pick up the new state directory
            try await rt.startContainer(id)
            for _ in 0..<200 where seen.died(id) == nil { try await Task.sleep(for: .milliseconds(50)) }
            let died = seen.died(id)
            let st = try await rt.containerStatus(id)
            let finished = try #require(st.finishedAt)
            let seen = try #require(died, "no ContainerDied event for \(id)")
            #expect(st.exitCode == 7)
            let latency = seen.timeIntervalSince(finished) * 1000
            latencies.append(latency)
            if heartbeat.maxStall(from: finished.addingTimeInterval(-0.05), to: seen) < 50 { unstalled.append(latency) }
        }
        latencies.sort()
        unstalled.sort()
        print("PLEG death-to-event latency (ms): \(latencies.map { Int($0) }), without stalls of this process: \(unstalled.map { Int($0) })")
        // The latency goal (median under 100 ms, worst under 1 s when this process was not held
        // up) is a benchmark figure, checked only with SWIFTLET_BENCH=1: under the full suite's
        // load a timed assertion fails for reasons that are not the PLEG's.
        if ProcessInfo.processInfo.environment["SWIFTLET_BENCH"] != nil, !unstalled.isEmpty {
            #expect(unstalled[unstalled.count / 2] < 100, "median death-to-event latency \(unstalled) ms")
            #expect(unstalled.last! < 1000, "worst death-to-event latency \(unstalled) ms")
        }
        try await rt.removePodSandbox(sb)
    }
}
