public import Foundation

/// podman with storage of its own under `root` (the host's podman state is never touched), an
/// explicit OCI runtime, cgroupfs and no event log, run inside a `LegacyCgroupView` and, given
/// one, a network namespace. The benchmarks' podman references use it.
public final class PrivatePodman: Sendable {
    private let argv: [String]
    private let env: [String: String]

    public init(root: String, runtime: String, view: LegacyCgroupView, netns: String? = nil, podman: String = "/usr/bin/podman") throws {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        // podman raises RLIMIT_NOFILE to the system maximum by default, which this VM refuses
        try "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n"
            .write(toFile: root + "/containers.conf", atomically: true, encoding: .utf8)
        env = ["CONTAINERS_CONF": root + "/containers.conf"]
        argv = view.prefix + (netns.map { ["/usr/bin/nsenter", "--net=" + NetnsLab.path($0)] } ?? []) + [
            podman, "--root", root + "/storage", "--runroot", root + "/run", "--tmpdir", root + "/tmp",
            "--cgroup-manager", "cgroupfs", "--runtime", runtime, "--events-backend", "none", "--storage-driver", "overlay",
        ]
    }

    public func run(_ args: [String], timeout: TimeInterval = 120) throws -> CommandResult {
        try Command.run(argv[0], Array(argv.dropFirst()) + args, env: env, timeout: timeout)
    }

    /// Removes every pod and container at once (no stop grace period) and resets the storage.
    public func reset(timeout: TimeInterval = 300) {
        _ = try? run(["pod", "rm", "-f", "-a", "-t", "0"], timeout: timeout)
        _ = try? run(["system", "reset", "-f"])
    }
}

/// Removes the cgroup trees `/sys/fs/cgroup/<controller><parent>` (deepest first), a subtree
/// the caller made for processes it started: what is still in it is SIGKILLed first (podman
/// 4.3's `pod rm -f -a` once left a pod's conmon, infra and container running), bounded to 5 s.
public func removeCgroupTrees(_ parent: String) {
    let fm = FileManager.default
    var trees: [(top: String, dirs: [String])] = []
    for c in (try? fm.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
        let top = "/sys/fs/cgroup/\(c)\(parent)"
        guard fm.fileExists(atPath: top) else { continue }
        var dirs: [String] = []
        if let e = fm.enumerator(atPath: top) {
            for case let sub as String in e where (try? fm.attributesOfItem(atPath: top + "/" + sub)[.type] as? FileAttributeType) == .typeDirectory {
                dirs.append(top + "/" + sub)
            }
        }
        trees.append((top, dirs.sorted(by: { $0.count > $1.count }) + [top]))
    }
    let deadline = Date().addingTimeInterval(5)
    while Date() < deadline {
        let pids = Set(trees.flatMap(\.dirs).flatMap { d in
            ((try? String(contentsOfFile: d + "/cgroup.procs", encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
        })
        if pids.isEmpty { break }
        for pid in pids { kill(pid, SIGKILL) }
        usleep(50_000)
    }
    for t in trees { for d in t.dirs { rmdir(d) } }
}
