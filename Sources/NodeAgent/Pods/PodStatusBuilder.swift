package import Foundation
package import KubeAPI
package import Runtime

/// What the pod worker knows about a pod at the end of a sync: the input of its API status.
package struct PodRuntimeSnapshot: Sendable {
    package var sandboxReady = false
    package var podIP: String?
    package var hostIP: String?
    /// Every instance of every container of the pod (current sandbox and earlier ones).
    package var containers: [Runtime.ContainerStatus] = []
    /// Waiting reasons the worker decided on (ErrImagePull, CrashLoopBackOff, CreateContainerError…).
    package var waiting: [String: ContainerStateWaiting] = [:]
    /// Readiness and startup results by container name (absent: no probe, counts as success).
    package var ready: [String: Bool] = [:]
    package var started: [String: Bool] = [:]
    /// Set when the pod was rejected at admission or hit a fatal error.
    package var failedReason: String?
    package var failedMessage: String?
    package var startTime: Date?

    package init() {}

    /// Instances of one container, newest (highest restart count, then latest) first.
    package func instances(_ name: String, initContainer: Bool) -> [Runtime.ContainerStatus] {
        containers.filter { $0.containerName == name && $0.isInit == initContainer }
            .sorted { ($0.attempt, $0.createdAt) > ($1.attempt, $1.createdAt) }
    }
}

