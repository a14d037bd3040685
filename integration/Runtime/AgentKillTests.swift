import Foundation
import Glibc
import Testing
@testable import Runtime

/// The agent is a separate process (this test binary re-run with a filter) that starts a pod
/// and is then SIGKILLed; a new runtime instance adopts the containers and their exit codes.
@Suite(.serialized, .enabled(if: isRoot, "needs root: namespaces, mounts, cgroups"))
struct AgentKillTests {
    /// The agent side: does nothing unless started by `containersSurviveAgentSIGKILL`.
    @Test func agentProcess() async throws {
        guard let root = ProcessInfo.processInfo.environment["SWIFTLET_AGENT_ROOT"],
            let cgroupRoot = ProcessInfo.processInfo.environment["SWIFTLET_AGENT_CGROUP_ROOT"]
        else { return }
        let rt = try LinuxRuntime(config: Harness.config(root: root, cgroupRoot: cgroupRoot))
        var sbc = PodSandboxConfig(name: "agent", namespace: "default", uid: "uid-agent")
        sbc.logDirectory = root + "/pods/default_agent_uid-agent"
        sbc.cgroupParent = "kubepods/besteffort/pod-uid-agent"
        let sb = try await rt.runPodSandbox(sbc)
        var ids: [String] = []
        for (name, script) in [("quick", "echo line-one; echo line-two; exit 3"),
                               ("slow", "while [ ! -e /tmp/go ]; do sleep 0.05; done; echo bye; exit 5")] {
            var c = ContainerConfig(name: name, image: "localhost/swiftlet/busybox:test")
            c.command = ["/bin/sh", "-c", script]
            c.logPath = name + "/0.log"
            let id = try await rt.createContainer(sandboxID: sb, c)
            try await rt.startContainer(id)
            ids.append(id)
        }
        try writeFileAtomically(root + "/agent-ready", Data(ids.joined(separator: " ").utf8))
        try await Task.sleep(nanoseconds: 60_000_000_000)  // killed long before
    }

    @Test func containersSurviveAgentSIGKILL() async throws {
        try await withHarness { h in
            let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            let agent = Process()
            agent.executableURL = URL(fileURLWithPath: exe)
            agent.arguments = ["--testing-library", "swift-testing", "--filter", "agentProcess"]
            var env = ProcessInfo.processInfo.environment
            env["SWIFTLET_AGENT_ROOT"] = h.root
            env["SWIFTLET_AGENT_CGROUP_ROOT"] = h.cgroupRoot
            agent.environment = env
            agent.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            try agent.run()
            let ready = h.root + "/agent-ready"
            for _ in 0..<600 where !FileManager.default.fileExists(atPath: ready) && agent.isRunning {
                try await Task.sleep(nanoseconds: 50_000_000)
            }
            let ids = try String(contentsOfFile: ready, encoding: .utf8).split(separator: " ").map(String.init)
            kill(agent.processIdentifier, SIGKILL)
            agent.waitUntilExit()
            #expect(agent.terminationReason == .uncaughtSignal)

            try h.restart()  // the "new agent" adopts what the killed one left
            let quick = try await h.waitExited(ids[0])
            #expect(quick.exitCode == 3 && quick.reason == "Error")
            #expect(h.log(quick).contains("stdout F line-one") && h.log(quick).contains("stdout F line-two"))
            let slow = try await h.runtime.containerStatus(ids[1])
            #expect(slow.state == .running && alive(slow.pid))
            // The sandbox record on disk is written before pause starts: the new runtime takes
            // pause's pid from its shim's state, and the netns bind mount is pause's netns.
            let sandboxes = try await h.runtime.listPodSandbox()
            #expect(sandboxes.count == 1 && sandboxes.first?.state == .ready)
            if let s = sandboxes.first {
                #expect(alive(s.pid), "pause's pid \(s.pid) after the restart")
                var nsStat = stat(), pauseStat = stat()
                #expect(stat(s.netnsPath ?? "/nonexistent", &nsStat) == 0 && stat("/proc/\(s.pid)/ns/net", &pauseStat) == 0)
                #expect(nsStat.st_ino == pauseStat.st_ino && nsStat.st_dev == pauseStat.st_dev, "the netns mount is pause's netns")
            }
            _ = try await h.runtime.execSync(ids[1], cmd: ["touch", "/tmp/go"], timeout: 10)
            let done = try await h.waitExited(ids[1])
            #expect(done.exitCode == 5 && h.log(done).contains("stdout F bye"))
        }
    }
}
