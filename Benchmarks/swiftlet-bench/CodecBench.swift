// swiftlet-bench codec: what a client pays to read one watched Pod — our JSONParser and
// JSONValueDecoder (what informers use) beside Foundation's JSONDecoder on the same bytes —
// and to write one back (JSONValueEncoder + JSONWriter beside JSONEncoder). The pod is a bound,
// running pod as `swiftlet server` stores it: defaults, managedFields, status and conditions.
import ArgumentParser
import Foundation
import KubeAPI

struct CodecBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "codec",
                                                    abstract: "Decode and encode a bound Pod: our JSON codec vs Foundation's.")

    @Option(help: "Iterations per measurement.")
    var iterations = 20_000
    @Option(help: "Rounds (each measurement is repeated, median reported).")
    var rounds = 5

    func run() throws {
        let bytes = Array(Self.pod.utf8)
        let data = Data(bytes)
        say("codec benchmark: a bound Pod of \(bytes.count) bytes, \(iterations) iterations × \(rounds) rounds, median µs per op")
        // The same object through both decoders must agree (Foundation has no unknown fields to keep).
        let ours = try JSONValueDecoder().decode(Pod.self, from: try JSONParser.parse(bytes))
        var theirs = try JSONDecoder().decode(Pod.self, from: data)
        theirs.unknownFields = ours.unknownFields
        guard ours == theirs else { throw CleanExit.message("the two decoders disagree on the sample pod") }
        let tree = try JSONParser.parse(bytes)

        var results: [(String, Double)] = []
        func measure(_ name: String, _ body: () throws -> Void) rethrows {
            var samples: [Double] = []
            for _ in 0..<rounds {
                let t0 = now()
                for _ in 0..<iterations { try body() }
                samples.append(Double(now() - t0) / Double(iterations) / 1000)
            }
            let median = samples.sorted()[samples.count / 2]
            results.append((name, median))
            say(name.padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: "%8.2f", median))
        }
        var sink = 0
        try measure("parse bytes → JSONValue") { sink &+= try JSONParser.parse(bytes).objectValue?.count ?? 0 }
        try measure("JSONValue → Pod (JSONValueDecoder)") { sink &+= try JSONValueDecoder().decode(Pod.self, from: tree).metadata.name?.count ?? 0 }
        try measure("bytes → Pod, ours (parse + decode)") {
            sink &+= try JSONValueDecoder().decode(Pod.self, from: try JSONParser.parse(bytes)).metadata.name?.count ?? 0
        }
        try measure("reference: bytes → Pod, Foundation JSONDecoder") { sink &+= try JSONDecoder().decode(Pod.self, from: data).metadata.name?.count ?? 0 }
        measure("JSONValue → bytes (JSONWriter)") { sink &+= JSONWriter.bytes(tree).count }
        try measure("Pod → bytes, ours (encode + write)") { sink &+= JSONWriter.bytes(try JSONValueEncoder().encode(ours)).count }
        try measure("reference: Pod → bytes, Foundation JSONEncoder") { sink &+= try JSONEncoder().encode(ours).count }
        let ourDecode = results[2].1, refDecode = results[3].1, ourEncode = results[4].1, refEncode = results[5].1
        say(String(format: "decode: ours %.2fx faster than Foundation; encode: %.2fx", refDecode / ourDecode, refEncode / ourEncode))
        if sink == 42 { say("") }  // keeps the work observable
    }

    /// A pod as the API server returns it once scheduled and running.
    static let pod = #"""
    {"apiVersion":"v1","kind":"Pod","metadata":{"creationTimestamp":"2026-12-06T08:00:00Z","labels":{"app":"bench","pod-template-hash":"7d9f8c6b5"},"managedFields":[{"apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app":{},"f:pod-template-hash":{}},"f:ownerReferences":{".":{},"k:{\"uid\":\"5b1d7c1e-2d0f-4c55-9d6e-0c1f3e8a9b21\"}":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:command":{},"f:image":{},"f:imagePullPolicy":{},"f:name":{},"f:resources":{".":{},"f:requests":{".":{},"f:cpu":{},"f:memory":{}}},"f:terminationMessagePath":{},"f:terminationMessagePolicy":{}}},"f:dnsPolicy":{},"f:enableServiceLinks":{},"f:restartPolicy":{},"f:schedulerName":{},"f:securityContext":{},"f:terminationGracePeriodSeconds":{}}},"manager":"kube-controller-manager","operation":"Update","time":"2026-12-06T08:00:00Z"},{"apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{"f:status":{"f:conditions":{"k:{\"type\":\"ContainersReady\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Initialized\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}},"k:{\"type\":\"Ready\"}":{".":{},"f:lastProbeTime":{},"f:lastTransitionTime":{},"f:status":{},"f:type":{}}},"f:containerStatuses":{},"f:hostIP":{},"f:phase":{},"f:podIP":{},"f:podIPs":{".":{},"k:{\"ip\":\"10.244.0.17\"}":{".":{},"f:ip":{}}},"f:startTime":{}}},"manager":"swiftlet","operation":"Update","subresource":"status","time":"2026-12-06T08:00:01Z"}],"name":"web-7d9f8c6b5-x2k4p","namespace":"bench","ownerReferences":[{"apiVersion":"apps/v1","blockOwnerDeletion":true,"controller":true,"kind":"ReplicaSet","name":"web-7d9f8c6b5","uid":"5b1d7c1e-2d0f-4c55-9d6e-0c1f3e8a9b21"}],"resourceVersion":"48213","uid":"0f6c9a52-8b3e-4d7a-a1c4-6e2d9b0f7a13"},"spec":{"containers":[{"command":["sleep","3600"],"image":"busybox:1.36","imagePullPolicy":"IfNotPresent","name":"c","resources":{"requests":{"cpu":"100m","memory":"128Mi"}},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","volumeMounts":[{"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","name":"kube-api-access-7xq2m","readOnly":true}]}],"dnsPolicy":"ClusterFirst","enableServiceLinks":true,"nodeName":"node-17","preemptionPolicy":"PreemptLowerPriority","priority":0,"restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"serviceAccount":"default","serviceAccountName":"default","terminationGracePeriodSeconds":30,"tolerations":[{"effect":"NoExecute","key":"node.kubernetes.io/not-ready","operator":"Exists","tolerationSeconds":300},{"effect":"NoExecute","key":"node.kubernetes.io/unreachable","operator":"Exists","tolerationSeconds":300}],"volumes":[{"name":"kube-api-access-7xq2m","projected":{"defaultMode":420,"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},{"configMap":{"items":[{"key":"ca.crt","path":"ca.crt"}],"name":"kube-root-ca.crt"}},{"downwardAPI":{"items":[{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"},"path":"namespace"}]}}]}}]},"status":{"conditions":[{"lastProbeTime":null,"lastTransitionTime":"2026-12-06T08:00:01Z","status":"True","type":"PodReadyToStartContainers"},{"lastProbeTime":null,"lastTransitionTime":"2026-12-06T08:00:00Z","status":"True","type":"Initialized"},{"lastProbeTime":null,"lastTransitionTime":"2026-12-06T08:00:01Z","status":"True","type":"Ready"},{"lastProbeTime":null,"lastTransitionTime":"2026-12-06T08:00:01Z","status":"True","type":"ContainersReady"},{"lastProbeTime":null,"lastTransitionTime":"2026-12-06T08:00:00Z","status":"True","type":"PodScheduled"}],"containerStatuses":[{"containerID":"swiftlet://4c1e9a0b7d2f","image":"docker.io/library/busybox:1.36","imageID":"docker.io/library/busybox@sha256:7b3ccabffc97de872a30dfd234fd972a66d247c8cfc69b0550f276481852627c","lastState":{},"name":"c","ready":true,"restartCount":0,"started":true,"state":{"running":{"startedAt":"2026-12-06T08:00:01Z"}}}],"hostIP":"192.0.2.17","hostIPs":[{"ip":"192.0.2.17"}],"phase":"Running","podIP":"10.244.0.17","podIPs":[{"ip":"10.244.0.17"}],"qosClass":"Burstable","startTime":"2026-12-06T08:00:00Z"}}
    """#
}
