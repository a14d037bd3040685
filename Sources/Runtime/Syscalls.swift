import CShim
import Foundation
import Glibc

/// Every side effect the runtime has on the kernel and the file system, behind one seam
/// (youki's `Syscall` trait): `LinuxSyscalls` does it, `RecordingSyscalls` records it.
package protocol Syscalls: Sendable {
    /// Creates `path` and its parents (mkdir -p).
    func mkdirAll(_ path: String) throws
    /// Removes an empty directory; ENOENT is not an error.
    func rmdir(_ path: String) throws
    /// Writes `data` to `path` (created if needed, truncated): cgroupfs knobs and plain files.
    func writeFile(_ path: String, _ data: String) throws
    /// Writes each of `items` with a write(2) of its own through one open of the existing file
    /// `path`: v1 cgroup knobs such as `devices.allow` take one rule per write.
    func writeEach(_ path: String, _ items: [String]) throws
    /// Reads `path` as text; nil if it does not exist.
    func readFile(_ path: String) -> String?
    /// Whether `path` exists.
    func exists(_ path: String) -> Bool
    /// mount(2).
    func mount(source: String, target: String, fstype: String?, flags: UInt, data: String?) throws
    /// umount2(2); EINVAL/ENOENT (not mounted) are not errors.
    func unmount(_ target: String, detach: Bool) throws
    /// kill(2); ESRCH is not an error. Returns whether the process existed.
    @discardableResult func kill(_ pid: Int32, _ signal: Int32) -> Bool
    /// bpf(2): loads `program` as a cgroup device filter and attaches it to the cgroup v2
    /// directory `cgroupDir`, replacing the one attached before.
    func attachDeviceFilter(_ cgroupDir: String, program: [BPFInstruction]) throws
    /// Asks the filesystem to place each new subdirectory of `dir` like a directory under the
    /// root: ext2/3/4's FS_TOPDIR_FL. Returns whether `dir` has the flag (others ignore it).
    @discardableResult func markTopDirectory(_ dir: String) -> Bool
}

/// The real implementation.
package struct LinuxSyscalls: Syscalls {
    package init() {}

    /// mkdir -p: the directory itself first, its parents only when it has none. (Foundation's
    /// createDirectory(withIntermediateDirectories:) calls mkdir on every ancestor from the root
    /// down: a cgroup on five v1 hierarchies cost some fifty failing mkdirs through cgroupfs.)
    package func mkdirAll(_ path: String) throws {
        if mkdir(path, 0o777) == 0 { return }
        var err = errno
        if err == ENOENT {
            let parent = (path as NSString).deletingLastPathComponent
            if !parent.isEmpty && parent != path && parent != "/" { try mkdirAll(parent) }
            if mkdir(path, 0o777) == 0 { return }
            err = errno
        }
        if err == EEXIST {
            var st = stat()
            if stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR { return }
            throw RuntimeError(.syscall, "mkdir \(path): a file that is not a directory is in the way")
        }
        throw RuntimeError.sys("mkdir", path, errno: err)
    }

    package func rmdir(_ path: String) throws {
        if Glibc.rmdir(path) != 0 && errno != ENOENT { throw RuntimeError.sys("rmdir", path) }
    }

    package func writeFile(_ path: String, _ data: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw RuntimeError.sys("open", path) }
        defer { close(fd) }
        let bytes = Array(data.utf8)
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 { throw RuntimeError.sys("write \"\(data)\" to", path) }
    }

    package func writeEach(_ path: String, _ items: [String]) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd < 0 { throw RuntimeError.sys("open", path) }
        defer { close(fd) }
        for item in items {
            var bytes = item
            let n = bytes.withUTF8 { write(fd, $0.baseAddress, $0.count) }
            if n < 0 { throw RuntimeError.sys("write \"\(item)\" to", path) }
        }
    }

    package func readFile(_ path: String) -> String? {
        FileContents.string(atPath: path)
    }

    package func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    package func mount(source: String, target: String, fstype: String?, flags: UInt, data: String?) throws {
        if Glibc.mount(source, target, fstype, flags, data) != 0 { throw RuntimeError.sys("mount \(source) on", target) }
    }

    package func unmount(_ target: String, detach: Bool) throws {
        if umount2(target, detach ? Int32(MNT_DETACH) : 0) != 0 && errno != EINVAL && errno != ENOENT {
            throw RuntimeError.sys("umount", target)
        }
    }

    @discardableResult package func kill(_ pid: Int32, _ signal: Int32) -> Bool {
        guard pid > 0 else { return false }
        return Glibc.kill(pid, signal) == 0
    }

    // <linux/fs.h>: _IOR('f', 1, long), _IOW('f', 2, long) (the kernel reads and writes an int)
    private static let fsIocGetflags: UInt = 0x8008_6601
    private static let fsIocSetflags: UInt = 0x4008_6602
    private static let fsTopdirFl: Int32 = 0x0002_0000

    /// With the flag, ext4's Orlov allocator puts each new subdirectory in a block group of its
    /// own (chosen by the name's hash) instead of its parent's, and the files made in it follow.
    /// The directories of pods are unrelated trees that come and go in bursts, and ext4 without
    /// a journal skips, one by one and at every allocation in a group, each inode freed there in
    /// the last minute (more while its inode-table block is dirty): after a hundred pods were
    /// removed, every new pod in the same group paid for all of their files.
    @discardableResult package func markTopDirectory(_ dir: String) -> Bool {
        withDirectory(dir) { fd in
            var flags: Int32 = 0
            guard ioctl(fd, Self.fsIocGetflags, &flags) == 0 else { return false }
            if flags & Self.fsTopdirFl != 0 { return true }
            flags |= Self.fsTopdirFl
            return ioctl(fd, Self.fsIocSetflags, &flags) == 0
        } ?? false
    }

    /// Whether the directory `dir` carries FS_TOPDIR_FL; nil where it has no inode flags.
    package func isTopDirectory(_ dir: String) -> Bool? {
        inodeFlags(dir).map { $0 & Self.fsTopdirFl != 0 }
    }

    /// A directory's inode flags (FS_IOC_GETFLAGS); nil where the filesystem has none.
    package func inodeFlags(_ dir: String) -> Int32? {
        withDirectory(dir) { fd in
            var flags: Int32 = 0
            return ioctl(fd, Self.fsIocGetflags, &flags) == 0 ? flags : nil
        } ?? nil
    }

    /// `body` with `dir` open as a directory; nil when it cannot be opened as one.
    private func withDirectory<T>(_ dir: String, _ body: (Int32) -> T) -> T? {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return body(fd)
    }

    package func attachDeviceFilter(_ cgroupDir: String, program: [BPFInstruction]) throws {
        let bytes = program.flatMap(\.bytes)
        var err = [CChar](repeating: 0, count: 4096)
        let rc = bytes.withUnsafeBytes { swl_cgroup_device_filter(cgroupDir, $0.baseAddress, UInt32(program.count), &err, err.count) }
        if rc != 0 {
            let e = errno
            throw RuntimeError(.syscall, String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), errno: e)
        }
    }
}

