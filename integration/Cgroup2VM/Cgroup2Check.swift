// swiftlet-cgroup2-check: the payload of the cgroup v2 VM test (scripts/vm/cgroup2-check.sh).
// It runs as PID 1's child inside a throwaway QEMU VM whose /sys/fs/cgroup is a pure cgroup2
// mount (cgroup_no_v1=all), and drives the real runtime there: LinuxRuntime with the v2 driver
// it detects, pause + swiftlet-shim + a busybox container, then CgroupV2 on its own.
//
// Output contract (parsed by integration/Runtime/Cgroup2VMTests.swift):
//   stdout: one line per check, "ok <check>[ <detail>]" or "fail <check>: <reason>",
//           then "done <ok count> <fail count>"
//   stderr: diagnostics only
// Never run it on a real host: it writes to the root of the cgroup2 hierarchy it is given.
import Foundation
import Glibc
import Runtime
import TestSupport

/// Collects check results and prints them as they happen (the serial line is the only channel).
final class Report: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var passed = 0
    private(set) var failed = 0

    func ok(_ name: String, _ detail: String = "") {
        lock.withLock { passed += 1 }
        emit("ok \(name)" + (detail.isEmpty ? "" : " \(detail)"))
    }

    func fail(_ name: String, _ reason: String) {
        lock.withLock { failed += 1 }
        emit("fail \(name): " + reason.replacingOccurrences(of: "\n", with: " | "))
    }

    /// `ok` when `condition` holds, `fail` with `reason` otherwise; returns `condition`.
    @discardableResult
    func check(_ name: String, _ condition: Bool, _ reason: @autoclosure () -> String, detail: String = "") -> Bool {
        if condition { ok(name, detail) } else { fail(name, reason()) }
        return condition
    }

    private let started = Date()

    /// A diagnostic line on stderr (the VM console), with the time since start.
    func note(_ text: String) {
        let t = String(format: "%.1f", Date().timeIntervalSince(started))
        FileHandle.standardError.write(Data(("cgroup2-check [+\(t)s]: " + text + "\n").utf8))
    }

    private func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
        note(line)
    }
}

let cgroupfs = "/sys/fs/cgroup"
let cgroupRoot = "swiftlet"
let image = "localhost/swiftlet/busybox:test"

/// A cgroupfs file, trimmed; "<missing>" when it cannot be read.
func read(_ path: String) -> String {
    guard let d = FileManager.default.contents(atPath: path) else { return "<missing>" }
    return String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}

/// `key value` lines (cpu.stat, memory.events, pids.events) as a dictionary.
func keyed(_ path: String) -> [String: UInt64] {
    var out: [String: UInt64] = [:]
    for line in read(path).split(separator: "\n") {
        let f = line.split(separator: " ")
        if f.count == 2, let v = UInt64(f[1]) { out[String(f[0])] = v }
    }
    return out
}

/// The file system type mounted at `path`, from /proc/self/mounts ("cgroup2", "tmpfs", …).
func mountType(_ path: String) -> String? {
    let entries: [[Substring]] = read("/proc/self/mounts").split(separator: "\n").map { $0.split(separator: " ") }
    guard let entry = entries.last(where: { $0.count > 2 && $0[1] == path }) else { return nil }
    return String(entry[2])
}

/// Whether `path` is a cgroup2 directory: under the cgroup2 mount, with the v2-only
/// `cgroup.controllers` file (a v1 hierarchy has none).
func isCgroup2Dir(_ path: String) -> Bool {
    var st = stat()
    guard path.hasPrefix(cgroupfs), mountType(cgroupfs) == "cgroup2", stat(path, &st) == 0 else { return false }
    return (st.st_mode & S_IFMT) == S_IFDIR && FileManager.default.fileExists(atPath: path + "/cgroup.controllers")
}

func procs(_ dir: String) -> [Int32] { read(dir + "/cgroup.procs").split(separator: "\n").compactMap { Int32($0) } }

/// The process's cgroup as /proc/<pid>/cgroup states it ("0::/swiftlet/…" on a v2-only host).
func procCgroup(_ pid: Int32) -> String { read("/proc/\(pid)/cgroup") }

func alive(_ pid: Int32) -> Bool { pid > 0 && kill(pid, 0) == 0 }

/// Sub-directories (cgroups) directly under `dir`.
func childCgroups(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { isCgroup2Dir(dir + "/" + $0) }.sorted()
}

func waitExited(_ rt: LinuxRuntime, _ id: String, seconds: Double) async throws -> ContainerStatus {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        let s = try await rt.containerStatus(id)
        if s.state == .exited { return s }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await rt.containerStatus(id)
}

