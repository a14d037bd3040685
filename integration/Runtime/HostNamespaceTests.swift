import Foundation
import Glibc
import Testing
@testable import Runtime

@Suite(.serialized, .enabled(if: isRoot, "needs root: namespaces, mounts, cgroups"))
struct HostNamespaceTests {
    @Test func hostNetworkPIDAndIPCAreHonoured() async throws {
        try await withHarness { h in
            var cfg = h.sandboxConfig("host")
            cfg.hostNetwork = true
            cfg.hostPID = true
            cfg.hostIPC = true
            let sb = try await h.runtime.runPodSandbox(cfg)
            let st = try await h.runtime.podSandboxStatus(sb)
            #expect(st.netnsPath == nil)
            var c = h.container("c", "exec sleep 1000")
            // tun is on the default allow list; fuse (10:229) is not: a device plugin's device
            // must be allowed in the container's cgroup under a pod cgroup that does not deny it
            c.devices = [DeviceSpec(containerPath: "/dev/net/tun", hostPath: "/dev/net/tun"),
                         DeviceSpec(containerPath: "/dev/fuse", hostPath: "/dev/fuse")]
            let id = try await h.runtime.createContainer(sandboxID: sb, c)
            try await h.runtime.startContainer(id)
            let pid = try await h.runtime.containerStatus(id).pid
            for kind in ["net", "pid", "ipc", "uts"] { #expect(nsID(pid, kind) == nsID(getpid(), kind), "\(kind)") }
            #expect(nsID(pid, "mnt") != nsID(getpid(), "mnt"))
            let r = try await h.runtime.execSync(id, cmd: ["sh", "-c", "ls /dev/net/tun && hostname"], timeout: 10)
            #expect(String(decoding: r.stdout, as: UTF8.self) == "/dev/net/tun\n" + ProcessInfo.processInfo.hostName + "\n")
            // opened for reading and writing: the device cgroup lets it through (no EPERM)
            let fuse = try await h.runtime.execSync(id, cmd: ["sh", "-c", "exec 3<>/dev/fuse && echo opened"], timeout: 10)
            #expect(String(decoding: fuse.stdout, as: UTF8.self) == "opened\n", "\(String(decoding: fuse.stderr, as: UTF8.self))")

            var dev = h.container("d", "true")
            dev.devices = [DeviceSpec(containerPath: "/dev/x", hostPath: "/etc/hostname")]
            let e = await #expect(throws: RuntimeError.self) { _ = try await h.runtime.createContainer(sandboxID: sb, dev) }
            #expect(e?.message.contains("/etc/hostname is not a character or block device") == true)
        }
    }

    @Test func ownPIDNamespaceWithoutSharing() async throws {
        try await withHarness { h in
            let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("own", share: false))
            let id = try await h.runtime.createContainer(sandboxID: sb, h.container("c", "echo pid=$$; cat /proc/1/cmdline"))
            try await h.runtime.startContainer(id)
            let s = try await h.waitExited(id)
            #expect(h.log(s).contains("stdout F pid=1"), "\(h.log(s))")
        }
    }
}
