import Foundation
import Glibc
import TestSupport
@testable import Runtime

let isRoot = getuid() == 0

/// A runtime on a temp state root and a private cgroup subtree (swiftlet-test-<pid>-<n>),
/// with a busybox image imported from a locally built layer. `close()` removes everything.
final class Harness: @unchecked Sendable {
    static let counter = Counter()
    let root: String
    let cgroupRoot: String
    let logRoot: String
    var runtime: LinuxRuntime
    let image = "localhost/swiftlet/busybox:test"

    init() async throws {
        let n = Harness.counter.next()
        root = "/tmp/swiftlet-rt-\(getpid())-\(n)"
        logRoot = root + "/pods"
        cgroupRoot = "swiftlet-test-\(getpid())-\(n)"
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        runtime = try LinuxRuntime(config: Harness.config(root: root, cgroupRoot: cgroupRoot))
        let tar = try BusyboxImage.layer(in: root)
        _ = try await runtime.images.importLayers(ref: image, layerTars: [tar], cmd: ["sh"])
    }

    static func config(root: String, cgroupRoot: String) -> RuntimeConfig {
        var c = RuntimeConfig(root: root + "/state")
        c.cgroupRoot = cgroupRoot
        c.cgroupDriver = .v1
        return c
    }

    /// A new runtime instance on the same state: what a restarted agent sees.
    func restart() throws {
        runtime = try LinuxRuntime(config: Harness.config(root: root, cgroupRoot: cgroupRoot))
    }

    func sandboxConfig(_ name: String, share: Bool = true) -> PodSandboxConfig {
        var c = PodSandboxConfig(name: name, namespace: "default", uid: "uid-\(name)")
        c.hostname = name
        c.logDirectory = logRoot + "/default_\(name)_uid-\(name)"
        c.cgroupParent = "kubepods/besteffort/pod-uid-\(name)"
        c.shareProcessNamespace = share
        return c
    }

    func container(_ name: String, _ script: String) -> ContainerConfig {
        var c = ContainerConfig(name: name, image: image)
        c.command = ["/bin/sh", "-c", script]
        c.logPath = name + "/0.log"
        return c
    }

    /// Waits (bounded) until the container has exited.
    func waitExited(_ id: String, seconds: Double = 20) async throws -> ContainerStatus {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let s = try await runtime.containerStatus(id)
            if s.state == .exited { return s }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        return try await runtime.containerStatus(id)
    }

    func log(_ status: ContainerStatus) -> String { (try? String(contentsOfFile: status.logPath, encoding: .utf8)) ?? "" }

    /// Removes every sandbox, the cgroup subtree and the state root; returns what was left behind.
    @discardableResult func close() async -> [String] {
        var leftovers: [String] = []
        for s in (try? await runtime.listPodSandbox()) ?? [] {
            do { try await runtime.removePodSandbox(s.id) } catch { leftovers.append("remove \(s.id): \(error)") }
        }
        for c in (try? await runtime.listContainers(sandboxID: nil)) ?? [] {
            try? await runtime.removeContainer(c.id)
        }
        let mounts = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        for line in mounts.split(separator: "\n") {
            // the mount point (field 5) under this harness's own root: "<root>/", not a prefix
            // match, which would also catch "<root>0/…" of a harness running in parallel
            let fields = line.split(separator: " ")
            guard fields.count > 4, fields[4] == root || fields[4].hasPrefix(root + "/") else { continue }
            leftovers.append("mount: \(line)")
            umount2(String(fields[4]), Int32(MNT_DETACH))
        }
        for c in CgroupV1.controllers {
            let base = "/sys/fs/cgroup/\(c)/\(cgroupRoot)"
            guard FileManager.default.fileExists(atPath: base) else { continue }
            // Only our own subtree: deepest directories first.
            let subdirs = (FileManager.default.enumerator(atPath: base)?.allObjects as? [String] ?? [])
                .filter { (try? FileManager.default.attributesOfItem(atPath: base + "/" + $0)[.type] as? FileAttributeType) == .typeDirectory }
                .sorted { $0.count > $1.count }
            for d in subdirs {
                if let procs = try? String(contentsOfFile: base + "/" + d + "/cgroup.procs", encoding: .utf8), !procs.isEmpty {
                    leftovers.append("cgroup \(c)/\(d) has processes \(procs)")
                }
                if rmdir(base + "/" + d) == 0, !d.hasPrefix("kubepods/besteffort/pod") || d.split(separator: "/").count > 3 {
                    if d.split(separator: "/").count > 3 { leftovers.append("cgroup \(c)/\(d)") }
                }
            }
            rmdir(base + "/kubepods/besteffort")
            rmdir(base + "/kubepods")
            rmdir(base)
        }
        try? FileManager.default.removeItem(atPath: root)
        return leftovers
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func next() -> Int { lock.withLock { n += 1; return n } }
}

/// /proc/<pid>/ns/<kind> link target, e.g. "net:[4026532...]".
func nsID(_ pid: Int32, _ kind: String) -> String {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/\(kind)")) ?? "?"
}

func alive(_ pid: Int32) -> Bool { pid > 0 && kill(pid, 0) == 0 }
