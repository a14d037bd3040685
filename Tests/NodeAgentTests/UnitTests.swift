import Foundation
import Glibc
import KubeAPI
@testable import NodeAgent
@testable import PLEG
@testable import Runtime
import Testing

@Suite struct BackoffTests {
    @Test func delaysDoubleFromTenSecondsToFiveMinutes() {
        var b = CrashLoopBackoff()
        let key = CrashLoopBackoff.key(podUID: "u", container: "c")
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        #expect(b.backOffUntil(key, finishedAt: t0, now: t0) == nil)  // first restart is immediate
        var delays: [TimeInterval] = []
        var now = t0
        for _ in 0..<8 {
            b.next(key, now: now)
            delays.append(b.delay(key))
            now = now.addingTimeInterval(1)
        }
        #expect(delays == [10, 20, 40, 80, 160, 300, 300, 300])
        let exit = now
        #expect(b.backOffUntil(key, finishedAt: exit, now: exit.addingTimeInterval(299)) == exit.addingTimeInterval(300))
        #expect(b.backOffUntil(key, finishedAt: exit, now: exit.addingTimeInterval(301)) == nil)
    }

    @Test func aLongRunResetsTheBackoff() {
        var b = CrashLoopBackoff()
        let t0 = Date()
        for _ in 0..<4 { b.next("k", now: t0) }
        #expect(b.delay("k") == 80)
        b.next("k", now: t0, ranFor: 601)
        #expect(b.delay("k") == 10)
    }
}

@Suite struct PodStatusBuilderTests {
    func rc(_ name: String, _ state: Runtime.ContainerState, attempt: UInt32 = 0, exit: Int32 = 0, initC: Bool = false) -> Runtime.ContainerStatus {
        Runtime.ContainerStatus(id: "\(name)-\(attempt)", sandboxID: "s", name: name, attempt: attempt, image: "img", imageRef: "sha256:abc",
                                state: state, createdAt: Date(timeIntervalSince1970: Double(attempt)), startedAt: Date(),
                                finishedAt: state == .exited ? Date() : nil, exitCode: exit, reason: state == .exited ? (exit == 0 ? "Completed" : "Error") : "",
                                message: "", logPath: "", pid: 1,
                                labels: [RuntimeLabels.containerName: name, RuntimeLabels.containerKind: initC ? "init" : "regular"],
                                annotations: [:])
    }

    @Test func phaseFollowsTheKubeletRules() {
        let pod = makePod(containers: [container("a"), container("b")])
        var snap = PodRuntimeSnapshot()
        snap.sandboxReady = true
        #expect(PodStatusBuilder.build(pod, snap).phase == "Pending")
        snap.containers = [rc("a", .running), rc("b", .running)]
        #expect(PodStatusBuilder.build(pod, snap).phase == "Running")
        snap.containers = [rc("a", .exited, exit: 0), rc("b", .exited, exit: 0)]
        #expect(PodStatusBuilder.build(pod, snap).phase == "Running")  // Always: they will restart
        var never = pod
        never.spec?.restartPolicy = "Never"
        #expect(PodStatusBuilder.build(never, snap).phase == "Succeeded")
        snap.containers = [rc("a", .exited, exit: 0), rc("b", .exited, exit: 1)]
        #expect(PodStatusBuilder.build(never, snap).phase == "Failed")
        var onFailure = pod
        onFailure.spec?.restartPolicy = "OnFailure"
        #expect(PodStatusBuilder.build(onFailure, snap).phase == "Running")
    }

    @Test func readinessAndLastStateAndRestartCount() {
        var pod = makePod(containers: [container("a")])
        pod.spec?.containers[0].readinessProbe = Probe()
        var snap = PodRuntimeSnapshot()
        snap.sandboxReady = true
        snap.podIP = "10.244.0.9"
        snap.containers = [rc("a", .exited, attempt: 0, exit: 137), rc("a", .running, attempt: 1)]
        snap.ready["a"] = false
        let st = PodStatusBuilder.build(pod, snap)
        let cs = st.containerStatuses![0]
        #expect(cs.restartCount == 1)
        #expect(cs.ready == false && cs.started == true)
        #expect(cs.lastState?.terminated?.exitCode == 137)
        #expect(cs.state?.running != nil)
        #expect(st.conditions?.first { $0.type == "Ready" }?.status == "False")
        #expect(st.conditions?.first { $0.type == "Ready" }?.message == "containers with unready status: [a]")
        #expect(st.podIP == "10.244.0.9" && st.podIPs?.first?.ip == "10.244.0.9")
        snap.ready["a"] = true
        #expect(PodStatusBuilder.build(pod, snap).conditions?.first { $0.type == "Ready" }?.status == "True")
    }

