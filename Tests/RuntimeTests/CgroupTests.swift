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
        #expect(f["/cg/cpuset/kubepods/pod1/cpuset.cpus"] == "0-1" && f["/cg/cpuset/kubepods/pod1/c1/cpuset.cpus"] == "0-1")
        // a level that has its own value keeps it, and its children inherit that one
        try sys.writeFile("/cg/cpuset/kubepods/pod1/cpuset.cpus", "1")
        try v1.create("kubepods/pod1/c2", resources: LinuxResources())
        #expect(sys.files["/cg/cpuset/kubepods/pod1/c2/cpuset.cpus"] == "1" && sys.files["/cg/cpuset/kubepods/cpuset.cpus"] == "0-1")
        // creating leaves devices alone (a v1 child cannot be allowed what its parent denies);
        // allowDevices restricts a cgroup processes run in to the defaults and its own devices
        #expect(!sys.calls.contains { $0.contains("/cg/devices/") && $0.hasPrefix("write") })
        try v1.allowDevices("kubepods/pod1/c1", rules: ["c 10:229 rwm"])
        let devices = sys.calls.filter { $0.hasPrefix("write /cg/devices/") }
        #expect(devices.first == "write /cg/devices/kubepods/pod1/c1/devices.deny a")
        #expect(devices.contains("write /cg/devices/kubepods/pod1/c1/devices.allow c 1:3 rwm"))
        #expect(devices.last == "write /cg/devices/kubepods/pod1/c1/devices.allow c 10:229 rwm")
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

    @Test func unifiedResourcesAreRefusedOnV1AndCheckedByName() throws {
        var r = LinuxResources()
        r.unified = ["memory.oom.group": "1"]
        #expect(throws: Never.self) { try r.validate() }
        let sys = RecordingSyscalls()
        do {
            try CgroupV1(root: "/cg", syscalls: sys).update("p", resources: r)
            Issue.record("v1 took a unified resource")
        } catch let e as RuntimeError {
            #expect(e.message.contains("memory.oom.group") && e.message.contains("cgroup v2"))
        }
        #expect(!sys.calls.contains { $0.hasPrefix("write") })
        for bad in ["../x.y", "memory/oom.group", "memory", ".oom", "cgroup.procs", "Memory.max", ""] {
            r.unified = [bad: "1"]
            #expect(throws: RuntimeError.self, "\(bad)") { try r.validate() }
        }
        r.unified = ["memory.high": "1\n2"]
        #expect(throws: RuntimeError.self) { try r.validate() }
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
        #expect(read(d + "cpu.weight") == "100")
        #expect(read(d + "cpu.max") == "25000 100000")
        #expect(read(d + "memory.max") == String(128 << 20))
        #expect(read(d + "pids.max") == "50")
        #expect(read(d + "cpuset.cpus") == "0")
        #expect(v2.procsFiles("x") == [root + "/x/cgroup.procs"])
        #expect(v2.oomEventsFile("x") == root + "/x/memory.events")

        // a new period keeps the quota; a new quota keeps the period; -1 lifts the quota
        try v2.update("kubepods/burstable/pod1/c1", resources: LinuxResources(cpuPeriod: 50_000))
        #expect(read(d + "cpu.max") == "25000 50000")
        try v2.update("kubepods/burstable/pod1/c1", resources: LinuxResources(cpuQuota: 40_000))
        #expect(read(d + "cpu.max") == "40000 50000")
        try v2.update("kubepods/burstable/pod1/c1", resources: LinuxResources(cpuQuota: -1))
        #expect(read(d + "cpu.max") == "max 50000")
        var oomGroup = LinuxResources()
        oomGroup.unified = ["memory.oom.group": "1"]
        try v2.update("kubepods/burstable/pod1/c1", resources: oomGroup)
        #expect(read(d + "memory.oom.group") == "1")

        try "usage_usec 42\nuser_usec 40\n".write(toFile: root + "/" + d + "cpu.stat", atomically: true, encoding: .utf8)
        try "5000\n".write(toFile: root + "/" + d + "memory.current", atomically: true, encoding: .utf8)
        try "anon 10\ninactive_file 1000\n".write(toFile: root + "/" + d + "memory.stat", atomically: true, encoding: .utf8)
        try "12\n34\n".write(toFile: root + "/" + d + "cgroup.procs", atomically: true, encoding: .utf8)
        #expect(v2.stats("kubepods/burstable/pod1/c1") == CgroupStats(cpuUsageNanos: 42_000, memoryUsageBytes: 5000,
                                                                       memoryWorkingSetBytes: 4000))
        #expect(v2.pids("kubepods/burstable/pod1/c1") == [12, 34])
    }

    @Test func sharesToWeight() {
        // runc ≥ 1.3.2 / crun ≥ 1.23: 2 → 1, 1024 → 100, 262144 → 10000, monotonic between
        #expect(CgroupV2.weight(fromShares: 2) == 1)
        #expect(CgroupV2.weight(fromShares: 262_144) == 10_000)
        #expect(CgroupV2.weight(fromShares: 1024) == 100)
        #expect(CgroupV2.weight(fromShares: 512) == 59)
        #expect(CgroupV2.weight(fromShares: 102) == 17)  // 100m
        var last: Int64 = 0
        for s in stride(from: Int64(2), through: 262_144, by: 97) {
            let w = CgroupV2.weight(fromShares: s)
            #expect(w >= last && w >= 1 && w <= 10_000)
            last = w
        }
    }

    @Test func createEnablesOnlyOfferedControllers() throws {
        let root = NSTemporaryDirectory() + "swiftlet-cgv2-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/deleg", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        // a delegated subtree: its parent offers no cpuset, and memory is already enabled
        try "cpu memory pids".write(toFile: root + "/deleg/cgroup.controllers", atomically: true, encoding: .utf8)
        try "memory".write(toFile: root + "/deleg/cgroup.subtree_control", atomically: true, encoding: .utf8)
        try CgroupV2(root: root + "/deleg").create("pod1", resources: LinuxResources(pidsLimit: 10))
        #expect(try String(contentsOfFile: root + "/deleg/cgroup.subtree_control", encoding: .utf8) == "+cpu +pids")
        #expect(try String(contentsOfFile: root + "/deleg/pod1/pids.max", encoding: .utf8) == "10")
    }
}