func log(_ s: ContainerStatus) -> String { (try? String(contentsOfFile: s.logPath, encoding: .utf8)) ?? "" }

func container(_ name: String, _ script: String, _ resources: LinuxResources = LinuxResources()) -> ContainerConfig {
    var c = ContainerConfig(name: name, image: image)
    c.command = ["/bin/sh", "-c", script]
    c.logPath = name + "/0.log"
    c.resources = resources
    return c
}

func sandbox(_ name: String, uid: String, qos: String) -> PodSandboxConfig {
    var c = PodSandboxConfig(name: name, namespace: "default", uid: uid)
    c.hostname = name
    c.logDirectory = "/var/log/pods/default_\(name)_\(uid)"
    c.cgroupParent = "kubepods/\(qos)/pod\(uid)"
    return c
}

@main
struct Cgroup2Check {
    static func main() async {
        let report = Report()
        await run(report)
        FileHandle.standardOutput.write(Data("done \(report.passed) \(report.failed)\n".utf8))
        exit(report.failed == 0 ? 0 : 1)
    }

    /// Runs one step; a thrown error becomes a `fail` line and the rest goes on.
    static func step(_ report: Report, _ name: String, _ body: () async throws -> Void) async {
        do { try await body() } catch { report.fail(name, "threw \(error)") }
    }

