import ArgumentParser
import Foundation
import Runtime
import TestSupport

/// Pod start latency: sandbox + one container, start to running, through our runtime, beside
/// `podman pod create` + `podman run --pod` with crun, and `crun run` of an equivalent bundle,
/// on the same busybox image, in one run. On a hybrid cgroup host (v1 controllers plus a v2
/// mount that lists one, which crun refuses), the references run in a private mount namespace
/// without the v2 mount, so crun and podman see plain cgroup v1, as our runtime uses it. Everything lives under /tmp/swiftlet-bench-rt-<pid>
/// and cgroup subtrees named swiftlet-bench-*-<pid>, removed at the end.
struct RuntimeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runtime",
                                                    abstract: "Start 100 pods: swiftlet runtime vs podman + crun and a crun bundle.")

    @Option var pods = 100
    @Option(help: "Pods started at once.")
    var concurrency = 4
    @Option var podman = "/usr/bin/podman"
    @Flag(help: "Skip the podman reference.")
    var withoutPodman = false
    @Option(help: "OCI runtime for the bundle reference.")
    var oci = "/usr/bin/crun"
    @Option(help: "OCI runtime for podman.")
    var podmanRuntime = "/usr/bin/crun"

    struct Result {
        var label: String
        var latencies: [Double] = []  // ms
        var wall: Double = 0  // s
        var note = ""
        func row() -> String {
            let s = latencies.sorted()
            func p(_ q: Double) -> Double { s.isEmpty ? 0 : s[min(s.count - 1, Int((Double(s.count - 1) * q).rounded()))] }
            return label.padding(toLength: 34, withPad: " ", startingAt: 0)
                + String(format: "%6d %10.1f %10.1f %10.2f  %@", s.count, p(0.5), p(0.99), wall, note)
        }
    }

    func run() async throws {
        guard getuid() == 0 else { throw CleanExit.message("runtime benchmark: run as root") }
        let dir = "/tmp/swiftlet-bench-rt-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tar = try BusyboxImage.layer(in: dir)
        say("runtime benchmark: \(pods) pods (sandbox + 1 container, sleep), \(concurrency) at a time, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        say("name".padding(toLength: 34, withPad: " ", startingAt: 0) + "  pods     p50 ms     p99 ms     wall s")
        let ours = try await swiftlet(dir: dir, tar: tar)
        say(ours.row())
        let view = try LegacyCgroupView()
        defer { view.close() }
        if !view.prefix.isEmpty { say("(references run in a mount namespace without the hybrid cgroup2 mount, pid \(view.holderPID))") }
        if withoutPodman {
            say("(podman skipped: --without-podman)")
        } else if FileManager.default.isExecutableFile(atPath: podman) && FileManager.default.isExecutableFile(atPath: podmanRuntime) {
            say(try await podmanPods(dir: dir, tar: tar, view: view).row())
        } else {
            say("(podman/\(podmanRuntime) not installed: scripts/setup.sh --bench installs them)")
        }
        if FileManager.default.isExecutableFile(atPath: oci) { say(try await ociBundles(dir: dir, view: view).row()) }
        say("targets: p50 < 150 ms and faster than podman+crun; \(pods) pods in < 5 s; shim < 2 MB RSS per pod")
    }

    /// Runs `body(i)` for 0..<pods, `concurrency` at a time; returns per-item ms and total seconds.
    func timed(concurrency: Int? = nil, _ body: @escaping @Sendable (Int) async throws -> Void) async throws -> ([Double], Double) {
        let concurrency = concurrency ?? self.concurrency
        let clock = ContinuousClock()
        let start = clock.now
        var out: [Double] = []
        try await withThrowingTaskGroup(of: Double.self) { g in
            var next = 0
            func add() {
                let i = next
                next += 1
                g.addTask {
                    let t = clock.now
                    try await body(i)
                    let d = clock.now - t
                    return Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
                }
            }
            for _ in 0..<min(concurrency, pods) { add() }
            while let ms = try await g.next() {
                out.append(ms)
                if next < pods { add() }
            }
        }
        let d = clock.now - start
        return (out, Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
    }

    // MARK: swiftlet

    func swiftlet(dir: String, tar: String) async throws -> Result {
        var cfg = RuntimeConfig(root: dir + "/swiftlet")
        cfg.cgroupRoot = "swiftlet-bench-\(getpid())"
        cfg.cgroupDriver = .v1
        let rt = try LinuxRuntime(config: cfg)
        let image = "localhost/swiftlet/busybox:bench"
        _ = try await rt.images.importLayers(ref: image, layerTars: [tar], cmd: ["sh"])
        let logs = dir + "/pods"
        let ids = IDBox()
        defer {
            let all = ids.all
            let done = DispatchSemaphore(value: 0)
            Task {
                for s in all { try? await rt.removePodSandbox(s) }
                done.signal()
            }
            done.wait()
            removeCgroupTrees("/" + cfg.cgroupRoot)
        }
        let (lat, wall) = try await timed { i in
            var c = PodSandboxConfig(name: "p\(i)", namespace: "bench", uid: "uid-p\(i)")
            c.hostname = "p\(i)"
            c.logDirectory = logs + "/bench_p\(i)_uid-p\(i)"
            c.cgroupParent = "kubepods/besteffort/pod-uid-p\(i)"
            let sb = try await rt.runPodSandbox(c)
            ids.add(sb)
            var cc = ContainerConfig(name: "c", image: image)
            cc.command = ["/bin/sleep", "3600"]
            cc.logPath = "c/0.log"
            let id = try await rt.createContainer(sandboxID: sb, cc)
            try await rt.startContainer(id)
        }
        var r = Result(label: "swiftlet runtime", latencies: lat, wall: wall)
        // the shims' memory: each container's parent process
        var rss: [Double] = []
        for c in try await rt.listContainers(sandboxID: nil) where c.pid > 0 {
            if let ppid = Self.status(c.pid, "PPid").flatMap(Int32.init), let kb = Self.status(ppid, "VmRSS").flatMap(Self.kB) {
                rss.append(Double(kb) / 1024)
            }
        }
        if !rss.isEmpty {
            r.note = String(format: "shim RSS %.2f MB avg, %.2f MB max (%d shims)", rss.reduce(0, +) / Double(rss.count), rss.max() ?? 0, rss.count)
        }
        return r
    }

    static func status(_ pid: Int32, _ field: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    static func kB(_ s: String) -> Int? { Int(s.split(separator: " ").first ?? "") }

    // MARK: podman

    func podmanPods(dir: String, tar: String, view: LegacyCgroupView) async throws -> Result {
        let root = dir + "/podman"
        let parent = "/swiftlet-bench-podman-\(getpid())"
        let podman = try PrivatePodman(root: root, runtime: podmanRuntime, view: view, podman: self.podman)
        let podmanRun: @Sendable ([String]) throws -> CommandResult = { try podman.run($0) }
        defer {
            podman.reset()
            removeCgroupTrees(parent)
        }
        // the image's command is what the infra (pause-like) container runs
        let imp = try podmanRun(["import", "--change", #"CMD ["/bin/sleep","36000"]"#, tar, "localhost/bench/busybox"])
        guard imp.ok else { throw CleanExit.message("podman import failed: \(imp)") }
        // podman serialises on its storage lock: one at a time
        let (lat, wall) = try await timed(concurrency: 1) { i in
            let p = try podmanRun(["pod", "create", "--name", "p\(i)", "--network", "none", "--cgroup-parent", parent,
                                   "--infra-image", "localhost/bench/busybox"])
            guard p.ok else { throw CleanExit.message("podman pod create: \(p)") }
            let r = try podmanRun(["run", "-d", "--pod", "p\(i)", "localhost/bench/busybox", "/bin/sleep", "3600"])
            guard r.ok else { throw CleanExit.message("podman run: \(r)") }
        }
        return Result(label: "podman pod create + run --pod", latencies: lat, wall: wall,
                      note: "OCI runtime \((podmanRuntime as NSString).lastPathComponent)")
    }

    // MARK: OCI bundle

    func ociBundles(dir: String, view: LegacyCgroupView) async throws -> Result {
        let bundle = dir + "/oci-bundle"
        let state = dir + "/oci-state"
        let parent = "/swiftlet-bench-oci-\(getpid())"
        let crun = oci
        let inView = view.prefix + [crun]
        let runOCI: @Sendable ([String]) throws -> CommandResult = { args in
            try Command.run(inView[0], Array(inView.dropFirst()) + args, timeout: 30)
        }
        try BusyboxImage.rootfs(in: bundle + "/rootfs")
        let spec = try Command.run(crun, ["spec", "--bundle", bundle], timeout: 30)
        guard spec.ok else { throw CleanExit.message("\(crun) spec: \(spec)") }
        // sleep instead of an interactive shell; a read-only shared rootfs
        let path = bundle + "/config.json"
        guard var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any],
              var process = cfg["process"] as? [String: Any], var linux = cfg["linux"] as? [String: Any],
              var rootObj = cfg["root"] as? [String: Any]
        else { throw CleanExit.message("\(crun) spec: unexpected config.json") }
        process["args"] = ["/bin/sleep", "3600"]
        process["terminal"] = false
        rootObj["readonly"] = true
        rootObj["path"] = bundle + "/rootfs"  // absolute: every bundle shares it
        cfg["process"] = process
        cfg["root"] = rootObj
        cfg["linux"] = linux
        try JSONSerialization.data(withJSONObject: cfg).write(to: URL(fileURLWithPath: path))
        let ids = (0..<pods).map { "bench-\(getpid())-\($0)" }
        defer {
            for id in ids { _ = try? runOCI(["--root", state, "delete", "-f", id]) }
            removeCgroupTrees(parent)
        }
        // one bundle per container (its own cgroup under our subtree), written before timing
        for i in 0..<pods {
            var c = cfg
            linux["cgroupsPath"] = parent + "/c\(i)"
            c["linux"] = linux
            let b = bundle + "-\(i)"
            try FileManager.default.createDirectory(atPath: b, withIntermediateDirectories: true)
            try JSONSerialization.data(withJSONObject: c).write(to: URL(fileURLWithPath: b + "/config.json"))
        }
        let (lat, wall) = try await timed { i in
            let r = try runOCI(["--root", state, "run", "--detach", "--bundle", bundle + "-\(i)", ids[i]])
            guard r.ok else { throw CleanExit.message("\(crun) run: \(r)") }
        }
        return Result(label: "\((crun as NSString).lastPathComponent) run --detach (bundle)", latencies: lat, wall: wall)
    }
}

final class IDBox: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: [String] = []
    func add(_ id: String) { lock.withLock { ids.append(id) } }
    var all: [String] { lock.withLock { ids } }
}