/// Runs a device filter the way the kernel would, for the opcodes DeviceFilter emits: the
/// return value (1 allow, 0 deny), nil on anything else.
func runDeviceFilter(_ p: [BPFInstruction], _ rule: String) -> Int64? {
    // rule: "<b|c> <major>:<minor> <one or more of rwm>", the request to decide
    let f = rule.split(separator: " "), n = f[1].split(separator: ":")
    var access: UInt32 = 0
    for c in f[2] { access |= c == "m" ? 1 : c == "r" ? 2 : 4 }
    let ctx: [UInt32] = [access << 16 | (f[0] == "b" ? 1 : 2), UInt32(n[0])!, UInt32(n[1])!]
    var r = [UInt64](repeating: 0, count: 11)
    var pc = 0
    for _ in 0..<10_000 where pc < p.count {
        let i = p[pc]
        pc += 1
        let d = Int(i.dst), s = Int(i.src)
        switch i.code {
        case 0x61 where s == 1 && i.off % 4 == 0 && i.off < 12: r[d] = UInt64(ctx[Int(i.off) / 4])
        case 0x54: r[d] = UInt64(UInt32(truncatingIfNeeded: r[d]) & UInt32(bitPattern: i.imm))
        case 0x74: r[d] = UInt64(UInt32(truncatingIfNeeded: r[d]) >> UInt32(i.imm))
        case 0xbc: r[d] = UInt64(UInt32(truncatingIfNeeded: r[s]))
        case 0xb4: r[d] = UInt64(UInt32(bitPattern: i.imm))
        case 0x55: if r[d] != UInt64(bitPattern: Int64(i.imm)) { pc += Int(i.off) }
        case 0x5d: if r[d] != r[s] { pc += Int(i.off) }
        case 0x95: return Int64(r[0])
        default: return nil
        }
    }
    return nil
}