    static func run(_ report: Report) async {
        // MARK: the host the VM gives us
        let kind = CgroupDriverKind.detect()
        report.check("detect-v2", kind == .v2, "CgroupDriverKind.detect() returned \(kind)")
        let mounts = read("/proc/self/mounts")
        let v1 = mounts.split(separator: "\n").filter { $0.split(separator: " ").count > 2 && $0.split(separator: " ")[2] == "cgroup" }
        report.check("cgroupfs-is-cgroup2", isCgroup2Dir(cgroupfs) && v1.isEmpty,
                     "\(cgroupfs) is \(mountType(cgroupfs) ?? "not a mount point"); v1 hierarchies mounted: \(v1)",
                     detail: "controllers: \(read(cgroupfs + "/cgroup.controllers"))")

        var config = RuntimeConfig(root: "/var/lib/swiftlet")
        config.cgroupRoot = cgroupRoot
        report.check("runtime-uses-v2", config.cgroupDriver == .v2 && config.cgroupManager() is CgroupV2,
                     "RuntimeConfig picked \(config.cgroupDriver) / \(type(of: config.cgroupManager()))")
        let rt: LinuxRuntime
        do {
            rt = try LinuxRuntime(config: config)
            let tar = try BusyboxImage.layer(in: "/var/lib/swiftlet-image")
            _ = try await rt.images.importLayers(ref: image, layerTars: [tar], cmd: ["sh"])
            report.ok("image-import")
        } catch {
            report.fail("image-import", "\(error)")
            return
        }
        let base = "\(cgroupfs)/\(cgroupRoot)"

        // MARK: a burstable pod with limits
        let burstUID = "11111111-aaaa"
        let burstPod = "\(base)/kubepods/burstable/pod\(burstUID)"
        var burstSandbox = ""
        await step(report, "sandbox-cgroup") {
            burstSandbox = try await rt.runPodSandbox(sandbox("burst", uid: burstUID, qos: "burstable"))
            let pause = try await rt.podSandboxStatus(burstSandbox).pid
            let dir = burstPod + "/" + burstSandbox
            let want = "0::/\(cgroupRoot)/kubepods/burstable/pod\(burstUID)/\(burstSandbox)"
            report.check("sandbox-cgroup", isCgroup2Dir(burstPod) && isCgroup2Dir(dir) && procs(dir).contains(pause)
                            && procCgroup(pause) == want,
                         "pause \(pause): /proc cgroup \(procCgroup(pause)), want \(want); \(dir) procs \(procs(dir))")
            var levels = [cgroupfs, base, base + "/kubepods", base + "/kubepods/burstable", burstPod]
            levels = levels.filter { Set(read($0 + "/cgroup.subtree_control").split(separator: " ")) != ["cpu", "cpuset", "memory", "pids"] }
            report.check("controllers-enabled", levels.isEmpty,
                         "cgroup.subtree_control lacks cpu/cpuset/memory/pids at " +
                            levels.map { "\($0) (\(read($0 + "/cgroup.subtree_control")))" }.joined(separator: ", "))
        }

        var limitsID = ""
        await step(report, "container-cgroup") {
            // CRI values as the kubelet sends them for requests.cpu=500m, limits.cpu=500m,
            // limits.memory=64Mi, pid limit 64, pinned to CPU 1 / node 0.
            var r = LinuxResources(cpuShares: 512, cpuQuota: 50_000, cpuPeriod: 100_000, memoryLimitBytes: 64 << 20,
                                   pidsLimit: 64, cpusetCpus: "1", cpusetMems: "0")
            r.unified = ["memory.oom.group": "1"]  // as the agent asks on v2
            limitsID = try await rt.createContainer(sandboxID: burstSandbox, container("limits", "exec sleep 1000", r))
            try await rt.startContainer(limitsID)
            let pid = try await rt.containerStatus(limitsID).pid
            let dir = burstPod + "/" + limitsID
            let want = "0::/\(cgroupRoot)/kubepods/burstable/pod\(burstUID)/\(limitsID)"
            report.check("container-cgroup", isCgroup2Dir(dir) && procCgroup(pid) == want && procs(dir) == [pid],
                         "pid \(pid): /proc cgroup \(procCgroup(pid)), want \(want); procs \(procs(dir))")
            // The translation, against literal values (not the driver's own helpers):
            // cpu.weight from shares as runc ≥ 1.3.2 maps them (1024 → 100): 512 → 59.
            let expected: [(String, String)] = [
                ("memory.max", "67108864"), ("memory.swap.max", "0"), ("cpu.max", "50000 100000"),
                ("cpu.weight", "59"), ("pids.max", "64"), ("cpuset.cpus", "1"), ("cpuset.mems", "0"),
                ("memory.oom.group", "1"),
            ]
            for (file, value) in expected {
                let got = read(dir + "/" + file)
                report.check("limit \(file)", got == value, "\(file) is \"\(got)\", want \"\(value)\"", detail: got)
            }
            // Enforced, not just written: the process may run on CPU 1 only.
            let allowed = read("/proc/\(pid)/status").split(separator: "\n")
                .first { $0.hasPrefix("Cpus_allowed_list:") }?.split(separator: "\t").last.map(String.init) ?? "?"
            report.check("cpuset-enforced", allowed == "1" && read(dir + "/cpuset.cpus.effective") == "1",
                         "Cpus_allowed_list \(allowed), cpuset.cpus.effective \(read(dir + "/cpuset.cpus.effective"))")
        }

        // cpu.max enforced (throttling), and CRI stats read from cpu.stat / memory.current.
        await step(report, "cpu-max-enforced") {
            let r = LinuxResources(cpuShares: 204, cpuQuota: 20_000, cpuPeriod: 100_000, memoryLimitBytes: 64 << 20)
            let id = try await rt.createContainer(sandboxID: burstSandbox, container("spin", "while :; do :; done", r))
            let dir = burstPod + "/" + id
            try await rt.startContainer(id)
            let start = Date()
            let before = keyed(dir + "/cpu.stat")["usage_usec"] ?? 0
            try await Task.sleep(for: .milliseconds(1500))
            let stats = try await rt.containerStats(id)
            let stat = keyed(dir + "/cpu.stat")
            let elapsed = Date().timeIntervalSince(start) * 1_000_000
            let used = Double((stat["usage_usec"] ?? 0) - before)
            let throttled = stat["nr_throttled"] ?? 0
            report.check("cpu-max-enforced", throttled > 0 && used / elapsed < 0.5,
                         "nr_throttled \(throttled), used \(Int(used))us of \(Int(elapsed))us with a 20% quota",
                         detail: "nr_throttled=\(throttled) share=\(String(format: "%.2f", used / elapsed))")
            let usage = stat["usage_usec"] ?? 0
            let current = UInt64(read(dir + "/memory.current")) ?? 0
            report.check("stats", stats.cpuUsageNanos >= before * 1000 && stats.cpuUsageNanos <= usage * 1000 && stats.cpuUsageNanos > 0
                            && stats.memoryWorkingSetBytes > 0 && stats.memoryWorkingSetBytes <= current,
                         "containerStats cpu \(stats.cpuUsageNanos)ns (cpu.stat usage_usec \(before)…\(usage)), working set "
                            + "\(stats.memoryWorkingSetBytes) (memory.current \(current))",
                         detail: "cpu=\(stats.cpuUsageNanos)ns workingSet=\(stats.memoryWorkingSetBytes)")
            try await rt.stopContainer(id, timeout: 0)
            try await rt.removeContainer(id)
            report.check("container-removed", !FileManager.default.fileExists(atPath: dir), "\(dir) still exists")
        }

        // memory.max enforced both ways under a 32 MiB limit: dd with an 8 MiB buffer completes,
        // dd with a 48 MiB buffer is OOM-killed and the runtime says so.
        await step(report, "under-limit-survives") {
            let r = LinuxResources(memoryLimitBytes: 32 << 20)
            let id = try await rt.createContainer(sandboxID: burstSandbox,
                                                  container("fits", "exec busybox dd if=/dev/zero of=/dev/null bs=8M count=1", r))
            try await rt.startContainer(id)
            let s = try await waitExited(rt, id, seconds: 60)
            report.check("under-limit-survives", s.state == .exited && s.reason == "Completed" && s.exitCode == 0,
                         "state \(s.state) reason \(s.reason) exit \(s.exitCode) log \(log(s))")
            try await rt.removeContainer(id)
        }
        await step(report, "oom-killed") {
            let r = LinuxResources(memoryLimitBytes: 32 << 20)
            let id = try await rt.createContainer(sandboxID: burstSandbox,
                                                  container("hog", "exec busybox dd if=/dev/zero of=/dev/null bs=48M count=1", r))
            let dir = burstPod + "/" + id
            try await rt.startContainer(id)
            let s = try await waitExited(rt, id, seconds: 60)
            let events = keyed(dir + "/memory.events")
            report.check("oom-killed", s.state == .exited && s.reason == "OOMKilled" && s.exitCode == 137,
                         "state \(s.state) reason \(s.reason) exit \(s.exitCode) log \(log(s))", detail: s.reason)
            report.check("oom-events", (events["oom_kill"] ?? 0) >= 1 && (events["max"] ?? 0) >= 1,
                         "memory.events \(read(dir + "/memory.events"))", detail: "oom_kill=\(events["oom_kill"] ?? 0)")
            try await rt.removeContainer(id)
        }

        // pids.max enforced: the shell plus 9 sleeps fill a limit of 10; the 10th fork fails.
        await step(report, "pids-enforced") {
            let r = LinuxResources(pidsLimit: 10)
            let id = try await rt.createContainer(sandboxID: burstSandbox, container("forker", """
                i=0; while [ $i -lt 30 ]; do sleep 60 >/dev/null 2>&1 & i=$((i+1)); echo spawned $i; done
                """, r))
            let dir = burstPod + "/" + id
            try await rt.startContainer(id)
            let s = try await waitExited(rt, id, seconds: 60)
            let text = log(s)
            let events = keyed(dir + "/pids.events")
            report.check("pids-enforced", text.contains("stdout F spawned 9") && !text.contains("spawned 10")
                            && text.contains("can't fork") && (events["max"] ?? 0) >= 1,
                         "pids.events \(read(dir + "/pids.events")), log: \(text.suffix(400))",
                         detail: "pids.events max=\(events["max"] ?? 0)")
            try await rt.removeContainer(id)
        }

        // Devices: containerd's default allow list (what CgroupV1 writes to devices.allow) and
        // nothing more; a DeviceSpec adds its device. /dev/kmsg (c 1:11) is in no default list,
        // and writing it needs no capability, so only the device cgroup stands in the way.
        await step(report, "devices-default-deny") {
            let id = try await rt.createContainer(sandboxID: burstSandbox, container("devs", """
                busybox mknod /dev/kmsg2 c 1 11 || echo MKNOD-FAILED
                (echo swiftlet-devices-check > /dev/kmsg2) 2>/dev/null && echo KMSG-WRITTEN || echo KMSG-DENIED
                echo x > /dev/null && [ "$(busybox head -c 3 /dev/zero | busybox wc -c)" -eq 3 ] && echo DEFAULTS-OK
                """))
            try await rt.startContainer(id)
            let text = log(try await waitExited(rt, id, seconds: 30))
            report.check("devices-default-deny", text.contains("KMSG-DENIED") && !text.contains("KMSG-WRITTEN")
                            && !text.contains("MKNOD-FAILED") && text.contains("DEFAULTS-OK"),
                         "a container wrote to a device outside the allow list, or lost a default one: \(text)")
            try await rt.removeContainer(id)
        }
        await step(report, "devices-allowed") {
            var c = container("kmsg", "(echo swiftlet-devices-check > /dev/kmsg) && echo KMSG-WRITTEN || echo KMSG-DENIED")
            c.devices = [DeviceSpec(containerPath: "/dev/kmsg", hostPath: "/dev/kmsg", permissions: "w")]
            let id = try await rt.createContainer(sandboxID: burstSandbox, c)
            try await rt.startContainer(id)
            let text = log(try await waitExited(rt, id, seconds: 30))
            report.check("devices-allowed", text.contains("KMSG-WRITTEN"), "the container's own device was refused: \(text)")
            try await rt.removeContainer(id)
        }

        // MARK: a best-effort pod: no limits means the kernel's defaults stay
        let beUID = "22222222-bbbb"
        let bePod = "\(base)/kubepods/besteffort/pod\(beUID)"
        await step(report, "besteffort-defaults") {
            let sb = try await rt.runPodSandbox(sandbox("be", uid: beUID, qos: "besteffort"))
            let id = try await rt.createContainer(sandboxID: sb, container("plain", "exec sleep 1000"))
            try await rt.startContainer(id)
            let pid = try await rt.containerStatus(id).pid
            let pause = try await rt.podSandboxStatus(sb).pid
            let dir = bePod + "/" + id
            let want = "0::/\(cgroupRoot)/kubepods/besteffort/pod\(beUID)/\(id)"
            let got = ["memory.max", "memory.swap.max", "cpu.max", "cpu.weight", "pids.max"].map { read(dir + "/" + $0) }
            report.check("besteffort-defaults", procCgroup(pid) == want && got == ["max", "max", "max 100000", "100", "max"],
                         "cgroup \(procCgroup(pid)) (want \(want)); memory.max, memory.swap.max, cpu.max, cpu.weight, pids.max = \(got)")
            // Removing a pod whose container still runs: the runtime kills and removes it all.
            try await rt.removePodSandbox(sb)
            try await Task.sleep(for: .milliseconds(100))
            report.check("besteffort-removed", !FileManager.default.fileExists(atPath: bePod) && !alive(pid) && !alive(pause),
                         "left: \(bePod) exists \(FileManager.default.fileExists(atPath: bePod)), "
                            + "container alive \(alive(pid)), pause alive \(alive(pause))")
        }

        // MARK: the burstable pod goes away the kubelet's way: stop, then remove
        await step(report, "burstable-removed") {
            let pid = try await rt.containerStatus(limitsID).pid
            let pause = try await rt.podSandboxStatus(burstSandbox).pid
            try await rt.stopPodSandbox(burstSandbox)
            try await rt.removePodSandbox(burstSandbox)
            try await Task.sleep(for: .milliseconds(100))
            report.check("burstable-removed", !FileManager.default.fileExists(atPath: burstPod) && !alive(pid) && !alive(pause),
                         "left: \(burstPod) exists \(FileManager.default.fileExists(atPath: burstPod)) "
                            + "(\(childCgroups(burstPod))), container alive \(alive(pid)), pause alive \(alive(pause))")
            let left = childCgroups(base + "/kubepods/burstable") + childCgroups(base + "/kubepods/besteffort")
            report.check("no-pod-cgroups-left", left.isEmpty, "pod cgroups left: \(left)",
                         detail: "kept: \(childCgroups(base)) \(childCgroups(base + "/kubepods"))")
        }

        // MARK: the driver on its own: create, put a process in, update, stats, killAndDestroy
        await step(report, "driver-direct") {
            let v2 = CgroupV2(root: cgroupfs)
            let path = "swiftlet-direct/leaf"
            let dir = "\(cgroupfs)/\(path)"
            try v2.create(path, resources: LinuxResources(memoryLimitBytes: 16 << 20, pidsLimit: 5))
            let p = try BackgroundProcess("/bin/sh", ["-c", "echo $$ > \(dir)/cgroup.procs && exec sleep 1000"])
            _ = eventually(timeout: 10) { v2.pids(path) == [p.pid] }
            try v2.update(path, resources: LinuxResources(memoryLimitBytes: 24 << 20))
            let stats = v2.stats(path)
            report.check("driver-direct", v2.pids(path) == [p.pid] && read(dir + "/memory.max") == String(24 << 20)
                            && read(dir + "/pids.max") == "5" && (stats?.memoryUsageBytes ?? 0) > 0,
                         "pids \(v2.pids(path)) (want [\(p.pid)]), memory.max \(read(dir + "/memory.max")), "
                            + "pids.max \(read(dir + "/pids.max")), stats \(String(describing: stats))")
            try v2.killAndDestroy(path, syscalls: LinuxSyscalls())
            let gone = eventually(timeout: 5) { !p.process.isRunning }
            try v2.destroy("swiftlet-direct")
            report.check("driver-kill-and-destroy", gone && !FileManager.default.fileExists(atPath: "\(cgroupfs)/swiftlet-direct"),
                         "process still running \(!gone), swiftlet-direct exists "
                            + "\(FileManager.default.fileExists(atPath: "\(cgroupfs)/swiftlet-direct"))")
        }
    }
}
