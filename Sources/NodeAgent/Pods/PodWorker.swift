package import CNI
package import Foundation
import Glibc
package import KubeAPI
package import Runtime

/// Shared services of every pod worker.
package struct PodSyncContext: Sendable {
    package var config: AgentConfig
    package var runtime: any ContainerRuntime
    package var images: any ImageService
    /// nil: no pod network (hostNetwork pods only, or tests).
    package var network: (any NetworkPlugin)?
    package var events: any EventSink
    package var volumes: VolumeManager
    package var probes: ProbeManager
    package var status: StatusManager
    package var api: any PodAPI
    package var builder: ContainerConfigBuilder
    package var backoff: BackoffStore
    package var hostIP: String?

    package init(config: AgentConfig, runtime: any ContainerRuntime, images: any ImageService, network: (any NetworkPlugin)?,
                 events: any EventSink, volumes: VolumeManager, probes: ProbeManager, status: StatusManager, api: any PodAPI,
                 objects: any ObjectSource, hostIP: String?)
    {
        self.config = config
        self.runtime = runtime
        self.images = images
        self.network = network
        self.events = events
        self.volumes = volumes
        self.probes = probes
        self.status = status
        self.api = api
        self.builder = ContainerConfigBuilder(objects: objects, nodeName: config.nodeName)
        self.backoff = BackoffStore()
        self.hostIP = hostIP
    }
}

/// Crash-loop and image-pull back-offs of every pod, behind an actor.
package actor BackoffStore {
    package var crash = CrashLoopBackoff()
    package var image = CrashLoopBackoff()
    package init() {}
    package func setCrash(_ b: CrashLoopBackoff) { crash = b }
    package func crashUntil(_ key: String, finishedAt: Date) -> (Date?, TimeInterval) {
        (crash.backOffUntil(key, finishedAt: finishedAt, now: Date()), crash.delay(key))
    }
    package func crashNext(_ key: String, ranFor: TimeInterval) { crash.next(key, now: Date(), ranFor: ranFor) }
    package func imageUntil(_ key: String, failedAt: Date) -> Date? { image.backOffUntil(key, finishedAt: failedAt, now: Date()) }
    package func imageNext(_ key: String) { image.next(key, now: Date()) }
    package func forget(_ uid: String) {
        crash.forget(prefix: uid + "/")
        image.forget(prefix: uid + "/")
    }
}

/// What a sync asks of its worker loop next.
package enum SyncOutcome: Sendable, Equatable {
    /// Sync again after this many seconds (or earlier on an event).
    case requeue(TimeInterval)
    /// The pod is gone from the node: stop the worker.
    case done
}

/// The network of a sandbox, checkpointed so a restarted agent knows the pod IP.
struct SandboxCheckpoint: Codable {
    var sandboxID: String
    var podIP: String?
}

