import Foundation
import KubeAPI
import TestSupport
import Testing

/// The controllers inside a real `swiftlet server`, driven by the real kubectl, with pods made
/// Ready by a fake kubelet (no agent, no containers).
@Suite(.serialized, .enabled(if: TestPaths.hasKubectl, "kubectl not installed (scripts/setup.sh installs it)"))
struct ControllerIntegrationTests {
    static func deployment(image: String, replicas: Int = 4) -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: roll}
        spec:
          replicas: \(replicas)
          strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers: [{name: c, image: "\(image)"}]
        """
    }

    @Test func deploymentRollsWithoutDroppingBelowMinimumAvailability() async throws {
        let h = try ServerHarness(name: "ctl-roll")
        defer { h.stop() }
        let client = APIClient(baseURL: h.baseURL)
        try await kubectl(h, "create", "namespace", "roll")
        let kubelet = FakeKubelet(client: client, namespace: "roll")
        await kubelet.start()
        defer { Task { await kubelet.stop() } }
        let watch = try h.kubectlBackground("-n", "roll", "get", "events", "--watch")
        defer { watch.stop() }
        try await kubectl(h, "apply", "-f", "-", stdin: Self.deployment(image: "busybox:1.36"))
        let out = try await kubectl(h, "-n", "roll", "rollout", "status", "deployment/web", "--timeout=60s")
        #expect(out.contains("successfully rolled out"))

        // sample ready pods all through the rollout: never fewer than replicas - maxUnavailable
        let sampler = Task { () -> Int in
            var minReady = Int.max
            let end = ContinuousClock.now + .seconds(90)
            while !Task.isCancelled, ContinuousClock.now < end {
                if let pods = try? await client.list(Pod.self, namespace: "roll") {
                    let ready = pods.items.filter { p in
                        p.metadata.deletionTimestamp == nil && (p.status?.conditions ?? []).contains { $0.type == "Ready" && $0.status == "True" }
                    }.count
                    minReady = min(minReady, ready)
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return minReady
        }
        try await kubectl(h, "-n", "roll", "set", "image", "deployment/web", "c=busybox:1.37")
        let out2 = try await kubectl(h, "-n", "roll", "rollout", "status", "deployment/web", "--timeout=90s", timeout: 100)
        sampler.cancel()
        let minReady = await sampler.value
        #expect(out2.contains("successfully rolled out"))
        #expect(minReady >= 3, "ready pods dropped to \(minReady) during the rollout (replicas 4, maxUnavailable 1)")

        let pods = try await client.list(Pod.self, namespace: "roll").items.filter { $0.metadata.deletionTimestamp == nil }
        #expect(pods.count == 4)
        #expect(pods.allSatisfy { $0.spec?.containers.first?.image == "busybox:1.37" })
        let sets = try await client.list(ReplicaSet.self, namespace: "roll").items
        #expect(sets.count == 2)
        #expect(sets.map { $0.spec?.replicas ?? -1 }.sorted() == [0, 4])
        #expect(Set(sets.compactMap { $0.metadata.annotations?["deployment.kubernetes.io/revision"] }) == ["1", "2"])

        let history = try await kubectl(h, "-n", "roll", "rollout", "history", "deployment/web")
        #expect(history.contains("1") && history.contains("2"))
        try await kubectl(h, "-n", "roll", "rollout", "undo", "deployment/web")
        _ = try await kubectl(h, "-n", "roll", "rollout", "status", "deployment/web", "--timeout=90s", timeout: 100)
        let d = try await client.get(Deployment.self, namespace: "roll", name: "web")
        #expect(d.spec?.template.spec?.containers.first?.image == "busybox:1.36")
        #expect(d.metadata.annotations?["deployment.kubernetes.io/revision"] == "3")
        #expect(d.status?.conditions?.first { $0.type == "Progressing" }?.reason == "NewReplicaSetAvailable")
        #expect(d.status?.conditions?.first { $0.type == "Available" }?.status == "True")

        // what `kubectl get events --watch` printed as it happened: the deployment's chain
        #expect(watch.waitForOutput("Scaled down replica set web-", timeout: 10))
        let watched = watch.output.string
        #expect(watched.contains("ScalingReplicaSet") && watched.contains("deployment/web"))
        #expect(watched.contains("SuccessfulCreate") && watched.contains("replicaset/web-"))
        let events = try await kubectl(h, "-n", "roll", "get", "events", "--sort-by=.lastTimestamp")
        #expect(events.contains("ScalingReplicaSet"))
        #expect(events.range(of: #"Scaled up replica set web-[a-z0-9]+ from 0 to"#, options: .regularExpression) != nil)
        #expect(events.range(of: #"Scaled down replica set web-[a-z0-9]+ from \d+ to \d+"#, options: .regularExpression) != nil)
        #expect(events.contains("SuccessfulCreate") && events.contains("Created pod: web-"))
        #expect(events.contains("SuccessfulDelete"))

        // restart makes a new template revision
        try await kubectl(h, "-n", "roll", "rollout", "restart", "deployment/web")
        _ = try await kubectl(h, "-n", "roll", "rollout", "status", "deployment/web", "--timeout=90s", timeout: 100)
        #expect(try await client.list(ReplicaSet.self, namespace: "roll").items.count == 3)
    }

    @Test func recreateScalesOldToZeroBeforeNew() async throws {
        let h = try ServerHarness(name: "ctl-recreate")
        defer { h.stop() }
        let client = APIClient(baseURL: h.baseURL)
        try await kubectl(h, "create", "namespace", "roll")
        let kubelet = FakeKubelet(client: client, namespace: "roll")
        await kubelet.start()
        defer { Task { await kubelet.stop() } }
        let yaml = Self.deployment(image: "busybox:1.36", replicas: 2)
            .replacingOccurrences(of: "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 1}}", with: "{type: Recreate}")
        try await kubectl(h, "apply", "-f", "-", stdin: yaml)
        _ = try await kubectl(h, "-n", "roll", "rollout", "status", "deployment/web", "--timeout=60s")
        let sampler = Task { () -> Bool in
            // old and new pods must never be alive together
            let end = ContinuousClock.now + .seconds(60)
            while !Task.isCancelled, ContinuousClock.now < end {
                if let pods = try? await client.list(Pod.self, namespace: "roll") {
                    let images = Set(pods.items.compactMap { $0.spec?.containers.first?.image })
                    if images.count > 1 { return false }
                }
                try? await Task.sleep(for: .milliseconds(20))
            }
            return true
        }
        try await kubectl(h, "-n", "roll", "set", "image", "deployment/web", "c=busybox:1.37")
        _ = try await kubectl(h, "-n", "roll", "rollout", "status", "deployment/web", "--timeout=60s", timeout: 70)
        sampler.cancel()
        #expect(await sampler.value, "old and new pods ran at the same time under Recreate")
    }

    @Test func rolloutThatCannotProgressHitsItsDeadline() async throws {
        let h = try ServerHarness(name: "ctl-deadline")
        defer { h.stop() }
        let client = APIClient(baseURL: h.baseURL)
        try await kubectl(h, "create", "namespace", "roll")
        // no kubelet: pods never become ready
        let yaml = Self.deployment(image: "busybox:1.36", replicas: 2).replacingOccurrences(of: "  replicas: 2\n", with: "  replicas: 2\n  progressDeadlineSeconds: 2\n")
        try await kubectl(h, "apply", "-f", "-", stdin: yaml)
        let r = try h.kubectl("-n", "roll", "rollout", "status", "deployment/web", "--timeout=30s", timeout: 40)
        #expect(!r.ok)
        #expect(r.stderr.contains("exceeded its progress deadline"), "\(r)")
        let d = try await client.get(Deployment.self, namespace: "roll", name: "web")
        let p = d.status?.conditions?.first { $0.type == "Progressing" }
        #expect(p?.status == "False" && p?.reason == "ProgressDeadlineExceeded")
        #expect(d.status?.conditions?.first { $0.type == "Available" }?.reason == "MinimumReplicasUnavailable")
    }

    @Test func statefulSetCreatesInOrderAndUpdatesInReverse() async throws {
        let h = try ServerHarness(name: "ctl-sts")
        defer { h.stop() }
        let client = APIClient(baseURL: h.baseURL)
        try await kubectl(h, "create", "namespace", "sts")
        let kubelet = FakeKubelet(client: client, namespace: "sts", delay: .milliseconds(400))
        await kubelet.start()
        defer { Task { await kubelet.stop() } }
        let yaml = """
            apiVersion: apps/v1
            kind: StatefulSet
            metadata: {name: web, namespace: sts}
            spec:
              serviceName: web
              replicas: 3
              selector: {matchLabels: {app: db}}
              template:
                metadata: {labels: {app: db}}
                spec:
                  containers: [{name: c, image: "busybox:1.36"}]
            """
        try await kubectl(h, "apply", "-f", "-", stdin: yaml)
        _ = try await kubectl(h, "-n", "sts", "rollout", "status", "statefulset/web", "--timeout=60s")
        let seen = await kubelet.seen
        #expect(seen == ["web-0", "web-1", "web-2"])
        let pods = try await client.list(Pod.self, namespace: "sts").items.sorted { $0.name < $1.name }
        #expect(pods.map { $0.spec?.hostname ?? "" } == ["web-0", "web-1", "web-2"])
        #expect(pods.allSatisfy { $0.spec?.subdomain == "web" })
        #expect(pods.map { $0.metadata.labels?["apps.kubernetes.io/pod-index"] ?? "" } == ["0", "1", "2"])

        try await kubectl(h, "-n", "sts", "set", "image", "statefulset/web", "c=busybox:1.37")
        _ = try await kubectl(h, "-n", "sts", "rollout", "status", "statefulset/web", "--timeout=90s", timeout: 100)
        let deletedOrder = await kubelet.deletedNames
        #expect(deletedOrder == ["web-2", "web-1", "web-0"])
        let after = try await client.list(Pod.self, namespace: "sts").items
        #expect(after.count == 3 && after.allSatisfy { $0.spec?.containers.first?.image == "busybox:1.37" })
        let s = try await client.get(StatefulSet.self, namespace: "sts", name: "web")
        #expect(s.status?.currentRevision == s.status?.updateRevision)
        #expect(s.status?.updatedReplicas == 3 && s.status?.readyReplicas == 3)
        let events = try await kubectl(h, "-n", "sts", "get", "events")
        #expect(events.contains("create Pod web-0 in StatefulSet web successful"))
        #expect(events.contains("delete Pod web-2 in StatefulSet web successful"))

        // scale down removes the highest ordinal first
        try await kubectl(h, "-n", "sts", "scale", "statefulset/web", "--replicas=1")
        #expect(await until(.seconds(30)) { try await client.list(Pod.self, namespace: "sts").items.map(\.name) == ["web-0"] })
        let order = await kubelet.deletedNames.suffix(2)
        #expect(Array(order) == ["web-2", "web-1"])
    }

    @Test func cascadingDeletionBackgroundForegroundAndOrphan() async throws {
        let h = try ServerHarness(name: "ctl-gc")
        defer { h.stop() }
        let client = APIClient(baseURL: h.baseURL)
        try await kubectl(h, "create", "namespace", "roll")
        let kubelet = FakeKubelet(client: client, namespace: "roll", delay: .zero)
        await kubelet.start()
        defer { Task { await kubelet.stop() } }
        func deploy() async throws {
            try await kubectl(h, "apply", "-f", "-", stdin: Self.deployment(image: "busybox:1.36", replicas: 2))
            #expect(await until { try await client.list(Pod.self, namespace: "roll").items.count == 2 })
        }
        try await deploy()
        try await kubectl(h, "-n", "roll", "delete", "deployment", "web")
        #expect(await until { try await client.list(ReplicaSet.self, namespace: "roll").items.isEmpty })
        #expect(await until { try await client.list(Pod.self, namespace: "roll").items.isEmpty })

        try await deploy()
        try await kubectl(h, "-n", "roll", "delete", "deployment", "web", "--cascade=foreground", timeout: 60)
        #expect(try await client.list(Pod.self, namespace: "roll").items.isEmpty)
        #expect(try await client.list(ReplicaSet.self, namespace: "roll").items.isEmpty)

        try await deploy()
        try await kubectl(h, "-n", "roll", "delete", "deployment", "web", "--cascade=orphan")
        #expect(await until { (try? await client.get(Deployment.self, namespace: "roll", name: "web")) == nil })
        try await Task.sleep(for: .seconds(2))
        let sets = try await client.list(ReplicaSet.self, namespace: "roll").items
        #expect(sets.count == 1)
        #expect(sets.first?.metadata.ownerReferences == nil)
        #expect(try await client.list(Pod.self, namespace: "roll").items.count == 2)
    }

    @Test func endpointsAndSlicesFollowReadiness() async throws {
        let h = try ServerHarness(name: "ctl-ep")
        defer { h.stop() }
        let client = APIClient(baseURL: h.baseURL)
        try await kubectl(h, "create", "namespace", "ep")
        let kubelet = FakeKubelet(client: client, namespace: "ep", delay: .zero)
        await kubelet.setOutcome { p in p.name == "b" ? nil : .ready }
        await kubelet.start()
        defer { Task { await kubelet.stop() } }
        let yaml = """
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: ep}
            spec:
              selector: {app: web}
              ports: [{name: http, port: 80, targetPort: http}]
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: a, namespace: ep, labels: {app: web}}
            spec: {containers: [{name: c, image: busybox, ports: [{name: http, containerPort: 8080}]}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: b, namespace: ep, labels: {app: web}}
            spec: {containers: [{name: c, image: busybox, ports: [{name: http, containerPort: 8080}]}]}
            """
        try await kubectl(h, "apply", "-f", "-", stdin: yaml)
        // b has an IP but is not ready (the scheduler may write its status too: retry conflicts)
        #expect(await until(.seconds(10)) {
            var b = try await client.get(Pod.self, namespace: "ep", name: "b")
            var st = PodStatus(phase: "Running")
            st.podIP = "10.244.9.9"
            st.conditions = [Condition(type: "Ready", status: "False")]
            b.status = st
            _ = try await client.updateStatus(b)
            return true
        })
        #expect(await until {
            let ep = try await client.get(Endpoints.self, namespace: "ep", name: "web")
            return ep.subsets?.first?.addresses?.count == 1 && ep.subsets?.first?.notReadyAddresses?.first?.ip == "10.244.9.9"
        })
        let ep = try await client.get(Endpoints.self, namespace: "ep", name: "web")
        #expect(ep.subsets?.first?.ports?.first?.port == 8080)
        #expect(ep.subsets?.first?.addresses?.first?.targetRef?.name == "a")
        #expect(await until {
            let slices = try await client.list(EndpointSlice.self, namespace: "ep", labelSelector: "kubernetes.io/service-name=web").items
            guard slices.count == 1, let eps = slices.first?.endpoints, eps.count == 2 else { return false }
            let bEp = eps.first { $0.targetRef?.name == "b" }
            return bEp?.conditions?.ready == false && eps.first { $0.targetRef?.name == "a" }?.conditions?.ready == true
        })
        let slice = try await client.list(EndpointSlice.self, namespace: "ep").items.first
        #expect(slice?.ports?.first?.port == 8080 && slice?.ports?.first?.name == "http")
        #expect(slice?.metadata.ownerReferences?.first?.kind == "Service")
        #expect(slice?.metadata.labels?["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io")
        let listed = try await kubectl(h, "-n", "ep", "get", "endpoints", "web")
        #expect(listed.contains("8080"))

        // deleting the ready pod empties the ready set; deleting the service removes everything
        try await kubectl(h, "-n", "ep", "delete", "pod", "a")
        #expect(await until { (try await client.get(Endpoints.self, namespace: "ep", name: "web")).subsets?.first?.addresses == nil })
        try await kubectl(h, "-n", "ep", "delete", "service", "web")
        #expect(await until { (try? await client.get(Endpoints.self, namespace: "ep", name: "web")) == nil })
        #expect(await until { try await client.list(EndpointSlice.self, namespace: "ep").items.isEmpty })
    }

    @Test func jobsCompleteAndFailAfterBackoffLimit() async throws {
        let h = try ServerHarness(name: "ctl-job")
        defer { h.stop() }
        let client = APIClient(baseURL: h.baseURL)
        try await kubectl(h, "create", "namespace", "jobs")
        let kubelet = FakeKubelet(client: client, namespace: "jobs", delay: .milliseconds(100))
        await kubelet.setOutcome { p in p.metadata.labels?["job-name"] == "bad" ? .failed : .succeeded }
        await kubelet.start()
        defer { Task { await kubelet.stop() } }
        let yaml = """
            apiVersion: batch/v1
            kind: Job
            metadata: {name: good, namespace: jobs}
            spec:
              completions: 3
              parallelism: 2
              template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}
            ---
            apiVersion: batch/v1
            kind: Job
            metadata: {name: bad, namespace: jobs}
            spec:
              backoffLimit: 1
              template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}
            """
        try await kubectl(h, "apply", "-f", "-", stdin: yaml)
        try await kubectl(h, "-n", "jobs", "wait", "--for=condition=complete", "job/good", "--timeout=60s", timeout: 70)
        try await kubectl(h, "-n", "jobs", "wait", "--for=condition=failed", "job/bad", "--timeout=60s", timeout: 70)
        let good = try await client.get(Job.self, namespace: "jobs", name: "good")
        #expect(good.status?.succeeded == 3 && good.status?.completionTime != nil)
        let bad = try await client.get(Job.self, namespace: "jobs", name: "bad")
        #expect(bad.status?.failed == 2)
        #expect(bad.status?.conditions?.first { $0.type == "Failed" }?.reason == "BackoffLimitExceeded")
        let events = try await kubectl(h, "-n", "jobs", "get", "events")
        #expect(events.contains("Job completed") && events.contains("BackoffLimitExceeded"))
    }

    @Test func daemonSetRunsOnEveryEligibleNodeAndNamespacesGetDefaultServiceAccounts() async throws {
        let h = try ServerHarness(name: "ctl-ds", extraArgs: ["--node-monitor-grace-period", "1h"])
        defer { h.stop() }
        let client = APIClient(baseURL: h.baseURL)
        for n in ["n1", "n2", "n3"] {
            var node = Node(metadata: ObjectMeta(name: n, labels: ["kubernetes.io/hostname": n]))
            if n == "n3" {
                var spec = NodeSpec()
                spec.taints = [Taint(key: "dedicated", value: "db", effect: "NoSchedule")]
                node.spec = spec
            }
            _ = try await client.create(node)
        }
        try await kubectl(h, "create", "namespace", "ds")
        #expect(await until { (try? await client.get(ServiceAccount.self, namespace: "ds", name: "default")) != nil })
        let yaml = """
            apiVersion: apps/v1
            kind: DaemonSet
            metadata: {name: agent, namespace: ds}
            spec:
              selector: {matchLabels: {app: agent}}
              template:
                metadata: {labels: {app: agent}}
                spec: {containers: [{name: c, image: busybox}]}
            """
        try await kubectl(h, "apply", "-f", "-", stdin: yaml)
        #expect(await until { try await client.list(Pod.self, namespace: "ds").items.count == 2 })
        try await Task.sleep(for: .seconds(1))
        let pods = try await client.list(Pod.self, namespace: "ds").items
        #expect(Set(pods.compactMap { $0.spec?.nodeName }) == ["n1", "n2"])
        let ds = try await client.get(DaemonSet.self, namespace: "ds", name: "agent")
        #expect(ds.status?.desiredNumberScheduled == 2)
        // a new node gets its daemon pod
        _ = try await client.create(Node(metadata: ObjectMeta(name: "n4")))
        #expect(await until { try await client.list(Pod.self, namespace: "ds").items.contains { $0.spec?.nodeName == "n4" } })
    }
}
