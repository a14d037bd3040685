import Foundation
import Glibc
import Testing
@testable import Runtime

/// The v1 devices controller, for real: `allowDevices` writes its rules through one open of
/// `devices.allow`, one write each, and the kernel must have taken every one of them.
@Suite struct CgroupV1DevicesTests {
    static let root = "/sys/fs/cgroup"
    static let available = getuid() == 0 && FileManager.default.fileExists(atPath: root + "/devices/devices.allow")

    @Test(.enabled(if: available, "needs root and the cgroup v1 devices controller"))
    func everyRuleReachesTheKernel() throws {
        let name = "swiftlet-test-devices-\(getpid())"
        let dir = Self.root + "/devices/" + name
        let v1 = CgroupV1(root: Self.root)
        try LinuxSyscalls().mkdirAll(dir)
        defer { rmdir(dir) }
        try v1.allowDevices(name, rules: ["c 10:229 rwm"])
        let list = Set((FileContents.string(atPath: dir + "/devices.list") ?? "").split(separator: "\n").map(String.init))
        #expect(list == Set(CgroupV1.allowedDevices + ["c 10:229 rwm"]))
        // a rule the kernel refuses is an error that names it and the file
        #expect {
            try v1.allowDevices(name, rules: ["x 1:1 rwm"])
        } throws: { error in
            "\(error)".contains("x 1:1 rwm") && "\(error)".contains("devices.allow")
        }
    }
}
