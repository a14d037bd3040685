import Foundation
import Testing
@testable import Runtime

@Suite struct ShimConfigTests {
    @Test func escapesNewlinesAndBackslashes() {
        var c = ShimConfig()
        c.add("env", "A=line1\nline2")
        c.add("arg", "a\\b c")
        #expect(c.text == "env A=line1\\nline2\narg a\\\\b c\n")
    }
}

@Suite struct LogTests {
    @Test func parsesCRILines() {
        let l = ContainerLogManager.parse("2026-01-02T03:04:05.123456789Z stderr P half a line")
        #expect(l == ContainerLogManager.Line(time: "2026-01-02T03:04:05.123456789Z", stream: "stderr", partial: true,
                                              content: "half a line"))
        #expect(ContainerLogManager.parse("2026-01-02T03:04:05Z stdout F ")?.content == "")
        #expect(ContainerLogManager.parse("garbage line") == nil)
    }

    @Test func rotationKeepsFileCountLimit() throws {
        let dir = NSTemporaryDirectory() + "swiftlet-log-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/0.log"
        for i in 0..<4 {
            try String(repeating: "x", count: 100).write(toFile: path, atomically: false, encoding: .utf8)
            #expect(try ContainerLogManager.rotateIfNeeded(path, maxBytes: 50, maxFiles: 3,
                                                          now: Date(timeIntervalSince1970: Double(i) * 3600)))
        }
        #expect(try ContainerLogManager.rotateIfNeeded(dir + "/missing.log", maxBytes: 1, maxFiles: 3) == false)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(files == ["0.log.19700101-020000", "0.log.19700101-030000"])
    }
}

@Suite struct ImageRefTests {
    @Test func normalizesLikeTheKubelet() {
        #expect(ImageStore.normalize("busybox") == "docker.io/library/busybox:latest")
        #expect(ImageStore.normalize("user/app:1") == "docker.io/user/app:1")
        #expect(ImageStore.normalize("127.0.0.1:5000/app") == "127.0.0.1:5000/app:latest")
        #expect(ImageStore.normalize("localhost/x:y") == "localhost/x:y")
        #expect(ImageStore.normalize("sha256:abc") == "sha256:abc")
    }
}

@Suite struct SyscallsSeamTests {
    /// The sandbox teardown path through the seam: cgroup removal records rmdirs per controller.
    @Test func killAndDestroyUsesTheSeam() throws {
        let sys = RecordingSyscalls(files: ["/cg/memory/p/cgroup.procs": "41\n"])
        let v1 = CgroupV1(root: "/cg", syscalls: sys)
        try v1.killAndDestroy("p", syscalls: sys)
        #expect(sys.calls.first == "kill 41 9")
        #expect(sys.calls.filter { $0.hasPrefix("rmdir ") }.count == CgroupV1.controllers.count)
    }
}

@Suite struct FakeRuntimeTests {
    @Test func lifecycleThroughTheProtocol() async throws {
        let fake = FakeRuntime()
        let rt: any ContainerRuntime = fake
        _ = try await fake.pullImage("busybox")
        let sb = try await rt.runPodSandbox(PodSandboxConfig(name: "p", namespace: "ns", uid: "u"))
        let c = try await rt.createContainer(sandboxID: sb, ContainerConfig(name: "c", image: "busybox:latest"))
        try await rt.startContainer(c)
        #expect(try await rt.containerStatus(c).state == .running)
        await fake.exit(c, code: 0)
        let s = try await rt.containerStatus(c)
        #expect(s.state == .exited && s.reason == "Completed")
        await #expect(throws: RuntimeError.self) {
            _ = try await rt.createContainer(sandboxID: sb, ContainerConfig(name: "x", image: "nope"))
        }
        try await rt.removePodSandbox(sb)
        #expect(try await rt.listContainers(sandboxID: nil).isEmpty)
        #expect(await fake.calls.first == "PullImage busybox")
    }
}
