package import Foundation

/// crictl's JSON config files (snake_case CRI field names) → runtime requests.
package enum CRIJSON {
    private static func object(_ data: Data, _ what: String) throws -> [String: Any] {
        guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw RuntimeError(.invalidArgument, "\(what): not a JSON object")
        }
        return o
    }

    private static func int(_ v: Any?) -> Int64? { (v as? NSNumber)?.int64Value ?? (v as? String).flatMap { Int64($0) } }

    /// PodSandboxConfig: metadata, hostname, log_directory, dns_config, labels, annotations,
    /// linux.cgroup_parent, linux.security_context.namespace_options (NODE = 2).
    package static func podSandboxConfig(_ data: Data) throws -> PodSandboxConfig {
        let o = try object(data, "pod sandbox config")
        let m = o["metadata"] as? [String: Any] ?? [:]
        guard let name = m["name"] as? String, let ns = m["namespace"] as? String else {
            throw RuntimeError(.invalidArgument, "pod sandbox config: metadata.name and metadata.namespace are required")
        }
        var c = PodSandboxConfig(name: name, namespace: ns, uid: m["uid"] as? String ?? "\(ns)-\(name)")
        c.attempt = UInt32(int(m["attempt"]) ?? 0)
        c.hostname = o["hostname"] as? String ?? ""
        c.logDirectory = o["log_directory"] as? String ?? ""
        let dns = o["dns_config"] as? [String: Any] ?? [:]
        c.dnsServers = dns["servers"] as? [String] ?? []
        c.dnsSearches = dns["searches"] as? [String] ?? []
        c.dnsOptions = dns["options"] as? [String] ?? []
        c.labels = o["labels"] as? [String: String] ?? [:]
        c.annotations = o["annotations"] as? [String: String] ?? [:]
        let linux = o["linux"] as? [String: Any] ?? [:]
        c.cgroupParent = linux["cgroup_parent"] as? String ?? ""
        if let r = linux["resources"] as? [String: Any], !r.isEmpty { c.resources = resources(r) }
        let nsOpts = (linux["security_context"] as? [String: Any])?["namespace_options"] as? [String: Any] ?? [:]
        c.hostNetwork = int(nsOpts["network"]) == 2
        c.hostPID = int(nsOpts["pid"]) == 2
        c.hostIPC = int(nsOpts["ipc"]) == 2
        c.shareProcessNamespace = int(nsOpts["pid"]) == 0 && nsOpts["pid"] != nil
        return c
    }

    /// LinuxContainerResources (a container's, or the pod's in LinuxPodSandboxConfig).
    static func resources(_ r: [String: Any]) -> LinuxResources {
        var out = LinuxResources(
            cpuShares: int(r["cpu_shares"]), cpuQuota: int(r["cpu_quota"]), cpuPeriod: int(r["cpu_period"]),
            memoryLimitBytes: int(r["memory_limit_in_bytes"]), pidsLimit: int(r["pids_limit"]),
            cpusetCpus: r["cpuset_cpus"] as? String, cpusetMems: r["cpuset_mems"] as? String,
            oomScoreAdj: int(r["oom_score_adj"]).map { Int($0) })
        if let u = r["unified"] as? [String: String], !u.isEmpty { out.unified = u }
        return out
    }

    /// ContainerConfig: metadata, image, command, args, working_dir, envs, mounts, log_path,
    /// linux.resources, linux.security_context.
    package static func containerConfig(_ data: Data) throws -> ContainerConfig {
        let o = try object(data, "container config")
        guard let name = (o["metadata"] as? [String: Any])?["name"] as? String else {
            throw RuntimeError(.invalidArgument, "container config: metadata.name is required")
        }
        guard let image = (o["image"] as? [String: Any])?["image"] as? String else {
            throw RuntimeError(.invalidArgument, "container config: image.image is required")
        }
        var c = ContainerConfig(name: name, image: image)
        c.attempt = UInt32(int((o["metadata"] as? [String: Any])?["attempt"]) ?? 0)
        c.command = o["command"] as? [String] ?? []
        c.args = o["args"] as? [String] ?? []
        c.workingDir = o["working_dir"] as? String ?? ""
        c.envs = (o["envs"] as? [[String: Any]] ?? []).compactMap { e in
            (e["key"] as? String).map { KeyValue($0, e["value"] as? String ?? "") }
        }
        c.mounts = (o["mounts"] as? [[String: Any]] ?? []).compactMap { m in
            guard let cp = m["container_path"] as? String, let hp = m["host_path"] as? String else { return nil }
            let prop: MountSpec.Propagation = int(m["propagation"]) == 2 ? .bidirectional : int(m["propagation"]) == 1 ? .hostToContainer : .private
            return MountSpec(containerPath: cp, hostPath: hp, readonly: m["readonly"] as? Bool ?? false, propagation: prop)
        }
        c.labels = o["labels"] as? [String: String] ?? [:]
        c.annotations = o["annotations"] as? [String: String] ?? [:]
        c.logPath = o["log_path"] as? String ?? ""
        c.stdin = o["stdin"] as? Bool ?? false
        c.stdinOnce = o["stdin_once"] as? Bool ?? false
        c.tty = o["tty"] as? Bool ?? false
        let linux = o["linux"] as? [String: Any] ?? [:]
        c.resources = resources(linux["resources"] as? [String: Any] ?? [:])
        let s = linux["security_context"] as? [String: Any] ?? [:]
        c.security.privileged = s["privileged"] as? Bool ?? false
        let caps = s["capabilities"] as? [String: Any] ?? [:]
        c.security.addCapabilities = caps["add_capabilities"] as? [String] ?? []
        c.security.dropCapabilities = caps["drop_capabilities"] as? [String] ?? []
        c.security.runAsUser = int((s["run_as_user"] as? [String: Any])?["value"]).map { UInt32($0) }
        c.security.runAsGroup = int((s["run_as_group"] as? [String: Any])?["value"]).map { UInt32($0) }
        c.security.runAsUsername = s["run_as_username"] as? String
        c.security.runAsNonRoot = s["run_as_non_root"] as? Bool ?? false
        c.security.supplementalGroups = (s["supplemental_groups"] as? [Any] ?? []).compactMap { int($0).map { UInt32($0) } }
        c.security.readonlyRootfs = s["readonly_rootfs"] as? Bool ?? false
        c.security.noNewPrivs = s["no_new_privs"] as? Bool ?? false
        if let sc = s["seccomp"] as? [String: Any] {
            switch int(sc["profile_type"]) ?? 0 {
            case 1: c.security.seccomp = .unconfined
            case 2: c.security.seccomp = .localhost(sc["localhost_ref"] as? String ?? "")
            default: c.security.seccomp = .runtimeDefault
            }
        }
        return c
    }
}
