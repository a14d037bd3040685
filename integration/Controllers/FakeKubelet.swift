import Foundation
import KubeAPI
import TestSupport

/// Stands in for node agents in controller tests: pods the controllers create are made
/// Running and Ready (or Succeeded/Failed for jobs) through the status subresource, after
/// `delay`, the way a kubelet would report them. It records the order it first saw pods in.
actor FakeKubelet {
    enum Outcome: Sendable { case ready, succeeded, failed }
    let client: APIClient
    let namespace: String
    let delay: Duration
    var outcome: @Sendable (Pod) -> Outcome? = { _ in .ready }
    private(set) var seen: [String] = []
    private(set) var seenUIDs: [String: String] = [:]
    /// Pod names in the order they were deleted or got a deletionTimestamp.
    private(set) var deleted: [String] = []
    private var task: Task<Void, Never>?
    private var ip = 1

    init(client: APIClient, namespace: String, delay: Duration = .milliseconds(200)) {
        self.client = client
        self.namespace = namespace
        self.delay = delay
    }

    func setOutcome(_ f: @escaping @Sendable (Pod) -> Outcome?) { outcome = f }

    func start() async {
        // the order of creations and deletions, from the server's own event stream
        let rv = (try? await client.list(Pod.self, namespace: namespace).metadata?.resourceVersion) ?? "0"
        let client = self.client, namespace = self.namespace
        watcher = Task { [weak self] in
            guard let stream = try? await client.watch(Pod.self, namespace: namespace, resourceVersion: rv, timeoutSeconds: 240) else { return }
            do {
                for try await ev in stream {
                    guard let p = try? JSONValueDecoder().decode(Pod.self, from: ev.object) else { continue }
                    await self?.observe(type: ev.type, p)
                }
            } catch {}
        }
        task = Task { [weak self] in
            let deadline = ContinuousClock.now + .seconds(240)
            while !Task.isCancelled, ContinuousClock.now < deadline {
                await self?.tick()
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    func stop() {
        task?.cancel()
        watcher?.cancel()
    }

    private var watcher: Task<Void, Never>?
    private var markedDeleted: Set<String> = []

    private func observe(type: String, _ p: Pod) {
        let uid = p.metadata.uid ?? ""
        if type == "ADDED", seenUIDs[uid] == nil {
            seenUIDs[uid] = p.name
            seen.append(p.name)
        }
        if type == "DELETED" || p.metadata.deletionTimestamp != nil, !markedDeleted.contains(uid) {
            markedDeleted.insert(uid)
            deleted.append(p.name)
        }
    }

    private var pendingSince: [String: ContinuousClock.Instant] = [:]

    func tick() async {
        guard let list = try? await client.list(Pod.self, namespace: namespace) else { return }
        for p in list.items {
            let uid = p.metadata.uid ?? ""
            guard p.metadata.deletionTimestamp == nil, p.status?.phase == nil || p.status?.phase == "Pending",
                  let what = outcome(p) else { continue }
            let since = pendingSince[uid] ?? .now
            pendingSince[uid] = since
            guard ContinuousClock.now - since >= delay else { continue }
            var next = p
            var st = p.status ?? PodStatus()
            let now = KubeTime.now()
            switch what {
            case .ready:
                st.phase = "Running"
                st.podIP = "10.244.0.\(ip)"
                ip += 1
                var c = Condition(type: "Ready", status: "True")
                c.lastTransitionTime = now
                st.conditions = [c]
            case .succeeded: st.phase = "Succeeded"
            case .failed: st.phase = "Failed"
            }
            st.startTime = now
            next.status = st
            _ = try? await client.updateStatus(next)
        }
    }

    /// Deleted pod names, in order.
    var deletedNames: [String] { deleted }
}

/// Runs kubectl against the harness and fails the test on a non-zero exit. The wait happens
/// on a dispatch thread, never on one of the few cooperative threads: the fake kubelet and the
/// test's own async polling need those meanwhile (a blocked pool starved a rollout for 90 s).
@discardableResult
func kubectl(_ h: ServerHarness, _ args: String..., stdin: String? = nil, timeout: TimeInterval = 60) async throws -> String {
    let r = try await withCheckedThrowingContinuation { (c: CheckedContinuation<CommandResult, any Error>) in
        DispatchQueue.global().async { c.resume(with: Result { try h.kubectl(args: args, stdin: stdin, timeout: timeout) }) }
    }
    guard r.ok else { throw KubectlFailed(args: args, result: r) }
    return r.stdout
}

struct KubectlFailed: Error, CustomStringConvertible {
    var args: [String]
    var result: CommandResult
    var description: String { "kubectl \(args.joined(separator: " ")) failed: \(result)" }
}

/// Polls `condition` (async) until true or `timeout`.
func until(_ timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async -> Bool {
    let end = ContinuousClock.now + timeout
    while ContinuousClock.now < end {
        if (try? await condition()) == true { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return (try? await condition()) == true
}
