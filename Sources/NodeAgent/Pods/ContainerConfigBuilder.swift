import Foundation
package import KubeAPI
package import Runtime

/// A container the agent cannot build a runtime config for (CreateContainerConfigError).
package struct ContainerConfigError: Error, CustomStringConvertible, Sendable {
    package var message: String
    package var description: String { message }
}

/// Turns a pod's container spec into the runtime's `ContainerConfig`: command, env (with
/// valueFrom), mounts, resources, security context, labels and the CRI log path.
package struct ContainerConfigBuilder: Sendable {
    package var objects: any ObjectSource
    package var nodeName: String
    /// On cgroup v2 the kubelet (singleProcessOOMKill off, its default) asks the runtime for
    /// `memory.oom.group=1`: an OOM kill takes the whole container, not one of its processes.
    package var cgroupV2: Bool

    package init(objects: any ObjectSource, nodeName: String, cgroupV2: Bool = CgroupDriverKind.detect() == .v2) {
        self.objects = objects
        self.nodeName = nodeName
        self.cgroupV2 = cgroupV2
    }

    package func build(_ pod: Pod, _ c: Container, attempt: Int, initContainer: Bool, volumes: [String: String],
                       podIP: String?, hostIP: String?) async throws -> ContainerConfig
    {
        var cfg = ContainerConfig(name: c.name, image: c.image ?? "")
        cfg.attempt = UInt32(attempt)
        cfg.command = c.command ?? []
        cfg.args = c.args ?? []
        cfg.workingDir = c.workingDir ?? ""
        cfg.stdin = c.stdin ?? false
        cfg.stdinOnce = c.stdinOnce ?? false
        cfg.tty = c.tty ?? false
        cfg.logPath = "\(c.name)/\(attempt).log"
        cfg.labels = RuntimeLabels.pod(pod).merging([
            RuntimeLabels.containerName: c.name, RuntimeLabels.containerKind: initContainer ? "init" : "regular",
        ]) { $1 }
        cfg.annotations = [RuntimeLabels.restartCount: String(attempt),
                           RuntimeLabels.terminationGracePeriod: String(pod.spec?.terminationGracePeriodSeconds ?? 30)]
        cfg.envs = try await env(pod, c, podIP: podIP, hostIP: hostIP)
        for m in c.volumeMounts ?? [] {
            guard var host = volumes[m.name] else {
                throw ContainerConfigError(message: "cannot find volume \"\(m.name)\" to mount into container \"\(c.name)\"")
            }
            if let sub = m.subPath, !sub.isEmpty {
                guard !sub.hasPrefix("/"), !sub.split(separator: "/").contains("..") else {
                    throw ContainerConfigError(message: "subPath \(sub) must be a relative path without ..")
                }
                host += "/" + sub
                if !FileManager.default.fileExists(atPath: host) {
                    try? FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
                }
            }
            let prop: MountSpec.Propagation = m.mountPropagation == "Bidirectional" ? .bidirectional
                : m.mountPropagation == "HostToContainer" ? .hostToContainer : .private
            cfg.mounts.append(MountSpec(containerPath: m.mountPath, hostPath: host, readonly: m.readOnly ?? false, propagation: prop))
        }
        cfg.resources = Self.resources(c.resources)
        if cgroupV2 { cfg.resources.unified = ["memory.oom.group": "1"] }
        cfg.security = Self.security(pod.spec?.securityContext, c.securityContext)
        return cfg
    }

    /// CPU shares/quota and the memory limit from requests and limits (cgroup v1 semantics).
    package static func resources(_ r: ResourceRequirements?) -> LinuxResources {
        var out = LinuxResources()
        let cpuReq = r?.requests?["cpu"] ?? r?.limits?["cpu"]
        out.cpuShares = shares(milliCPU: cpuReq?.milliValue ?? 2)
        if let l = r?.limits?["cpu"] {
            out.cpuPeriod = quotaPeriod
            out.cpuQuota = quota(milliCPU: l.milliValue)
        }
        if let m = r?.limits?["memory"] { out.memoryLimitBytes = m.value }
        return out
    }

    /// The kubelet's MilliCPUToShares: 1024 shares per CPU, at least 2.
    static func shares(milliCPU: Int64) -> Int64 { max(2, milliCPU * 1024 / 1000) }

    /// The CFS period the kubelet uses, and its MilliCPUToQuota: the CPU's share of it, at
    /// least 1 ms.
    static let quotaPeriod: Int64 = 100_000
    static func quota(milliCPU: Int64) -> Int64 { max(1000, milliCPU * quotaPeriod / 1000) }

    /// The pod cgroup's limits as the kubelet sets them (ResourceConfigForPod): shares from
    /// the pod's effective CPU request (the larger of the app containers' sum and any init
    /// container's; 2 for BestEffort), and a CPU quota and memory limit only when every
    /// container has that limit (the same effective sum).
    package static func podResources(_ pod: Pod) -> LinuxResources {
        let apps = pod.spec?.containers ?? [], inits = pod.spec?.initContainers ?? []
        let all = apps + inits
        func effective(_ value: (Container) -> Int64?) -> Int64? {
            var sum: Int64 = 0
            for c in apps { guard let v = value(c) else { return nil }; sum += v }
            var top = sum
            for c in inits { guard let v = value(c) else { return nil }; top = max(top, v) }
            return top
        }
        let cpuRequest = effective { ($0.resources?.requests?["cpu"] ?? $0.resources?.limits?["cpu"])?.milliValue ?? 0 } ?? 0
        let hasAny = all.contains { !($0.resources?.requests ?? [:]).isEmpty || !($0.resources?.limits ?? [:]).isEmpty }
        guard hasAny else { return LinuxResources(cpuShares: 2) }  // BestEffort
        var out = LinuxResources()
        out.cpuShares = shares(milliCPU: cpuRequest)
        if let cpuLimit = effective({ $0.resources?.limits?["cpu"]?.milliValue }) {
            out.cpuPeriod = quotaPeriod
            out.cpuQuota = quota(milliCPU: cpuLimit)
        }
        if let mem = effective({ $0.resources?.limits?["memory"]?.value }) { out.memoryLimitBytes = mem }
        return out
    }

    package static func security(_ pod: PodSecurityContext?, _ c: KubeAPI.SecurityContext?) -> Runtime.SecurityContext {
        var s = Runtime.SecurityContext()
        s.privileged = c?.privileged ?? false
        s.addCapabilities = c?.capabilities?.add ?? []
        s.dropCapabilities = c?.capabilities?.drop ?? []
        s.runAsUser = (c?.runAsUser ?? pod?.runAsUser).map { UInt32($0) }
        s.runAsGroup = (c?.runAsGroup ?? pod?.runAsGroup).map { UInt32($0) }
        s.runAsNonRoot = c?.runAsNonRoot ?? pod?.runAsNonRoot ?? false
        s.supplementalGroups = (pod?.supplementalGroups ?? []).map { UInt32($0) }
        s.readonlyRootfs = c?.readOnlyRootFilesystem ?? false
        s.noNewPrivs = c?.allowPrivilegeEscalation == false
        switch (c?.seccompProfile ?? pod?.seccompProfile)?.type {
        case "Unconfined": s.seccomp = .unconfined
        case "Localhost": s.seccomp = .localhost((c?.seccompProfile ?? pod?.seccompProfile)?.localhostProfile ?? "")
        default: s.seccomp = .unconfined  // kubelet default without seccompDefault: Unconfined
        }
        return s
    }

    func env(_ pod: Pod, _ c: Container, podIP: String?, hostIP: String?) async throws -> [KeyValue] {
        let ns = pod.namespace ?? "default"
        var out: [KeyValue] = []
        var seen: [String: Int] = [:]
        func put(_ k: String, _ v: String) {
            if let i = seen[k] { out[i] = KeyValue(k, v) } else { seen[k] = out.count; out.append(KeyValue(k, v)) }
        }
        for src in c.envFrom ?? [] {
            let prefix = src["prefix"]?.stringValue ?? ""
            if let ref = src["configMapRef"], let name = ref["name"]?.stringValue {
                guard let cm = try await objects.configMap(namespace: ns, name: name) else {
                    if ref["optional"]?.boolValue == true { continue }
                    throw ContainerConfigError(message: "configmap \"\(name)\" not found")
                }
                for (k, v) in (cm.data ?? [:]).sorted(by: { $0.key < $1.key }) { put(prefix + k, v) }
            }
            if let ref = src["secretRef"], let name = ref["name"]?.stringValue {
                guard let s = try await objects.secret(namespace: ns, name: name) else {
                    if ref["optional"]?.boolValue == true { continue }
                    throw ContainerConfigError(message: "secret \"\(name)\" not found")
                }
                for (k, v) in (s.data ?? [:]).sorted(by: { $0.key < $1.key }) {
                    put(prefix + k, String(decoding: Data(base64Encoded: v) ?? Data(), as: UTF8.self))
                }
            }
        }
        for e in c.env ?? [] {
            if let v = e.value { put(e.name, expand(v, out)); continue }
            guard let from = e.valueFrom else { put(e.name, ""); continue }
            if let f = from.fieldRef?["fieldPath"]?.stringValue {
                do {
                    put(e.name, try DownwardAPI.field(f, pod, forVolume: false, nodeName: nodeName, podIP: podIP, hostIP: hostIP))
                } catch let err as DownwardAPI.FieldError { throw ContainerConfigError(message: err.message) }
            } else if let ref = from.configMapKeyRef, let name = ref["name"]?.stringValue, let key = ref["key"]?.stringValue {
                let optional = ref["optional"]?.boolValue ?? false
                guard let cm = try await objects.configMap(namespace: ns, name: name) else {
                    if optional { continue }
                    throw ContainerConfigError(message: "configmap \"\(name)\" not found")
                }
                guard let v = cm.data?[key] else {
                    if optional { continue }
                    throw ContainerConfigError(message: "couldn't find key \(key) in ConfigMap \(ns)/\(name)")
                }
                put(e.name, v)
            } else if let ref = from.secretKeyRef, let name = ref["name"]?.stringValue, let key = ref["key"]?.stringValue {
                let optional = ref["optional"]?.boolValue ?? false
                guard let s = try await objects.secret(namespace: ns, name: name) else {
                    if optional { continue }
                    throw ContainerConfigError(message: "secret \"\(name)\" not found")
                }
                guard let b = s.data?[key] else {
                    if optional { continue }
                    throw ContainerConfigError(message: "couldn't find key \(key) in Secret \(ns)/\(name)")
                }
                put(e.name, String(decoding: Data(base64Encoded: b) ?? Data(), as: UTF8.self))
            } else if let rf = from.resourceFieldRef, let res = rf["resource"]?.stringValue {
                do {
                    put(e.name, try DownwardAPI.resource(res, divisor: rf["divisor"]?.stringValue, container: c))
                } catch let err as DownwardAPI.FieldError { throw ContainerConfigError(message: err.message) }
            }
        }
        return out
    }

    /// `$(VAR)` expansion against earlier variables; `$$` escapes.
    func expand(_ s: String, _ env: [KeyValue]) -> String {
        guard s.contains("$(") else { return s }
        var out = "", i = s.startIndex
        while i < s.endIndex {
            if s[i] == "$", s.index(after: i) < s.endIndex {
                let n = s.index(after: i)
                if s[n] == "$" { out.append("$"); i = s.index(after: n); continue }
                if s[n] == "(", let close = s[n...].firstIndex(of: ")") {
                    let name = String(s[s.index(after: n)..<close])
                    if let v = env.last(where: { $0.key == name }) { out += v.value } else { out += "$(\(name))" }
                    i = s.index(after: close)
                    continue
                }
            }
            out.append(s[i])
            i = s.index(after: i)
        }
        return out
    }
}
