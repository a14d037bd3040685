import Foundation
package import KubeAPI
package import Runtime

package enum ProbeKind: String, Sendable {
    case liveness = "Liveness", readiness = "Readiness", startup = "Startup"
}

/// Runs one probe once: HTTP GET, TCP socket, exec (through the runtime) or gRPC health, with its timeout.
package struct Prober: Sendable {
    package var runtime: any ContainerRuntime

    package init(runtime: any ContainerRuntime) { self.runtime = runtime }

    /// Resolves a named port against the container's ports.
    static func port(_ p: IntOrString, _ container: Container) -> Int? {
        switch p {
        case .int(let n): return Int(n)
        case .string(let s):
            if let n = Int(s) { return n }
            return container.ports?.first { $0.name == s }.map { Int($0.containerPort) }
        }
    }

    package func run(_ probe: Probe, container: Container, containerID: String, podIP: String?) async -> NetProbe.Outcome {
        let timeout = TimeInterval(max(probe.timeoutSeconds ?? 1, 1))
        if let h = probe.httpGet {
            guard let port = Self.port(h.port, container) else { return .failure("unknown port \(h.port) in HTTP probe") }
            guard let host = h.host ?? podIP else { return .failure("pod has no IP for the HTTP probe") }
            return await NetProbe.httpGet(scheme: h.scheme ?? "HTTP", host: host, port: port, path: h.path ?? "/",
                                          headers: (h.httpHeaders ?? []).map { ($0.name, $0.value) }, timeout: timeout)
        }
        if let t = probe.tcpSocket {
            guard let port = Self.port(t.port, container) else { return .failure("unknown port \(t.port) in TCP probe") }
            guard let host = t.host ?? podIP else { return .failure("pod has no IP for the TCP probe") }
            return await NetProbe.tcp(host: host, port: port, timeout: timeout)
        }
        if let e = probe.exec {
            do {
                let r = try await runtime.execSync(containerID, cmd: e.command ?? [], timeout: Int(timeout))
                let out = String(decoding: r.stdout + r.stderr, as: UTF8.self)
                return r.exitCode == 0 ? .success(out) : .failure(out.isEmpty ? "command \(String(describing: e.command ?? [])) exited with \(r.exitCode)" : out)
            } catch let err as RuntimeError where err.code == .timeout {
                return .failure("command timed out: \"\((e.command ?? []).joined(separator: " "))\" timed out after \(Int(timeout))s")
            } catch {
                return .failure("\(error)")
            }
        }
        if let g = probe.grpc {
            guard let host = podIP else { return .failure("pod has no IP for the gRPC probe") }
            return await GRPCProbe.check(host: host, port: Int(g.port), service: g.service ?? "", timeout: timeout)
        }
        return .failure("probe has no handler")
    }
}

