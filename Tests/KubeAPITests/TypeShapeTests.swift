import Testing

@testable import KubeAPI

/// `TypeShape.check` must answer exactly what `JSONValueDecoder.decodeReportingUnknown`
/// answers: the API server validates every write with the shape instead of the decoder.
/// Each sample is checked as is and after every single-point mutation at every path.
@Suite struct TypeShapeTests {
    enum Outcome: Equatable, CustomStringConvertible {
        case ok([String])
        case failed(String)
        var description: String {
            switch self {
            case .ok(let u): return "ok \(u)"
            case .failed(let e): return "failed \(e)"
            }
        }
    }

    static func viaDecoder<T: Decodable>(_ t: T.Type, _ v: JSONValue) -> Outcome {
        do { return .ok(try JSONValueDecoder().decodeReportingUnknown(t, from: v).1.sorted()) } catch { return .failed("\(error)") }
    }

    static func viaShape<T: Decodable>(_ t: T.Type, _ v: JSONValue) -> Outcome {
        do { return .ok(try TypeShape.of(t).check(v).sorted()) } catch { return .failed("\(error)") }
    }

    static func viaShape<T: Decodable>(_ t: T.Type, _ v: JSONValue, unchangedFrom old: JSONValue) -> Outcome {
        do { return .ok(try TypeShape.of(t).check(v, unchangedFrom: old).sorted()) } catch { return .failed("\(error)") }
    }

    static let pod: JSONValue = try! JSONParser.parse(Array("""
        {"apiVersion":"v1","kind":"Pod",
         "metadata":{"name":"web","namespace":"default","labels":{"app":"web"},"annotations":{"a":"b"},
           "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"u1","controller":true}],
           "finalizers":["f"],"generation":3,"resourceVersion":"12",
           "managedFields":[{"manager":"kubectl","operation":"Update","apiVersion":"v1","time":"2026-01-01T00:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{}}}]},
         "spec":{"nodeName":"n1","restartPolicy":"Always","terminationGracePeriodSeconds":30,"priority":0,
           "nodeSelector":{"disk":"ssd"},"serviceAccountName":"default","hostNetwork":false,
           "securityContext":{"runAsUser":1000,"fsGroup":2000,"seccompProfile":{"type":"RuntimeDefault"}},
           "tolerations":[{"key":"k","operator":"Equal","value":"v","effect":"NoSchedule","tolerationSeconds":5}],
           "affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[
               {"matchExpressions":[{"key":"zone","operator":"In","values":["a","b"]}]}]},
             "preferredDuringSchedulingIgnoredDuringExecution":[{"weight":5,"preference":{"matchExpressions":[{"key":"x","operator":"Exists"}]}}]},
             "podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":{"matchLabels":{"app":"web"}},"topologyKey":"kubernetes.io/hostname"}]}},
           "volumes":[{"name":"data","emptyDir":{"sizeLimit":"1Gi"}},{"name":"cfg","configMap":{"name":"c","items":[{"key":"k","path":"p"}]}},
             {"name":"tok","projected":{"sources":[{"serviceAccountToken":{"path":"token","expirationSeconds":3600}}]}}],
           "initContainers":[{"name":"init","image":"busybox","command":["true"]}],
           "containers":[{"name":"c","image":"nginx:1.27","args":["-g","daemon off;"],"workingDir":"/",
             "ports":[{"name":"http","containerPort":80,"protocol":"TCP","hostPort":8080}],
             "env":[{"name":"A","value":"1"},{"name":"POD","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},
               {"name":"MEM","valueFrom":{"resourceFieldRef":{"resource":"limits.memory","divisor":"1Mi"}}}],
             "resources":{"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"cpu":1,"memory":"128Mi"}},
             "volumeMounts":[{"name":"data","mountPath":"/data","readOnly":true}],
             "livenessProbe":{"httpGet":{"path":"/","port":"http","httpHeaders":[{"name":"X","value":"y"}]},"initialDelaySeconds":1,"periodSeconds":2},
             "readinessProbe":{"tcpSocket":{"port":80},"failureThreshold":3},
             "startupProbe":{"exec":{"command":["true"]}},
             "lifecycle":{"preStop":{"exec":{"command":["sleep","1"]}}},
             "securityContext":{"privileged":false,"capabilities":{"add":["NET_ADMIN"],"drop":["ALL"]},"readOnlyRootFilesystem":true},
             "stdin":false,"tty":false,"imagePullPolicy":"IfNotPresent"}]},
         "status":{"phase":"Running","podIP":"10.0.0.5","podIPs":[{"ip":"10.0.0.5"}],"hostIP":"192.0.2.1","qosClass":"Burstable",
           "startTime":"2026-01-01T00:00:00Z",
           "conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-01-01T00:00:00Z"}],
           "containerStatuses":[{"name":"c","ready":true,"restartCount":2,"image":"nginx:1.27","imageID":"sha256:x","containerID":"swiftlet://abc",
             "started":true,"state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}},
             "lastState":{"terminated":{"exitCode":137,"reason":"OOMKilled","startedAt":"2026-01-01T00:00:00Z","finishedAt":"2026-01-01T00:00:01Z"}}}]}}
        """.utf8))

