import Foundation
import Glibc
import KubeAPI
import Runtime
import TestSupport

/// One test node: a NetnsLab host netns `node` (10.250.0.2/24) running the real
/// `swiftlet server` (on 127.0.0.1 inside the netns) and the real `swiftlet agent` (entered
/// into the netns with nsenter, so it shares the host's mount namespace like a kubelet), a
/// private state root, cgroup subtree and pod CIDR, a busybox image imported locally, and
/// kubectl run inside the netns. `close()` stops everything it started and removes sandboxes,
/// mounts, cgroups and directories, even after a failure.
final class AgentLab: @unchecked Sendable {
    static let counter = LabCounter()
    static let nodeIP = "10.250.0.2"
    static let image = "localhost/swiftlet/busybox:test"

    static var available: Bool {
        getuid() == 0 && TestPaths.hasKubectl && FileManager.default.isExecutableFile(atPath: TestPaths.binary("swiftlet"))
            && FileManager.default.isExecutableFile(atPath: "/bin/busybox") && FileManager.default.isExecutableFile(atPath: "/usr/bin/nsenter")
    }

    let lab: NetnsLab
    let node: String
    let dir: String
    let cgroupRoot: String
    let port = 6443
    var server: BackgroundProcess?
    var agent: BackgroundProcess?
    var root: String { dir + "/agent" }
    var logs: String { dir + "/logs" }
    var manifests: String { dir + "/manifests" }
    var kubeconfig: String { dir + "/kubeconfig" }

    init(withServer: Bool = true) async throws {
        let n = Self.counter.next()
        lab = try NetnsLab(tag: "ag")
        dir = "/tmp/swiftlet-agent-it-\(getpid())-\(n)"
        cgroupRoot = "swiftlet-test-agent-\(getpid())-\(n)"
        node = try lab.addHost("node", address: Self.nodeIP + "/24")
        try? FileManager.default.removeItem(atPath: dir)
        for d in [root, logs, manifests, dir + "/host"] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        try await importImage()
        if withServer { try await startServer() }
    }

