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

    /// cgroup v1 cpu.shares [2, 262144] → cgroup v2 cpu.weight [1, 10000], as runc ≥ 1.3.2
    /// and crun ≥ 1.23 map it: a quadratic in log2(shares) through 2 → 1, 1024 → 100 (the
    /// v2 default, so a one-CPU request weighs like an unconfigured cgroup) and
    /// 262144 → 10000. The old linear formula gave 1024 → 39.
    package static func weight(fromShares shares: Int64) -> Int64 {
        if shares <= 2 { return 1 }
        if shares >= 262_144 { return 10_000 }
        let l = log2(Double(shares))
        let exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0
        return Int64(pow(10, exponent).rounded(.up))
    }

    /// Creates each level of `path`, enabling in every parent those of the four controllers
    /// we use that it offers (`cgroup.controllers`) and has not enabled yet: a delegated
    /// subtree without cpuset still gets cpu, memory and pids, where asking for all four in
    /// one write would fail.
    package func create(_ path: String, resources: LinuxResources) throws {
        func names(_ file: String) -> Set<String>? {
            syscalls.readFile(file).map { Set($0.split(whereSeparator: \.isWhitespace).map { String($0.drop { $0 == "+" }) }) }
        }
        var current = root
        for part in path.split(separator: "/") {
            let offered = names(current + "/cgroup.controllers") ?? Set(Self.controllers)
            let enabled = names(current + "/cgroup.subtree_control") ?? []
            let enable = Self.controllers.filter { offered.contains($0) && !enabled.contains($0) }
            if !enable.isEmpty {
                try syscalls.writeFile(current + "/cgroup.subtree_control", enable.map { "+" + $0 }.joined(separator: " "))
            }
            current += "/" + part
            try syscalls.mkdirAll(current)
        }
        try update(path, resources: resources)
    }

    package func update(_ path: String, resources r: LinuxResources) throws {
        let d = dir(path)
        if let s = r.cpuShares, s > 0 { try syscalls.writeFile(d + "/cpu.weight", String(Self.weight(fromShares: s))) }
        if r.cpuQuota != nil || r.cpuPeriod != nil {
            // cpu.max holds both: a change of one keeps the other as it is
            let current = (syscalls.readFile(d + "/cpu.max") ?? "").split(whereSeparator: \.isWhitespace)
            let period = (r.cpuPeriod ?? 0) > 0 ? String(r.cpuPeriod!) : current.count == 2 ? String(current[1]) : "100000"
            let quota = r.cpuQuota.map { $0 > 0 ? String($0) : "max" } ?? (current.first.map(String.init) ?? "max")
            try syscalls.writeFile(d + "/cpu.max", "\(quota) \(period)")
        }
        if let m = r.memoryLimitBytes, m > 0 {
            try syscalls.writeFile(d + "/memory.max", String(m))
            try syscalls.writeFile(d + "/memory.swap.max", "0")
        }
        if let p = r.pidsLimit, p > 0 { try syscalls.writeFile(d + "/pids.max", String(p)) }
        if let c = r.cpusetCpus, !c.isEmpty { try syscalls.writeFile(d + "/cpuset.cpus", c) }
        if let m = r.cpusetMems, !m.isEmpty { try syscalls.writeFile(d + "/cpuset.mems", m) }
        for (key, value) in (r.unified ?? [:]).sorted(by: { $0.key < $1.key }) {
            do { try syscalls.writeFile(d + "/" + key, value) } catch {
                throw RuntimeError(.invalidArgument, "cannot set unified resource \(key)=\(value): \(error)")
            }
        }
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
