import Foundation
import Testing
@testable import KubeAPI
@testable import MiniControlPlane

func testPod(_ name: String, ip: String? = nil, ready: Bool = false, phase: String = "Running", node: String? = nil,
             labels: [String: String] = ["app": "web"], created: String = "2026-01-01T00:00:00Z", restarts: Int32 = 0,
             terminating: Bool = false, ports: [ContainerPort] = []) -> Pod
{
    var meta = ObjectMeta(name: name, namespace: "ns", labels: labels)
    meta.uid = "uid-" + name
    meta.creationTimestamp = created
    if terminating { meta.deletionTimestamp = "2026-01-01T00:10:00Z" }
    var c = Container(name: "c", image: "img")
    c.ports = ports
    var spec = PodSpec(containers: [c])
    spec.nodeName = node
    var st = PodStatus(phase: phase)
    st.podIP = ip
    var cond = Condition(type: "Ready", status: ready ? "True" : "False")
    cond.lastTransitionTime = "2026-01-01T00:01:00Z"
    st.conditions = [cond]
    let cs: JSONValue = .object(["name": .string("c"), "restartCount": .int(Int64(restarts)), "ready": .bool(ready),
                                 "image": .string("img"), "imageID": .string("")])
    st.containerStatuses = [try! JSONValueDecoder().decode(ContainerStatus.self, from: cs)]
    var p = Pod(metadata: meta, spec: spec)
    p.status = st
    return p
}

@Suite struct ControllerLogicTests {
    @Test func scaleDownPicksTheLeastValuablePodsFirst() {
        let pods = [
            testPod("ready-old", ready: true, node: "n1", created: "2026-01-01T00:00:00Z"),
            testPod("unscheduled", phase: "Pending"),
            testPod("pending-on-node", phase: "Pending", node: "n1"),
            testPod("running-not-ready", node: "n1"),
            testPod("ready-new", ready: true, node: "n1", created: "2026-01-02T00:00:00Z"),
            testPod("ready-restarts", ready: true, node: "n1", restarts: 5),
        ]
        let order = ReplicaSetController.deletionOrder(pods).map(\.name)
        #expect(order == ["unscheduled", "pending-on-node", "running-not-ready", "ready-restarts", "ready-new", "ready-old"])
    }

    @Test func surgeAndUnavailabilityResolveLikeUpstream() {
        #expect(resolveIntOrPercent(.string("25%"), total: 10, roundUp: true, default: "25%") == 3)
        #expect(resolveIntOrPercent(.string("25%"), total: 10, roundUp: false, default: "25%") == 2)
        #expect(resolveIntOrPercent(nil, total: 4, roundUp: true, default: "25%") == 1)
        #expect(resolveIntOrPercent(.int(2), total: 10, roundUp: false, default: "25%") == 2)
    }

    @Test func templateHashIsStableAndIgnoresItsOwnLabel() {
        var t = PodTemplateSpec(metadata: ObjectMeta(labels: ["app": "web"]), spec: PodSpec(containers: [Container(name: "c", image: "a:1")]))
        let h1 = templateHash(t)
        #expect(h1 == templateHash(t))
        #expect(h1.allSatisfy { "bcdfghjklmnpqrstvwxz2456789".contains($0) })
        var labelled = t
        labelled.metadata?.labels?["pod-template-hash"] = h1
        #expect(templateHash(labelled) == h1)
        #expect(templateHash(t, collisionCount: 0) == h1)
        #expect(templateHash(t, collisionCount: 1) != h1)
        t.spec?.containers[0].image = "a:2"
        #expect(templateHash(t) != h1)
    }

    @Test func tolerationMatching() {
        let taint = Taint(key: "dedicated", value: "db", effect: "NoSchedule")
        #expect(tolerates(Toleration(key: "dedicated", operator: "Equal", value: "db", effect: "NoSchedule"), taint))
        #expect(tolerates(Toleration(key: "dedicated", operator: "Exists"), taint))
        #expect(tolerates(Toleration(operator: "Exists"), taint))
        #expect(!tolerates(Toleration(key: "dedicated", operator: "Equal", value: "web"), taint))
        #expect(!tolerates(Toleration(key: "dedicated", operator: "Exists", effect: "NoExecute"), taint))
        #expect(!tolerates(Toleration(key: "other", operator: "Exists"), taint))
    }