    static let deployment: JSONValue = try! JSONParser.parse(Array("""
        {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
         "spec":{"replicas":3,"revisionHistoryLimit":5,"minReadySeconds":1,"paused":false,"progressDeadlineSeconds":600,
           "selector":{"matchLabels":{"app":"d"},"matchExpressions":[{"key":"tier","operator":"NotIn","values":["x"]}]},
           "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":1}},
           "template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"i"}]}}},
         "status":{"replicas":3,"readyReplicas":2,"observedGeneration":4,
           "conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable","message":"ok"}]}}
        """.utf8))

    static let service: JSONValue = try! JSONParser.parse(Array("""
        {"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},
         "spec":{"type":"NodePort","selector":{"app":"d"},"clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],
           "sessionAffinity":"None","externalTrafficPolicy":"Cluster","ipFamilies":["IPv4"],
           "ports":[{"name":"http","port":80,"targetPort":"http","nodePort":30080,"protocol":"TCP"},{"port":53,"targetPort":53,"protocol":"UDP"}]},
         "status":{"loadBalancer":{}}}
        """.utf8))

    static let node: JSONValue = try! JSONParser.parse(Array("""
        {"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","labels":{"kubernetes.io/hostname":"n1"}},
         "spec":{"podCIDR":"10.244.0.0/24","podCIDRs":["10.244.0.0/24"],"unschedulable":false,
           "taints":[{"key":"k","value":"v","effect":"NoSchedule"}]},
         "status":{"capacity":{"cpu":"2","memory":"4Gi","pods":"110","example.com/gpu":"4"},"allocatable":{"cpu":"1900m","memory":"3Gi"},
           "addresses":[{"type":"InternalIP","address":"192.0.2.1"}],
           "conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"2026-01-01T00:00:00Z"}],
           "nodeInfo":{"kubeletVersion":"v1.35.0","osImage":"Debian","architecture":"amd64","operatingSystem":"linux",
             "kernelVersion":"6.1","containerRuntimeVersion":"swiftlet://0.1","machineID":"m","systemUUID":"s","bootID":"b",
             "kubeProxyVersion":"v1.35.0"},
           "daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},
           "images":[{"names":["busybox:1.36"],"sizeBytes":1234}]}}
        """.utf8))

