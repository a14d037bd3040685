import Foundation
import TestSupport

/// A real `swiftlet server` with fake nodes (Node objects with capacity, no agent) and one or
/// more `swiftlet scheduler` processes against it. Everything is stopped by pid and removed when
/// the harness goes away.
final class SchedulerScenario: @unchecked Sendable {
    let server: ServerHarness
    var schedulers: [BackgroundProcess] = []

    init(_ name: String) throws {
        // only the scheduler processes under test schedule: no in-process scheduler or controllers
        server = try ServerHarness(name: name, extraArgs: ["--disable-scheduler", "--disable-controller-manager"])
    }

    @discardableResult
    func startScheduler(leaderElect: Bool = false, identity: String? = nil, leaseDuration: String = "15s",
                        renewDeadline: String = "10s", retryPeriod: String = "2s") throws -> BackgroundProcess
    {
        var args = ["scheduler", "--server", server.baseURL, "--leader-elect=\(leaderElect)", "--log-level", "info",
                    "--leader-elect-lease-duration", leaseDuration, "--leader-elect-renew-deadline", renewDeadline,
                    "--leader-elect-retry-period", retryPeriod]
        if let identity { args += ["--identity", identity] }
        let p = try BackgroundProcess(TestPaths.binary("swiftlet"), args)
        schedulers.append(p)
        return p
    }

    func kubectl(_ args: String..., stdin: String? = nil) throws -> CommandResult {
        try server.kubectl(args: args, stdin: stdin)
    }

    /// A fake node: capacity and allocatable, hostname label, optional taints/labels/extended resources.
    func addNode(_ name: String, cpu: String = "4", memory: String = "8Gi", pods: Int = 110, labels: [String: String] = [:],
                 taints: [(key: String, value: String, effect: String)] = [], extra: [String: String] = [:]) throws
    {
        var l = labels
        l["kubernetes.io/hostname"] = name
        let labelYAML = l.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ")
        var res = "cpu: \"\(cpu)\", memory: \"\(memory)\", pods: \"\(pods)\""
        for (k, v) in extra { res += ", \"\(k)\": \"\(v)\"" }
        let taintYAML = taints.map { "{key: \"\($0.key)\", value: \"\($0.value)\", effect: \($0.effect)}" }.joined(separator: ", ")
        let yaml = """
            apiVersion: v1
            kind: Node
            metadata: {name: \(name), labels: {\(labelYAML)}}
            spec: {taints: [\(taintYAML)]}
            status:
              capacity: {\(res)}
              allocatable: {\(res)}
              conditions: [{type: Ready, status: "True", reason: KubeletReady, message: "fake node"}]
            """
        let r = try kubectl("create", "-f", "-", stdin: yaml)
        if !r.ok { throw ScenarioError.kubectl(r.description) }
    }

    func apply(_ yaml: String) throws {
        let r = try kubectl("apply", "-f", "-", stdin: yaml)
        if !r.ok { throw ScenarioError.kubectl(r.description) }
    }

    /// A pod manifest; `extra` lines go under `spec:` (indented by the caller's two spaces).
    static func pod(_ name: String, ns: String = "default", cpu: String? = nil, labels: String = "{app: test}", spec extra: String = "",
                    resources: String? = nil) -> String
    {
        let res = resources ?? (cpu.map { "resources: {requests: {cpu: \"\($0)\"}}" } ?? "")
        return """
            apiVersion: v1
            kind: Pod
            metadata: {name: \(name), namespace: \(ns), labels: \(labels)}
            spec:
              terminationGracePeriodSeconds: 0
              containers: [{name: c, image: "busybox:1.36", command: [sleep, "3600"], \(res)}]
            \(extra)
            """
    }

    func nodeOf(_ pod: String, ns: String = "default") -> String {
        let r = try? kubectl("get", "pod", pod, "-n", ns, "-o", "jsonpath={.spec.nodeName}")
        return r?.ok == true ? r!.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : ""
    }

    /// Waits until every pod has a node; returns pod → node.
    func waitBound(_ pods: [String], ns: String = "default", timeout: TimeInterval = 30) -> [String: String] {
        var out: [String: String] = [:]
        _ = eventually(timeout: timeout, interval: 0.2) {
            for p in pods where out[p] == nil {
                let n = nodeOf(p, ns: ns)
                if !n.isEmpty { out[p] = n }
            }
            return out.count == pods.count
        }
        return out
    }

    func jsonpath(_ kind: String, _ name: String, _ path: String, ns: String = "default") -> String {
        let r = try? kubectl("get", kind, name, "-n", ns, "-o", "jsonpath=\(path)")
        return r?.stdout ?? ""
    }

    /// Messages of events with `reason` about `pod`.
    func events(for pod: String, reason: String, ns: String = "default") -> [String] {
        let r = try? kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.name=\(pod),reason=\(reason)",
                             "-o", "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}")
        return (r?.stdout ?? "").split(separator: "\n").map(String.init)
    }

    deinit {
        for s in schedulers { s.stop(SIGKILL) }
    }
}

enum ScenarioError: Error, CustomStringConvertible {
    case kubectl(String)
    var description: String {
        switch self {
        case .kubectl(let s): return "kubectl failed: \(s)"
        }
    }
}
