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

    package func create(_ path: String, resources: LinuxResources) throws {
        for c in Self.controllers {
            let existed = syscalls.exists(dir(c, path))
            try syscalls.mkdirAll(dir(c, path))
            if c == "cpuset" { try inheritCpuset(path) }
            if c == "devices" && !existed {
                try syscalls.writeFile(dir(c, path) + "/devices.deny", "a")
                for rule in Self.allowedDevices { try syscalls.writeFile(dir(c, path) + "/devices.allow", rule) }
            }
        }
        try update(path, resources: resources)
    }

    /// A new cpuset cgroup is empty: copy cpus and mems down from the nearest parent, level by level.
    private func inheritCpuset(_ path: String) throws {
        var parent = "\(root)/cpuset"
        for part in path.split(separator: "/") {
            let child = parent + "/" + part
            for knob in ["cpuset.cpus", "cpuset.mems"] {
                let current = syscalls.readFile(child + "/" + knob)?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                if current.isEmpty, let p = syscalls.readFile(parent + "/" + knob)?
                    .trimmingCharacters(in: .whitespacesAndNewlines), !p.isEmpty
                {
                    try syscalls.writeFile(child + "/" + knob, p)
                }
            }
            parent = child
        }
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

    package func allowDevices(_ path: String, rules: [String]) throws {
        for rule in rules { try syscalls.writeFile(dir("devices", path) + "/devices.allow", rule) }
    }

    package func destroy(_ path: String) throws {
        for c in Self.controllers { try syscalls.rmdir(dir(c, path)) }
    }
}