/// A test double: keeps files in memory and records every call, in order.
package final class RecordingSyscalls: Syscalls, @unchecked Sendable {
    private let lock = NSLock()
    private var _calls: [String] = []
    private var _files: [String: String] = [:]
    private var _dirs: Set<String> = []
    private var _deviceFilters: [String: [BPFInstruction]] = [:]

    package init(files: [String: String] = [:]) { _files = files }

    /// Every call, as "op args".
    package var calls: [String] { lock.withLock { _calls } }
    /// The in-memory file contents.
    package var files: [String: String] { lock.withLock { _files } }
    package var dirs: Set<String> { lock.withLock { _dirs } }
    /// The device filter attached to each cgroup directory.
    package var deviceFilters: [String: [BPFInstruction]] { lock.withLock { _deviceFilters } }

    private func record(_ s: String) { lock.withLock { _calls.append(s) } }

    package func mkdirAll(_ path: String) throws {
        record("mkdir \(path)")
        _ = lock.withLock { _dirs.insert(path) }
    }
    package func rmdir(_ path: String) throws {
        record("rmdir \(path)")
        _ = lock.withLock { _dirs.remove(path) }
    }
    package func writeFile(_ path: String, _ data: String) throws {
        record("write \(path) \(data)")
        lock.withLock { _files[path] = data }
    }
    package func writeEach(_ path: String, _ items: [String]) throws {
        for item in items { try writeFile(path, item) }
    }
    package func readFile(_ path: String) -> String? { lock.withLock { _files[path] } }
    package func exists(_ path: String) -> Bool { lock.withLock { _files[path] != nil || _dirs.contains(path) } }
    package func mount(source: String, target: String, fstype: String?, flags: UInt, data: String?) throws {
        record("mount \(source) \(target) \(fstype ?? "-") \(flags)")
    }
    package func unmount(_ target: String, detach: Bool) throws { record("umount \(target)") }
    package func kill(_ pid: Int32, _ signal: Int32) -> Bool {
        record("kill \(pid) \(signal)")
        return false
    }
    @discardableResult package func markTopDirectory(_ dir: String) -> Bool {
        record("topdir \(dir)")
        return true
    }
    package func attachDeviceFilter(_ cgroupDir: String, program: [BPFInstruction]) throws {
        record("bpf device filter \(cgroupDir) \(program.count) insns")
        lock.withLock { _deviceFilters[cgroupDir] = program }
    }
}
