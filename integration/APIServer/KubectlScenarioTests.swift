import Foundation
import TestSupport
import Testing

let manifest = """
    apiVersion: v1
    kind: Namespace
    metadata:
      name: demo
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: demo
      labels: {app: web}
    spec:
      replicas: 3
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
          - name: httpd
            image: busybox:1.36
            command: ["httpd", "-f", "-p", "8080"]
            ports: [{containerPort: 8080}]
            resources: {requests: {cpu: 100m, memory: 64Mi}}
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: web
      namespace: demo
    spec:
      selector: {app: web}
      ports: [{port: 80, targetPort: 8080}]
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: web-config
      namespace: demo
    data:
      greeting: hello
    """

func pod(_ name: String, ns: String = "demo", labels: String = "{app: x}") -> String {
    """
    apiVersion: v1
    kind: Pod
    metadata: {name: \(name), namespace: \(ns), labels: \(labels)}
    spec:
      containers: [{name: c, image: busybox:1.36, command: [sleep, "3600"]}]
    """
}

@Suite(.serialized, .enabled(if: TestPaths.hasKubectl, "kubectl 1.35 is not installed: run scripts/setup.sh"))
struct KubectlScenarioTests {
    @Test func applyMultiDocumentTwiceThenChange() throws {
        let h = try ServerHarness(name: "apply")
        let first = try h.kubectl("apply", "-f", "-", stdin: manifest)
        #expect(first.ok, "\(first)")
        #expect(first.stdout == """
            namespace/demo created
            deployment.apps/web created
            service/web created
            configmap/web-config created

            """)
        let second = try h.kubectl("apply", "-f", "-", stdin: manifest)
        #expect(second.stdout == """
            namespace/demo unchanged
            deployment.apps/web unchanged
            service/web unchanged
            configmap/web-config unchanged

            """, "\(second)")
        let third = try h.kubectl("apply", "-f", "-", stdin: manifest.replacingOccurrences(of: "greeting: hello", with: "greeting: hi"))
        #expect(third.stdout.contains("configmap/web-config configured"), "\(third)")
        #expect(third.stdout.contains("deployment.apps/web unchanged"))
        let cm = try h.kubectl("get", "cm", "web-config", "-n", "demo", "-o", "jsonpath={.data.greeting}")
        #expect(cm.stdout == "hi")
        // server-side apply of the first documents: the greeting that client-side apply
        // changed belongs to kubectl-client-side-apply, so it conflicts, worded as upstream
        let ssa = try h.kubectl("apply", "--server-side", "-f", "-", stdin: manifest)
        #expect(!ssa.ok)
        #expect(ssa.stdout.contains("deployment.apps/web serverside-applied"), "\(ssa)")
        #expect(ssa.stderr.contains(#"error: Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.greeting"#), "\(ssa)")
        #expect(try h.kubectl("get", "cm", "web-config", "-n", "demo", "-o", "jsonpath={.data.greeting}").stdout == "hi")
        // forced, the applier takes it; kubectl then migrates client-side apply's fields to
        // its own manager, so none are left under kubectl-client-side-apply
        let forced = try h.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin: manifest)
        #expect(forced.ok, "\(forced)")
        #expect(forced.stdout.contains("configmap/web-config serverside-applied"))
        #expect(try h.kubectl("get", "cm", "web-config", "-n", "demo", "-o", "jsonpath={.data.greeting}").stdout == "hello")
        let managers = try h.kubectl("get", "deploy", "web", "-n", "demo", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}")
        #expect(managers.stdout.split(separator: " ").contains("kubectl"), "\(managers)")
        #expect(!managers.stdout.split(separator: " ").contains("kubectl-client-side-apply"), "\(managers)")
    }

    @Test func getOutputsMatchKubernetes() throws {
        // static objects only: no controller adds ReplicaSets and pods under the printed tables
        let h = try ServerHarness(name: "get", extraArgs: ["--disable-controller-manager"])
        try h.kubectl("apply", "-f", "-", stdin: manifest)
        for n in ["b-pod", "a-pod", "c-pod"] { #expect(try h.kubectl("apply", "-f", "-", stdin: pod(n)).ok) }
        let wide = try h.kubectl("get", "pods", "-n", "demo", "-o", "wide")
        let header = wide.stdout.split(separator: "\n").first.map(String.init) ?? ""
        #expect(header.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"], "\(wide)")
        #expect(wide.stdout.contains("a-pod   0/1     Pending   0"))
        let svc = try h.kubectl("get", "svc", "web", "-n", "demo")
        #expect(svc.stdout.hasPrefix("NAME   TYPE        CLUSTER-IP"), "\(svc)")
        #expect(svc.stdout.contains("80/TCP"))
        let deploy = try h.kubectl("get", "deploy", "-n", "demo")
        #expect(deploy.stdout.hasPrefix("NAME   READY   UP-TO-DATE   AVAILABLE   AGE"), "\(deploy)")
        #expect(deploy.stdout.contains("web    0/3     0            0"))
        let yaml = try h.kubectl("get", "pod", "a-pod", "-n", "demo", "-o", "yaml")
        #expect(yaml.stdout.contains("kind: Pod"))
        #expect(yaml.stdout.contains("terminationGracePeriodSeconds: 30"))
        #expect(yaml.stdout.contains("phase: Pending"))
        let cols = try h.kubectl("get", "pods", "-n", "demo", "-o", "custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[0].image",
                                 "--sort-by=.metadata.name")
        #expect(cols.stdout == """
            NAME    IMAGE
            a-pod   busybox:1.36
            b-pod   busybox:1.36
            c-pod   busybox:1.36

            """, "\(cols)")
        let ns = try h.kubectl("get", "ns")
        for n in ["default", "kube-system", "kube-public", "kube-node-lease", "demo"] { #expect(ns.stdout.contains(n)) }
        let cs = try h.kubectl("get", "componentstatuses")
        #expect(cs.stdout.contains("etcd-0") && cs.stdout.contains("Healthy"), "\(cs)")
        let selected = try h.kubectl("get", "pods", "-n", "demo", "-l", "app=x", "--field-selector", "metadata.name=b-pod", "-o", "name")
        #expect(selected.stdout == "pod/b-pod\n", "\(selected)")
    }

    @Test func watchSeesAddsChangesAndDeletes() throws {
        let h = try ServerHarness(name: "watch")
        try h.kubectl("create", "namespace", "demo")
        let w = try h.kubectlBackground("get", "pods", "-n", "demo", "--watch", "--output-watch-events")
        defer { w.stop() }
        usleep(700_000)  // the namespace is empty: kubectl prints nothing until the first event
        func sawEvent(_ type: String, _ name: String) -> Bool {
            eventually {
                w.output.string.split(separator: "\n").contains { line in
                    let f = line.split(separator: " ", omittingEmptySubsequences: true)
                    return f.count > 2 && f[0] == type && f[1] == name
                }
            }
        }
        #expect(try h.kubectl("apply", "-f", "-", stdin: pod("w1")).ok)
        #expect(sawEvent("ADDED", "w1"), "\(w.output.string)")
        #expect(try h.kubectl("label", "pod", "w1", "-n", "demo", "tier=x").ok)
        #expect(sawEvent("MODIFIED", "w1"), "\(w.output.string)")
        #expect(try h.kubectl("delete", "pod", "w1", "-n", "demo").ok)
        #expect(sawEvent("DELETED", "w1"), "\(w.output.string)")
        // the header is printed once, as against Kubernetes
        #expect(w.output.string.components(separatedBy: "EVENT").count == 2, "\(w.output.string)")
        let evw = try h.kubectlBackground("get", "events", "-n", "demo", "--watch")
        defer { evw.stop() }
        usleep(300_000)
        let ev = """
            apiVersion: v1
            kind: Event
            metadata: {name: w1.1, namespace: demo}
            involvedObject: {kind: Pod, name: w1, namespace: demo}
            reason: Scheduled
            message: Successfully assigned demo/w1 to node-1
            type: Normal
            source: {component: default-scheduler}
            firstTimestamp: "2026-01-01T00:00:00Z"
            lastTimestamp: "2026-01-01T00:00:00Z"
            count: 1
            """
        #expect(try h.kubectl("create", "-f", "-", stdin: ev).ok)
        #expect(evw.waitForOutput("Successfully assigned demo/w1 to node-1"), "\(evw.output.string)")
        #expect(evw.output.string.contains("pod/w1"))
    }

    @Test func staleUpdateConflictsAndDeleteWorks() throws {
        let h = try ServerHarness(name: "conflict")
        try h.kubectl("apply", "-f", "-", stdin: manifest)
        let stale = try h.kubectl("get", "cm", "web-config", "-n", "demo", "-o", "json")
        #expect(try h.kubectl("patch", "cm", "web-config", "-n", "demo", "-p", #"{"data":{"x":"1"}}"#).ok)
        let replace = try h.kubectl("replace", "-f", "-", stdin: stale.stdout)
        #expect(!replace.ok)
        #expect(replace.stderr.contains("Error from server (Conflict)"), "\(replace)")
        #expect(replace.stderr.contains("the object has been modified; please apply your changes to the latest version and try again"))
        let del = try h.kubectl("delete", "cm", "web-config", "-n", "demo")
        #expect(del.stdout == "configmap \"web-config\" deleted from demo namespace\n", "\(del)")
        let gone = try h.kubectl("get", "cm", "web-config", "-n", "demo")
        #expect(gone.stderr.contains("Error from server (NotFound): configmaps \"web-config\" not found"), "\(gone)")
        let nsDel = try h.kubectl("delete", "namespace", "demo", timeout: 30)
        #expect(nsDel.ok, "\(nsDel)")
        #expect(try h.kubectl("get", "deploy", "web", "-n", "demo").stderr.contains("not found"))
    }

    @Test func podPriorityComesFromItsPriorityClass() throws {
        let h = try ServerHarness(name: "priority")
        let classes = try h.kubectl("get", "priorityclasses", "-o", "custom-columns=NAME:.metadata.name,VALUE:.value", "--no-headers")
        #expect(classes.stdout.contains("system-cluster-critical   2000000000") && classes.stdout.contains("system-node-critical      2000001000"),
                "the system classes exist from the start: \(classes)")
        try h.kubectl("apply", "-f", "-", stdin: """
            apiVersion: scheduling.k8s.io/v1
            kind: PriorityClass
            metadata: {name: high}
            value: 1000
            preemptionPolicy: Never
            """).check()
        try h.kubectl("create", "namespace", "demo").check()
        try h.kubectl("apply", "-f", "-", stdin: pod("plain") + "\n  priorityClassName: high").check()
        #expect(try h.kubectl("get", "pod", "plain", "-n", "demo", "-o", "jsonpath={.spec.priority} {.spec.preemptionPolicy}").stdout
                == "1000 Never")
        try h.kubectl("apply", "-f", "-", stdin: pod("none")).check()
        #expect(try h.kubectl("get", "pod", "none", "-n", "demo", "-o", "jsonpath={.spec.priority}").stdout == "0")
        let unknown = try h.kubectl("apply", "-f", "-", stdin: pod("lost") + "\n  priorityClassName: nope")
        #expect(unknown.stderr.contains(#"pods "lost" is forbidden: no PriorityClass with name nope was found"#), "\(unknown)")
        let forged = try h.kubectl("apply", "-f", "-", stdin: pod("forged") + "\n  priorityClassName: high\n  priority: 5")
        #expect(forged.stderr.contains("the integer value of priority (5) must not be provided in pod spec; "
            + "priority admission controller computed 1000 from the given PriorityClass name"), "\(forged)")
        #expect(!(try h.kubectl("get", "pods", "-n", "demo", "-o", "name").stdout.contains("forged")), "nothing stored for a refused pod")
        // A global default applies to pods without a class, and names itself in the pod.
        try h.kubectl("apply", "-f", "-", stdin: """
            apiVersion: scheduling.k8s.io/v1
            kind: PriorityClass
            metadata: {name: everyone}
            value: 10
            globalDefault: true
            """).check()
        try h.kubectl("apply", "-f", "-", stdin: pod("defaulted")).check()
        #expect(try h.kubectl("get", "pod", "defaulted", "-n", "demo", "-o", "jsonpath={.spec.priority} {.spec.priorityClassName}").stdout
                == "10 everyone")
    }

    @Test func bindingAssignsANodeOnceAndChecksTheUID() throws {
        let h = try ServerHarness(name: "binding")
        try h.kubectl("create", "namespace", "demo").check()
        try h.kubectl("apply", "-f", "-", stdin: pod("p")).check()
        let path = "/api/v1/namespaces/demo/pods/p/binding"
        func binding(_ node: String, uid: String? = nil) -> String {
            #"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p""# + (uid.map { #","uid":"\#($0)""# } ?? "")
                + #"},"target":{"apiVersion":"v1","kind":"Node","name":"\#(node)"}}"#
        }
        let wrongUID = try h.kubectl("create", "--raw", path, "-f", "-", stdin: binding("n1", uid: "not-the-uid"))
        #expect(wrongUID.stderr.contains("Precondition failed: UID in precondition: not-the-uid, UID in object meta: "), "\(wrongUID)")
        #expect(try h.kubectl("get", "pod", "p", "-n", "demo", "-o", "jsonpath={.spec.nodeName}").stdout.isEmpty)
        let uid = try h.kubectl("get", "pod", "p", "-n", "demo", "-o", "jsonpath={.metadata.uid}").stdout
        try h.kubectl("create", "--raw", path, "-f", "-", stdin: binding("n1", uid: uid)).check()
        #expect(try h.kubectl("get", "pod", "p", "-n", "demo", "-o", "jsonpath={.spec.nodeName}").stdout == "n1")
        let again = try h.kubectl("create", "--raw", path, "-f", "-", stdin: binding("n2"))
        #expect(again.stderr.contains(#"pod p is already assigned to node "n1""#), "\(again)")
    }

    /// Part `index` of a JWT (0 header, 1 claims) as JSON.
    func jwtPart(_ token: String, _ index: Int = 1) throws -> [String: Any] {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { throw CocoaError(.coderReadCorrupt, userInfo: [NSDebugDescriptionErrorKey: "not a JWT: \(token)"]) }
        var b = parts[index].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b.count % 4 != 0 { b += "=" }
        guard let data = Data(base64Encoded: b), let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CocoaError(.coderReadCorrupt, userInfo: [NSDebugDescriptionErrorKey: "not JSON: \(parts[index])"])
        }
        return obj
    }

    /// The HTTP status of a GET that presents `token`.
    func status(_ h: ServerHarness, _ path: String, _ token: String) throws -> String {
        try Command.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(token)",
                                          h.baseURL + path]).check().stdout
    }

    /// `status.userInfo` of a SelfSubjectReview made with `token`.
    func whoami(_ h: ServerHarness, _ token: String) throws -> [String: Any] {
        let out = try Command.run("/usr/bin/curl", ["-s", "-X", "POST", "-H", "Authorization: Bearer \(token)", "-H", "Content-Type: application/json",
                                                    "-d", #"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#,
                                                    h.baseURL + "/apis/authentication.k8s.io/v1/selfsubjectreviews"]).check().stdout
        let obj = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
        return (obj?["status"] as? [String: Any])?["userInfo"] as? [String: Any] ?? [:]
    }

    @Test func serviceAccountTokensAreIssuedReviewedAndBound() throws {
        let h = try ServerHarness(name: "tokens", extraArgs: ["--disable-controller-manager"])
        try h.kubectl("create", "namespace", "demo").check()
        try h.kubectl("create", "serviceaccount", "robot", "-n", "demo").check()
        let token = try h.kubectl("create", "token", "robot", "-n", "demo").check().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let c = try jwtPart(token)
        #expect(c["sub"] as? String == "system:serviceaccount:demo:robot")
        #expect(c["aud"] as? [String] == ["https://kubernetes.default.svc.cluster.local"])
        #expect((c["exp"] as? Int ?? 0) - (c["iat"] as? Int ?? 0) == 3600)
        let saUID = try h.kubectl("get", "sa", "robot", "-n", "demo", "-o", "jsonpath={.metadata.uid}").stdout
        #expect(((c["kubernetes.io"] as? [String: Any])?["serviceaccount"] as? [String: String])?["uid"] == saUID)
        // the token authenticates its bearer (kubectl sends no credentials over plain HTTP,
        // as client-go refuses to: curl presents the token, as a pod's client would)
        #expect(try h.kubectl("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}").check().stdout == "system:anonymous")
        #expect(try whoami(h, token)["username"] as? String == "system:serviceaccount:demo:robot")
        #expect(try whoami(h, token)["groups"] as? [String] == ["system:serviceaccounts", "system:serviceaccounts:demo", "system:authenticated"])
        #expect(try status(h, "/api/v1/namespaces/demo", token) == "200")
        let forged = String(token.dropLast(4)) + (token.hasSuffix("AAAA") ? "BBBB" : "AAAA")
        #expect(try status(h, "/api/v1/namespaces", forged) == "401")
        // TokenReview, as an admission webhook or Vault would ask
        let review = try h.kubectl("create", "-o", "jsonpath={.status.authenticated} {.status.user.username}", "-f", "-", stdin: """
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "\(token)"}}
            """).check().stdout
        #expect(review == "true system:serviceaccount:demo:robot")
        let wrongAudience = try h.kubectl("create", "-o", "jsonpath={.status.authenticated}", "-f", "-", stdin: """
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "\(token)", "audiences": ["vault"]}}
            """).check().stdout
        #expect(wrongAudience == "false")
        // audiences, durations and bad requests
        let vault = try jwtPart(try h.kubectl("create", "token", "robot", "-n", "demo", "--audience", "vault", "--duration", "20m").check().stdout)
        #expect(vault["aud"] as? [String] == ["vault"] && (vault["exp"] as? Int ?? 0) - (vault["iat"] as? Int ?? 0) == 1200)
        let short = try h.kubectl("create", "token", "robot", "-n", "demo", "--duration", "1m")
        #expect(!short.ok && short.stderr.contains("may not specify a duration less than 10 minutes"), "\(short)")
        let missing = try h.kubectl("create", "token", "nobody", "-n", "demo")
        #expect(!missing.ok && missing.stderr.contains(#"serviceaccounts "nobody" not found"#), "\(missing)")
        // a token bound to a pod names it, and dies with it
        try h.kubectl("apply", "-f", "-", stdin: pod("p")).check()
        let bound = try h.kubectl("create", "token", "robot", "-n", "demo", "--bound-object-kind", "Pod", "--bound-object-name", "p")
            .check().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let extra = try whoami(h, bound)["extra"] as? [String: [String]]
        #expect(extra?["authentication.kubernetes.io/pod-name"] == ["p"], "\(String(describing: extra))")
        let noPod = try h.kubectl("create", "token", "robot", "-n", "demo", "--bound-object-kind", "Pod", "--bound-object-name", "ghost")
        #expect(!noPod.ok && noPod.stderr.contains(#"pods "ghost" not found"#), "\(noPod)")
        try h.kubectl("delete", "pod", "p", "-n", "demo", "--grace-period=0", "--force").check()
        #expect(try status(h, "/api/v1/namespaces", bound) == "401", "a token bound to a deleted pod no longer authenticates")
        // deleting the service account revokes its tokens
        try h.kubectl("delete", "sa", "robot", "-n", "demo").check()
        #expect(try status(h, "/api/v1/namespaces", token) == "401")
        // the signing key is published for OIDC discovery, and survives a restart of the server
        let jwks = try h.kubectl("get", "--raw", "/openid/v1/jwks").check().stdout
        let kid = try jwtPart(token, 0)["kid"] as? String ?? "no kid"
        #expect(jwks.contains(kid) && jwks.contains("\"ES256\""), "\(jwks)")
        #expect(try h.kubectl("get", "--raw", "/.well-known/openid-configuration").check().stdout.contains("\"jwks_uri\""))
        try h.kubectl("create", "serviceaccount", "keeper", "-n", "demo").check()
        let kept = try h.kubectl("create", "token", "keeper", "-n", "demo").check().stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        h.stop()
        try h.start()
        #expect(try status(h, "/api/v1/namespaces/demo", kept) == "200", "tokens outlive a restart of the server")
        #expect(try h.kubectl("get", "--raw", "/openid/v1/jwks").check().stdout == jwks)
    }

    @Test func explainAndAPIResources() throws {
        let h = try ServerHarness(name: "explain")
        let explain = try h.kubectl("explain", "pod.spec")
        #expect(explain.ok, "\(explain)")
        #expect(explain.stdout.contains("FIELD: spec <PodSpec>"))
        #expect(explain.stdout.contains("containers\t<[]Container> -required-"))
        let replicas = try h.kubectl("explain", "deployment.spec.replicas")
        #expect(replicas.stdout.contains("FIELD: replicas <integer>"), "\(replicas)")
        let res = try h.kubectl("api-resources")
        #expect(res.ok)
        let rows = res.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(rows.contains("deployments deploy apps/v1 true Deployment"), "\(res)")
        #expect(rows.contains("pods po v1 true Pod"))
        #expect(rows.contains("tokenreviews authentication.k8s.io/v1 false TokenReview"))
        #expect(rows.contains("selfsubjectreviews authentication.k8s.io/v1 false SelfSubjectReview"))
    }

    @Test func customResourceDefinitionServesItsKind() throws {
        let h = try ServerHarness(name: "crd")
        let crd = """
            apiVersion: apiextensions.k8s.io/v1
            kind: CustomResourceDefinition
            metadata: {name: widgets.example.com}
            spec:
              group: example.com
              names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
              scope: Namespaced
              versions:
              - name: v1
                served: true
                storage: true
                schema:
                  openAPIV3Schema:
                    type: object
                    properties:
                      spec: {type: object, properties: {size: {type: integer}, color: {type: string}}}
                additionalPrinterColumns:
                - {name: Size, type: integer, jsonPath: .spec.size}
            """
        #expect(try h.kubectl("apply", "-f", "-", stdin: crd).ok)
        let w = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: default}\nspec: {size: 3, color: blue}\n"
        let created = try h.kubectl("apply", "-f", "-", stdin: w)
        #expect(created.stdout == "widget.example.com/w1 created\n", "\(created)")
        let got = try h.kubectl("get", "wd")
        #expect(got.stdout.hasPrefix("NAME   SIZE   AGE\nw1     3"), "\(got)")
        #expect(try h.kubectl("apply", "-f", "-", stdin: w).stdout == "widget.example.com/w1 unchanged\n")
        #expect(try h.kubectl("delete", "crd", "widgets.example.com").ok)
        let after = try h.kubectl("get", "widgets.example.com")
        #expect(!after.ok)
    }

    @Test func badInputIsRefusedAndNothingStored() throws {
        let h = try ServerHarness(name: "bad")
        let badName = try h.kubectl("apply", "-f", "-", stdin: pod("Bad_Name", ns: "default"))
        #expect(badName.stderr.contains("metadata.name: Invalid value: \"Bad_Name\""), "\(badName)")
        let negative = manifest.replacingOccurrences(of: "replicas: 3", with: "replicas: -1")
        let neg = try h.kubectl("apply", "-f", "-", stdin: negative)
        #expect(neg.stderr.contains("spec.replicas: Invalid value: -1: must be greater than or equal to 0"), "\(neg)")
        let quantity = manifest.replacingOccurrences(of: "cpu: 100m", with: "cpu: lots")
        let q = try h.kubectl("apply", "-f", "-", stdin: quantity)
        #expect(q.stderr.contains("quantities must match the regular expression"), "\(q)")
        let unknownField = try h.kubectl("apply", "-f", "-", stdin: pod("p", ns: "default").replacingOccurrences(of: "image: busybox:1.36", with: "image: busybox:1.36, bogus: 1"))
        #expect(unknownField.stderr.contains("unknown field \"spec.containers[0].bogus\""), "\(unknownField)")
        let unknownKind = try h.kubectl("apply", "-f", "-", stdin: "apiVersion: v9\nkind: Widget\nmetadata: {name: w}\n")
        #expect(unknownKind.stderr.contains("no matches for kind \"Widget\" in version \"v9\""), "\(unknownKind)")
        let malformed = try h.kubectl("apply", "-f", "-", stdin: "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n")
        #expect(!malformed.ok)
        // nothing half-stored: only the built-in namespace objects exist
        let pods = try h.kubectl("get", "pods", "-A", "-o", "name")
        #expect(pods.stdout.isEmpty, "\(pods)")
        let deploys = try h.kubectl("get", "deploy", "-A", "-o", "name")
        #expect(deploys.stdout.isEmpty)
        // raw API: 4xx Status objects that name the field
        let raw = try h.kubectl("create", "--raw", "/api/v1/namespaces/default/services", "-f", "-",
                                stdin: #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":70000}]}}"#)
        #expect(raw.stderr.contains("spec.ports[0].port"), "\(raw)")
    }

    @Test func clusterIPAndNodePortConflicts() throws {
        let h = try ServerHarness(name: "svc")
        let svc = { (name: String, ip: String, np: Int) in
            """
            apiVersion: v1
            kind: Service
            metadata: {name: \(name), namespace: default}
            spec: {type: NodePort, clusterIP: \(ip), ports: [{port: 80, nodePort: \(np)}]}
            """
        }
        #expect(try h.kubectl("apply", "-f", "-", stdin: svc("a", "10.96.0.50", 30080)).ok)
        let dupIP = try h.kubectl("apply", "-f", "-", stdin: svc("b", "10.96.0.50", 30081))
        #expect(dupIP.stderr.contains("provided IP is already allocated"), "\(dupIP)")
        let dupPort = try h.kubectl("apply", "-f", "-", stdin: svc("c", "10.96.0.51", 30080))
        #expect(dupPort.stderr.contains("spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"), "\(dupPort)")
        #expect(try h.kubectl("delete", "svc", "a").ok)
        #expect(try h.kubectl("apply", "-f", "-", stdin: svc("d", "10.96.0.50", 30080)).ok)
    }
}
