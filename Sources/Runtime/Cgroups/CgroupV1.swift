import Foundation

/// cgroup v1: one hierarchy per controller under `root` (/sys/fs/cgroup/<controller>/<path>).
package struct CgroupV1: CgroupManager {
    package let root: String
    package let syscalls: any Syscalls
    /// The controllers a container is placed in.
    package static let controllers = ["cpu", "cpuacct", "cpuset", "memory", "pids", "devices"]
    /// containerd's default device allow list (null, zero, full, tty, random, urandom, pts, ptmx, tun).
    package static let allowedDevices = DeviceFilter.defaultRules

    package init(root: String = "/sys/fs/cgroup", syscalls: any Syscalls = LinuxSyscalls()) {
        self.root = root
        self.syscalls = syscalls
    }

    func dir(_ controller: String, _ path: String) -> String { "\(root)/\(controller)/\(path)" }

    /// Devices are left alone here, as the kubelet leaves them on pod cgroups: a v1 child can
    /// never be allowed a device its parent denies, so a pod cgroup that denied all but the
    /// default list would refuse a container a device plugin's device. `allowDevices` restricts
    /// the cgroups processes run in.
    package func create(_ path: String, resources: LinuxResources) throws {
        for c in Self.controllers {
            try syscalls.mkdirAll(dir(c, path))
            if c == "cpuset" {
                for knob in ["cpuset.cpus", "cpuset.mems"] { try inheritCpuset(knob, path) }
            }
        }
        try update(path, resources: resources)
    }

    /// A new cpuset cgroup is empty: it gets the value of the nearest ancestor that has one,
    /// each empty level on the way filled first (parents before children, as the kernel
    /// requires). Returns the cgroup's value. Usually two reads: the new level and its parent.
    @discardableResult
    private func inheritCpuset(_ knob: String, _ path: String) throws -> String {
        let file = "\(root)/cpuset" + (path.isEmpty ? "" : "/" + path) + "/" + knob
        let current = syscalls.readFile(file)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard current.isEmpty, !path.isEmpty else { return current }
        let parent = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
        let value = try inheritCpuset(knob, parent)
        if !value.isEmpty { try syscalls.writeFile(file, value) }
        return value
    }

    package func update(_ path: String, resources r: LinuxResources) throws {
        if let u = r.unified, !u.isEmpty {
            throw RuntimeError(.invalidArgument, "unified resources (\(u.keys.sorted().joined(separator: ", "))) need cgroup v2; this node uses cgroup v1")
        }
        if let s = r.cpuShares, s > 0 { try syscalls.writeFile(dir("cpu", path) + "/cpu.shares", String(s)) }
        if let p = r.cpuPeriod, p > 0 { try syscalls.writeFile(dir("cpu", path) + "/cpu.cfs_period_us", String(p)) }
        if let q = r.cpuQuota, q != 0 { try syscalls.writeFile(dir("cpu", path) + "/cpu.cfs_quota_us", String(q)) }
        if let m = r.memoryLimitBytes, m > 0 {
            try syscalls.writeFile(dir("memory", path) + "/memory.limit_in_bytes", String(m))
        }
        if let p = r.pidsLimit, p > 0 { try syscalls.writeFile(dir("pids", path) + "/pids.max", String(p)) }
        if let c = r.cpusetCpus, !c.isEmpty { try syscalls.writeFile(dir("cpuset", path) + "/cpuset.cpus", c) }
        if let m = r.cpusetMems, !m.isEmpty { try syscalls.writeFile(dir("cpuset", path) + "/cpuset.mems", m) }
    }

    package func procsFiles(_ path: String) -> [String] { Self.controllers.map { dir($0, path) + "/cgroup.procs" } }

    package func oomEventsFile(_ path: String) -> String { dir("memory", path) + "/memory.oom_control" }

    package func pids(_ path: String) -> [Int32] {
        Array(Set(Self.controllers.flatMap { parsePids(syscalls.readFile(dir($0, path) + "/cgroup.procs")) })).sorted()
    }

    package func stats(_ path: String) -> CgroupStats? {
        guard let cpu = syscalls.readFile(dir("cpuacct", path) + "/cpuacct.usage"),
            let usage = syscalls.readFile(dir("memory", path) + "/memory.usage_in_bytes")
        else { return nil }
        let mem = UInt64(usage.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let inactive = parseKeyed(syscalls.readFile(dir("memory", path) + "/memory.stat"))["total_inactive_file"] ?? 0
        return CgroupStats(
            cpuUsageNanos: UInt64(cpu.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0,
            memoryUsageBytes: mem, memoryWorkingSetBytes: mem > inactive ? mem - inactive : 0)
    }

    /// Denies every device, then allows the default list and `rules` (containerd's order).
    package func allowDevices(_ path: String, rules: [String]) throws {
        try syscalls.writeFile(dir("devices", path) + "/devices.deny", "a")
        try syscalls.writeEach(dir("devices", path) + "/devices.allow", Self.allowedDevices + rules)
    }

    package func destroy(_ path: String) throws {
        for c in Self.controllers { try syscalls.rmdir(dir(c, path)) }
    }
}
