import Foundation
import KubeAPI
@testable import NodeAgent
@testable import Runtime
import Testing

@Suite struct LifecycleHookTests {
    @Test func preStopRunsBeforeTheStopAndPostStartAfterTheStart() async throws {
        let h = WorkerHarness()
        defer { h.cleanup() }
        try await h.loadImage()
        var c = container("app")
        var lc = Lifecycle()
        lc.postStart = LifecycleHandler(exec: ExecAction(command: ["sh", "-c", "echo started"]))
        lc.preStop = LifecycleHandler(exec: ExecAction(command: ["sh", "-c", "echo bye"]))
        c.lifecycle = lc
        var pod = makePod(containers: [c])
        let w = h.worker(pod)
        _ = await w.sync()
        var calls = await h.runtime.calls
        let start = try #require(calls.firstIndex { $0.hasPrefix("StartContainer") })
        let post = try #require(calls.firstIndex { $0.hasSuffix("sh -c echo started") })
        #expect(post > start)
        pod.metadata.deletionTimestamp = Timestamps.now()
        pod.metadata.deletionGracePeriodSeconds = 5
        await w.update(pod)
        #expect(await w.sync() == .done)
        calls = await h.runtime.calls
        let pre = try #require(calls.firstIndex { $0.hasSuffix("sh -c echo bye") })
        let stop = try #require(calls.firstIndex { $0.hasPrefix("StopContainer") })
        #expect(pre < stop)
    }

    @Test func failedPostStartHookKillsTheContainerWithAnEvent() async throws {
        let h = WorkerHarness()
        defer { h.cleanup() }
        try await h.loadImage()
        await h.runtime.setExecResult(["false"], ExecResult(stdout: Data(), stderr: Data("nope".utf8), exitCode: 1))
        var c = container("app")
        var lc = Lifecycle()
        lc.postStart = LifecycleHandler(exec: ExecAction(command: ["false"]))
        c.lifecycle = lc
        let w = h.worker(makePod(containers: [c]))
        _ = await w.sync()
        #expect(h.reasons().contains("FailedPostStartHook"))
        #expect(await h.containers("app").first?.state == .exited)
    }
}

@Suite struct StaticPodTests {
    @Test func manifestBecomesANodeSuffixedPodWithAStableUID() throws {
        let yaml = Data("""
            apiVersion: v1
            kind: Pod
            metadata: {name: web}
            spec:
              containers: [{name: c, image: busybox:1.36}]
            """.utf8)
        let a = try StaticPods.pod(from: yaml, nodeName: "node-a", file: "web.yaml")
        let b = try StaticPods.pod(from: yaml, nodeName: "node-a", file: "web.yaml")
        #expect(a.name == "web-node-a" && a.namespace == "default" && a.spec?.nodeName == "node-a")
        #expect(a.uid == b.uid && !a.uid.isEmpty)
        #expect(a.metadata.annotations?["kubernetes.io/config.source"] == "file")
        #expect(a.metadata.annotations?["kubernetes.io/config.hash"] == a.uid)
        #expect(a.spec?.containers.first?.imagePullPolicy == "IfNotPresent")
        let other = try StaticPods.pod(from: yaml, nodeName: "node-b", file: "web.yaml")
        #expect(other.uid != a.uid)
        #expect(throws: (any Error).self) { try StaticPods.pod(from: Data("kind: Service\nmetadata: {name: x}\n".utf8), nodeName: "n", file: "s.yaml") }
    }
}

@Suite struct NodeStatusTests {
    @Test func heartbeatsAloneAreNotAChange() {
        var a = NodeStatus()
        var ready = Condition(type: "Ready", status: "True", reason: "KubeletReady", message: "kubelet is posting ready status")
        ready.lastHeartbeatTime = "2026-11-23T10:00:00Z"
        ready.lastTransitionTime = "2026-11-23T09:00:00Z"
        a.conditions = [ready]
        a.capacity = ["cpu": Quantity(integer: 2), "ephemeral-storage": Quantity(integer: 1000)]
        var b = a
        b.conditions?[0].lastHeartbeatTime = "2026-11-23T10:05:00Z"
        b.capacity?["ephemeral-storage"] = Quantity(integer: 999)
        #expect(NodeStatusManager.significant(a) == NodeStatusManager.significant(b))
        b.conditions?[0].status = "False"
        #expect(NodeStatusManager.significant(a) != NodeStatusManager.significant(b))
    }
}

@Suite struct AdmissionTests {
    @Test func requestsAreSummedAndInitContainersTakeTheMax() throws {
        var pod = makePod(containers: [container("a"), container("b")], initContainers: [container("i")])
        pod.spec?.containers[0].resources = ResourceRequirements(requests: ["cpu": try Quantity("250m")])
        pod.spec?.containers[1].resources = ResourceRequirements(limits: ["cpu": try Quantity("500m")])
        pod.spec?.initContainers?[0].resources = ResourceRequirements(requests: ["cpu": try Quantity("600m")])
        #expect(PodWorkers.request("cpu", pod) == 750)
        pod.spec?.initContainers?[0].resources = ResourceRequirements(requests: ["cpu": try Quantity("2")])
        #expect(PodWorkers.request("cpu", pod) == 2000)
    }

    @Test func aPodThatDoesNotFitIsRejectedWithOutOfcpu() async throws {
        let h = WorkerHarness()
        defer { h.cleanup() }
        try await h.loadImage()
        let workers = PodWorkers(context: h.context, allocatable: ["cpu": Quantity(integer: 2), "memory": Quantity(integer: 1 << 30),
                                                                  "pods": Quantity(integer: 10)])
        var pod = makePod(containers: [container("a")])
        pod.spec?.containers[0].resources = ResourceRequirements(requests: ["cpu": try Quantity("3")])
        await workers.update(pod)
        for _ in 0..<100 where h.api.statuses.last?.phase != "Failed" { try await Task.sleep(for: .milliseconds(20)) }
        #expect(h.api.statuses.last?.reason == "OutOfcpu")
        #expect(h.api.statuses.last?.message == "Node didn't have enough resource: cpu, requested: 3000, used: 0, capacity: 2000")
        #expect(await h.runtime.sandboxes.isEmpty)
        await workers.stopAll()
    }
}