    static var others: [(String, any Decodable.Type, JSONValue)] { [
        ("ConfigMap", ConfigMap.self, ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "c"], "data": ["k": "v"],
                                       "binaryData": ["b": "AAE="], "immutable": false]),
        ("Secret", Secret.self, ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "s"], "type": "Opaque",
                                 "data": ["k": "dg=="], "stringData": ["x": "y"]]),
        ("Lease", Lease.self, ["apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": ["name": "n1"],
                               "spec": ["holderIdentity": "n1", "leaseDurationSeconds": 40, "renewTime": "2026-01-01T00:00:00.000000Z",
                                        "leaseTransitions": 1]]),
        ("Event", Event.self, ["apiVersion": "v1", "kind": "Event", "metadata": ["name": "e"], "reason": "Started", "message": "m",
                               "type": "Normal", "count": 2, "involvedObject": ["kind": "Pod", "name": "p", "namespace": "default"],
                               "source": ["component": "kubelet", "host": "n1"], "firstTimestamp": "2026-01-01T00:00:00Z"]),
        ("EndpointSlice", EndpointSlice.self, ["apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": ["name": "s-1"],
                                               "addressType": "IPv4",
                                               "endpoints": [["addresses": ["10.0.0.5"], "conditions": ["ready": true], "nodeName": "n1",
                                                              "targetRef": ["kind": "Pod", "name": "p"]]],
                                               "ports": [["name": "http", "port": 80, "protocol": "TCP"]]]),
        ("Namespace", Namespace.self, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "ns"],
                                       "spec": ["finalizers": ["kubernetes"]], "status": ["phase": "Active"]]),
    ] }

    /// Every path in `v`, parents before children.
    static func paths(_ v: JSONValue, _ prefix: [PathKey] = []) -> [[PathKey]] {
        var out = [prefix]
        switch v {
        case .object(let o): for k in o.keys.sorted() { out += paths(o[k]!, prefix + [.key(k)]) }
        case .array(let a): for (i, e) in a.enumerated() { out += paths(e, prefix + [.index(i)]) }
        default: break
        }
        return out
    }

    enum PathKey { case key(String), index(Int) }

    /// `v` with the value at `path` replaced (nil removes it from its object).
    static func replacing(_ v: JSONValue, _ path: ArraySlice<PathKey>, with new: JSONValue?) -> JSONValue {
        guard let first = path.first else { return new ?? .null }
        switch (v, first) {
        case (.object(var o), .key(let k)):
            if path.count == 1 { o[k] = new } else { o[k] = replacing(o[k]!, path.dropFirst(), with: new) }
            return .object(o)
        case (.array(var a), .index(let i)):
            a[i] = path.count == 1 ? (new ?? .null) : replacing(a[i], path.dropFirst(), with: new)
            return .array(a)
        default: return v
        }
    }

    static let mutations: [JSONValue?] = [nil, .null, "text", "12Mi", "-1", 7, -3, 3_000_000_000, 1.5, true, [], ["x"], [:], ["zz": 1]]

    func compareAll<T: Decodable>(_ t: T.Type, _ sample: JSONValue, name: String) {
        #expect(Self.viaShape(t, sample) == .ok([]), "\(name): the sample itself must check clean")
        var compared = 0
        for path in Self.paths(sample) {
            var variants: [JSONValue] = Self.mutations.map { Self.replacing(sample, path[...], with: $0) }
            // an unknown field inside this object
            if case .object(var o)? = Self.value(sample, path[...]) {
                o["zzUnknown"] = ["a": 1]
                variants.append(Self.replacing(sample, path[...], with: .object(o)))
            }
            for v in variants {
                let d = Self.viaDecoder(t, v), s = Self.viaShape(t, v)
                #expect(d == s, "\(name) at \(path): decoder \(d), shape \(s)")
                // The sample checks clean, so all there is to find is at the changed path:
                // checking only what differs from the sample must find the same.
                let u = Self.viaShape(t, v, unchangedFrom: sample)
                #expect(u == s, "\(name) at \(path): whole \(s), changed parts only \(u)")
                compared += 1
            }
        }
        #expect(compared > 100)
    }

    static func value(_ v: JSONValue, _ path: ArraySlice<PathKey>) -> JSONValue? {
        guard let first = path.first else { return v }
        switch (v, first) {
        case (.object(let o), .key(let k)): return o[k].flatMap { value($0, path.dropFirst()) }
        case (.array(let a), .index(let i)): return i < a.count ? value(a[i], path.dropFirst()) : nil
        default: return nil
        }
    }

    @Test func podAnswersAsTheDecoder() { compareAll(Pod.self, Self.pod, name: "Pod") }
    @Test func deploymentAnswersAsTheDecoder() { compareAll(Deployment.self, Self.deployment, name: "Deployment") }
    @Test func serviceAnswersAsTheDecoder() { compareAll(Service.self, Self.service, name: "Service") }
    @Test func nodeAnswersAsTheDecoder() { compareAll(Node.self, Self.node, name: "Node") }

    @Test func otherKindsAnswerAsTheDecoder() {
        for (name, t, sample) in Self.others {
            func open<T: Decodable>(_ t: T.Type) { compareAll(t, sample, name: name) }
            open(t)
        }
    }

    @Test func errorsNameTheField() {
        let containers: [PathKey] = [.key("spec"), .key("containers")]
        var p = Self.replacing(Self.pod, containers[...], with: "many")
        #expect(Self.viaShape(Pod.self, p) == .failed("spec.containers: cannot unmarshal string into a value of type array"))
        let cpu = containers + [.index(0), .key("resources"), .key("limits"), .key("cpu")]
        p = Self.replacing(Self.pod, cpu[...], with: "lots")
        if case .failed(let e) = Self.viaShape(Pod.self, p) { #expect(e.contains("lots")) } else { Issue.record("an invalid quantity passed") }
        let port = containers + [.index(0), .key("ports"), .index(0), .key("containerPort")]
        p = Self.replacing(Self.pod, port[...], with: "80")
        #expect(Self.viaShape(Pod.self, p) == .failed("spec.containers[0].ports[0].containerPort: cannot unmarshal string into a value of type int32"))
        p = Self.replacing(Self.pod, (containers + [.index(0), .key("name")])[...], with: nil)
        #expect(Self.viaShape(Pod.self, p) == Self.viaDecoder(Pod.self, p))
        p = Self.replacing(Self.pod, (containers + [.index(0), .key("bogus")])[...], with: 1)
        #expect(Self.viaShape(Pod.self, p) == .ok(["spec.containers[0].bogus"]))
    }

    /// What the stored object already had is not reported again; what a patch adds is.
    @Test func unchangedPartsAreNotCheckedAgain() throws {
        var stored = Self.pod
        stored.setValue(["a": 1], at: ["spec", "zzKept"])
        stored = Self.replacing(stored, [.key("spec"), .key("containers"), .index(0), .key("zzAlsoKept")][...], with: "x")
        #expect(Self.viaShape(Pod.self, stored) == .ok(["spec.containers[0].zzAlsoKept", "spec.zzKept"]))
        var patched = stored
        patched.setValue(["app": "web", "rev": "b"], at: ["metadata", "labels"])
        #expect(Self.viaShape(Pod.self, patched, unchangedFrom: stored) == .ok([]))
        patched.setValue(1, at: ["spec", "zzNew"])
        #expect(Self.viaShape(Pod.self, patched, unchangedFrom: stored) == .ok(["spec.zzNew"]))
        patched.setValue("lots", at: ["spec", "terminationGracePeriodSeconds"])
        #expect(Self.viaShape(Pod.self, patched, unchangedFrom: stored)
                == .failed("spec.terminationGracePeriodSeconds: cannot unmarshal string into a value of type int64"))
    }
}
