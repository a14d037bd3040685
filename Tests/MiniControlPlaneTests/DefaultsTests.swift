import KubeAPI
import Testing
@testable import MiniControlPlane

@Suite struct DefaultsTests {
    static let pods = BuiltinResources.all.first { $0.group == "" && $0.resource == "pods" }!

    static func pod(_ containers: [JSONValue]) -> JSONValue {
        ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": "p"], "spec": ["containers": .array(containers)]]
    }

    @Test func podDefaultsAsKubernetesSetsThem() throws {
        var p = Self.pod([
            ["name": "a", "image": "busybox:1.36", "ports": [["containerPort": 80]],
             "livenessProbe": ["httpGet": ["port": 80]], "readinessProbe": ["exec": ["command": ["true"]]]],
            ["name": "b", "image": "nginx"],
            ["name": "c", "image": "registry:5000/team/app"],
            ["name": "d", "image": "app@sha256:0123"],
            ["name": "e", "image": "app:latest"],
        ])
        try Defaults.apply(Self.pods, &p)
        let spec = try #require(p["spec"])
        #expect(spec["restartPolicy"] == "Always")
        #expect(spec["terminationGracePeriodSeconds"] == 30)
        #expect(spec["dnsPolicy"] == "ClusterFirst")
        #expect(spec["serviceAccountName"] == "default")
        #expect(spec["tolerations"]?.arrayValue?.compactMap { $0["key"]?.stringValue }
                == ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"])
        let cs = try #require(spec["containers"]?.arrayValue)
        #expect(cs.map { $0["imagePullPolicy"]?.stringValue } == ["IfNotPresent", "Always", "Always", "IfNotPresent", "Always"])
        #expect(cs.allSatisfy { $0["terminationMessagePath"] == "/dev/termination-log" && $0["terminationMessagePolicy"] == "File" && $0["resources"] == [:] })
        #expect(cs[0].value(at: ["ports"])?.arrayValue?.first?["protocol"] == "TCP")
        #expect(cs[0]["livenessProbe"] == ["httpGet": ["port": 80, "scheme": "HTTP", "path": "/"],
                                            "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3])
        #expect(cs[0]["readinessProbe"] == ["exec": ["command": ["true"]],
                                             "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3])
        #expect(p.value(at: ["status", "phase"]) == "Pending")
        #expect(p.value(at: ["status", "qosClass"]) == "BestEffort")

        // Defaulting a defaulted pod changes nothing, and no container asks for it.
        var again = p
        try Defaults.apply(Self.pods, &again)
        #expect(again == p)
        #expect(!cs.contains(where: Defaults.needsDefaults))
    }

    /// The dry run and the defaulting share one list: every default that is missing is
    /// noticed, and setting it gives back the defaulted container.
    @Test func eachMissingDefaultIsNoticedAndSet() throws {
        var p = Self.pod([["name": "a", "image": "busybox:1.36", "ports": [["containerPort": 80]],
                           "startupProbe": ["httpGet": ["port": 80]]]])
        try Defaults.apply(Self.pods, &p)
        let full = try #require(p.value(at: ["spec", "containers"])?.arrayValue?.first)
        let removals: [(String, (inout JSONValue) -> Void)] = [
            ("terminationMessagePath", { $0["terminationMessagePath"] = nil }),
            ("terminationMessagePolicy", { $0["terminationMessagePolicy"] = nil }),
            ("resources", { $0["resources"] = nil }),
            ("imagePullPolicy", { $0["imagePullPolicy"] = nil }),
            ("ports[0].protocol", { $0.setValue(.array([["containerPort": 80]]), at: ["ports"]) }),
            ("startupProbe.periodSeconds", { $0.setValue(nil, at: ["startupProbe", "periodSeconds"]) }),
            ("startupProbe.httpGet.scheme", { $0.setValue(nil, at: ["startupProbe", "httpGet", "scheme"]) }),
        ]
        for (what, remove) in removals {
            var c = full
            remove(&c)
            #expect(c != full, "\(what)")
            #expect(Defaults.needsDefaults(c), "missing \(what) not noticed")
            let before = c
            #expect(Defaults.needsDefaults(c) && c == before, "the dry run changed the container")
            Defaults.container(&c)
            #expect(c == full, "missing \(what) not set back")
        }
    }
}