    @Test func endpointsSplitReadyAndNotReadyAndDropTerminating() {
        var svc = Service(metadata: ObjectMeta(name: "web", namespace: "ns"))
        var spec = ServiceSpec()
        spec.selector = ["app": "web"]
        spec.ports = [ServicePort(port: 80, targetPort: .string("http"), name: "http")]
        svc.spec = spec
        let http = [ContainerPort(containerPort: 8080, name: "http")]
        let pods = [
            testPod("a", ip: "10.0.0.2", ready: true, ports: http),
            testPod("b", ip: "10.0.0.1", ready: false, ports: http),
            testPod("c", ip: "10.0.0.3", ready: true, terminating: true, ports: http),
            testPod("d", ready: true, ports: http),  // no IP yet
            testPod("e", ip: "10.0.0.4", ready: true, labels: ["app": "other"], ports: http),
            testPod("f", ip: "10.0.0.5", ready: true, phase: "Succeeded", ports: http),
            testPod("g", ip: "10.0.0.6", ready: true, ports: [ContainerPort(containerPort: 9090, name: "http")]),
        ]
        let subsets = EndpointsController.subsets(service: svc, pods: pods)
        #expect(subsets.count == 2)
        let s8080 = subsets.first { $0.ports?.first?.port == 8080 }
        #expect(s8080?.addresses?.map(\.ip) == ["10.0.0.2"])
        #expect(s8080?.notReadyAddresses?.map(\.ip) == ["10.0.0.1"])
        #expect(subsets.first { $0.ports?.first?.port == 9090 }?.addresses?.map(\.ip) == ["10.0.0.6"])

        let slices = EndpointSliceController.desired(service: svc, pods: pods)
        let eps = slices.flatMap(\.endpoints)
        #expect(eps.count == 4)
        let c = eps.first { $0.targetRef?.name == "c" }
        #expect(c?.conditions == EndpointConditions(ready: false, serving: true, terminating: true))
        #expect(eps.first { $0.targetRef?.name == "b" }?.conditions == EndpointConditions(ready: false, serving: false, terminating: false))
    }

    @Test func slicesHoldAtMostOneHundredEndpoints() {
        var svc = Service(metadata: ObjectMeta(name: "web", namespace: "ns"))
        var spec = ServiceSpec()
        spec.selector = ["app": "web"]
        spec.ports = [ServicePort(port: 80)]
        svc.spec = spec
        let pods = (0..<250).map { testPod("p\($0)", ip: "10.1.\($0 / 200).\($0 % 200)", ready: true) }
        let slices = EndpointSliceController.desired(service: svc, pods: pods)
        #expect(slices.map(\.endpoints.count) == [100, 100, 50])
        // no backends: one empty slice with the service's ports
        let empty = EndpointSliceController.desired(service: svc, pods: [])
        #expect(empty.count == 1 && empty[0].endpoints.isEmpty && empty[0].ports.first?.port == 80)
    }

    @Test func expectationsHoldUntilObserved() async {
        let e = Expectations()
        #expect(await e.satisfied("k"))
        await e.expect("k", creations: 2, deletions: ["ns/a"])
        #expect(await !e.satisfied("k"))
        await e.creationObserved("k")
        await e.creationFailed("k")
        #expect(await !e.satisfied("k"))
        await e.deletionObserved("k", pod: "ns/a")
        #expect(await e.satisfied("k"))
    }

    @Test func daemonPodsGoWhereSelectorsAndTaintsAllow() {
        var spec = PodSpec(containers: [Container(name: "c")])
        spec.nodeSelector = ["disk": "ssd"]
        var n = Node(metadata: ObjectMeta(name: "n", labels: ["disk": "ssd"]))
        #expect(DaemonSetController.shouldRun(spec, on: n))
        var ns = NodeSpec()
        ns.taints = [Taint(key: "node.kubernetes.io/unschedulable", effect: "NoSchedule")]
        n.spec = ns
        #expect(DaemonSetController.shouldRun(spec, on: n), "daemon pods tolerate unschedulable nodes")
        ns.taints = [Taint(key: "gpu", value: "yes", effect: "NoSchedule")]
        n.spec = ns
        #expect(!DaemonSetController.shouldRun(spec, on: n))
        n.metadata.labels = ["disk": "hdd"]
        n.spec = nil
        #expect(!DaemonSetController.shouldRun(spec, on: n))
    }

    @Test func statefulSetOrdinals() {
        #expect(StatefulSetController.ordinal(of: testPod("web-3"), set: "web") == 3)
        #expect(StatefulSetController.ordinal(of: testPod("web-x"), set: "web") == nil)
        #expect(StatefulSetController.ordinal(of: testPod("webby-1"), set: "web") == nil)
    }

    @Test func heartbeatAgeResetsOnChange() async throws {
        let t = HeartbeatTracker()
        #expect(await t.observe("n", heartbeat: "a") == .zero)
        try await Task.sleep(for: .milliseconds(30))
        #expect(await t.observe("n", heartbeat: "a") >= .milliseconds(30))
        #expect(await t.observe("n", heartbeat: "b") == .zero)
    }

    @Test func controllerSelectionFlag() {
        var o = ControllerManagerOptions()
        o.controllers = ["*", "-job"]
        #expect(o.enabled("deployment") && !o.enabled("job"))
        o.controllers = ["deployment"]
        #expect(o.enabled("deployment") && !o.enabled("replicaset"))
    }
}
