import CNI
import Foundation
import KubeAPI
@testable import NodeAgent
import Runtime
import Testing

@Suite struct PodWorkerTests {
    @Test func syncRunsSandboxNetworkInitContainersInOrderThenContainers() async throws {
        let h = WorkerHarness()
        defer { h.cleanup() }
        try await h.loadImage()
        let pod = makePod(containers: [container("app"), container("sidecar")], initContainers: [container("init-a"), container("init-b")])
        let w = h.worker(pod)
        _ = await w.sync()
        // Only the first init container runs until it completes.
        #expect(await h.containers("init-a").map(\.state) == [.running])
        #expect(await h.containers("init-b").isEmpty)
        #expect(await h.network.attached.count == 1)
        await h.runtime.exit(try #require(await h.containers("init-a").first).id, code: 0)
        _ = await w.sync()
        #expect(await h.containers("init-b").map(\.state) == [.running])
        #expect(await h.containers("app").isEmpty)
        await h.runtime.exit(try #require(await h.containers("init-b").first).id, code: 0)
        _ = await w.sync()
        #expect(await h.containers("app").map(\.state) == [.running])
        #expect(await h.containers("sidecar").map(\.state) == [.running])
        let last = try #require(h.api.statuses.last)
        #expect(last.phase == "Running")
        #expect(last.podIP?.hasPrefix("10.244.0.") == true)
        #expect(last.hostIP == "10.250.0.2")
        #expect(last.containerStatuses?.map(\.ready) == [true, true])
        #expect(last.containerStatuses?.first?.containerID?.hasPrefix("swiftlet://") == true)
        #expect(last.conditions?.map(\.type) == ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"])
        #expect(last.conditions?.allSatisfy { $0.status == "True" } == true)
        #expect(h.events.recorded.contains { $0.reason == "Created" && $0.message == "Created container: app" && $0.fieldPath == "spec.containers{app}" })
        #expect(h.events.recorded.contains { $0.reason == "Started" && $0.message == "Started container app" })
        #expect(h.events.recorded.contains { $0.reason == "Pulled" && $0.message.contains("already present on machine") })
    }

    @Test func statusIsPatchedOnlyWhenItChanges() async throws {
        let h = WorkerHarness()
        defer { h.cleanup() }
        try await h.loadImage()
        let w = h.worker(makePod(containers: [container("app")]))
        _ = await w.sync()
        let n = h.api.statuses.count
        #expect(n >= 1)
        for _ in 0..<3 { _ = await w.sync() }
        #expect(h.api.statuses.count == n)
    }

    @Test func crashingContainerRestartsThenBacksOffWithGrowingDelays() async throws {
        let h = WorkerHarness()
        defer { h.cleanup() }
        try await h.loadImage()
        let w = h.worker(makePod(containers: [container("app")]))
        _ = await w.sync()
        // First crash: restarted at once with restartCount 1.
        await h.runtime.exit(try #require(await h.containers("app").last).id, code: 1)
        _ = await w.sync()
        #expect(await h.containers("app").map(\.attempt) == [0, 1])
        // Second crash: back-off 10 s.
        await h.runtime.exit(try #require(await h.containers("app").last).id, code: 1)
        let outcome = await w.sync()
        guard case .requeue(let after) = outcome else { Issue.record("expected requeue"); return }
        #expect(after > 8 && after <= 10)
        #expect(await h.containers("app").count == 2)
        let st = try #require(h.api.statuses.last?.containerStatuses?.first)
        #expect(st.state?.waiting?.reason == "CrashLoopBackOff")
        #expect(st.state?.waiting?.message?.hasPrefix("back-off 10s restarting failed container=app pod=web_default(uid-web)") == true)
        #expect(st.lastState?.terminated?.exitCode == 1)
        #expect(st.restartCount == 1)
        #expect(h.api.statuses.last?.phase == "Running")
        #expect(h.events.recorded.contains { $0.reason == "BackOff" && $0.message == "Back-off restarting failed container app in pod web_default(uid-web)" })
    }

    @Test func neverRestartPolicyEndsSucceededOrFailed() async throws {
        let h = WorkerHarness()
        defer { h.cleanup() }
        try await h.loadImage()
        let w = h.worker(makePod(containers: [container("a"), container("b")], restartPolicy: "Never"))
        _ = await w.sync()
        await h.runtime.exit(try #require(await h.containers("a").first).id, code: 0)
        _ = await w.sync()
        #expect(h.api.statuses.last?.phase == "Running")
        await h.runtime.exit(try #require(await h.containers("b").first).id, code: 2)
        _ = await w.sync()
        #expect(h.api.statuses.last?.phase == "Failed")
        #expect(await h.containers("b").count == 1)
        #expect(await h.network.attached.isEmpty)
        #expect(h.api.statuses.last?.conditions?.first { $0.type == "Ready" }?.reason == "PodCompleted")
    }

    @Test func gracefulTerminationStopsEverythingThenDeletesThePod() async throws {
        let h = WorkerHarness()
        defer { h.cleanup() }
        try await h.loadImage()
        var pod = makePod(containers: [container("app")], volumes: [{
            var v = Volume(name: "scratch")
            v.emptyDir = [:]
            return v
        }()])
        let w = h.worker(pod)
        _ = await w.sync()
        #expect(FileManager.default.fileExists(atPath: h.context.volumes.volumesDir(pod.uid) + "/kubernetes.io~empty-dir/scratch"))
        pod.metadata.deletionTimestamp = Timestamps.now()
        pod.metadata.deletionGracePeriodSeconds = 7
        await w.update(pod)
        #expect(await w.sync() == .done)
        let calls = await h.runtime.calls
        #expect(calls.contains { $0.hasPrefix("StopContainer") && $0.hasSuffix(" 7") })
        #expect(calls.contains { $0.hasPrefix("RemovePodSandbox") })
        #expect(await h.runtime.sandboxes.isEmpty)
        #expect(await h.network.attached.isEmpty)
        #expect(h.api.deleted == ["default/web"])
        #expect(!FileManager.default.fileExists(atPath: h.context.config.podDir(pod.uid)))
        #expect(h.events.recorded.contains { $0.reason == "Killing" && $0.message == "Stopping container app" })
    }

    @Test func imagePullPolicyNeverWithoutImageWaitsWithErrImageNeverPull() async throws {
        let h = WorkerHarness()
        defer { h.cleanup() }
        let w = h.worker(makePod(containers: [container("app", image: "missing:1", pull: "Never")]))
        _ = await w.sync()
        let st = try #require(h.api.statuses.last?.containerStatuses?.first)
        #expect(st.state?.waiting?.reason == "ErrImageNeverPull")
        #expect(h.api.statuses.last?.phase == "Pending")
        #expect(h.reasons().contains("ErrImageNeverPull"))
    }

    @Test func pullAlwaysEmitsPullingAndPulled() async throws {
        let h = WorkerHarness()
        defer { h.cleanup() }
        let w = h.worker(makePod(containers: [container("app", image: "busybox:latest", pull: nil)]))
        _ = await w.sync()
        #expect(await h.runtime.calls.contains("PullImage busybox:latest"))
        #expect(h.events.recorded.contains { $0.reason == "Pulling" && $0.message == "Pulling image \"busybox:latest\"" })
        #expect(h.events.recorded.contains { $0.reason == "Pulled" && $0.message.hasPrefix("Successfully pulled image \"busybox:latest\"") })
    }

    @Test func deadSandboxIsRecreatedWithSandboxChanged() async throws {
        let h = WorkerHarness()
        defer { h.cleanup() }
        try await h.loadImage()
        let w = h.worker(makePod(containers: [container("app")]))
        _ = await w.sync()
        let first = try #require(await h.runtime.sandboxes.keys.first)
        try await h.runtime.stopPodSandbox(first)
        _ = await w.sync()
        #expect(h.reasons().contains("SandboxChanged"))
        let sandboxes = await h.runtime.sandboxes
        #expect(sandboxes.count == 1 && sandboxes.keys.first != first)
        #expect(sandboxes.values.first?.config.attempt == 1)
        #expect(await h.containers("app").last?.state == .running)
    }

    @Test func missingHostPathDirectoryIsAFailedMount() async throws {
        let h = WorkerHarness()
        defer { h.cleanup() }
        try await h.loadImage()
        var v = Volume(name: "data")
        v.hostPath = ["path": "/nonexistent/swiftlet-test", "type": "Directory"]
        let w = h.worker(makePod(containers: [container("app")], volumes: [v]))
        _ = await w.sync()
        #expect(h.events.recorded.contains {
            $0.reason == "FailedMount" && $0.message == "MountVolume.SetUp failed for volume \"data\" : hostPath type check failed: /nonexistent/swiftlet-test is not a directory"
        })
        #expect(await h.runtime.sandboxes.isEmpty)
        #expect(h.api.statuses.last?.containerStatuses?.first?.state?.waiting?.reason == "ContainerCreating")
    }
}