@Suite struct DeviceFilterTests {
    @Test func defaultListAllowsWhatV1AllowsAndNothingElse() throws {
        let p = DeviceFilter.program(allowing: try DeviceFilter.defaultRules.map(DeviceRule.init))
        for allowed in ["c 1:3 rw", "c 1:5 r", "c 1:9 rwm", "c 5:0 rw", "c 136:7 rw", "c 10:200 rw", "c 1:11 m", "b 8:0 m"] {
            #expect(runDeviceFilter(p, allowed) == 1, "\(allowed)")
        }
        for denied in ["c 1:11 w", "c 1:1 r", "b 8:0 r", "b 8:0 rw", "c 4:64 w", "c 10:201 rw", "c 5:3 r"] {
            #expect(runDeviceFilter(p, denied) == 0, "\(denied)")
        }
    }

    @Test func v2AllowDevicesAttachesDefaultsPlusTheContainersRules() throws {
        let sys = RecordingSyscalls()
        let v2 = CgroupV2(root: "/cg", syscalls: sys)
        try v2.allowDevices("kubepods/pod1/c1", rules: ["c 1:11 w", "b 8:* r"])
        let p = try #require(sys.deviceFilters["/cg/kubepods/pod1/c1"])
        #expect(runDeviceFilter(p, "c 1:11 w") == 1 && runDeviceFilter(p, "c 1:11 r") == 0)
        #expect(runDeviceFilter(p, "b 8:3 r") == 1 && runDeviceFilter(p, "b 8:3 w") == 0 && runDeviceFilter(p, "b 9:0 r") == 0)
        #expect(runDeviceFilter(p, "c 1:3 rw") == 1)
        try v2.allowDevices("kubepods/pod1/c1", rules: [])
        #expect(runDeviceFilter(try #require(sys.deviceFilters["/cg/kubepods/pod1/c1"]), "c 1:11 w") == 0)
        #expect(throws: RuntimeError.self) { try v2.allowDevices("x", rules: ["c 1:11 rwx"]) }
    }

    @Test func rulesAndEncoding() throws {
        #expect(try DeviceRule("c 136:* rwm") == DeviceRule("c 136:* rwm"))
        let r = try DeviceRule("b 8:* rw")
        #expect(r.type == 1 && r.major == 8 && r.minor == nil && r.access == 6)
        let a = try DeviceRule("a")
        #expect(a.type == nil && a.major == nil && a.access == DeviceRule.allAccess)
        for bad in ["", "x 1:3 r", "c 1:3", "c 1 r", "c 1:3 q", "c -1:3 r", "c 1:3 "] {
            #expect(throws: RuntimeError.self, "\(bad)") { try DeviceRule(bad) }
        }
        // an allow-all rule is one unconditional block
        #expect(runDeviceFilter(DeviceFilter.program(allowing: [a]), "b 8:0 rwm") == 1)
        #expect(runDeviceFilter(DeviceFilter.program(allowing: []), "c 1:3 r") == 0)
        // struct bpf_insn: code, dst | src << 4, off (LE), imm (LE)
        #expect(BPFInstruction(code: 0x61, dst: 2, src: 1, off: 4, imm: 0).bytes == [0x61, 0x12, 4, 0, 0, 0, 0, 0])
        #expect(BPFInstruction(code: 0x55, dst: 4, src: 0, off: -2, imm: 0x1_0203).bytes == [0x55, 0x04, 0xfe, 0xff, 3, 2, 1, 0])
    }
}