    /// The busybox image, imported into the agent's image store before it starts.
    func importImage() async throws {
        let fs = dir + "/layer"
        for d in ["bin", "etc", "tmp", "root", "data"] {
            try FileManager.default.createDirectory(atPath: fs + "/" + d, withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: fs + "/bin/busybox")
        for a in ["sh", "cat", "echo", "sleep", "ls", "httpd", "touch", "rm", "true", "false", "seq", "date", "tail", "wget", "nc", "kill", "env", "grep", "head", "readlink"] {
            try FileManager.default.createSymbolicLink(atPath: fs + "/bin/" + a, withDestinationPath: "busybox")
        }
        try "root:x:0:0:root:/root:/bin/sh\n".write(toFile: fs + "/etc/passwd", atomically: true, encoding: .utf8)
        try "root:x:0:\n".write(toFile: fs + "/etc/group", atomically: true, encoding: .utf8)
        chmod(fs + "/tmp", 0o1777)
        let tar = dir + "/busybox-layer.tar"
        try Command.run("/usr/bin/tar", ["-c", "-f", tar, "-C", fs, "."], timeout: 60).check()
        let store = try ImageStore(root: root + "/runtime/images")
        _ = try await store.importLayers(ref: Self.image, layerTars: [tar], cmd: ["sh"])
        try? FileManager.default.removeItem(atPath: fs)
    }

    func startServer() async throws {
        try? FileManager.default.removeItem(atPath: kubeconfig)
        server = try lab.spawn(in: node, [TestPaths.binary("swiftlet"), "server", "--data-dir", dir + "/server", "--port", String(port),
                                           "--kubeconfig-out", kubeconfig, "--log-level", "warning"])
        let up = await until(timeout: 30, interval: 0.1) { [self] in
            FileManager.default.fileExists(atPath: kubeconfig) && (try? kubectl("get", "--raw", "/healthz"))?.ok == true
        }
        if !up { throw HarnessError.notReady("server did not start:\n\(server?.output.string ?? "")") }
    }

    /// Starts (or restarts) the agent inside the node netns and waits until the node is Ready.
    func startAgent(waitReady: Bool = true, extra: [String] = []) async throws {
        agent = try BackgroundProcess("/usr/bin/nsenter", [
            "--net=" + NetnsLab.path(node), TestPaths.binary("swiftlet"), "agent",
            "--server", "http://127.0.0.1:\(port)", "--node-name", "node-a", "--root-dir", root, "--pod-logs-dir", logs,
            "--pod-cidr", "10.244.7.0/24", "--node-ip", Self.nodeIP, "--cgroup-root", cgroupRoot,
            "--pod-manifest-path", manifests, "--kubelet-port", "10250", "--log-level", "info",
        ] + extra)
        if waitReady {
            let ready = await until(timeout: 30, interval: 0.2) { [self] in
                (try? kubectl("get", "node", "node-a", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"))?.stdout == "True"
            }
            if !ready { throw HarnessError.notReady("agent did not make the node Ready:\n\(agent?.output.string ?? "")") }
        }
    }

    /// kubectl inside the node netns.
    @discardableResult
    func kubectl(_ args: String..., stdin: String? = nil, timeout: TimeInterval = 60) throws -> CommandResult {
        try lab.run(in: node, [TestPaths.kubectl, "--kubeconfig", kubeconfig] + args, stdin: stdin, timeout: timeout)
    }

    /// kubectl on a terminal of `cols`×`rows` (util-linux `script` gives it a pty), fed `input`
    /// through that terminal, as a user typing would.
    func kubectlOnTerminal(cols: Int, rows: Int, _ args: [String], input: String? = nil, timeout: TimeInterval = 60) throws -> CommandResult {
        let quoted = ([TestPaths.kubectl, "--kubeconfig", kubeconfig] + args).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        return try lab.run(in: node, ["/usr/bin/script", "-qefc", "stty cols \(cols) rows \(rows); exec " + quoted.joined(separator: " "), "/dev/null"],
                           stdin: input, timeout: timeout)
    }

    func kubectlBackground(_ args: String...) throws -> BackgroundProcess {
        try lab.spawn(in: node, [TestPaths.kubectl, "--kubeconfig", kubeconfig] + args)
    }

    func apply(_ yaml: String) throws {
        try kubectl("apply", "-f", "-", stdin: yaml).check()
    }

    func jsonpath(_ pod: String, _ path: String) -> String {
        (try? kubectl("get", "pod", pod, "-o", "jsonpath={\(path)}"))?.stdout ?? ""
    }

    func events(_ pod: String) -> String {
        (try? kubectl("get", "events", "--field-selector", "involvedObject.name=\(pod)", "-o",
                      "custom-columns=REASON:.reason,COUNT:.count,MESSAGE:.message", "--no-headers"))?.stdout ?? ""
    }

    /// Waits for the pod's Ready condition to be `status`.
    func waitReady(_ pod: String, _ status: String = "True", timeout: TimeInterval = 60) async -> Bool {
        await until(timeout: timeout, interval: 0.2) { [self] in jsonpath(pod, ".status.conditions[?(@.type==\"Ready\")].status") == status }
    }

    func diagnostics(_ pod: String) -> String {
        let describe = (try? kubectl("get", "pod", pod, "-o", "yaml"))?.stdout ?? ""
        return "pod:\n\(describe)\nevents:\n\(events(pod))\nagent log:\n\(agent?.output.string.suffix(6000) ?? "")"
    }

    /// Stops the agent and server (by pid), removes sandboxes, mounts, cgroups, netns and files.
    func close() async {
        agent?.stop(SIGKILL)
        server?.stop(SIGKILL)
        var rc = RuntimeConfig(root: root + "/runtime")
        rc.cgroupRoot = cgroupRoot
        if let rt = try? LinuxRuntime(config: rc) {
            for s in (try? await rt.listPodSandbox()) ?? [] { try? await rt.removePodSandbox(s.id) }
            for c in (try? await rt.listContainers(sandboxID: nil)) ?? [] { try? await rt.removeContainer(c.id) }
        }
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        for line in mounts.split(separator: "\n").reversed() {
            let f = line.split(separator: " ")
            guard f.count > 4, f[4] == dir || f[4].hasPrefix(dir + "/") else { continue }
            umount2(String(f[4]), Int32(MNT_DETACH))
        }
        for c in ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd", "unified"] {
            let base = "/sys/fs/cgroup/\(c)/\(cgroupRoot)"
            guard FileManager.default.fileExists(atPath: base) else { continue }
            let subdirs = (FileManager.default.enumerator(atPath: base)?.allObjects as? [String] ?? [])
                .filter { (try? FileManager.default.attributesOfItem(atPath: base + "/" + $0)[.type] as? FileAttributeType) == .typeDirectory }
                .sorted { $0.count > $1.count }
            for d in subdirs {
                for pid in ((try? String(contentsOfFile: base + "/" + d + "/cgroup.procs", encoding: .utf8)) ?? "").split(separator: "\n") {
                    if let p = Int32(pid) { kill(p, SIGKILL) }
                }
            }
            for d in subdirs { _ = eventually(timeout: 2) { rmdir(base + "/" + d) == 0 || errno == ENOENT } }
            rmdir(base)
        }
        lab.cleanup()
        try? FileManager.default.removeItem(atPath: dir)
    }

    static func with(withServer: Bool = true, _ body: (AgentLab) async throws -> Void) async throws {
        let lab = try await AgentLab(withServer: withServer)
        do {
            try await body(lab)
        } catch {
            await lab.close()
            throw error
        }
        await lab.close()
    }
}

/// Runs blocking work (kubectl, file polling) on a dispatch thread, never on one of the
/// test process's few cooperative threads, which other suites need meanwhile.
func offload<T: Sendable>(_ f: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { c in DispatchQueue.global().async { c.resume(returning: f()) } }
}

/// Polls `condition` (off the cooperative pool) until it holds or `timeout` passes, sleeping asynchronously.
func until(timeout: TimeInterval = 10, interval: TimeInterval = 0.05, _ condition: @escaping @Sendable () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if await offload(condition) { return true }
        try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
    }
    return await offload(condition)
}

final class LabCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func next() -> Int { lock.withLock { n += 1; return n } }
}