    @Test func initContainersGatePhaseAndInitializedCondition() {
        let pod = makePod(containers: [container("a")], initContainers: [container("i")])
        var snap = PodRuntimeSnapshot()
        snap.sandboxReady = true
        snap.containers = [rc("i", .running, initC: true)]
        let st = PodStatusBuilder.build(pod, snap)
        #expect(st.phase == "Pending")
        #expect(st.conditions?.first { $0.type == "Initialized" }?.status == "False")
        #expect(st.containerStatuses?.first?.state?.waiting?.reason == "PodInitializing")
        snap.containers = [rc("i", .exited, exit: 0, initC: true), rc("a", .running)]
        let st2 = PodStatusBuilder.build(pod, snap)
        #expect(st2.phase == "Running")
        #expect(st2.initContainerStatuses?.first?.state?.terminated?.reason == "Completed")
    }

    @Test func lastTransitionTimeIsKeptWhileTheStatusHolds() {
        var pod = makePod(containers: [container("a")])
        var snap = PodRuntimeSnapshot()
        snap.sandboxReady = true
        snap.containers = [rc("a", .running)]
        let first = PodStatusBuilder.build(pod, snap, now: Date(timeIntervalSince1970: 100))
        pod.status = first
        let second = PodStatusBuilder.build(pod, snap, now: Date(timeIntervalSince1970: 500))
        #expect(first == second)
    }

    @Test func qosClasses() {
        var pod = makePod(containers: [container("a")])
        #expect(PodStatusBuilder.qosClass(pod) == "BestEffort")
        pod.spec?.containers[0].resources = ResourceRequirements(limits: ["cpu": try! Quantity("1"), "memory": try! Quantity("1Gi")])
        #expect(PodStatusBuilder.qosClass(pod) == "Guaranteed")
        pod.spec?.containers[0].resources = ResourceRequirements(requests: ["cpu": try! Quantity("100m")])
        #expect(PodStatusBuilder.qosClass(pod) == "Burstable")
    }
}

@Suite struct ProbeTests {
    @Test func execProbeGoesThroughTheRuntime() async throws {
        let rt = FakeRuntime()
        _ = try await rt.pullImage("busybox:1.36")
        let sb = try await rt.runPodSandbox(PodSandboxConfig(name: "p", namespace: "default", uid: "u"))
        let id = try await rt.createContainer(sandboxID: sb, ContainerConfig(name: "c", image: "busybox:1.36"))
        try await rt.startContainer(id)
        await rt.setExecResult(["cat", "/tmp/healthy"], ExecResult(stdout: Data(), stderr: Data("cat: can't open '/tmp/healthy': No such file or directory\n".utf8), exitCode: 1))
        var probe = Probe()
        probe.exec = ExecAction(command: ["cat", "/tmp/healthy"])
        let r = await Prober(runtime: rt).run(probe, container: container("c"), containerID: id, podIP: nil)
        #expect(r == .failure("cat: can't open '/tmp/healthy': No such file or directory\n"))
        probe.exec = ExecAction(command: ["true"])
        #expect(await Prober(runtime: rt).run(probe, container: container("c"), containerID: id, podIP: nil) == .success(""))
    }

    @Test func httpAndTCPProbesAgainstALoopbackServer() async throws {
        let server = try TinyHTTPServer(status: 500)
        defer { server.stop() }
        var probe = Probe()
        var c = container("c")
        c.ports = [ContainerPort(containerPort: Int32(server.port), name: "http")]
        probe.httpGet = HTTPGetAction(path: "/healthz", port: .string("http"))
        let prober = Prober(runtime: FakeRuntime())
        #expect(await prober.run(probe, container: c, containerID: "x", podIP: "127.0.0.1") == .failure("HTTP probe failed with statuscode: 500"))
        server.status = 204
        #expect(await prober.run(probe, container: c, containerID: "x", podIP: "127.0.0.1") == .success(""))
        #expect(server.lastRequest.contains("GET /healthz HTTP/1.1") && server.lastRequest.contains("User-Agent: kube-probe/1.35"))
        var tcp = Probe()
        tcp.tcpSocket = TCPSocketAction(port: .int(Int32(server.port)))
        #expect(await prober.run(tcp, container: c, containerID: "x", podIP: "127.0.0.1") == .success(""))
        server.stop()
        // the listener closes on the server's own thread: wait until connects fail, then check the wording
        var refused = await prober.run(tcp, container: c, containerID: "x", podIP: "127.0.0.1")
        for _ in 0..<50 where refused == .success("") {
            try await Task.sleep(for: .milliseconds(100))
            refused = await prober.run(tcp, container: c, containerID: "x", podIP: "127.0.0.1")
        }
        #expect(refused == .failure("dial tcp 127.0.0.1:\(server.port): connect: connection refused"))
    }

