import Foundation

/// Where the runtime keeps its state and finds its helpers.
package struct RuntimeConfig: Sendable {
    /// State root: sandboxes/, containers/, netns/, images.
    package var root: String
    /// cgroupfs mount point.
    package var cgroupfs: String = "/sys/fs/cgroup"
    /// Prefix of every cgroup the runtime creates, relative to the hierarchy root (e.g. "swiftlet-test-123").
    package var cgroupRoot: String = "swiftlet"
    package var cgroupDriver: CgroupDriverKind = CgroupDriverKind.detect()
    package var shimPath: String = RuntimeConfig.siblingExecutable("swiftlet-shim")
    package var pausePath: String = RuntimeConfig.siblingExecutable("pause")
    package var syscalls: any Syscalls = LinuxSyscalls()

    package init(root: String) { self.root = root }

    /// A program built next to the running executable (.build/debug/swiftlet-shim).
    package static func siblingExecutable(_ name: String) -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "/usr/local/bin/x"
        var dir = (exe as NSString).deletingLastPathComponent
        // swift test runs <scratch>/debug/swiftletPackageTests.xctest
        if dir.hasSuffix(".xctest") { dir = (dir as NSString).deletingLastPathComponent }
        return dir + "/" + name
    }

    package func cgroupManager() -> any CgroupManager {
        switch cgroupDriver {
        case .v1: return CgroupV1(root: cgroupfs, syscalls: syscalls)
        case .v2: return CgroupV2(root: cgroupfs, syscalls: syscalls)
        }
    }
}

/// containerd's default masked and read-only paths.
package enum DefaultPaths {
    package static let masked = [
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
        "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
    ]
    package static let readonly = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
}
