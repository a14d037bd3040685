import Foundation

/// cgroup v2: one unified tree under `root`; controllers enabled top-down via cgroup.subtree_control.
package struct CgroupV2: CgroupManager {
    package let root: String
    package let syscalls: any Syscalls
    package static let controllers = ["cpu", "cpuset", "memory", "pids"]

    package init(root: String = "/sys/fs/cgroup", syscalls: any Syscalls = LinuxSyscalls()) {
        self.root = root
        self.syscalls = syscalls
    }

    func dir(_ path: String) -> String { "\(root)/\(path)" }

    /// cgroup v1 cpu.shares [2, 262144] → cgroup v2 cpu.weight [1, 10000] (the OCI/runc formula).
    package static func weight(fromShares shares: Int64) -> Int64 { 1 + ((shares - 2) * 9999) / 262_142 }

    package func create(_ path: String, resources: LinuxResources) throws {
        var current = root
        let enable = Self.controllers.map { "+" + $0 }.joined(separator: " ")
        for part in path.split(separator: "/") {
            try syscalls.writeFile(current + "/cgroup.subtree_control", enable)
            current += "/" + part
            try syscalls.mkdirAll(current)
        }
        try update(path, resources: resources)
    }

    package func update(_ path: String, resources r: LinuxResources) throws {
        let d = dir(path)
        if let s = r.cpuShares, s > 0 { try syscalls.writeFile(d + "/cpu.weight", String(Self.weight(fromShares: s))) }
        if r.cpuQuota != nil || r.cpuPeriod != nil {
            let period = (r.cpuPeriod ?? 0) > 0 ? r.cpuPeriod! : 100_000
            let quota = (r.cpuQuota ?? 0) > 0 ? String(r.cpuQuota!) : "max"
            try syscalls.writeFile(d + "/cpu.max", "\(quota) \(period)")
        }
        if let m = r.memoryLimitBytes, m > 0 {
            try syscalls.writeFile(d + "/memory.max", String(m))
            try syscalls.writeFile(d + "/memory.swap.max", "0")
        }
        if let p = r.pidsLimit, p > 0 { try syscalls.writeFile(d + "/pids.max", String(p)) }
        if let c = r.cpusetCpus, !c.isEmpty { try syscalls.writeFile(d + "/cpuset.cpus", c) }
        if let m = r.cpusetMems, !m.isEmpty { try syscalls.writeFile(d + "/cpuset.mems", m) }
    }

    package func procsFiles(_ path: String) -> [String] { [dir(path) + "/cgroup.procs"] }

    package func oomEventsFile(_ path: String) -> String { dir(path) + "/memory.events" }

    package func pids(_ path: String) -> [Int32] { parsePids(syscalls.readFile(dir(path) + "/cgroup.procs")) }

    package func stats(_ path: String) -> CgroupStats? {
        guard let cpu = parseKeyed(syscalls.readFile(dir(path) + "/cpu.stat"))["usage_usec"],
            let current = syscalls.readFile(dir(path) + "/memory.current")
        else { return nil }
        let mem = UInt64(current.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let inactive = parseKeyed(syscalls.readFile(dir(path) + "/memory.stat"))["inactive_file"] ?? 0
        return CgroupStats(
            cpuUsageNanos: cpu * 1000, memoryUsageBytes: mem, memoryWorkingSetBytes: mem > inactive ? mem - inactive : 0)
    }

    package func destroy(_ path: String) throws { try syscalls.rmdir(dir(path)) }

    /// cgroup v2 has no devices.allow: attaches a device filter program (DeviceFilter) that
    /// allows the default list plus `rules` and denies every other device. Until this is
    /// called a v2 cgroup restricts no device, so the runtime calls it for every sandbox and
    /// container cgroup; calling it again replaces the filter.
    package func allowDevices(_ path: String, rules: [String]) throws {
        let parsed = try (DeviceFilter.defaultRules + rules).map(DeviceRule.init)
        try syscalls.attachDeviceFilter(dir(path), program: DeviceFilter.program(allowing: parsed))
    }
}