    @Test func livenessFailurePastTheThresholdAsksForARestart() async throws {
        let rt = FakeRuntime()
        _ = try await rt.pullImage("busybox:1.36")
        let sb = try await rt.runPodSandbox(PodSandboxConfig(name: "p", namespace: "default", uid: "uid-web"))
        let id = try await rt.createContainer(sandboxID: sb, ContainerConfig(name: "app", image: "busybox:1.36"))
        try await rt.startContainer(id)
        await rt.setExecResult(["false"], ExecResult(stdout: Data(), stderr: Data("boom".utf8), exitCode: 1))
        var pod = makePod(containers: [container("app")])
        var probe = Probe()
        probe.exec = ExecAction(command: ["false"])
        probe.periodSeconds = 1
        probe.failureThreshold = 2
        pod.spec?.containers[0].livenessProbe = probe
        let events = RecordingEventSink()
        let m = ProbeManager(prober: Prober(runtime: rt), events: events)
        let woke = Flag()
        await m.setOnChange { _ in woke.set() }
        await m.sync(pod: pod, podIP: nil, running: ["app": try await rt.containerStatus(id)])
        for _ in 0..<60 where !(await m.livenessFailed(containerID: id)) { try await Task.sleep(for: .milliseconds(100)) }
        #expect(await m.takeLivenessFailure(containerID: id) == "Container app failed liveness probe, will be restarted")
        #expect(woke.isSet)
        #expect(events.recorded.filter { $0.reason == "Unhealthy" }.count == 2)
        #expect(events.recorded.first?.message == "Liveness probe failed: boom")
        await m.remove(uid: pod.uid)
    }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var v = false
    func set() { lock.withLock { v = true } }
    var isSet: Bool { lock.withLock { v } }
}

/// A one-thread HTTP server on 127.0.0.1 answering every request with `status`.
final class TinyHTTPServer: @unchecked Sendable {
    let fd: Int32
    let port: Int
    private let lock = NSLock()
    private var _status: Int
    private var _last = ""
    private var stopped = false
    var status: Int { get { lock.withLock { _status } } set { lock.withLock { _status = newValue } } }
    var lastRequest: String { lock.withLock { _last } }

    init(status: Int) throws {
        _status = status
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        port = Int(UInt16(bigEndian: addr.sin_port))
        // Only this thread closes the listener, after its last accept: closed by stop(), the
        // number could be reused by another test's socket while this loop still polls it.
        Thread { [self] in
            defer { close(fd) }
            while true {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if lock.withLock({ stopped }) { return }
                if poll(&p, 1, 100) <= 0 { continue }
                let c = accept(fd, nil, nil)
                if c < 0 { continue }
                var buf = [UInt8](repeating: 0, count: 4096)
                let n = recv(c, &buf, buf.count, 0)
                let req = n > 0 ? String(decoding: buf[..<n], as: UTF8.self) : ""
                let code = lock.withLock { _last = req; return _status }
                let resp = "HTTP/1.1 \(code) X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                _ = resp.withCString { send(c, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                close(c)
            }
        }.start()
    }

    func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        // shutdown stops the listening at once (new connections are refused); the accept
        // thread sees the flag and closes the descriptor itself
        if first { shutdown(fd, Int32(SHUT_RDWR)) }
    }
}