/// One pod's worker: every sync of the pod runs here, one at a time (the kubelet's pod worker
/// plus its runtime manager's SyncPod/KillPod). A sync looks at the runtime, does the next steps
/// (sandbox, network, init containers in order, containers, restarts with back-off, kills for
/// failed liveness probes) and posts the status when it changed.
package actor PodWorker {
    package let uid: String
    private let ctx: PodSyncContext
    package private(set) var pod: Pod
    private var apiDeleted = false
    private var waiting: [String: ContainerStateWaiting] = [:]
    private var imageFailedAt: [String: Date] = [:]
    private var lastAttempt: [String: Int] = [:]
    private var podIP: String?
    private var sandboxID: String?
    private var rejected: (reason: String, message: String)?
    private var terminalCleaned = false
    private var lastFailedMount: String?
    private var startTime: Date?

    package init(pod: Pod, context: PodSyncContext) {
        self.pod = pod
        self.uid = pod.uid
        self.ctx = context
    }

    package func update(_ pod: Pod) { self.pod = pod }
    /// Whether the next sync creates the pod's sandbox (admission to the start limiter).
    package var isStarting: Bool { sandboxID == nil && !terminalCleaned && rejected == nil && !pod.isTerminating && !apiDeleted }
    /// The API object is gone (force delete): stop everything without deleting it again.
    package func markDeleted() { apiDeleted = true }
    package func reject(reason: String, message: String) { rejected = (reason, message) }

    private var checkpointPath: String { ctx.config.podDir(uid) + "/sandbox.json" }

    private func saveCheckpoint() {
        guard let sandboxID else { return }
        try? LinuxSyscalls().mkdirAll(ctx.config.podDir(uid))
        if let d = try? JSONEncoder().encode(SandboxCheckpoint(sandboxID: sandboxID, podIP: podIP)) {
            try? AtomicFile.write(checkpointPath, d)
        }
    }

    private func loadCheckpoint(_ id: String) -> String? {
        guard let d = FileContents.data(atPath: checkpointPath),
            let c = try? JSONDecoder().decode(SandboxCheckpoint.self, from: d), c.sandboxID == id
        else { return nil }
        return c.podIP
    }

    private func event(_ container: String?, initContainer: Bool = false, _ type: String = EventType.normal, _ reason: String,
                       _ message: String)
    {
        let ref = container.map { pod.ref(container: $0, initContainer: initContainer) } ?? pod.ref
        ctx.events.event(ref, type: type, reason: reason, message: message)
    }

    // MARK: sync

    package func sync() async -> SyncOutcome {
        if apiDeleted || pod.isTerminating {
            await terminate()
            return .done
        }
        if let rejected {
            var st = pod.status ?? PodStatus()
            st.phase = "Failed"
            st.reason = rejected.reason
            st.message = rejected.message
            await ctx.status.set(pod, st)
            return .requeue(ctx.config.resyncInterval.seconds)
        }
        if terminalCleaned { return .requeue(ctx.config.resyncInterval.seconds) }
        if pod.isTerminal {
            // Finished before (maybe by an earlier agent): make sure nothing of it runs, never restart it.
            for sb in await sandboxes() where sb.state == .ready { await killSandbox(sb.id, reason: nil) }
            terminalCleaned = true
            return .requeue(ctx.config.resyncInterval.seconds)
        }
        var requeue = ctx.config.resyncInterval.seconds
        if startTime == nil { startTime = Date() }

        // Volumes first: containers never start without them.
        let volumes: [String: String]
        do {
            volumes = try await ctx.volumes.setUp(pod)
            lastFailedMount = nil
        } catch {
            let msg = "\(error)"
            if lastFailedMount != msg { event(nil, EventType.warning, EventReason.failedMount, msg) }
            lastFailedMount = msg
            await postStatus(PodRuntimeSnapshot.with { $0.sandboxReady = false })
            return .requeue(2)
        }

        // Sandbox and network.
        guard let sb = await ensureSandbox() else {
            await postStatus(PodRuntimeSnapshot.with { $0.sandboxReady = false })
            return .requeue(2)
        }
        var containers = (try? await ctx.runtime.listContainers(sandboxID: sb)) ?? []
        for c in containers { lastAttempt[c.containerName] = max(lastAttempt[c.containerName] ?? 0, c.restartCount) }

        // Init containers, in order: each must complete before the next starts.
        var initDone = true
        for spec in pod.spec?.initContainers ?? [] {
            let cur = newest(containers, spec.name, initContainer: true)
            if cur?.state == .exited, cur?.exitCode == 0 { continue }
            initDone = false
            if cur?.state == .running { break }
            if let cur, cur.state == .exited {
                if pod.restartPolicy == "Never" { break }
                if let r = await restartWithBackoff(spec, cur, initContainer: true, sandbox: sb, volumes: volumes) { requeue = min(requeue, r) }
            } else {
                if let r = await start(spec, initContainer: true, attempt: (cur == nil ? nextAttempt(spec.name, fresh: true) : cur!.restartCount),
                                       sandbox: sb, volumes: volumes) { requeue = min(requeue, r) }
            }
            break
        }

        if initDone {
            for spec in pod.spec?.containers ?? [] {
                let cur = newest(containers, spec.name, initContainer: false)
                guard let cur else {
                    if let r = await start(spec, initContainer: false, attempt: nextAttempt(spec.name, fresh: true), sandbox: sb,
                                           volumes: volumes) { requeue = min(requeue, r) }
                    continue
                }
                switch cur.state {
                case .running:
                    if let why = await ctx.probes.takeLivenessFailure(containerID: cur.id) {
                        event(spec.name, EventType.normal, EventReason.killing, why)
                        await stopContainer(spec, cur, grace: pod.spec?.terminationGracePeriodSeconds ?? 30)
                        let after = (try? await ctx.runtime.containerStatus(cur.id)) ?? cur
                        if let r = await restartWithBackoff(spec, after, initContainer: false, sandbox: sb, volumes: volumes) {
                            requeue = min(requeue, r)
                        }
                    } else {
                        waiting[spec.name] = nil
                    }
                case .exited:
                    if let r = await restartWithBackoff(spec, cur, initContainer: false, sandbox: sb, volumes: volumes) {
                        requeue = min(requeue, r)
                    }
                case .created, .unknown:
                    // Created but never started (an agent killed in between): replace it.
                    try? await ctx.runtime.removeContainer(cur.id)
                    if let r = await start(spec, initContainer: false, attempt: cur.restartCount, sandbox: sb, volumes: volumes) {
                        requeue = min(requeue, r)
                    }
                }
            }
        }

        containers = (try? await ctx.runtime.listContainers(sandboxID: sb)) ?? containers
        await gcContainers(containers)
        var running: [String: Runtime.ContainerStatus] = [:]
        for c in containers where c.state == .running && !c.isInit { running[c.containerName] = c }
        await ctx.probes.sync(pod: pod, podIP: podIP, running: running)

        var snap = PodRuntimeSnapshot()
        snap.sandboxReady = true
        snap.containers = containers
        let status = await postStatus(snap)
        if status.phase == "Succeeded" || status.phase == "Failed" {
            await killSandbox(sb, reason: nil)
            terminalCleaned = true
        }
        return .requeue(max(requeue, 0.05))
    }

    /// Restart count for a container's next instance.
    private func nextAttempt(_ name: String, fresh: Bool) -> Int {
        guard let last = lastAttempt[name] else { return 0 }
        return last + 1
    }

    private func newest(_ cs: [Runtime.ContainerStatus], _ name: String, initContainer: Bool) -> Runtime.ContainerStatus? {
        cs.filter { $0.containerName == name && $0.isInit == initContainer }
            .max { ($0.attempt, $0.createdAt) < ($1.attempt, $1.createdAt) }
    }

    /// Restarts an exited container if the restart policy says so and its back-off has passed;
    /// returns when to look again.
    private func restartWithBackoff(_ spec: Container, _ cur: Runtime.ContainerStatus, initContainer: Bool, sandbox: String,
                                    volumes: [String: String]) async -> TimeInterval?
    {
        let policy = initContainer && pod.restartPolicy == "Always" ? "OnFailure" : pod.restartPolicy
        let restart = policy == "Always" || (policy == "OnFailure" && cur.exitCode != 0)
        guard restart else {
            waiting[spec.name] = nil
            return nil
        }
        let key = CrashLoopBackoff.key(podUID: uid, container: spec.name)
        let finished = cur.finishedAt ?? Date()
        let (until, delay) = await ctx.backoff.crashUntil(key, finishedAt: finished)
        if let until {
            let msg = "back-off \(Self.duration(delay)) restarting failed container=\(spec.name) pod=\(pod.fullName)"
            if waiting[spec.name]?.message != msg {
                event(spec.name, initContainer: initContainer, EventType.warning, EventReason.backOff,
                      "Back-off restarting failed container \(spec.name) in pod \(pod.fullName)")
            }
            waiting[spec.name] = ContainerStateWaiting(reason: "CrashLoopBackOff", message: msg)
            return until.timeIntervalSinceNow
        }
        let ranFor = (cur.finishedAt ?? Date()).timeIntervalSince(cur.startedAt ?? cur.finishedAt ?? Date())
        await ctx.backoff.crashNext(key, ranFor: ranFor)
        return await start(spec, initContainer: initContainer, attempt: cur.restartCount + 1, sandbox: sandbox, volumes: volumes)
    }

    /// Runs `body`, cancelling it after `limit`.
    static func withDeadline(_ limit: Duration, what: String, _ body: @escaping @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { g in
            g.addTask {
                try await body()
                return true
            }
            g.addTask {
                try await Task.sleep(for: limit)
                return false
            }
            let finished = try await g.next() ?? false
            g.cancelAll()
            if !finished { throw AgentError("\(what): no result within \(limit.components.seconds)s (image pull deadline)") }
        }
    }

    static func duration(_ t: TimeInterval) -> String {
        let s = Int(t)
        return s >= 60 ? (s % 60 == 0 ? "\(s / 60)m0s" : "\(s / 60)m\(s % 60)s") : "\(s)s"
    }

    // MARK: images and containers

    /// Pulls per imagePullPolicy; nil when the image is ready, otherwise when to retry.
    private func ensureImage(_ spec: Container, initContainer: Bool) async -> TimeInterval? {
        let image = spec.image ?? ""
        let key = CrashLoopBackoff.key(podUID: uid, container: "image:" + spec.name)
        let tagged = image.split(separator: "/").last.map { $0.contains(":") || $0.contains("@") } ?? false
        let policy = spec.imagePullPolicy ?? ((!tagged || image.hasSuffix(":latest")) ? "Always" : "IfNotPresent")
        let present = ((try? await ctx.images.imageStatus(image)) ?? nil) != nil
        if policy == "Never" {
            if present { return nil }
            let msg = "Container image \"\(image)\" is not present with pull policy of Never"
            if waiting[spec.name]?.reason != "ErrImageNeverPull" {
                event(spec.name, initContainer: initContainer, EventType.warning, "ErrImageNeverPull", msg)
            }
            waiting[spec.name] = ContainerStateWaiting(reason: "ErrImageNeverPull", message: msg)
            return 10
        }
        if present && policy == "IfNotPresent" {
            if waiting[spec.name] == nil || waiting[spec.name]?.reason == "ContainerCreating" {
                event(spec.name, initContainer: initContainer, EventType.normal, EventReason.pulled,
                      "Container image \"\(image)\" already present on machine and can be accessed by the pod")
            }
            return nil
        }
        if let failed = imageFailedAt[spec.name], let until = await ctx.backoff.imageUntil(key, failedAt: failed) {
            let msg = "Back-off pulling image \"\(image)\""
            if waiting[spec.name]?.reason != "ImagePullBackOff" {
                event(spec.name, initContainer: initContainer, EventType.normal, EventReason.backOff, msg)
            }
            waiting[spec.name] = ContainerStateWaiting(reason: "ImagePullBackOff", message: msg)
            return until.timeIntervalSinceNow
        }
        event(spec.name, initContainer: initContainer, EventType.normal, EventReason.pulling, "Pulling image \"\(image)\"")
        let t0 = Date()
        do {
            try await Self.withDeadline(ctx.config.imagePullProgressDeadline, what: "pulling image \"\(image)\"") { [images = ctx.images] in
                _ = try await images.pullImage(image)
            }
            let took = String(format: "%.3fs", Date().timeIntervalSince(t0))
            let size = ((try? await ctx.images.imageStatus(image)) ?? nil)?.size ?? 0
            event(spec.name, initContainer: initContainer, EventType.normal, EventReason.pulled,
                  "Successfully pulled image \"\(image)\" in \(took) (\(took) including waiting). Image size: \(size) bytes.")
            imageFailedAt[spec.name] = nil
            return nil
        } catch {
            if present {
                // Always with a local image: a failed pull still lets the pod run what it has.
                return nil
            }
            event(spec.name, initContainer: initContainer, EventType.warning, EventReason.failed,
                  "Failed to pull image \"\(image)\": \(error)")
            event(spec.name, initContainer: initContainer, EventType.warning, EventReason.failed, "Error: ErrImagePull")
            waiting[spec.name] = ContainerStateWaiting(reason: "ErrImagePull", message: "\(error)")
            imageFailedAt[spec.name] = Date()
            await ctx.backoff.imageNext(key)
            return 1
        }
    }

    /// Creates and starts one container instance; returns when to retry if it could not.
    private func start(_ spec: Container, initContainer: Bool, attempt: Int, sandbox: String, volumes: [String: String])
        async -> TimeInterval?
    {
        if let retry = await ensureImage(spec, initContainer: initContainer) { return retry }
        let cfg: ContainerConfig
        do {
            cfg = try await ctx.builder.build(pod, spec, attempt: attempt, initContainer: initContainer, volumes: volumes,
                                              podIP: podIP, hostIP: ctx.hostIP)
        } catch {
            event(spec.name, initContainer: initContainer, EventType.warning, EventReason.failed, "Error: \(error)")
            waiting[spec.name] = ContainerStateWaiting(reason: "CreateContainerConfigError", message: "\(error)")
            return 5
        }
        let id: String
        do {
            id = try await ctx.runtime.createContainer(sandboxID: sandbox, cfg)
        } catch {
            event(spec.name, initContainer: initContainer, EventType.warning, EventReason.failed, "Error: \(error)")
            waiting[spec.name] = ContainerStateWaiting(reason: "CreateContainerError", message: "\(error)")
            return 5
        }
        lastAttempt[spec.name] = attempt
        event(spec.name, initContainer: initContainer, EventType.normal, EventReason.created, "Created container: \(spec.name)")
        do {
            try await ctx.runtime.startContainer(id)
        } catch {
            event(spec.name, initContainer: initContainer, EventType.warning, EventReason.failed, "Error: \(error)")
            waiting[spec.name] = ContainerStateWaiting(reason: "RunContainerError", message: "\(error)")
            return 5
        }
        waiting[spec.name] = nil
        event(spec.name, initContainer: initContainer, EventType.normal, EventReason.started, "Started container \(spec.name)")
        if let hook = spec.lifecycle?.postStart {
            if let err = await runHook(hook, spec, containerID: id, timeout: 30) {
                event(spec.name, EventType.warning, EventReason.failedPostStartHook, err)
                event(spec.name, EventType.normal, EventReason.killing, "FailedPostStartHook")
                try? await ctx.runtime.stopContainer(id, timeout: Int(pod.spec?.terminationGracePeriodSeconds ?? 30))
            }
        }
        return nil
    }

    /// Runs an exec or HTTP lifecycle hook; returns the failure message.
    private func runHook(_ h: LifecycleHandler, _ spec: Container, containerID: String, timeout: Int) async -> String? {
        if let e = h.exec {
            do {
                let r = try await ctx.runtime.execSync(containerID, cmd: e.command ?? [], timeout: timeout)
                if r.exitCode == 0 { return nil }
                return "Exec lifecycle hook (\((e.command ?? []).joined(separator: " "))) for Container \"\(spec.name)\" in Pod \"\(pod.fullName)\" failed - error: command '\((e.command ?? []).joined(separator: " "))' exited with \(r.exitCode): \(String(decoding: r.stdout + r.stderr, as: UTF8.self))"
            } catch {
                return "Exec lifecycle hook for Container \"\(spec.name)\" in Pod \"\(pod.fullName)\" failed - error: \(error)"
            }
        }
        if let g = h.httpGet {
            guard let port = Prober.port(g.port, spec), let host = g.host ?? podIP else { return "HTTP lifecycle hook has no target" }
            let r = await NetProbe.httpGet(scheme: g.scheme ?? "HTTP", host: host, port: port, path: g.path ?? "/",
                                           headers: (g.httpHeaders ?? []).map { ($0.name, $0.value) }, timeout: TimeInterval(timeout))
            if case .failure(let m) = r { return "HTTP lifecycle hook (\(g.path ?? "/")) for Container \"\(spec.name)\" in Pod \"\(pod.fullName)\" failed - error: \(m)" }
        }
        return nil
    }

    /// preStop hook, then SIGTERM and SIGKILL after what is left of `grace`.
    private func stopContainer(_ spec: Container?, _ c: Runtime.ContainerStatus, grace: Int64) async {
        let deadline = Date().addingTimeInterval(TimeInterval(grace))
        if let spec, c.state == .running, let hook = spec.lifecycle?.preStop {
            let hookTask = Task { await runHook(hook, spec, containerID: c.id, timeout: Int(max(grace, 1))) }
            let err = await withTaskGroup(of: String??.self) { g -> String? in
                g.addTask { await hookTask.value }
                g.addTask {
                    try? await Task.sleep(for: .milliseconds(Int(max(deadline.timeIntervalSinceNow, 0) * 1000)))
                    return .some(nil)
                }
                let first = await g.next() ?? nil
                g.cancelAll()
                return first ?? nil
            }
            if let err { event(spec.name, EventType.warning, EventReason.failedPreStopHook, err) }
        }
        let left = max(Int(deadline.timeIntervalSinceNow.rounded(.up)), 0)
        do { try await ctx.runtime.stopContainer(c.id, timeout: max(left, grace > 0 ? 1 : 0)) } catch {
            event(spec?.name, EventType.warning, EventReason.failedKillPod, "error killing pod: failed to \"KillContainer\" for \"\(c.containerName)\" with KillContainerError: \"\(error)\"")
        }
    }

    /// Keeps the newest two instances of each container (current and previous, for logs --previous).
    private func gcContainers(_ cs: [Runtime.ContainerStatus]) async {
        let groups = Dictionary(grouping: cs.filter { $0.state == .exited }) { "\($0.isInit)/\($0.containerName)" }
        for (_, list) in groups {
            let sorted = list.sorted { ($0.attempt, $0.createdAt) > ($1.attempt, $1.createdAt) }
            for old in sorted.dropFirst(2) { try? await ctx.runtime.removeContainer(old.id) }
        }
    }

    // MARK: sandbox

    private func sandboxes() async -> [PodSandboxStatus] {
        ((try? await ctx.runtime.listPodSandbox(podUID: uid)) ?? [])
            .sorted { ($0.config.attempt, $0.createdAt) > ($1.config.attempt, $1.createdAt) }
    }

    /// The ready sandbox with its network, creating (or re-creating) it when needed.
    private func ensureSandbox() async -> String? {
        // Fast path: the sandbox this worker runs is still ready and networked.
        if let id = sandboxID, podIP != nil || pod.hostNetwork || ctx.network == nil,
            (try? await ctx.runtime.podSandboxStatus(id))?.state == .ready
        {
            return id
        }
        let all = await sandboxes()
        if let ready = all.first(where: { $0.state == .ready }) {
            if sandboxID != ready.id {
                sandboxID = ready.id
                podIP = pod.hostNetwork ? ctx.hostIP : loadCheckpoint(ready.id)
                for old in all where old.id != ready.id { await killSandbox(old.id, reason: nil, remove: true) }
            }
            if podIP != nil || pod.hostNetwork || ctx.network == nil { return ready.id }
            // Adopted without a checkpoint, or the network was never set up: set it up now.
            if await setUpNetwork(ready) { return ready.id }
            return nil
        }
        var attempt: UInt32 = 0
        if let dead = all.first {
            attempt = dead.config.attempt + 1
            event(nil, EventType.normal, EventReason.sandboxChanged, "Pod sandbox changed, it will be killed and re-created.")
            for s in all { await killSandbox(s.id, reason: nil, remove: true) }
        }
        var c = PodSandboxConfig(name: pod.name, namespace: pod.namespace ?? "default", uid: uid)
        c.attempt = attempt
        c.hostname = pod.spec?.hostname ?? pod.name
        c.logDirectory = ctx.config.podLogsDir + "/" + pod.logDirectory
        c.labels = RuntimeLabels.pod(pod)
        c.cgroupParent = "kubepods/\(PodStatusBuilder.qosClass(pod).lowercased())/pod\(uid)"
        if c.cgroupParent.hasPrefix("kubepods/guaranteed") { c.cgroupParent = "kubepods/pod\(uid)" }
        c.resources = ContainerConfigBuilder.podResources(pod)
        c.hostNetwork = pod.hostNetwork
        c.hostPID = pod.spec?.hostPID ?? false
        c.hostIPC = pod.spec?.hostIPC ?? false
        c.shareProcessNamespace = pod.spec?.shareProcessNamespace ?? false
        let id: String
        do { id = try await ctx.runtime.runPodSandbox(c) } catch {
            event(nil, EventType.warning, EventReason.failedCreatePodSandBox, "Failed to create pod sandbox: \(error)")
            return nil
        }
        sandboxID = id
        podIP = pod.hostNetwork ? ctx.hostIP : nil
        guard let st = try? await ctx.runtime.podSandboxStatus(id) else { return nil }
        if pod.hostNetwork || ctx.network == nil {
            saveCheckpoint()
            return id
        }
        return await setUpNetwork(st) ? id : nil
    }

    /// CNI ADD for the sandbox (through pause's netns, reachable from any mount namespace).
    private func setUpNetwork(_ st: PodSandboxStatus) async -> Bool {
        guard let network = ctx.network else { return true }
        let netns = st.pid > 0 ? "/proc/\(st.pid)/ns/net" : (st.netnsPath ?? "")
        do {
            let r = try await network.setUp(Attachment(containerID: st.id, netns: netns), portMappings: portMappings(),
                                             args: ["K8S_POD_NAMESPACE": pod.namespace ?? "default", "K8S_POD_NAME": pod.name,
                                                    "K8S_POD_INFRA_CONTAINER_ID": st.id, "K8S_POD_UID": uid])
            podIP = r.ips?.first.map { String($0.address.split(separator: "/").first ?? "") }
            saveCheckpoint()
            return true
        } catch {
            event(nil, EventType.warning, EventReason.failedCreatePodSandBox,
                  "Failed to create pod sandbox: plugin type=\"bridge\" name=\"swiftlet\" failed (add): \(error)")
            await killSandbox(st.id, reason: nil, remove: true)
            sandboxID = nil
            return false
        }
    }

    private func portMappings() -> [HostPortMapping] {
        (pod.spec?.containers ?? []).flatMap { $0.ports ?? [] }.compactMap { p in
            guard let hp = p.hostPort, hp > 0 else { return nil }
            return HostPortMapping(hostPort: Int(hp), containerPort: Int(p.containerPort), protocol: (p.protocol ?? "TCP").lowercased(),
                                   hostIP: p.hostIP ?? "")
        }
    }

    /// Stops the sandbox's containers, detaches its network and stops (or removes) it.
    private func killSandbox(_ id: String, reason: String?, remove: Bool = false) async {
        let st = try? await ctx.runtime.podSandboxStatus(id)
        if let network = ctx.network, !(st?.config.hostNetwork ?? false) {
            let netns = (st?.state == .ready && (st?.pid ?? 0) > 0) ? "/proc/\(st!.pid)/ns/net" : (st?.netnsPath ?? "")
            try? await network.tearDown(Attachment(containerID: id, netns: netns))
        }
        do {
            if remove { try await ctx.runtime.removePodSandbox(id) } else { try await ctx.runtime.stopPodSandbox(id) }
        } catch {
            event(nil, EventType.warning, EventReason.failedKillPod, "error killing pod: failed to \"KillPodSandbox\" for \"\(uid)\" with KillPodSandboxError: \"\(error)\"")
        }
    }

    // MARK: termination

    /// Graceful termination: preStop hooks and SIGTERM for every running container in parallel,
    /// SIGKILL after the grace period, CNI DEL, sandbox removal, volumes torn down, final status,
    /// then the pod object is deleted with grace period 0.
    private func terminate() async {
        let snap = await killPod(grace: pod.gracePeriod)
        let failures = ctx.volumes.tearDown(uid: uid)
        for f in failures { event(nil, EventType.warning, "FailedUnmount", f) }
        await ctx.backoff.forget(uid)
        if !apiDeleted {
            await postStatus(snap)
            do { try await ctx.api.deletePod(namespace: pod.namespace ?? "default", name: pod.name, uid: uid) } catch {}
        }
        try? FileManager.default.removeItem(atPath: ctx.config.podLogsDir + "/" + pod.logDirectory)
        await ctx.status.forget(uid)
    }

    /// Node shutdown: stops the pod within `grace` (or its own, shorter, grace period) and
    /// reports it Failed/Terminated, as the kubelet's shutdown manager does; the object stays.
    package func shutdown(grace: Int64) async {
        guard !terminalCleaned, !apiDeleted, !pod.isTerminating else { return }
        let snap = await killPod(grace: min(pod.gracePeriod, grace))
        var st = await computeStatus(snap)
        st.phase = "Failed"
        st.reason = "Terminated"
        st.message = "Pod was terminated in response to imminent node shutdown."
        st.conditions = st.conditions?.map { c in
            var c = c
            if c.type == "Ready" || c.type == "ContainersReady" || c.type == "PodReadyToStartContainers" {
                c.status = "False"
                c.lastTransitionTime = Timestamps.now()
            }
            return c
        }
        await ctx.status.set(pod, st)
        terminalCleaned = true
    }

    /// preStop hooks and SIGTERM for every running container in parallel, SIGKILL after
    /// `grace`, then CNI DEL and sandbox removal; returns the containers' final states.
    private func killPod(grace: Int64) async -> PodRuntimeSnapshot {
        await ctx.probes.remove(uid: uid)
        let all = await sandboxes()
        var running: [Runtime.ContainerStatus] = []
        for sb in all { running += ((try? await ctx.runtime.listContainers(sandboxID: sb.id)) ?? []).filter { $0.state == .running } }
        let specs = (pod.spec?.containers ?? []) + (pod.spec?.initContainers ?? [])
        await withTaskGroup(of: Void.self) { g in
            for c in running {
                let spec = specs.first { $0.name == c.containerName }
                event(c.containerName, initContainer: c.isInit, EventType.normal, EventReason.killing, "Stopping container \(c.containerName)")
                g.addTask { await self.stopContainer(spec, c, grace: grace) }
            }
        }
        // Final container states for the status, before the records go away.
        var snap = PodRuntimeSnapshot()
        for sb in all { snap.containers += (try? await ctx.runtime.listContainers(sandboxID: sb.id)) ?? [] }
        for sb in all { await killSandbox(sb.id, reason: nil, remove: true) }
        sandboxID = nil
        return snap
    }

    // MARK: status

    @discardableResult
    private func postStatus(_ base: PodRuntimeSnapshot) async -> PodStatus {
        let status = await computeStatus(base)
        await ctx.status.set(pod, status)
        return status
    }

    private func computeStatus(_ base: PodRuntimeSnapshot) async -> PodStatus {
        var snap = base
        snap.podIP = base.sandboxReady ? podIP : nil
        snap.hostIP = ctx.hostIP
        snap.waiting = waiting
        snap.startTime = startTime
        for c in pod.spec?.containers ?? [] {
            if c.readinessProbe != nil { snap.ready[c.name] = await ctx.probes.ready(uid: uid, container: c.name) ?? false }
            if c.startupProbe != nil { snap.started[c.name] = await ctx.probes.started(uid: uid, container: c.name) ?? false }
        }
        return PodStatusBuilder.build(pod, snap)
    }
}

extension PodRuntimeSnapshot {
    static func with(_ f: (inout PodRuntimeSnapshot) -> Void) -> PodRuntimeSnapshot {
        var s = PodRuntimeSnapshot()
        f(&s)
        return s
    }
}

extension Duration {
    package var seconds: TimeInterval { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// write-temp-fsync-rename for the agent's own state files.
package enum AtomicFile {
    package static func write(_ path: String, _ data: Data) throws {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw AgentError("open \(tmp): \(String(cString: strerror(errno)))") }
        let ok = data.withUnsafeBytes { b -> Bool in
            var off = 0
            while off < b.count {
                let n = Glibc.write(fd, b.baseAddress! + off, b.count - off)
                if n <= 0 { return false }
                off += n
            }
            return fsync(fd) == 0
        }
        close(fd)
        if !ok || rename(tmp, path) != 0 { throw AgentError("write \(path): \(String(cString: strerror(errno)))") }
    }
}
