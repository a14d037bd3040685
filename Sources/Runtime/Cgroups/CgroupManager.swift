import Foundation
import Glibc

/// Limits the kubelet asks for, in CRI units (LinuxContainerResources).
package struct LinuxResources: Codable, Sendable, Equatable {
    package var cpuShares: Int64?
    package var cpuQuota: Int64?
    package var cpuPeriod: Int64?
    package var memoryLimitBytes: Int64?
    package var pidsLimit: Int64?
    package var cpusetCpus: String?
    package var cpusetMems: String?
    package var oomScoreAdj: Int?
    /// cgroup v2 files to write as given (CRI `unified`), e.g. `memory.oom.group: "1"`, which
    /// the agent asks for on v2 as the kubelet does (the whole container is OOM-killed, not
    /// one process). Refused on v1.
    package var unified: [String: String]?

    package init(
        cpuShares: Int64? = nil, cpuQuota: Int64? = nil, cpuPeriod: Int64? = nil, memoryLimitBytes: Int64? = nil,
        pidsLimit: Int64? = nil, cpusetCpus: String? = nil, cpusetMems: String? = nil, oomScoreAdj: Int? = nil
    ) {
        self.cpuShares = cpuShares
        self.cpuQuota = cpuQuota
        self.cpuPeriod = cpuPeriod
        self.memoryLimitBytes = memoryLimitBytes
        self.pidsLimit = pidsLimit
        self.cpusetCpus = cpusetCpus
        self.cpusetMems = cpusetMems
        self.oomScoreAdj = oomScoreAdj
    }

    /// Rejects values the kernel would refuse, before anything is created.
    package func validate() throws {
        if let s = cpuShares, s != 0 && (s < 2 || s > 262_144) {
            throw RuntimeError(.invalidArgument, "cpu shares \(s) out of range [2, 262144]")
        }
        if let p = cpuPeriod, p != 0 && (p < 1000 || p > 1_000_000) {
            throw RuntimeError(.invalidArgument, "cpu period \(p)us out of range [1000, 1000000]")
        }
        if let q = cpuQuota, q > 0 && q < 1000 { throw RuntimeError(.invalidArgument, "cpu quota \(q)us below 1000us") }
        if let m = memoryLimitBytes, m < 0 || (m > 0 && m < 4096 * 64) {
            throw RuntimeError(.invalidArgument, "memory limit \(m) bytes is below the 256KiB minimum")
        }
        if let p = pidsLimit, p < 0 { throw RuntimeError(.invalidArgument, "pids limit \(p) is negative") }
        if let a = oomScoreAdj, a < -1000 || a > 1000 {
            throw RuntimeError(.invalidArgument, "oom_score_adj \(a) out of range [-1000, 1000]")
        }
        for (key, value) in unified ?? [:] {
            // "<controller>.<file>": a file of the container's own cgroup, nothing else
            let parts = key.split(separator: ".", maxSplits: 1)
            guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty }),
                key.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "." || $0 == "_") }),
                !key.hasPrefix("cgroup.")
            else {
                throw RuntimeError(.invalidArgument, "unified resource \"\(key)\" is not a cgroup v2 controller file name")
            }
            if value.contains("\n") { throw RuntimeError(.invalidArgument, "unified resource \(key): the value spans lines") }
        }
        for (name, v) in [("cpuset cpus", cpusetCpus), ("cpuset mems", cpusetMems)] {
            if let v, !v.allSatisfy({ $0.isNumber || $0 == "-" || $0 == "," }) {
                throw RuntimeError(.invalidArgument, "\(name) \"\(v)\" is not a cpu list")
            }
        }
    }
}

/// Usage read back from the cgroup (CRI ContainerStats).
package struct CgroupStats: Sendable, Equatable {
    package var cpuUsageNanos: UInt64
    package var memoryUsageBytes: UInt64
    package var memoryWorkingSetBytes: UInt64
}

/// One cgroup hierarchy driver (youki's CgroupManager). Paths are relative to the driver's root.
package protocol CgroupManager: Sendable {
    /// Creates the cgroup `path` (and parents) and applies `resources`.
    func create(_ path: String, resources: LinuxResources) throws
    /// Re-applies `resources` to an existing cgroup.
    func update(_ path: String, resources: LinuxResources) throws
    /// The `cgroup.procs` files a process writes itself into, one per hierarchy.
    func procsFiles(_ path: String) -> [String]
    /// The file whose `oom_kill` counter tells OOM kills in this cgroup.
    func oomEventsFile(_ path: String) -> String
    /// The pids currently in the cgroup.
    func pids(_ path: String) -> [Int32]
    /// Usage numbers.
    func stats(_ path: String) -> CgroupStats?
    /// Removes the cgroup (must be empty); missing is fine.
    func destroy(_ path: String) throws
    /// Restricts the cgroup to the default device list plus `rules` ("c 10:200 rwm"); call it
    /// for every cgroup processes run in (pod-level cgroups stay unrestricted).
    func allowDevices(_ path: String, rules: [String]) throws
}

extension CgroupManager {
    /// SIGKILLs every process still in the cgroup (processes this runtime created there), then
    /// removes it, retrying while the kernel finishes tearing them down (bounded: 5s).
    package func killAndDestroy(_ path: String, syscalls: any Syscalls) throws {
        var lastError: (any Error)?
        for _ in 0..<250 {
            for pid in pids(path) { syscalls.kill(pid, SIGKILL) }
            do {
                try destroy(path)
                return
            } catch {
                lastError = error
                usleep(20_000)
            }
        }
        throw lastError ?? RuntimeError(.timeout, "cgroup \(path) did not empty")
    }
}

/// Which driver the host needs: v2 when /sys/fs/cgroup is cgroup2, v1 otherwise.
package enum CgroupDriverKind: String, Codable, Sendable {
    case v1, v2

    package static func detect(root: String = "/sys/fs/cgroup") -> CgroupDriverKind {
        FileManager.default.fileExists(atPath: root + "/cgroup.controllers") ? .v2 : .v1
    }
}

func parsePids(_ text: String?) -> [Int32] {
    (text ?? "").split(whereSeparator: \.isNewline).compactMap { Int32($0) }
}

func parseKeyed(_ text: String?) -> [String: UInt64] {
    var out: [String: UInt64] = [:]
    for line in (text ?? "").split(whereSeparator: \.isNewline) {
        let parts = line.split(separator: " ")
        if parts.count == 2, let v = UInt64(parts[1]) { out[String(parts[0])] = v }
    }
    return out
}