@Suite struct PLEGTests {
    @Test func relistReportsStartedDiedAndRemoved() async throws {
        let rt = FakeRuntime()
        _ = try await rt.pullImage("busybox:1.36")
        let pleg = GenericPLEG(runtime: rt, stateRoot: nil)
        var sbc = PodSandboxConfig(name: "p", namespace: "default", uid: "u1")
        sbc.labels = [podUIDLabel: "u1"]
        let sb = try await rt.runPodSandbox(sbc)
        var cc = ContainerConfig(name: "c", image: "busybox:1.36")
        cc.labels = [podUIDLabel: "u1"]
        let id = try await rt.createContainer(sandboxID: sb, cc)
        try await rt.startContainer(id)
        var it = pleg.events.makeAsyncIterator()
        await pleg.relist()
        var got: [PodLifecycleEvent] = []
        for _ in 0..<2 { if let e = await it.next() { got.append(e) } }
        #expect(Set(got.map(\.id)) == [id, sb] && got.allSatisfy { $0.type == .containerStarted && $0.podUID == "u1" })
        await rt.exit(id, code: 1)
        await pleg.relist()
        #expect(await it.next() == PodLifecycleEvent(podUID: "u1", type: .containerDied, id: id))
        try await rt.removeContainer(id)
        await pleg.relist()
        #expect(await it.next() == PodLifecycleEvent(podUID: "u1", type: .containerRemoved, id: id))
        #expect(await pleg.healthy().0)
    }
}

@Suite struct VolumeTests {
    let dir = NSTemporaryDirectory() + "swiftlet-vol-\(UUID().uuidString.prefix(8))"

    @Test func atomicWriterSwapsDataAndKeepsSymlinks() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let w = AtomicWriter(dir: dir)
        try w.write(["a": (Data("1".utf8), nil), "sub/b": (Data("2".utf8), nil)], mode: 0o644)
        #expect(try String(contentsOfFile: dir + "/a", encoding: .utf8) == "1")
        #expect(try String(contentsOfFile: dir + "/sub/b", encoding: .utf8) == "2")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/a") == "..data/a")
        let first = try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/..data")
        try w.write(["a": (Data("1".utf8), nil), "sub/b": (Data("2".utf8), nil)], mode: 0o644)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/..data") == first)  // unchanged: no swap
        try w.write(["a": (Data("3".utf8), nil)], mode: 0o600)
        #expect(try String(contentsOfFile: dir + "/a", encoding: .utf8) == "3")
        #expect(!FileManager.default.fileExists(atPath: dir + "/sub"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/" + first))
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("..") && $0 != "..data" }
        #expect(names.count == 1)
    }

    @Test func hostPathTypeChecks() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: VolumeError.self) { try VolumeManager.hostPath("v", path: dir, type: "Directory") }
        #expect(try VolumeManager.hostPath("v", path: dir, type: "DirectoryOrCreate") == dir)
        #expect(try VolumeManager.hostPath("v", path: dir, type: "Directory") == dir)
        #expect(throws: VolumeError.self) { try VolumeManager.hostPath("v", path: dir, type: "File") }
        #expect(try VolumeManager.hostPath("v", path: dir + "/f", type: "FileOrCreate") == dir + "/f")
        #expect(try VolumeManager.hostPath("v", path: dir + "/f", type: "File") == dir + "/f")
        #expect(throws: VolumeError.self) { try VolumeManager.hostPath("v", path: dir + "/f", type: "Socket") }
        #expect(throws: VolumeError.self) { try VolumeManager.hostPath("v", path: "/dev/null", type: "BlockDevice") }
        #expect(try VolumeManager.hostPath("v", path: "/dev/null", type: "CharDevice") == "/dev/null")
    }

    @Test func configMapVolumeProjectsItemsAndFailsWhenMissing() async throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var cm = ConfigMap(metadata: ObjectMeta(name: "cfg", namespace: "default"), data: ["k1": "v1", "k2": "v2"])
        cm.binaryData = ["bin": Data([1, 2]).base64EncodedString()]
        let vm = VolumeManager(podsDir: dir, source: FakeObjects(configMaps: ["default/cfg": cm]))
        var v = Volume(name: "conf")
        v.configMap = ["name": "cfg", "items": [["key": "k2", "path": "nested/two"]]]
        var pod = makePod(containers: [container("a")], volumes: [v])
        let paths = try await vm.setUp(pod)
        let p = try #require(paths["conf"])
        #expect(try String(contentsOfFile: p + "/nested/two", encoding: .utf8) == "v2")
        #expect(!FileManager.default.fileExists(atPath: p + "/k1"))
        v.configMap = ["name": "absent"]
        pod.spec?.volumes = [v]
        await #expect(throws: VolumeError.self) { _ = try await vm.setUp(pod) }
        v.configMap = ["name": "absent", "optional": true]
        pod.spec?.volumes = [v]
        _ = try await vm.setUp(pod)
        #expect(vm.tearDown(uid: pod.uid).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: dir + "/" + pod.uid))
    }
}

