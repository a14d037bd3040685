import Foundation
import KubeAPI
import Logging

/// Jobs: runs up to `parallelism` pods until `completions` succeed, counting failures against
/// `backoffLimit` and time against `activeDeadlineSeconds`; ends with the Complete or Failed
/// condition (after SuccessCriteriaMet / FailureTarget, as Kubernetes 1.31+ reports them).
public struct JobController: Controller {
    public static let name = "job"
    let ctx: ControllerContext
    let recorder: EventRecorder
    let jobs: Informer<Job>
    let pods: Informer<Pod>
    let queue = WorkQueue<String>()
    let expectations = Expectations()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        recorder = ctx.makeRecorder("job-controller")
        jobs = ctx.informers.informer(Job.self)
        pods = ctx.informers.informer(Pod.self)
    }

    func register() async {
        let queue = self.queue, expectations = self.expectations
        await jobs.addHandler { e in
            switch e {
            case .added(let j), .updated(_, let j): await queue.add(queueKey(j))
            case .deleted(let j): await expectations.forget(queueKey(j)); await queue.add(queueKey(j))
            }
        }
        await pods.addHandler { e in
            guard let k = controllerKey(of: e.object, kind: "Job") else { return }
            if case .added = e { await expectations.creationObserved(k) }
            await queue.add(k)
        }
    }

    static func finished(_ j: Job) -> Bool {
        (j.status?.conditions ?? []).contains { ($0.type == "Complete" || $0.type == "Failed") && $0.status == "True" }
    }

    func sync(_ key: String) async throws {
        let (ns, name) = splitKey(key)
        guard let job = await jobs.get(namespace: ns, name: name), let spec = job.spec else { return }
        let uid = job.metadata.uid ?? ""
        let selector: LabelSelectorExpr = (try? spec.selector.map { try LabelSelectorExpr($0) } ?? nil)
            ?? (try? LabelSelectorExpr(parsing: "batch.kubernetes.io/controller-uid=\(uid)")) ?? .everything
        let owned = await claimPods(job, selector: selector, pods: pods, client: ctx.client)
        let active = owned.filter(\.isActive)
        let succeeded = Int32(owned.filter { $0.phase == "Succeeded" }.count)
        let failed = Int32(owned.filter { $0.phase == "Failed" }.count)
        var st = job.status ?? JobStatus()
        let now = KubeTime.now()
        if st.startTime == nil && spec.suspend != true { st.startTime = now }
        var conds = st.conditions ?? []
        func addCondition(_ type: String, _ reason: String, _ message: String) {
            guard !conds.contains(where: { $0.type == type }) else { return }
            var c = Condition(type: type, status: "True", reason: reason, message: message)
            c.lastProbeTime = now
            c.lastTransitionTime = now
            conds.append(c)
        }
        if !Self.finished(job) {
            let completions = spec.completions
            let parallelism = Int(spec.parallelism ?? 1)
            let backoffLimit = spec.backoffLimit ?? 6
            var failure: (String, String)? = nil
            if failed > backoffLimit {
                failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
            } else if let deadline = spec.activeDeadlineSeconds, let start = KubeTime.parse(st.startTime),
                      Date().timeIntervalSince(start) >= Double(deadline)
            {
                failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
            } else if let deadline = spec.activeDeadlineSeconds, let start = KubeTime.parse(st.startTime) {
                queue.add(key, after: .seconds(max(0.1, Double(deadline) - Date().timeIntervalSince(start) + 0.1)))
            }
            let complete = completions.map { succeeded >= $0 } ?? (succeeded > 0 && active.isEmpty)
            if let (reason, message) = failure {
                for p in active { try? await ctx.client.delete(Pod.self, namespace: ns, name: p.name, uid: p.metadata.uid) }
                addCondition("FailureTarget", reason, message)
                addCondition("Failed", reason, message)
                recorder.event(job, type: EventRecorder.warning, reason: reason, message: message)
            } else if complete {
                addCondition("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods")
                addCondition("Complete", "CompletionsReached", "Reached expected number of succeeded pods")
                st.completionTime = now
                recorder.event(job, reason: "Completed", message: "Job completed")
            } else if spec.suspend != true, await expectations.satisfied(key) {
                let want: Int
                if let completions { want = min(parallelism, Int(completions - succeeded)) }
                else { want = succeeded > 0 ? 0 : parallelism }
                if active.count < want {
                    let n = want - active.count
                    await expectations.expect(key, creations: n)
                    var labels = ["batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": job.name,
                                  "controller-uid": uid, "job-name": job.name]
                    for (k, v) in spec.template.metadata?.labels ?? [:] { labels[k] = v }
                    for _ in 0..<n {
                        do {
                            let p = try await ctx.client.create(podFromTemplate(spec.template, namespace: ns, owner: controllerReference(job),
                                                                                generateName: job.name + "-", extraLabels: labels))
                            recorder.event(job, reason: "SuccessfulCreate", message: "Created pod: \(p.name)")
                        } catch {
                            await expectations.creationFailed(key)
                            recorder.event(job, type: EventRecorder.warning, reason: "FailedCreate", message: "Error creating: \(error)")
                        }
                    }
                } else if active.count > want {
                    for p in ReplicaSetController.deletionOrder(active).prefix(active.count - want) {
                        try? await ctx.client.delete(Pod.self, namespace: ns, name: p.name, uid: p.metadata.uid)
                        recorder.event(job, reason: "SuccessfulDelete", message: "Deleted pod: \(p.name)")
                    }
                }
            }
        }
        st.conditions = conds.isEmpty ? nil : conds
        st.active = Int32(Self.finished(job) || conds.contains { $0.type == "Failed" || $0.type == "Complete" } ? 0 : active.count)
        st.succeeded = succeeded
        st.failed = failed
        st.ready = Int32(active.filter(\.isReady).count)
        st.terminating = Int32(owned.filter(\.isTerminating).count)
        if st != job.status {
            var next = job
            next.status = st
            do { _ = try await ctx.client.updateStatus(next) } catch where isNotFound(error) {}
        }
    }
}
