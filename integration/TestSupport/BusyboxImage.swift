public import Foundation

/// A one-layer test image built from the machine's busybox-static: `/bin/busybox` with applet
/// symlinks, `/etc/passwd` and `/etc/group`. No registry, no network.
public enum BusyboxImage {
    public static let applets = ["sh", "cat", "echo", "sleep", "hostname", "ls", "id", "mount", "httpd", "wget", "touch", "printf",
                                 "insmod", "adjtimex", "grep", "yes", "head", "seq", "true", "false", "ps", "umount", "env", "readlink",
                                 "nc"]

    /// Writes the root filesystem under `dir/layer` and returns the path of its tar.
    public static func layer(in dir: String) throws -> String {
        let fs = try rootfs(in: dir + "/layer")
        let tar = dir + "/busybox-layer.tar"
        let r = try Command.run("/usr/bin/tar", ["-c", "-f", tar, "-C", fs, "."], timeout: 60)
        guard r.ok else { throw CommandFailed(result: r) }
        return tar
    }

    /// Builds the root filesystem at `fs` (created) and returns it.
    @discardableResult
    public static func rootfs(in fs: String) throws -> String {
        for d in ["bin", "etc", "tmp", "root", "home/app", "proc", "sys", "dev"] {
            try FileManager.default.createDirectory(atPath: fs + "/" + d, withIntermediateDirectories: true)
        }
        if !FileManager.default.fileExists(atPath: fs + "/bin/busybox") {
            try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: fs + "/bin/busybox")
        }
        for a in applets where (try? FileManager.default.destinationOfSymbolicLink(atPath: fs + "/bin/" + a)) == nil {
            try FileManager.default.createSymbolicLink(atPath: fs + "/bin/" + a, withDestinationPath: "busybox")
        }
        try "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"
            .write(toFile: fs + "/etc/passwd", atomically: true, encoding: .utf8)
        try "root:x:0:\napp:x:1000:\n".write(toFile: fs + "/etc/group", atomically: true, encoding: .utf8)
        chmod(fs + "/tmp", 0o1777)
        return fs
    }
}