@Suite struct DownwardAPITests {
    @Test func mapsQuoteLikeGoAndSortByKey() {
        #expect(DownwardAPI.formatMap(["b": "2", "a": "x\"y\\z\n\té"]) == "a=\"x\\\"y\\\\z\\n\\té\"\nb=\"2\"")
        #expect(DownwardAPI.goQuote("\u{1}\u{7f}") == "\"\\x01\\x7f\"")
        #expect(DownwardAPI.formatMap([:]) == "")
    }

    @Test func resourcesAreDividedAndRoundedUp() throws {
        var c = container("app")
        c.resources = ResourceRequirements(limits: ["cpu": try Quantity("250m"), "memory": try Quantity("64Mi")],
                                           requests: ["cpu": try Quantity("100m")])
        #expect(try DownwardAPI.resource("limits.cpu", divisor: nil, container: c) == "1")
        #expect(try DownwardAPI.resource("limits.cpu", divisor: "1m", container: c) == "250")
        #expect(try DownwardAPI.resource("requests.cpu", divisor: "30m", container: c) == "4")
        #expect(try DownwardAPI.resource("limits.memory", divisor: "1Mi", container: c) == "64")
        #expect(try DownwardAPI.resource("limits.memory", divisor: nil, container: c) == "67108864")
        // no limit: the node's allocatable when known
        #expect(try DownwardAPI.resource("limits.ephemeral-storage", divisor: "1Gi", container: c,
                                         allocatable: ["ephemeral-storage": try Quantity("10Gi")]) == "10")
        #expect(throws: DownwardAPI.FieldError.self) { try DownwardAPI.resource("limits.gpu", divisor: nil, container: c) }
    }

    @Test func volumeFilesTakeMetadataOnly() throws {
        var pod = makePod(containers: [container("app")])
        pod.metadata.labels = ["app": "web", "tier": "front"]
        pod.metadata.annotations = ["note": "hi"]
        let files = try DownwardAPI.files([
            ["path": "labels", "fieldRef": ["fieldPath": "metadata.labels"]],
            ["path": "meta/name", "fieldRef": ["fieldPath": "metadata.name"], "mode": 0o600],
            ["path": "tier", "fieldRef": ["fieldPath": "metadata.labels['tier']"]],
        ], pod: pod, volume: "info")
        #expect(files["labels"].map { String(decoding: $0.0, as: UTF8.self) } == "app=\"web\"\ntier=\"front\"")
        #expect(files["meta/name"]?.1 == 0o600 && files["tier"].map { String(decoding: $0.0, as: UTF8.self) } == "front")
        // env-only fields, escaping paths and unknown containers are refused with the cause
        #expect(throws: VolumeError.self) { try DownwardAPI.files([["path": "ip", "fieldRef": ["fieldPath": "status.podIP"]]], pod: pod, volume: "info") }
        #expect(throws: VolumeError.self) { try DownwardAPI.files([["path": "../x", "fieldRef": ["fieldPath": "metadata.name"]]], pod: pod, volume: "info") }
        #expect(throws: VolumeError.self) {
            try DownwardAPI.files([["path": "cpu", "resourceFieldRef": ["containerName": "nope", "resource": "limits.cpu"]]], pod: pod, volume: "info")
        }
    }

    @Test(.enabled(if: getuid() == 0, "projected volumes sit on tmpfs: mounting needs root"))
    func projectedVolumeMergesItsSources() async throws {
        let dir = NSTemporaryDirectory() + "swiftlet-proj-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cm = ConfigMap(metadata: ObjectMeta(name: "cfg", namespace: "default"), data: ["mode": "blue"])
        var sec = Secret(metadata: ObjectMeta(name: "creds", namespace: "default"))
        sec.data = ["token": Data("t0k".utf8).base64EncodedString()]
        let vm = VolumeManager(podsDir: dir, source: FakeObjects(configMaps: ["default/cfg": cm], secrets: ["default/creds": sec]))
        var v = Volume(name: "all")
        v.projected = ["sources": [
            ["configMap": ["name": "cfg"]],
            ["secret": ["name": "creds", "items": [["key": "token", "path": "auth/token"]]]],
            ["downwardAPI": ["items": [["path": "ns", "fieldRef": ["fieldPath": "metadata.namespace"]]]]],
        ]]
        var pod = makePod(containers: [container("a")], volumes: [v])
        let p = try #require(try await vm.setUp(pod)["all"])
        #expect(try String(contentsOfFile: p + "/mode", encoding: .utf8) == "blue")
        #expect(try String(contentsOfFile: p + "/auth/token", encoding: .utf8) == "t0k")
        #expect(try String(contentsOfFile: p + "/ns", encoding: .utf8) == "default")
        #expect(VolumeManager.mountsUnder(p) == [p], "projected volumes are tmpfs")
        // a source that cannot issue tokens: the volume fails naming why
        v.projected = ["sources": [["serviceAccountToken": ["path": "token"]]]]
        pod.spec?.volumes = [v]
        await #expect(throws: VolumeError.self) { _ = try await vm.setUp(pod) }
        #expect(vm.tearDown(uid: pod.uid).isEmpty && VolumeManager.mountsUnder(dir).isEmpty)
    }
}

