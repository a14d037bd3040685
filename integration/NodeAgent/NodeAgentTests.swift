import Foundation
import Glibc
import Runtime
import Testing
import TestSupport

/// Scenarios with the real `swiftlet server`, `swiftlet agent` and kubectl, in a test netns host.
@Suite(.serialized, .enabled(if: AgentLab.available, "needs root, kubectl (scripts/setup.sh), busybox and the built swiftlet"))
struct NodeAgentScenarioTests {
    static let image = AgentLab.image

    @Test func nodeRegistersWithCapacityLabelsConditionsAndLease() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent()
            let node = try lab.kubectl("get", "node", "node-a", "-o", "json").check().stdout
            for needle in ["\"kubernetes.io/hostname\": \"node-a\"", "\"kubernetes.io/os\": \"linux\"", "\"kubernetes.io/arch\"",
                           "\"ephemeral-storage\"", "\"pods\": \"110\"", "\"InternalIP\"", "\"10.250.0.2\"", "KubeletReady",
                           "KubeletHasSufficientMemory", "KubeletHasNoDiskPressure", "KubeletHasSufficientPID",
                           "\"containerRuntimeVersion\": \"swiftlet://", "\"kernelVersion\""] {
                #expect(node.contains(needle), "node lacks \(needle)")
            }
            let renew1 = try lab.kubectl("get", "lease", "-n", "kube-node-lease", "node-a", "-o", "jsonpath={.spec.renewTime}").check().stdout
            #expect(!renew1.isEmpty)
            let renewed = await until(timeout: 15, interval: 0.5) {
                let r = (try? lab.kubectl("get", "lease", "-n", "kube-node-lease", "node-a", "-o", "jsonpath={.spec.renewTime}"))?.stdout ?? ""
                return !r.isEmpty && r != renew1
            }
            #expect(renewed, "the lease was not renewed within 15 s")
            let wide = try lab.kubectl("get", "nodes", "-o", "wide").check().stdout
            #expect(wide.contains("node-a") && wide.contains("Ready") && wide.contains("10.250.0.2"))
        }
    }

    @Test func podWithTwoContainersAndAnEmptyDirRunsAndLogsFollow() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent()
            // per-pod directories are placed as top-level trees where the filesystem can
            let sys = LinuxSyscalls()
            for d in [lab.root + "/pods", lab.logs, lab.root + "/runtime/sandboxes", lab.root + "/runtime/containers"]
            where sys.inodeFlags(lab.dir) != nil {
                #expect(sys.isTopDirectory(d) == true, "\(d) lacks FS_TOPDIR_FL")
            }
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: pair}
                spec:
                  nodeName: node-a
                  volumes: [{name: shared, emptyDir: {}}]
                  containers:
                  - name: writer
                    image: \(Self.image)
                    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo line-$i | tee -a /shared/out; sleep 0.2; done"]
                    volumeMounts: [{name: shared, mountPath: /shared}]
                  - name: reader
                    image: \(Self.image)
                    command: ["sh", "-c", "while [ ! -s /data/out ]; do sleep 0.1; done; echo reader-saw $(head -n 1 /data/out); sleep 3600"]
                    volumeMounts: [{name: shared, mountPath: /data}]
                """)
            #expect(await lab.waitReady("pair"), "\(lab.diagnostics("pair"))")
            #expect(lab.jsonpath("pair", ".status.phase") == "Running")
            #expect(lab.jsonpath("pair", ".status.podIP").hasPrefix("10.244.7."))
            #expect(lab.jsonpath("pair", ".status.hostIP") == "10.250.0.2")
            #expect(await until(timeout: 10) { (try? lab.kubectl("logs", "pair", "-c", "reader"))?.stdout == "reader-saw line-1\n" })
            let logs = try lab.kubectl("logs", "pair", "-c", "writer", "--tail", "2").check().stdout
            #expect(logs.split(separator: "\n").count == 2 && logs.hasPrefix("line-"))
            // kubectl logs -f keeps streaming new lines.
            let follow = try lab.kubectlBackground("logs", "-f", "pair", "-c", "writer", "--tail", "1")
            defer { follow.stop(SIGKILL) }
            let firstSeen = await until(timeout: 10) { follow.output.string.contains("line-") }
            #expect(firstSeen, "kubectl logs -f printed nothing: \(follow.output.string)")
            let lines: @Sendable () -> Int = { follow.output.string.split(separator: "\n").filter { $0.hasPrefix("line-") }.count }
            let n0 = lines()
            #expect(await until(timeout: 10) { lines() >= n0 + 5 }, "kubectl logs -f did not follow: \(follow.output.string)")
            let events = lab.events("pair")
            for needle in ["Created container: writer", "Started container reader", "already present on machine"] {
                #expect(events.contains(needle), "events lack \(needle): \(events)")
            }
            // nodes/proxy reaches the kubelet's stats and metrics.
            let summary = try lab.kubectl("get", "--raw", "/api/v1/nodes/node-a/proxy/stats/summary").check().stdout
            #expect(summary.contains("\"nodeName\":\"node-a\"") && summary.contains("\"name\":\"pair\"")
                    && summary.contains("\"workingSetBytes\""), "\(summary)")
            let metrics = try lab.kubectl("get", "--raw", "/api/v1/nodes/node-a/proxy/metrics").check().stdout
            #expect(metrics.contains("kubelet_running_pods 1") && metrics.contains("kubelet_running_containers{container_state=\"running\"} 2"),
                    "\(metrics)")
            // The kubelet API answers directly too.
            let healthz = try lab.lab.run(in: lab.node, ["/bin/busybox", "wget", "-q", "-O", "-", "http://10.250.0.2:10250/healthz"]).stdout
            #expect(healthz == "ok")
        }
    }

    @Test func livenessFailureRestartsTheContainerWithEvents() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent()
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: live}
                spec:
                  nodeName: node-a
                  containers:
                  - name: app
                    image: \(Self.image)
                    command: ["sh", "-c", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; sleep 3600"]
                    livenessProbe:
                      exec: {command: ["cat", "/tmp/healthy"]}
                      periodSeconds: 1
                      failureThreshold: 2
                """)
            let restarted = await until(timeout: 40, interval: 0.5) {
                (Int(lab.jsonpath("live", ".status.containerStatuses[0].restartCount")) ?? 0) >= 1
            }
            #expect(restarted, "\(lab.diagnostics("live"))")
            let events = lab.events("live")
            #expect(events.contains("Unhealthy") && events.contains("Liveness probe failed"), "\(events)")
            #expect(events.contains("Container app failed liveness probe, will be restarted"), "\(events)")
            #expect(lab.jsonpath("live", ".status.containerStatuses[0].lastState.terminated.exitCode") == "137")
        }
    }

    @Test func failingReadinessKeepsThePodOutOfReady() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent()
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: unready}
                spec:
                  nodeName: node-a
                  containers:
                  - name: web
                    image: \(Self.image)
                    command: ["sh", "-c", "mkdir -p /www; echo hi > /www/index.html; httpd -f -p 8080 -h /www"]
                    ports: [{name: http, containerPort: 8080}]
                    readinessProbe:
                      httpGet: {path: /missing.html, port: http}
                      periodSeconds: 1
                """)
            #expect(await until(timeout: 30, interval: 0.3) { lab.jsonpath("unready", ".status.phase") == "Running" }, "\(lab.diagnostics("unready"))")
            // Probes run: Unhealthy events with the HTTP status, and the pod never becomes Ready.
            #expect(await until(timeout: 15, interval: 0.5) { lab.events("unready").contains("Readiness probe failed: HTTP probe failed with statuscode: 404") },
                    "\(lab.diagnostics("unready"))")
            #expect(await !lab.waitReady("unready", "True", timeout: 5))
            #expect(lab.jsonpath("unready", ".status.containerStatuses[0].ready") == "false")
            #expect(lab.jsonpath("unready", ".status.containerStatuses[0].restartCount") == "0")
        }
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/lib/python3/dist-packages/grpc"),
                   "needs python3-grpcio (scripts/setup.sh installs it)"))
    func grpcReadinessProbeFollowsTheHealthService() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent()
            // the reference gRPC implementation serves grpc.health.v1 on the node's address;
            // a hostNetwork pod's probe targets its pod IP, which is the node's
            let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures/grpc_health_server.py").path
            let status = lab.dir + "/grpc-status"
            try "SERVING".write(toFile: status, atomically: true, encoding: .utf8)
            try lab.lab.spawn(in: lab.node, ["/usr/bin/python3", fixture, AgentLab.nodeIP, "50151", status])
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: grpc}
                spec:
                  nodeName: node-a
                  hostNetwork: true
                  containers:
                  - name: app
                    image: \(Self.image)
                    command: ["sleep", "3600"]
                    readinessProbe:
                      grpc: {port: 50151, service: named}
                      periodSeconds: 1
                      failureThreshold: 1
                """)
            #expect(await lab.waitReady("grpc", "True", timeout: 30), "\(lab.diagnostics("grpc"))")
            try "NOT_SERVING".write(toFile: status, atomically: true, encoding: .utf8)
            #expect(await lab.waitReady("grpc", "False", timeout: 15), "\(lab.diagnostics("grpc"))")
            #expect(await until(timeout: 10, interval: 0.3) {
                lab.events("grpc").contains(#"Readiness probe failed: service unhealthy (responded with "NOT_SERVING")"#)
            }, "\(lab.diagnostics("grpc"))")
            try "SERVING".write(toFile: status, atomically: true, encoding: .utf8)
            #expect(await lab.waitReady("grpc", "True", timeout: 15), "\(lab.diagnostics("grpc"))")
            #expect(lab.jsonpath("grpc", ".status.containerStatuses[0].restartCount") == "0")
        }
    }

    @Test func crashLoopBackOffDelaysGrow() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent()
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: crash}
                spec:
                  nodeName: node-a
                  containers:
                  - name: app
                    image: \(Self.image)
                    command: ["sh", "-c", "echo dying; exit 3"]
                """)
            // Record when each restart count is first seen.
            var seen: [Int: Date] = [:]
            let deadline = Date().addingTimeInterval(50)
            while Date() < deadline && seen[3] == nil {
                if let n = Int(await offload { lab.jsonpath("crash", ".status.containerStatuses[0].restartCount") }), seen[n] == nil { seen[n] = Date() }
                try await Task.sleep(for: .milliseconds(250))
            }
            let t1 = try #require(seen[1], "\(lab.diagnostics("crash"))")
            let t2 = try #require(seen[2], "\(lab.diagnostics("crash"))")
            let t3 = try #require(seen[3], "\(lab.diagnostics("crash"))")
            let gap1 = t2.timeIntervalSince(t1), gap2 = t3.timeIntervalSince(t2)
            #expect(gap1 > 8 && gap1 < 14, "first back-off \(gap1)s")
            #expect(gap2 > 18 && gap2 < 25, "second back-off \(gap2)s")
            #expect(await until(timeout: 5) { lab.jsonpath("crash", ".status.containerStatuses[0].state.waiting.reason") == "CrashLoopBackOff" })
            #expect(lab.jsonpath("crash", ".status.containerStatuses[0].lastState.terminated.exitCode") == "3")
            let events = lab.events("crash")
            #expect(events.contains("Back-off restarting failed container app in pod crash_default("), "\(events)")
            let list = try lab.kubectl("get", "pod", "crash").check().stdout
            #expect(list.contains("CrashLoopBackOff") || list.contains("Error") || list.contains("Completed"), "\(list)")
            #expect(try lab.kubectl("logs", "crash", "--previous").check().stdout == "dying\n")
        }
    }

    @Test func gracefulDeletionHonoursTheGracePeriod() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent()
            // Exits 2 s after SIGTERM (well inside its 10 s grace).
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: polite}
                spec:
                  nodeName: node-a
                  terminationGracePeriodSeconds: 10
                  containers:
                  - name: app
                    image: \(Self.image)
                    command: ["sh", "-c", "trap 'sleep 2; exit 0' TERM; while true; do sleep 0.1; done"]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: stubborn}
                spec:
                  nodeName: node-a
                  terminationGracePeriodSeconds: 3
                  containers:
                  - name: app
                    image: \(Self.image)
                    command: ["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"]
                """)
            let politeReady = await lab.waitReady("polite"), stubbornReady = await lab.waitReady("stubborn")
            #expect(politeReady && stubbornReady, "\(lab.diagnostics("polite"))")
            var t0 = Date()
            try lab.kubectl("delete", "pod", "polite", "--wait=true", "--timeout=30s").check()
            let polite = Date().timeIntervalSince(t0)
            #expect(polite >= 1.8 && polite < 8, "polite pod took \(polite)s")
            t0 = Date()
            try lab.kubectl("delete", "pod", "stubborn", "--wait=true", "--timeout=30s").check()
            let stubborn = Date().timeIntervalSince(t0)
            #expect(stubborn >= 2.8 && stubborn < 8, "stubborn pod took \(stubborn)s (grace 3s)")
            #expect(try lab.kubectl("get", "pods", "-o", "name").check().stdout.isEmpty)
            let events = (try? lab.kubectl("get", "events", "-o", "custom-columns=R:.reason,M:.message", "--no-headers"))?.stdout ?? ""
            #expect(events.contains("Stopping container app"), "\(events)")
        }
    }

    @Test func agentSIGKILLAndRestartAdoptsPodsWithoutRestartsOrLostLines() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent()
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: steady}
                spec:
                  nodeName: node-a
                  containers:
                  - name: counter
                    image: \(Self.image)
                    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo n=$i; sleep 0.1; done"]
                    readinessProbe:
                      exec: {command: ["true"]}
                      periodSeconds: 1
                """)
            #expect(await lab.waitReady("steady"), "\(lab.diagnostics("steady"))")
            let cid = lab.jsonpath("steady", ".status.containerStatuses[0].containerID")
            let ip = lab.jsonpath("steady", ".status.podIP")
            lab.agent?.stop(SIGKILL)
            try await Task.sleep(for: .seconds(3))
            try await lab.startAgent()
            // Give the new agent time to sync everything, watching Ready and the container.
            var notReady = false
            for _ in 0..<20 {
                if lab.jsonpath("steady", ".status.conditions[?(@.type==\"Ready\")].status") != "True" { notReady = true }
                let node = (try? lab.kubectl("get", "node", "node-a", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"))?.stdout
                if node != "True" { notReady = true }
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(!notReady, "pod or node left Ready across the agent restart")
            #expect(lab.jsonpath("steady", ".status.containerStatuses[0].containerID") == cid)
            #expect(lab.jsonpath("steady", ".status.containerStatuses[0].restartCount") == "0")
            #expect(lab.jsonpath("steady", ".status.podIP") == ip)
            let events = lab.events("steady")
            #expect(!events.contains("SandboxChanged") && !events.contains("Killing"), "\(events)")
            // Every line is there, in order.
            let log = try lab.kubectl("logs", "steady").check().stdout
            let numbers = log.split(separator: "\n").compactMap { Int($0.dropFirst(2)) }
            #expect(numbers.count > 50)
            #expect(numbers == Array(1...(numbers.last ?? 0)), "log lines missing")
        }
    }

    @Test func hostPathVolumesSeeHostFilesAndBadTypesFailToMount() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent()
            try "hello from the host\n".write(toFile: lab.dir + "/host/greeting", atomically: true, encoding: .utf8)
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: hostpath}
                spec:
                  nodeName: node-a
                  restartPolicy: Never
                  volumes: [{name: h, hostPath: {path: \(lab.dir)/host, type: Directory}}]
                  containers:
                  - name: app
                    image: \(Self.image)
                    command: ["sh", "-c", "cat /host/greeting; echo from-pod > /host/reply"]
                    volumeMounts: [{name: h, mountPath: /host}]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: badpath}
                spec:
                  nodeName: node-a
                  volumes: [{name: h, hostPath: {path: \(lab.dir)/nope, type: Directory}}]
                  containers:
                  - name: app
                    image: \(Self.image)
                    command: ["sleep", "3600"]
                    volumeMounts: [{name: h, mountPath: /host}]
                """)
            #expect(await until(timeout: 30, interval: 0.3) { lab.jsonpath("hostpath", ".status.phase") == "Succeeded" }, "\(lab.diagnostics("hostpath"))")
            #expect(try lab.kubectl("logs", "hostpath").check().stdout == "hello from the host\n")
            #expect((try? String(contentsOfFile: lab.dir + "/host/reply", encoding: .utf8)) == "from-pod\n")
            #expect(await until(timeout: 15, interval: 0.5) {
                lab.events("badpath").contains("MountVolume.SetUp failed for volume \"h\" : hostPath type check failed: \(lab.dir)/nope is not a directory")
            }, "\(lab.diagnostics("badpath"))")
            #expect(lab.jsonpath("badpath", ".status.phase") == "Pending")
        }
    }

    @Test func staticPodsAppearAsMirrorPods() async throws {
        try await AgentLab.with { lab in
            try """
                apiVersion: v1
                kind: Pod
                metadata: {name: static-web, namespace: default}
                spec:
                  containers:
                  - name: web
                    image: \(Self.image)
                    command: ["sleep", "3600"]
                """.write(toFile: lab.manifests + "/web.yaml", atomically: true, encoding: .utf8)
            try await lab.startAgent()
            #expect(await lab.waitReady("static-web-node-a"), "\(lab.diagnostics("static-web-node-a"))")
            #expect(!lab.jsonpath("static-web-node-a", ".metadata.annotations.kubernetes\\.io/config\\.mirror").isEmpty)
            #expect(lab.jsonpath("static-web-node-a", ".spec.nodeName") == "node-a")
            // Deleting the mirror pod does not stop the static pod: the mirror comes back.
            let cid = lab.jsonpath("static-web-node-a", ".status.containerStatuses[0].containerID")
            try lab.kubectl("delete", "pod", "static-web-node-a", "--wait=false").check()
            #expect(await until(timeout: 20, interval: 0.5) {
                lab.jsonpath("static-web-node-a", ".status.containerStatuses[0].containerID") == cid
                    && !lab.jsonpath("static-web-node-a", ".metadata.uid").isEmpty
            }, "\(lab.diagnostics("static-web-node-a"))")
            // Removing the manifest stops it and removes the mirror.
            unlink(lab.manifests + "/web.yaml")
            #expect(await until(timeout: 30, interval: 0.5) {
                (try? lab.kubectl("get", "pods", "-o", "name"))?.stdout.isEmpty == true
            })
        }
    }

    @Test func badInputGetsPreciseReasonsAndDisturbsNothing() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent(extra: ["--image-pull-deadline", "5"])
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: good}
                spec:
                  nodeName: node-a
                  containers: [{name: app, image: \(Self.image), command: ["sleep", "3600"]}]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: noimage}
                spec:
                  nodeName: node-a
                  containers: [{name: app, image: "127.0.0.1:1/nothing/here:v1", command: ["sleep", "3600"]}]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: nocommand}
                spec:
                  nodeName: node-a
                  containers: [{name: app, image: \(Self.image), command: ["/no/such/binary"]}]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: huge}
                spec:
                  nodeName: node-a
                  containers:
                  - name: app
                    image: \(Self.image)
                    command: ["sleep", "3600"]
                    resources: {requests: {cpu: "500"}}
                """)
            #expect(await lab.waitReady("good"), "\(lab.diagnostics("good"))")
            #expect(await until(timeout: 30, interval: 0.5) {
                ["ErrImagePull", "ImagePullBackOff"].contains(lab.jsonpath("noimage", ".status.containerStatuses[0].state.waiting.reason"))
            }, "\(lab.diagnostics("noimage"))")
            #expect(lab.events("noimage").contains("Failed to pull image \"127.0.0.1:1/nothing/here:v1\""))
            #expect(await until(timeout: 30, interval: 0.5) {
                (Int(lab.jsonpath("nocommand", ".status.containerStatuses[0].restartCount")) ?? 0) >= 1
                    || lab.jsonpath("nocommand", ".status.containerStatuses[0].state.waiting.reason") == "RunContainerError"
            }, "\(lab.diagnostics("nocommand"))")
            let why = lab.jsonpath("nocommand", ".status.containerStatuses[0].lastState.terminated.message")
                + lab.jsonpath("nocommand", ".status.containerStatuses[0].state.waiting.message")
                + lab.jsonpath("nocommand", ".status.containerStatuses[0].state.terminated.message")
            #expect(why.contains("/no/such/binary"), "\(lab.diagnostics("nocommand"))")
            #expect(await until(timeout: 15, interval: 0.5) { lab.jsonpath("huge", ".status.reason") == "OutOfcpu" }, "\(lab.diagnostics("huge"))")
            #expect(lab.jsonpath("huge", ".status.phase") == "Failed")
            #expect(lab.jsonpath("huge", ".status.message").hasPrefix("Node didn't have enough resource: cpu, requested: 500000"))
            // The good pod never noticed.
            #expect(lab.jsonpath("good", ".status.containerStatuses[0].restartCount") == "0")
            #expect(lab.jsonpath("good", ".status.conditions[?(@.type==\"Ready\")].status") == "True")
            #expect(lab.agent?.process.isRunning == true)
        }
    }

    @Test func configMapAndSecretVolumesAndEnvUpdateAtomically() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent()
            try lab.apply("""
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: settings}
                data: {mode: blue, greeting: hello}
                ---
                apiVersion: v1
                kind: Secret
                metadata: {name: creds}
                stringData: {password: s3cret}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: configured}
                spec:
                  nodeName: node-a
                  volumes:
                  - {name: cfg, configMap: {name: settings}}
                  - {name: sec, secret: {secretName: creds}}
                  containers:
                  - name: app
                    image: \(Self.image)
                    command: ["sh", "-c", "echo env=$GREETING pw=$(cat /etc/creds/password); while true; do sleep 1; done"]
                    env:
                    - name: GREETING
                      valueFrom: {configMapKeyRef: {name: settings, key: greeting}}
                    - name: POD_IP
                      valueFrom: {fieldRef: {fieldPath: status.podIP}}
                    volumeMounts:
                    - {name: cfg, mountPath: /etc/cfg}
                    - {name: sec, mountPath: /etc/creds, readOnly: true}
                """)
            #expect(await lab.waitReady("configured"), "\(lab.diagnostics("configured"))")
            #expect(await until(timeout: 10) { (try? lab.kubectl("logs", "configured"))?.stdout == "env=hello pw=s3cret\n" },
                    "\(lab.diagnostics("configured"))")
            #expect(try lab.kubectl("exec", "configured", "--", "cat", "/etc/cfg/mode").check().stdout == "blue")
            try lab.kubectl("patch", "configmap", "settings", "-p", "{\"data\":{\"mode\":\"green\"}}").check()
            #expect(await until(timeout: 30, interval: 0.5) {
                (try? lab.kubectl("exec", "configured", "--", "cat", "/etc/cfg/mode"))?.stdout == "green"
            }, "the configMap update did not reach the volume")
            let link = try lab.kubectl("exec", "configured", "--", "readlink", "/etc/cfg/mode").check().stdout
            #expect(link == "..data/mode\n")
            // The secret sits on tmpfs.
            let mounts = try lab.kubectl("exec", "configured", "--", "cat", "/proc/mounts").check().stdout
            #expect(mounts.split(separator: "\n").contains { $0.contains("/etc/creds") && $0.hasPrefix("tmpfs") }, "\(mounts)")
        }
    }

    @Test func downwardAPIAndProjectedVolumesAndResourceEnv() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent()
            try lab.apply("""
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: settings}
                data: {mode: blue}
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  name: info
                  labels: {app: web, tier: front}
                  annotations: {note: "say \\"hi\\""}
                spec:
                  nodeName: node-a
                  volumes:
                  - name: podinfo
                    downwardAPI:
                      items:
                      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
                      - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
                      - {path: cpu_limit, resourceFieldRef: {containerName: app, resource: limits.cpu, divisor: 1m}}
                  - name: bundle
                    projected:
                      sources:
                      - configMap: {name: settings}
                      - downwardAPI: {items: [{path: podname, fieldRef: {fieldPath: metadata.name}}]}
                      - serviceAccountToken: {path: token, audience: vault, expirationSeconds: 3600}
                  containers:
                  - name: app
                    image: \(Self.image)
                    command: ["sh", "-c", "echo mem=$MEM_MI; while true; do sleep 1; done"]
                    resources: {limits: {cpu: 250m, memory: 64Mi}}
                    env:
                    - name: MEM_MI
                      valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
                    volumeMounts:
                    - {name: podinfo, mountPath: /etc/podinfo}
                    - {name: bundle, mountPath: /etc/bundle}
                """)
            #expect(await lab.waitReady("info"), "\(lab.diagnostics("info"))")
            @Sendable func cat(_ path: String) -> String { (try? lab.kubectl("exec", "info", "--", "cat", path))?.stdout ?? "" }
            #expect(cat("/etc/podinfo/labels") == "app=\"web\"\ntier=\"front\"")
            #expect(cat("/etc/podinfo/annotations").contains(#"note="say \"hi\"""#), "\(cat("/etc/podinfo/annotations"))")
            #expect(cat("/etc/podinfo/cpu_limit") == "250")
            #expect(cat("/etc/bundle/mode") == "blue" && cat("/etc/bundle/podname") == "info")
            // the projected token is the pod's service account's, bound to the pod, for its audience
            let token = cat("/etc/bundle/token")
            let review = try lab.kubectl("create", "-o", "jsonpath={.status.authenticated} {.status.user.username} {.status.user.extra.authentication\\.kubernetes\\.io/pod-name[0]}",
                                         "-f", "-", stdin: """
                {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "\(token)", "audiences": ["vault"]}}
                """)
            #expect(review.stdout == "true system:serviceaccount:default:default info", "\(review) token=\(token)")
            #expect(await until(timeout: 10) { (try? lab.kubectl("logs", "info"))?.stdout == "mem=64\n" }, "\(lab.diagnostics("info"))")
            // a label change reaches the file (atomically, through ..data)
            try lab.kubectl("label", "pod", "info", "tier=back", "--overwrite").check()
            #expect(await until(timeout: 30, interval: 0.5) { cat("/etc/podinfo/labels") == "app=\"web\"\ntier=\"back\"" },
                    "\(cat("/etc/podinfo/labels"))")
            let mounts = cat("/proc/mounts")
            #expect(mounts.split(separator: "\n").contains { $0.contains("/etc/bundle") && $0.hasPrefix("tmpfs") }, "\(mounts)")
        }
    }

    @Test func logsAreRotatedAndFollowedAcrossRotation() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent(extra: ["--container-log-max-size", "4096", "--container-log-max-files", "3",
                                       "--container-log-monitor-interval", "1"])
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: chatty}
                spec:
                  nodeName: node-a
                  containers:
                  - name: app
                    image: \(Self.image)
                    command: ["sh", "-c", "echo ready; while [ ! -e /tmp/go ]; do sleep 0.05; done; i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo line-$i-padding-padding-padding; sleep 0.01; done; sleep 3600"]
                """)
            #expect(await lab.waitReady("chatty"), "\(lab.diagnostics("chatty"))")
            let follow = try lab.kubectlBackground("logs", "-f", "chatty")
            defer { follow.stop(SIGKILL) }
            // Start writing only once the follower is attached, so it must cross the rotations.
            #expect(await until(timeout: 10) { follow.output.string.contains("ready") })
            try lab.kubectl("exec", "chatty", "--", "touch", "/tmp/go").check()
            #expect(await until(timeout: 40, interval: 0.5) { follow.output.string.contains("line-600-") }, "\(follow.output.string.suffix(500))")
            // Rotated files exist, at most 3 files are kept, and the follower saw every line once, in order.
            let dir = lab.logs + "/" + ((try? FileManager.default.contentsOfDirectory(atPath: lab.logs))?.first { $0.hasPrefix("default_chatty_") } ?? "") + "/app"
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            #expect(files.count >= 2 && files.count <= 3, "\(files)")
            #expect(files.contains { $0.hasPrefix("0.log.") }, "no rotated file: \(files)")
            let numbers = follow.output.string.split(separator: "\n").compactMap { $0.split(separator: "-").dropFirst().first.flatMap { Int($0) } }
            #expect(numbers.first == 1 && numbers == Array(1...(numbers.last ?? 0)), "lines lost or repeated: \(numbers.count) lines")
        }
    }

    @Test func nodeShutdownStopsPodsGracefully() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent(extra: ["--shutdown-grace-period", "5"])
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: victim}
                spec:
                  nodeName: node-a
                  containers:
                  - name: app
                    image: \(Self.image)
                    command: ["sh", "-c", "trap 'echo got-term; exit 0' TERM; while true; do sleep 0.1; done"]
                """)
            #expect(await lab.waitReady("victim"), "\(lab.diagnostics("victim"))")
            let t0 = Date()
            lab.agent?.stop(SIGTERM, timeout: 20)
            #expect(Date().timeIntervalSince(t0) < 10)
            #expect(lab.jsonpath("victim", ".status.phase") == "Failed")
            #expect(lab.jsonpath("victim", ".status.reason") == "Terminated")
            #expect(lab.jsonpath("victim", ".status.message") == "Pod was terminated in response to imminent node shutdown.")
            #expect(lab.jsonpath("victim", ".status.containerStatuses[0].state.terminated.exitCode") == "0")
            // Nothing of the pod is left running on the node.
            let procs = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
            #expect(!procs.contains(lab.root + "/runtime/netns/"))
        }
    }

    @Test
    func kubectlExecRunsInTheContainer() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent()
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: shell}
                spec:
                  nodeName: node-a
                  containers:
                  - {name: app, image: \(Self.image), command: ["sleep", "3600"]}
                """)
            #expect(await lab.waitReady("shell"))
            #expect(try lab.kubectl("exec", "shell", "--", "echo", "inside").check().stdout == "inside\n")
            // stdout and stderr stay apart; the exit code comes back.
            let r = try lab.kubectl("exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
            #expect(r.status == 3 && r.stdout == "out\n" && r.stderr.contains("err\n"), "\(r)")
            #expect(r.stderr.contains("command terminated with exit code 3"), "\(r)")
            // stdin reaches the process and its end closes it.
            let cat = try lab.kubectl("exec", "-i", "shell", "--", "sh", "-c", "cat > /tmp/in; cat /tmp/in; echo done", stdin: "piped text\n")
            #expect(cat.ok && cat.stdout == "piped text\ndone\n", "\(cat)")
            // The command runs in the container's filesystem and namespaces.
            #expect(try lab.kubectl("exec", "shell", "--", "cat", "/etc/hostname").check().stdout == "shell\n")
        }
    }

    @Test
    func kubectlTerminalsAttachAndRunInteractively() async throws {
        try await AgentLab.with { lab in
            try await lab.startAgent()
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: shell}
                spec:
                  nodeName: node-a
                  containers:
                  - {name: app, image: \(Self.image), command: ["sleep", "3600"]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: console}
                spec:
                  nodeName: node-a
                  containers:
                  - {name: app, image: \(Self.image), command: ["sh"], stdin: true, tty: true}
                """)
            #expect(await lab.waitReady("shell"))
            // exec -it: a terminal of the container's own, sized as kubectl's terminal is
            let t = try lab.kubectlOnTerminal(cols: 123, rows: 45, ["exec", "-it", "shell", "--", "sh", "-c", "tty; stty size; exit 4"])
            #expect(t.status == 4 && t.stdout.contains("/dev/pts/0") && t.stdout.contains("45 123"), "\(t)")

            // run -i --rm: piped stdin reaches the container through attach (stdinOnce ends
            // it), the output comes back, then kubectl deletes the pod.
            let r = try lab.kubectl("run", "catter", "-i", "--rm", "--restart=Never", "--image=\(Self.image)",
                                    "--image-pull-policy=Never", #"--overrides={"spec":{"nodeName":"node-a"}}"#,
                                    "--", "sh", "-c", "cat; echo bye", stdin: "hello\n", timeout: 90)
            #expect(r.ok && r.stdout.hasPrefix("hello\nbye\n") && r.stdout.contains(#"pod "catter" deleted"#), "\(r)")
            #expect(lab.jsonpath("catter", ".metadata.name").isEmpty)

            // attach -it to a container on a terminal: typed input, the terminal's size, the
            // exit code of the shell that ends. kubectl sends the size plus one and then the size
            // (to make the program redraw), so the shell waits a moment before asking.
            #expect(await lab.waitReady("console"))
            let a = try lab.kubectlOnTerminal(cols: 90, rows: 20, ["attach", "-it", "console", "-c", "app"],
                                              input: "sleep 1; stty size; exit 5\n")
            #expect(a.stdout.contains("20 90"), "\(a)")
            #expect(await until(timeout: 20, interval: 0.2) {
                lab.jsonpath("console", ".status.containerStatuses[0].lastState.terminated.exitCode") == "5"
                    || lab.jsonpath("console", ".status.containerStatuses[0].state.terminated.exitCode") == "5"
            }, "the shell on the terminal exited 5")
            // attaching to a container that is not running is refused with the cause
            let gone = try lab.kubectl("attach", "shell", "-c", "nosuch")
            #expect(!gone.ok && gone.stderr.contains("nosuch"), "\(gone)")
        }
    }
}
