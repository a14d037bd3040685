public import Foundation

/// A private mount namespace in which `/sys/fs/cgroup/unified` is unmounted, when this host is
/// hybrid (cgroup v1 controllers, and a v2 hierarchy that lists one: crun then refuses to run,
/// "cgroups in hybrid mode not supported"). `prefix` runs a command inside it with nsenter; on
/// a pure v1 or pure v2 host it is empty and commands run as they are.
public final class LegacyCgroupView: @unchecked Sendable {
    public let prefix: [String]
    public let holderPID: Int32
    private let holder: BackgroundProcess?

    public init() throws {
        let controllers = (try? String(contentsOfFile: "/sys/fs/cgroup/unified/cgroup.controllers", encoding: .utf8)) ?? ""
        guard !controllers.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            prefix = []
            holderPID = 0
            holder = nil
            return
        }
        let h = try BackgroundProcess("/usr/bin/unshare", ["-m", "--propagation", "private", "sh", "-c",
                                                           "umount /sys/fs/cgroup/unified && exec sleep 36000"])
        // ready once the holder's mount table no longer has the v2 mount
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let comm = (try? String(contentsOfFile: "/proc/\(h.pid)/comm", encoding: .utf8)) ?? ""
            if comm.hasPrefix("sleep") { break }
            usleep(10_000)
        }
        let mounts = (try? String(contentsOfFile: "/proc/\(h.pid)/mountinfo", encoding: .utf8)) ?? "/sys/fs/cgroup/unified"
        guard !mounts.contains(" /sys/fs/cgroup/unified ") else {
            h.stop(SIGKILL)
            throw HarnessError.notReady("could not hide /sys/fs/cgroup/unified in a private mount namespace: \(h.output.string)")
        }
        holder = h
        holderPID = h.pid
        prefix = ["/usr/bin/nsenter", "-t", String(h.pid), "-m", "--"]
    }

    public func close() { holder?.stop(SIGKILL) }
}

extension LegacyCgroupView {
    /// Runs `argv` inside the view (bounded by `timeout`).
    public func run(_ argv: [String], stdin: String? = nil, env: [String: String] = [:], timeout: TimeInterval = 60) throws -> CommandResult {
        let full = prefix + argv
        return try Command.run(full[0], Array(full.dropFirst()), stdin: stdin, env: env, timeout: timeout)
    }
}