/// Issues numbered tokens that live `life` seconds, counting the requests.
final class CountingTokens: ObjectSource, @unchecked Sendable {
    let lock = NSLock()
    var requests: [TokenCache.Request] = []
    let life: TimeInterval
    init(life: TimeInterval) { self.life = life }
    func configMap(namespace: String, name: String) async throws -> ConfigMap? { nil }
    func secret(namespace: String, name: String) async throws -> Secret? { nil }
    func serviceAccountToken(_ r: TokenCache.Request) async throws -> (token: String, expires: Date) {
        let n = lock.withLock {
            requests.append(r)
            return requests.count
        }
        return ("token-\(n)", Date().addingTimeInterval(life))
    }
}

@Suite struct TokenCacheTests {
    @Test func tokensAreReusedUntilEightyPercentOfTheirLife() async throws {
        let source = CountingTokens(life: 3600)
        let cache = TokenCache()
        let r = TokenCache.Request(namespace: "default", serviceAccount: "default", audience: nil, expirationSeconds: 3600,
                                   podName: "p", podUID: "u1")
        let t0 = Date()
        #expect(try await cache.token(r, from: source, now: t0) == "token-1")
        #expect(try await cache.token(r, from: source, now: t0.addingTimeInterval(2000)) == "token-1")
        #expect(try await cache.token(r, from: source, now: t0.addingTimeInterval(2900)) == "token-2", "renewed after 80% of 1h")
        var other = r
        other.audience = "vault"
        #expect(try await cache.token(other, from: source, now: t0) == "token-3", "another audience is another token")
        await cache.forget(podUID: "u1")
        #expect(try await cache.token(r, from: source, now: t0) == "token-4")
        #expect(source.requests.first?.podName == "p" && source.requests.first?.podUID == "u1")
    }
}

