package import Foundation
package import KubeAPI
import Runtime
import Yams

/// Static pods: manifests in `--pod-manifest-path` run on this node without the API, and are
/// mirrored there as pods annotated `kubernetes.io/config.mirror` so kubectl sees them.
package actor StaticPods {
    static let sourceAnnotation = "kubernetes.io/config.source"
    static let hashAnnotation = "kubernetes.io/config.hash"
    static let mirrorAnnotation = "kubernetes.io/config.mirror"
    static let seenAnnotation = "kubernetes.io/config.seen"

    let dir: String
    let nodeName: String
    let api: any PodAPI
    let client: APIClient
    /// Static pods by manifest file.
    private var pods: [String: Pod] = [:]
    private var mirrors: [String: Pod] = [:]

    package init(dir: String, nodeName: String, api: any PodAPI, client: APIClient) {
        self.dir = dir
        self.nodeName = nodeName
        self.api = api
        self.client = client
    }

    package static func isMirror(_ p: Pod) -> Bool { p.metadata.annotations?[mirrorAnnotation] != nil }

    /// Parses one manifest into the static pod: name suffixed with the node, UID from the content hash.
    package static func pod(from data: Data, nodeName: String, file: String) throws -> Pod {
        let text = String(decoding: data, as: UTF8.self)
        guard let obj = try Yams.load(yaml: text) else { throw AgentError("static pod manifest \(file) is empty") }
        let json = try JSONSerialization.data(withJSONObject: obj)
        let value = try JSONParser.parse(Array(json))
        var pod = try JSONValueDecoder().decode(Pod.self, from: value)
        guard pod.kind == nil || pod.kind == "Pod", !pod.name.isEmpty else {
            throw AgentError("static pod manifest \(file) is not a named Pod")
        }
        // From the file as written (JSONSerialization does not keep key order, so not from `json`).
        let hash = String(fnv1a(Array(data) + [0] + Array(nodeName.utf8)), radix: 16)
        pod.metadata.name = pod.name + "-" + nodeName
        pod.metadata.namespace = pod.namespace ?? "default"
        pod.metadata.uid = hash
        var ann = pod.metadata.annotations ?? [:]
        ann[sourceAnnotation] = "file"
        ann[hashAnnotation] = hash
        ann[seenAnnotation] = Timestamps.micro(Date())
        pod.metadata.annotations = ann
        pod.spec?.nodeName = nodeName
        if pod.spec?.restartPolicy == nil { pod.spec?.restartPolicy = "Always" }
        for i in (pod.spec?.containers ?? []).indices where pod.spec?.containers[i].imagePullPolicy == nil {
            pod.spec?.containers[i].imagePullPolicy = "IfNotPresent"
        }
        return pod
    }

    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h
    }

    /// The mirror pod for a static pod: same spec, annotated, owned by the Node.
    func mirror(of p: Pod) -> Pod {
        var m = Pod(metadata: ObjectMeta(name: p.name, namespace: p.namespace, labels: p.metadata.labels), spec: p.spec)
        var ann = p.metadata.annotations ?? [:]
        ann[Self.mirrorAnnotation] = ann[Self.hashAnnotation]
        m.metadata.annotations = ann
        return m
    }

    /// A mirror pod changed or disappeared in the API: re-create it when its static pod still runs.
    package func mirrorChanged(_ p: Pod?, name: String = "", namespace: String = "") async {
        if let p {
            mirrors[p.name] = p
            return
        }
        mirrors[name] = nil
        if let s = pods.values.first(where: { $0.name == name && $0.namespace == namespace }) {
            _ = try? await api.createPod(mirror(of: s))
        }
    }

    /// Scans the manifest directory every few seconds; runs until cancelled.
    package func run(update: @escaping @Sendable (Pod) async -> Void, deleted: @escaping @Sendable (Pod) async -> Void) async {
        while !Task.isCancelled {
            await scan(update: update, deleted: deleted)
            try? await Task.sleep(for: .seconds(2))
        }
    }

    func scan(update: @Sendable (Pod) async -> Void, deleted: @Sendable (Pod) async -> Void) async {
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
            .filter { !$0.hasPrefix(".") && ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json")) }
        var seen: Set<String> = []
        for f in files.sorted() {
            guard let data = FileContents.data(atPath: dir + "/" + f),
                var pod = try? Self.pod(from: data, nodeName: nodeName, file: f)
            else { continue }
            seen.insert(f)
            if let old = pods[f], old.uid == pod.uid {
                pod = old
            } else {
                if let old = pods[f] { await deleted(old) }
                pods[f] = pod
            }
            if mirrors[pod.name] == nil || mirrors[pod.name]?.metadata.annotations?[Self.mirrorAnnotation] != pod.uid {
                if let m = try? await api.createPod(mirror(of: pod)) { mirrors[pod.name] = m }
                else if let m = try? await client.get(Pod.self, namespace: pod.namespace, name: pod.name) { mirrors[pod.name] = m }
            }
            var live = pod
            live.status = mirrors[pod.name]?.status
            await update(live)
        }
        for (f, p) in pods where !seen.contains(f) {
            pods[f] = nil
            await deleted(p)
            try? await client.delete(Pod.self, namespace: p.namespace, name: p.name, gracePeriodSeconds: 0)
        }
    }
}
