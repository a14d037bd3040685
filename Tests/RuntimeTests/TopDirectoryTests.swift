import Foundation
import Glibc
import Testing
@testable import Runtime

/// `markTopDirectory` on the real filesystem: the flag is set where ext2/3/4 knows it,
/// and anything else is left alone without an error.
@Suite struct TopDirectoryTests {
    static let base = NSTemporaryDirectory() + "swiftlet-topdir-\(getpid())"

    /// Whether the temporary directory is on ext2/3/4 (the longest mount point above it).
    static var onExt: Bool {
        let path = (NSTemporaryDirectory() as NSString).resolvingSymlinksInPath
        let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        var best = (point: "", type: "")
        for line in mounts.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count > 2 else { continue }
            let point = String(f[1])
            let under = point == "/" || path == point || path.hasPrefix(point + "/")
            if under, point.count >= best.point.count { best = (point, String(f[2])) }
        }
        return best.type.hasPrefix("ext")
    }

    @Test(.enabled(if: getuid() == 0 && onExt, "needs root and an ext2/3/4 temporary directory"))
    func setsTheFlagOnceAndKeepsTheOthers() throws {
        let dir = Self.base + "/pods"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: Self.base) }
        let sys = LinuxSyscalls()
        let before = try #require(sys.inodeFlags(dir))
        #expect(sys.isTopDirectory(dir) == false)
        #expect(sys.markTopDirectory(dir))
        #expect(sys.isTopDirectory(dir) == true)
        #expect(sys.inodeFlags(dir) == before | 0x2_0000, "only FS_TOPDIR_FL (0x20000) was added")
        #expect(sys.markTopDirectory(dir), "already marked")
        // children are placed as top-level directories but do not inherit the flag
        try FileManager.default.createDirectory(atPath: dir + "/pod-a", withIntermediateDirectories: false)
        #expect(sys.isTopDirectory(dir + "/pod-a") == false)
    }

    @Test func leavesWhatItCannotMarkAlone() throws {
        #expect(!LinuxSyscalls().markTopDirectory("/nonexistent-swiftlet-\(getpid())"))
        let file = NSTemporaryDirectory() + "swiftlet-topdir-file-\(getpid())"
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        defer { unlink(file) }
        #expect(!LinuxSyscalls().markTopDirectory(file))
        if FileManager.default.fileExists(atPath: "/proc/self") {
            #expect(!LinuxSyscalls().markTopDirectory("/proc/self"), "procfs has no inode flags")
        }
    }
}
