import Foundation
import Glibc
import Testing
@testable import Runtime

@Suite(.serialized, .enabled(if: isRoot, "needs root: namespaces, mounts, cgroups"))
struct SandboxTests {
    /// A second runtime on the same root (what `swiftlet crictl` is beside a running agent):
    /// what one makes and removes, the other lists at its next call, though it keeps the last
    /// listing of each directory while that directory is unchanged.
    @Test func aSecondRuntimeOnTheSameRootSeesTheOthersChanges() async throws {
        try await withHarness { h in
            let other = try LinuxRuntime(config: Harness.config(root: h.root, cgroupRoot: h.cgroupRoot))
            #expect(try await h.runtime.listPodSandbox().isEmpty)
            #expect(try await h.runtime.listContainers().isEmpty)
            let sb = try await other.runPodSandbox(h.sandboxConfig("two"))
            let a = try await other.createContainer(sandboxID: sb, h.container("a", "exec sleep 100"))
            #expect(try await h.runtime.listPodSandbox().map(\.id) == [sb])
            #expect(try await h.runtime.listContainers(sandboxID: sb).map(\.id) == [a])
            // removed there and another made there, right after each other
            try await other.removeContainer(a)
            let b = try await other.createContainer(sandboxID: sb, h.container("b", "exec sleep 100"))
            #expect(try await h.runtime.listContainers().map(\.id) == [b])
            // and the other way round: made here, seen there
            let c = try await h.runtime.createContainer(sandboxID: sb, h.container("c", "exec sleep 100"))
            let seen = try await other.listContainers(sandboxID: sb).map(\.id)
            #expect(Set(seen) == [b, c])
            try await h.runtime.removeContainer(b)
            #expect(try await other.listContainers().map(\.id) == [c])
            #expect(try await h.runtime.listContainers().map(\.id) == [c])
        }
    }

    @Test func twoContainersShareLocalhostIPCAndPauseIsPID1() async throws {
        let h = try await Harness()
        do {
            let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("web"))
            let server = try await h.runtime.createContainer(sandboxID: sb, h.container("server", """
                echo hello-from-server > /tmp/index.html; touch /dev/mqueue/swiftlet-q; exec httpd -f -p 8080 -h /tmp
                """))
            try await h.runtime.startContainer(server)
            let client = try await h.runtime.createContainer(sandboxID: sb, h.container("client", """
                for i in $(seq 1 100); do wget -q -O- http://127.0.0.1:8080/index.html && break; sleep 0.1; done
                ls /dev/mqueue; cat /proc/1/cmdline; echo; hostname
                """))
            try await h.runtime.startContainer(client)
            let done = try await h.waitExited(client)
            let log = h.log(done)
            #expect(done.exitCode == 0, "client log: \(log)")
            #expect(log.contains("stdout F hello-from-server"))
            #expect(log.contains("stdout F swiftlet-q"))
            #expect(log.contains("pause"))
            #expect(log.contains("stdout F web"))

            let status = try await h.runtime.podSandboxStatus(sb)
            let s = try await h.runtime.containerStatus(server)
            #expect(status.state == .ready && s.state == .running)
            for kind in ["net", "ipc", "uts", "pid"] { #expect(nsID(s.pid, kind) == nsID(status.pid, kind)) }
            #expect(nsID(s.pid, "net") != nsID(getpid(), "net"))
            #expect(nsID(s.pid, "mnt") != nsID(status.pid, "mnt"))
            let netns = try #require(status.netnsPath)
            #expect(FileManager.default.fileExists(atPath: netns))

            // A pod's own sandboxes by its uid; the list of all has both.
            let other = try await h.runtime.runPodSandbox(h.sandboxConfig("other"))
            #expect(try await h.runtime.listPodSandbox(podUID: "uid-web").map(\.id) == [sb])
            #expect(try await h.runtime.listPodSandbox(podUID: "uid-other").map(\.id) == [other])
            #expect(try await h.runtime.listPodSandbox(podUID: "uid-none").isEmpty)
            #expect(Set(try await h.runtime.listPodSandbox().map(\.id)) == [sb, other])
        } catch {
            await h.close()
            throw error
        }
        let left = await h.close()
        #expect(left.isEmpty, "left behind: \(left)")
    }
}