@Suite struct ContainerLogTests {
    @Test func tailTimestampsAndPartialLines() async throws {
        let path = NSTemporaryDirectory() + "swiftlet-log-\(UUID().uuidString.prefix(8)).log"
        defer { unlink(path) }
        let text = """
            2026-11-23T10:00:00.000000001Z stdout F one
            2026-11-23T10:00:01.000000001Z stderr F two
            2026-11-23T10:00:02.000000001Z stdout P thr
            2026-11-23T10:00:02.000000002Z stdout F ee

            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        func read(_ o: ContainerLogReader.Options) async -> String {
            let out = Collected()
            await ContainerLogReader(path: path, options: o, running: { false }).stream { s in out.add(s); return true }
            return out.text
        }
        #expect(await read(.init()) == "one\ntwo\nthree\n")
        var tail = ContainerLogReader.Options()
        tail.tailLines = 2
        #expect(await read(tail) == "three\n")
        var ts = ContainerLogReader.Options()
        ts.timestamps = true
        ts.tailLines = 3
        #expect(await read(ts).hasPrefix("2026-11-23T10:00:01.000000001Z two\n"))
        var limit = ContainerLogReader.Options()
        limit.limitBytes = 5
        #expect(await read(limit) == "one\nt")
    }

    @Test func followSeesAppendedLinesUntilTheContainerStops() async throws {
        let path = NSTemporaryDirectory() + "swiftlet-log-\(UUID().uuidString.prefix(8)).log"
        defer { unlink(path) }
        try "2026-11-23T10:00:00.1Z stdout F first\n".write(toFile: path, atomically: true, encoding: .utf8)
        let running = Flag()
        var o = ContainerLogReader.Options()
        o.follow = true
        let out = Collected()
        let task = Task { await ContainerLogReader(path: path, options: o, running: { !running.isSet }).stream { s in out.add(s); return true } }
        try await Task.sleep(for: .milliseconds(300))
        let h = try #require(FileHandle(forWritingAtPath: path))
        try h.seekToEnd()
        try h.write(contentsOf: Data("2026-11-23T10:00:01.1Z stdout F second\n".utf8))
        try h.close()
        for _ in 0..<50 where !out.text.contains("second") { try await Task.sleep(for: .milliseconds(50)) }
        #expect(out.text == "first\nsecond\n")
        running.set()
        await task.value
    }
}

final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var s = ""
    func add(_ t: String) { lock.withLock { s += t } }
    var text: String { lock.withLock { s } }
}

@Suite struct ContainerConfigBuilderTests {
    @Test func onCgroupV2TheWholeContainerIsOOMKilledAsUnderTheKubelet() async throws {
        let pod = makePod(containers: [container("a")])
        let c = pod.spec!.containers[0]
        let v2 = ContainerConfigBuilder(objects: FakeObjects(), nodeName: "n", cgroupV2: true)
        let cfg = try await v2.build(pod, c, attempt: 0, initContainer: false, volumes: [:], podIP: nil, hostIP: nil)
        #expect(cfg.resources.unified == ["memory.oom.group": "1"])
        let v1 = ContainerConfigBuilder(objects: FakeObjects(), nodeName: "n", cgroupV2: false)
        #expect(try await v1.build(pod, c, attempt: 0, initContainer: false, volumes: [:], podIP: nil, hostIP: nil).resources.unified == nil)
    }
}

@Suite struct PodCgroupResourcesTests {
    static func c(_ name: String, req: [String: String] = [:], lim: [String: String] = [:]) -> Container {
        var x = container(name)
        x.resources = ResourceRequirements(limits: lim.isEmpty ? nil : lim.mapValues { try! Quantity($0) },
                                           requests: req.isEmpty ? nil : req.mapValues { try! Quantity($0) })
        return x
    }

    @Test func sharesQuotaAndMemoryAsTheKubeletSetsThemOnThePodCgroup() {
        // Burstable: shares from the summed requests; no quota or memory limit, as one container has none
        let burst = makePod(containers: [Self.c("a", req: ["cpu": "250m"], lim: ["cpu": "500m", "memory": "64Mi"]),
                                         Self.c("b", req: ["cpu": "250m"])])
        let r = ContainerConfigBuilder.podResources(burst)
        #expect(r.cpuShares == 512 && r.cpuQuota == nil && r.memoryLimitBytes == nil)
        // every container limited: quota and memory are the sums
        let all = makePod(containers: [Self.c("a", req: ["cpu": "250m"], lim: ["cpu": "500m", "memory": "64Mi"]),
                                       Self.c("b", req: ["cpu": "100m"], lim: ["cpu": "100m", "memory": "32Mi"])])
        let g = ContainerConfigBuilder.podResources(all)
        #expect(g.cpuShares == 358 && g.cpuQuota == 60_000 && g.cpuPeriod == 100_000 && g.memoryLimitBytes == 96 << 20)
        // an init container that asks for more than the app containers together sets the figure
        let withInit = makePod(containers: [Self.c("a", req: ["cpu": "100m"], lim: ["cpu": "100m", "memory": "32Mi"])],
                               initContainers: [Self.c("i", req: ["cpu": "1"], lim: ["cpu": "1", "memory": "128Mi"])])
        let i = ContainerConfigBuilder.podResources(withInit)
        #expect(i.cpuShares == 1024 && i.cpuQuota == 100_000 && i.memoryLimitBytes == 128 << 20)
        // BestEffort: the minimum shares, nothing else
        #expect(ContainerConfigBuilder.podResources(makePod(containers: [container("a")])) == LinuxResources(cpuShares: 2))
    }
}
