import Foundation
import Testing
@testable import Runtime

@Suite struct CgroupV1Tests {
    @Test func createWritesLimitsDevicesAndInheritsCpuset() throws {
        let sys = RecordingSyscalls(files: ["/cg/cpuset/cpuset.cpus": "0-1\n", "/cg/cpuset/cpuset.mems": "0\n"])
        let v1 = CgroupV1(root: "/cg", syscalls: sys)
        try v1.create("kubepods/pod1/c1", resources: LinuxResources(
            cpuShares: 512, cpuQuota: 50_000, cpuPeriod: 100_000, memoryLimitBytes: 64 << 20, pidsLimit: 100))
        let f = sys.files
        #expect(f["/cg/cpu/kubepods/pod1/c1/cpu.shares"] == "512")
        #expect(f["/cg/cpu/kubepods/pod1/c1/cpu.cfs_quota_us"] == "50000")
        #expect(f["/cg/cpu/kubepods/pod1/c1/cpu.cfs_period_us"] == "100000")
        #expect(f["/cg/memory/kubepods/pod1/c1/memory.limit_in_bytes"] == String(64 << 20))
        #expect(f["/cg/pids/kubepods/pod1/c1/pids.max"] == "100")
        #expect(f["/cg/cpuset/kubepods/cpuset.cpus"] == "0-1" && f["/cg/cpuset/kubepods/pod1/c1/cpuset.mems"] == "0")
        #expect(sys.calls.contains("write /cg/devices/kubepods/pod1/c1/devices.deny a"))
        #expect(sys.calls.contains("write /cg/devices/kubepods/pod1/c1/devices.allow c 1:3 rwm"))
        // period before quota: the kernel checks quota against the current period
        let period = sys.calls.firstIndex { $0.hasSuffix("cpu.cfs_period_us 100000") }!
        let quota = sys.calls.firstIndex { $0.hasSuffix("cpu.cfs_quota_us 50000") }!
        #expect(period < quota)
        #expect(v1.procsFiles("p").count == CgroupV1.controllers.count)
        #expect(v1.oomEventsFile("p") == "/cg/memory/p/memory.oom_control")
    }

    @Test func statsAndPids() {
        let sys = RecordingSyscalls(files: [
            "/cg/cpuacct/p/cpuacct.usage": "123456\n", "/cg/memory/p/memory.usage_in_bytes": "1000\n",
            "/cg/memory/p/memory.stat": "cache 5\ntotal_inactive_file 300\n", "/cg/memory/p/cgroup.procs": "7\n9\n",
            "/cg/pids/p/cgroup.procs": "9\n",
        ])
        let v1 = CgroupV1(root: "/cg", syscalls: sys)
        #expect(v1.stats("p") == CgroupStats(cpuUsageNanos: 123_456, memoryUsageBytes: 1000, memoryWorkingSetBytes: 700))
        #expect(v1.pids("p") == [7, 9])
    }

    @Test func validationNamesTheValue() {
        #expect(throws: RuntimeError.self) { try LinuxResources(cpuShares: 1).validate() }
        #expect(throws: RuntimeError.self) { try LinuxResources(memoryLimitBytes: 10).validate() }
        #expect(throws: RuntimeError.self) { try LinuxResources(cpusetCpus: "0-x").validate() }
        do {
            try LinuxResources(oomScoreAdj: 5000).validate()
        } catch let e as RuntimeError {
            #expect(e.message.contains("5000"))
        } catch {}
        #expect(throws: Never.self) { try LinuxResources(cpuShares: 2, memoryLimitBytes: 1 << 20).validate() }
    }
}

/// The v2 driver against a fake cgroupfs: a temp directory tree.
@Suite struct CgroupV2Tests {
    @Test func createEnablesControllersAndWritesLimits() throws {
        let root = NSTemporaryDirectory() + "swiftlet-cgv2-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try "cpuset cpu io memory pids".write(toFile: root + "/cgroup.controllers", atomically: true, encoding: .utf8)
        #expect(CgroupDriverKind.detect(root: root) == .v2)
        let v2 = CgroupV2(root: root)
        try v2.create("kubepods/burstable/pod1/c1", resources: LinuxResources(
            cpuShares: 1024, cpuQuota: 25_000, cpuPeriod: 100_000, memoryLimitBytes: 128 << 20, pidsLimit: 50,
            cpusetCpus: "0", cpusetMems: "0"))
        func read(_ p: String) -> String? { try? String(contentsOfFile: root + "/" + p, encoding: .utf8) }
        let d = "kubepods/burstable/pod1/c1/"
        #expect(read("cgroup.subtree_control") == "+cpu +cpuset +memory +pids")
        #expect(read("kubepods/burstable/pod1/cgroup.subtree_control") == "+cpu +cpuset +memory +pids")
        #expect(read(d + "cpu.weight") == "39")
        #expect(read(d + "cpu.max") == "25000 100000")
        #expect(read(d + "memory.max") == String(128 << 20))
        #expect(read(d + "pids.max") == "50")
        #expect(read(d + "cpuset.cpus") == "0")
        #expect(v2.procsFiles("x") == [root + "/x/cgroup.procs"])
        #expect(v2.oomEventsFile("x") == root + "/x/memory.events")

        try v2.update("kubepods/burstable/pod1/c1", resources: LinuxResources(cpuPeriod: 50_000))
        #expect(read(d + "cpu.max") == "max 50000")

        try "usage_usec 42\nuser_usec 40\n".write(toFile: root + "/" + d + "cpu.stat", atomically: true, encoding: .utf8)
        try "5000\n".write(toFile: root + "/" + d + "memory.current", atomically: true, encoding: .utf8)
        try "anon 10\ninactive_file 1000\n".write(toFile: root + "/" + d + "memory.stat", atomically: true, encoding: .utf8)
        try "12\n34\n".write(toFile: root + "/" + d + "cgroup.procs", atomically: true, encoding: .utf8)
        #expect(v2.stats("kubepods/burstable/pod1/c1") == CgroupStats(cpuUsageNanos: 42_000, memoryUsageBytes: 5000,
                                                                       memoryWorkingSetBytes: 4000))
        #expect(v2.pids("kubepods/burstable/pod1/c1") == [12, 34])
    }

    @Test func sharesToWeight() {
        #expect(CgroupV2.weight(fromShares: 2) == 1)
        #expect(CgroupV2.weight(fromShares: 262_144) == 10_000)
        #expect(CgroupV2.weight(fromShares: 1024) == 39)
    }
}