/// Probe results for the pod workers, and one worker task per (pod, container, probe kind),
/// started when the container runs and replaced when it restarts (the kubelet's prober manager).
package actor ProbeManager {
    struct Key: Hashable {
        var uid: String
        var container: String
        var kind: ProbeKind
    }

    struct Worker {
        var containerID: String
        var task: Task<Void, Never>
    }

    private let prober: Prober
    private let events: any EventSink
    private var workers: [Key: Worker] = [:]
    /// Current results: true = success. Readiness starts false, startup false, liveness true.
    private var results: [Key: Bool] = [:]
    /// Containers whose liveness (or startup) probe failed past its threshold, by container id.
    private var failedContainers: [String: String] = [:]
    private var onChange: @Sendable (String) async -> Void = { _ in }

    package init(prober: Prober, events: any EventSink) {
        self.prober = prober
        self.events = events
    }

    package func setOnChange(_ f: @escaping @Sendable (String) async -> Void) { onChange = f }

    package func ready(uid: String, container: String) -> Bool? { results[Key(uid: uid, container: container, kind: .readiness)] }
    package func started(uid: String, container: String) -> Bool? { results[Key(uid: uid, container: container, kind: .startup)] }
    /// Why a container must be restarted (liveness or startup failure), once.
    package func takeLivenessFailure(containerID: String) -> String? { failedContainers.removeValue(forKey: containerID) }
    package func livenessFailed(containerID: String) -> Bool { failedContainers[containerID] != nil }

    /// Starts or replaces workers for the running containers of `pod`; stops the others.
    package func sync(pod: Pod, podIP: String?, running: [String: Runtime.ContainerStatus]) {
        let uid = pod.uid
        var wanted: Set<Key> = []
        for c in pod.spec?.containers ?? [] {
            for (kind, probe) in [(ProbeKind.startup, c.startupProbe), (.liveness, c.livenessProbe), (.readiness, c.readinessProbe)] {
                guard let probe, let rc = running[c.name] else { continue }
                let key = Key(uid: uid, container: c.name, kind: kind)
                wanted.insert(key)
                if workers[key]?.containerID == rc.id { continue }
                workers[key]?.task.cancel()
                // A container adopted after an agent restart keeps the readiness it had.
                let reported = pod.status?.containerStatuses?.first { $0.name == c.name }
                let adopted = reported?.containerID == PodStatusBuilder.containerID(rc.id)
                switch kind {
                case .liveness: results[key] = true
                case .readiness: results[key] = adopted ? reported?.ready ?? false : false
                case .startup: results[key] = adopted ? reported?.started ?? false : false
                }
                let task = Task<Void, Never> { [weak self] in
                    guard let self else { return }
                    await self.loop(key, probe: probe, container: c, containerID: rc.id, startedAt: rc.startedAt ?? Date(),
                                     podIP: podIP, pod: pod)
                }
                workers[key] = Worker(containerID: rc.id, task: task)
            }
        }
        for (key, w) in workers where key.uid == uid && !wanted.contains(key) {
            w.task.cancel()
            workers[key] = nil
            // A stopped container is not ready; its startup is no longer known.
            if key.kind != .liveness { results[key] = false }
        }
    }

    /// Stops every worker of a pod and forgets its results.
    package func remove(uid: String) {
        for (key, w) in workers where key.uid == uid {
            w.task.cancel()
            workers[key] = nil
        }
        results = results.filter { $0.key.uid != uid }
    }

    private func set(_ key: Key, _ value: Bool) async {
        guard results[key] != value else { return }
        results[key] = value
        await onChange(key.uid)
    }

    private func gate(_ key: Key) -> Bool {
        // Liveness and readiness wait for the startup probe to succeed.
        if key.kind == .startup { return true }
        let s = Key(uid: key.uid, container: key.container, kind: .startup)
        return workers[s] == nil || results[s] == true
    }

    private func loop(_ key: Key, probe: Probe, container: Container, containerID: String, startedAt: Date, podIP: String?,
                      pod: Pod) async
    {
        let period = Double(max(probe.periodSeconds ?? 10, 1))
        let successThreshold = max(Int(probe.successThreshold ?? 1), 1)
        let failureThreshold = max(Int(probe.failureThreshold ?? 3), 1)
        let initial = Double(probe.initialDelaySeconds ?? 0) - Date().timeIntervalSince(startedAt)
        if initial > 0 { try? await Task.sleep(for: .milliseconds(Int(initial * 1000))) }
        var successes = 0, failures = 0
        while !Task.isCancelled {
            if gate(key) {
                let outcome = await prober.run(probe, container: container, containerID: containerID, podIP: podIP)
                if Task.isCancelled { return }
                switch outcome {
                case .success:
                    successes += 1
                    failures = 0
                    if successes >= successThreshold { await set(key, true) }
                    if key.kind == .startup && results[key] == true { return }
                case .failure(let msg):
                    failures += 1
                    successes = 0
                    events.event(pod.ref(container: container.name), type: EventType.warning, reason: EventReason.unhealthy,
                                 message: "\(key.kind.rawValue) probe failed: \(msg.trimmingCharacters(in: .whitespacesAndNewlines))")
                    if failures >= failureThreshold {
                        if key.kind == .readiness {
                            await set(key, false)
                        } else {
                            failedContainers[containerID] = key.kind == .liveness
                                ? "Container \(container.name) failed liveness probe, will be restarted"
                                : "Container \(container.name) failed startup probe, will be restarted"
                            await onChange(key.uid)
                            return
                        }
                    }
                }
            }
            try? await Task.sleep(for: .milliseconds(Int(period * 1000)))
        }
    }
}