/// Computes a pod's API status from what the runtime reports, the way the kubelet does:
/// phase, the five conditions, IPs, start time and container statuses.
package enum PodStatusBuilder {
    package static func containerID(_ id: String) -> String { "\(RuntimeInfo.name)://\(id)" }

    static func terminated(_ c: Runtime.ContainerStatus) -> ContainerStateTerminated {
        var t = ContainerStateTerminated(exitCode: c.exitCode)
        t.reason = c.reason.isEmpty ? (c.exitCode == 0 ? "Completed" : "Error") : c.reason
        if !c.message.isEmpty { t.message = c.message }
        t.startedAt = c.startedAt.map(Timestamps.format)
        t.finishedAt = c.finishedAt.map(Timestamps.format)
        t.containerID = containerID(c.id)
        return t
    }

    static func status(for spec: Container, initContainer: Bool, _ snap: PodRuntimeSnapshot,
                       defaultWaiting: String) -> KubeAPI.ContainerStatus
    {
        let all = snap.instances(spec.name, initContainer: initContainer)
        let image = spec.image ?? ""
        var s = KubeAPI.ContainerStatus(name: spec.name, state: nil, lastState: KubeAPI.ContainerState(), ready: false,
                                        restartCount: Int32(all.first?.attempt ?? 0), image: image, imageID: "")
        if let cur = all.first {
            s.imageID = cur.imageRef
            s.containerID = containerID(cur.id)
            switch cur.state {
            case .running:
                s.state = KubeAPI.ContainerState(running: ContainerStateRunning(startedAt: cur.startedAt.map(Timestamps.format)))
                let started = snap.started[spec.name] ?? true
                s.started = started
                s.ready = started && (snap.ready[spec.name] ?? true) && !initContainer
            case .exited:
                if let w = snap.waiting[spec.name] {
                    s.state = KubeAPI.ContainerState(waiting: w)
                    s.lastState = KubeAPI.ContainerState(terminated: terminated(cur))
                } else {
                    s.state = KubeAPI.ContainerState(terminated: terminated(cur))
                    if all.count > 1, let prev = all.dropFirst().first(where: { $0.state == .exited }) {
                        s.lastState = KubeAPI.ContainerState(terminated: terminated(prev))
                    }
                }
                s.started = false
            case .created, .unknown:
                s.state = KubeAPI.ContainerState(waiting: snap.waiting[spec.name] ?? ContainerStateWaiting(reason: defaultWaiting))
                s.started = false
            }
            if s.lastState?.terminated == nil, cur.state != .exited, let prev = all.dropFirst().first(where: { $0.state == .exited }) {
                s.lastState = KubeAPI.ContainerState(terminated: terminated(prev))
            }
        } else {
            s.state = KubeAPI.ContainerState(waiting: snap.waiting[spec.name] ?? ContainerStateWaiting(reason: defaultWaiting))
            s.started = false
        }
        return s
    }

    /// Whether every init container has completed successfully (its newest instance exited 0).
    package static func initialized(_ pod: Pod, _ snap: PodRuntimeSnapshot) -> Bool {
        (pod.spec?.initContainers ?? []).allSatisfy { c in
            let cur = snap.instances(c.name, initContainer: true).first
            return cur?.state == .exited && cur?.exitCode == 0
        }
    }

    /// The pod phase from its container statuses (the kubelet's getPhase).
    package static func phase(_ pod: Pod, initialized: Bool, _ statuses: [KubeAPI.ContainerStatus],
                              initStatuses: [KubeAPI.ContainerStatus]) -> String
    {
        let policy = pod.restartPolicy
        if !initialized {
            // A failed init container that will not be retried fails the pod.
            if policy == "Never", initStatuses.contains(where: { ($0.state?.terminated?.exitCode ?? 0) != 0 }) { return "Failed" }
            return "Pending"
        }
        var running = 0, waiting = 0, stopped = 0, succeeded = 0
        for s in statuses {
            if s.state?.running != nil {
                running += 1
            } else if let t = s.state?.terminated {
                stopped += 1
                if t.exitCode == 0 { succeeded += 1 }
            } else if s.state?.waiting != nil {
                if s.lastState?.terminated != nil { stopped += 1 } else { waiting += 1 }
            } else {
                waiting += 1
            }
        }
        if waiting > 0 { return "Pending" }
        if running > 0 { return "Running" }
        if stopped > 0 {
            if policy == "Always" { return "Running" }
            if stopped == succeeded { return "Succeeded" }
            if policy == "Never" { return "Failed" }
            return "Running"
        }
        return "Pending"
    }

    /// The API status. `old` supplies lastTransitionTimes that did not change and PodScheduled.
    package static func build(_ pod: Pod, _ snap: PodRuntimeSnapshot, now: Date = Date()) -> PodStatus {
        let old = pod.status
        var st = PodStatus()
        if let reason = snap.failedReason {
            st = old ?? PodStatus()
            st.phase = "Failed"
            st.reason = reason
            st.message = snap.failedMessage
            return st
        }
        let isInitialized = initialized(pod, snap)
        let inits = (pod.spec?.initContainers ?? []).map {
            status(for: $0, initContainer: true, snap, defaultWaiting: "PodInitializing")
        }
        let mains = (pod.spec?.containers ?? []).map {
            status(for: $0, initContainer: false, snap, defaultWaiting: isInitialized ? "ContainerCreating" : "PodInitializing")
        }
        st.phase = phase(pod, initialized: isInitialized, mains, initStatuses: inits)
        st.hostIP = snap.hostIP
        st.hostIPs = snap.hostIP.map { [PodIP(ip: $0)] }
        if let ip = snap.podIP {
            st.podIP = ip
            st.podIPs = [PodIP(ip: ip)]
        }
        st.startTime = old?.startTime ?? snap.startTime.map(Timestamps.format) ?? Timestamps.format(now)
        st.initContainerStatuses = inits.isEmpty ? nil : inits
        st.containerStatuses = mains
        st.qosClass = old?.qosClass ?? qosClass(pod)
        let terminal = st.phase == "Succeeded" || st.phase == "Failed"
        let containersReady = !mains.isEmpty && mains.allSatisfy(\.ready) && !terminal
        func cond(_ type: String, _ ok: Bool, reason: String? = nil, message: String? = nil) -> Condition {
            var c = Condition(type: type, status: ok ? "True" : "False", reason: ok ? nil : reason, message: ok ? nil : message)
            let prev = old?.conditions?.first { $0.type == type }
            c.lastTransitionTime = prev?.status == c.status ? (prev?.lastTransitionTime ?? Timestamps.format(now)) : Timestamps.format(now)
            c.lastProbeTime = nil
            return c
        }
        let notReady = mains.filter { !$0.ready }.map(\.name)
        let unready = notReady.isEmpty ? nil : "containers with unready status: [\(notReady.joined(separator: " "))]"
        let pendingInits = inits.filter { $0.state?.terminated?.exitCode != 0 }.map(\.name)
        var conditions = [
            cond("PodReadyToStartContainers", snap.sandboxReady),
            cond("Initialized", isInitialized, reason: "ContainersNotInitialized",
                 message: "containers with incomplete status: [\(pendingInits.joined(separator: " "))]"),
            cond("Ready", containersReady, reason: terminal ? "PodCompleted" : "ContainersNotReady", message: terminal ? nil : unready),
            cond("ContainersReady", containersReady, reason: terminal ? "PodCompleted" : "ContainersNotReady", message: terminal ? nil : unready),
        ]
        if isInitialized && terminal { conditions[1].reason = "PodCompleted" }
        var scheduled = old?.conditions?.first { $0.type == "PodScheduled" } ?? Condition(type: "PodScheduled", status: "True")
        if scheduled.lastTransitionTime == nil { scheduled.lastTransitionTime = Timestamps.format(now) }
        conditions.append(scheduled)
        st.conditions = conditions
        return st
    }

    /// Guaranteed, Burstable or BestEffort from the containers' requests and limits.
    package static func qosClass(_ pod: Pod) -> String {
        let all = (pod.spec?.containers ?? []) + (pod.spec?.initContainers ?? [])
        var anySet = false, guaranteed = true
        for c in all {
            let req = c.resources?.requests ?? [:], lim = c.resources?.limits ?? [:]
            if !req.isEmpty || !lim.isEmpty { anySet = true }
            for r in ["cpu", "memory"] {
                guard let l = lim[r] else { guaranteed = false; continue }
                if let q = req[r], q != l { guaranteed = false }
            }
        }
        if !anySet { return "BestEffort" }
        return guaranteed ? "Guaranteed" : "Burstable"
    }
}
