import Foundation
import Glibc

struct SandboxRecord: Codable {
    var id: String
    var config: PodSandboxConfig
    var createdAt: Date
    /// 0: the record is written before pause starts, and pause's pid is in its shim's state.
    /// Records of older versions carry it.
    var pid: Int32
    var netnsPath: String?
    /// Full relative cgroup paths.
    var podCgroup: String
    var sandboxCgroup: String
    var createdPodCgroup: Bool
}

/// What the container will run, resolved at create time.
struct ProcessSpec: Codable {
    var args: [String]
    var env: [String]
    var cwd: String
    var uid: UInt32
    var gid: UInt32
    var groups: [UInt32]
    var capabilities: [Int]
    var seccompFile: String?
    var noNewPrivs: Bool
    var maskedPaths: [String]
    var readonlyPaths: [String]
}

struct ContainerRecord: Codable {
    var id: String
    var sandboxID: String
    var config: ContainerConfig
    var imageID: String
    var imageRef: String
    var layers: [String]
    var createdAt: Date
    var cgroup: String
    var logPath: String
    var process: ProcessSpec
}

/// What the shim wrote in <dir>/state.
struct ShimState {
    var shimPid: Int32 = 0
    var pid: Int32 = 0
    var startedAt: Date?
    var finishedAt: Date?
    var exitCode: Int32 = 0
    var oomKilled = false
    var reason: String?
    var message: String?

    init?(path: String) {
        guard let text = FileContents.string(atPath: path) else { return nil }
        func date(_ s: Substring) -> Date? { Int64(s).map { Date(timeIntervalSince1970: Double($0) / 1e9) } }
        for line in text.split(separator: "\n") {
            guard let sp = line.firstIndex(of: " ") else { continue }
            let k = line[..<sp], v = line[line.index(after: sp)...]
            switch k {
            case "shim_pid": shimPid = Int32(v) ?? 0
            case "pid": pid = Int32(v) ?? 0
            case "started_at": startedAt = date(v)
            case "finished_at": finishedAt = date(v)
            case "exit_code": exitCode = Int32(v) ?? 0
            case "oom_killed": oomKilled = v == "1"
            case "reason": reason = String(v)
            case "message": message = String(v)
            default: break
            }
        }
    }

    var running: Bool { finishedAt == nil && pid > 0 && (Glibc.kill(pid, 0) == 0 || Glibc.kill(shimPid, 0) == 0) }
}

/// Which file a path names and its last change: inode, modification time, size and link count
/// (for a directory, the link count moves with every subdirectory made or removed in it).
struct FileIdentity: Equatable {
    var inode: UInt64, seconds: Int, nanoseconds: Int, size: Int64, links: UInt64

    init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        inode = UInt64(st.st_ino)
        seconds = st.st_mtim.tv_sec
        nanoseconds = st.st_mtim.tv_nsec
        size = Int64(st.st_size)
        links = UInt64(st.st_nlink)
    }
}

func newID() -> String {
    String(format: "%016llx%016llx", UInt64.random(in: .min ... .max), UInt64.random(in: .min ... .max))
}
