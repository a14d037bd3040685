import Foundation
import KubeAPI
import Testing
@testable import MiniControlPlane

/// REST semantics checked in-process, without HTTP.
@Suite struct APIServerSemanticsTests {
    func server() async throws -> APIServer {
        let api = APIServer(store: try SQLiteStore(path: ":memory:"))
        try await api.bootstrap()
        return api
    }

    func res(_ api: APIServer, _ group: String, _ resource: String) async -> ResourceInfo {
        api.registry.lookup(group: group, version: "v1", resource: resource)!
    }

    func pod(_ name: String, node: String? = nil) -> JSONValue {
        var p: JSONValue = ["apiVersion": "v1", "kind": "Pod", "metadata": ["name": .string(name)],
                            "spec": ["containers": [["name": "c", "image": "busybox"]]]]
        if let node { p.setValue(.string(node), at: ["spec", "nodeName"]) }
        return p
    }

    @Test func bootstrapCreatesSystemNamespacesAndKubernetesService() async throws {
        let api = try await server()
        let ns = await res(api, "", "namespaces")
        for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let o = try await api.get(ns, namespace: nil, name: n)
            #expect(o.value(at: "status.phase") == "Active")
        }
        let svc = try await api.get(await res(api, "", "services"), namespace: "default", name: "kubernetes")
        #expect(svc.value(at: "spec.clusterIP") == "10.96.0.1")
        // bootstrapping again is idempotent
        try await api.bootstrap()
    }

    /// uids are random RFC 4122 version-4 UUIDs in lowercase, as Kubernetes makes them.
    @Test func uidsAreVersionFourUUIDs() throws {
        var seen = Set<String>()
        for _ in 0..<2_000 {
            let u = APIServer.newUID()
            let parts = u.split(separator: "-", omittingEmptySubsequences: false).map(\.count)
            #expect(parts == [8, 4, 4, 4, 12], "\(u)")
            #expect(u.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) || $0 == UInt8(ascii: "-") }, "\(u)")
            let chars = Array(u)
            #expect(chars[14] == "4", "version nibble of \(u)")
            #expect("89ab".contains(chars[19]), "variant nibble of \(u)")
            #expect(UUID(uuidString: u) != nil)
            seen.insert(u)
        }
        #expect(seen.count == 2_000)
    }

    @Test func generateNameUidAndTimestamps() async throws {
        let api = try await server()
        let pods = await res(api, "", "pods")
        var p = pod("")
        p.setValue(nil, at: ["metadata", "name"])
        p.setValue("web-", at: ["metadata", "generateName"])
        let created = try await api.create(pods, namespace: "default", body: p, options: WriteOptions()).object
        let name = created.value(at: "metadata.name")?.stringValue ?? ""
        #expect(name.hasPrefix("web-") && name.count == 9)
        #expect(created.value(at: "metadata.uid")?.stringValue?.count == 36)
        #expect(created.value(at: "metadata.creationTimestamp") != nil)
        #expect(created.value(at: "metadata.resourceVersion") != nil)
        #expect(created.value(at: "status.qosClass") == "BestEffort")
    }

    @Test func createInMissingNamespaceIsNotFound() async throws {
        let api = try await server()
        await #expect(throws: Status.self) {
            _ = try await api.create(await res(api, "", "pods"), namespace: "nope", body: pod("a"), options: WriteOptions())
        }
        do {
            _ = try await api.create(await res(api, "", "pods"), namespace: "nope", body: pod("a"), options: WriteOptions())
        } catch let s as Status {
            #expect(s.code == 404 && s.message == "namespaces \"nope\" not found")
        }
    }

    /// Label keys and values as kube-apiserver checks them: a 422 naming the key or value and
    /// the part at fault (a prefix that is not a lowercase DNS subdomain, or the name part),
    /// nothing stored; upstream-valid labels pass.
    @Test(arguments: [
        ("Example.com/app", "v", "prefix part a lowercase RFC 1123 subdomain"),
        ("-app", "v", "name part must consist of alphanumeric characters"),
        ("example.com/", "v", "name part must consist of alphanumeric characters"),
        ("app", "-v", "a valid label must be an empty string"),
        ("app", "v\u{E9}", "a valid label must be an empty string"),
    ])
    func invalidLabelsAreRefusedByPart(_ key: String, _ value: String, _ words: String) async throws {
        let api = try await server()
        let pods = await res(api, "", "pods")
        var p = pod("labelled")
        p.setValue(.object([key: .string(value)]), at: ["metadata", "labels"])
        do {
            _ = try await api.create(pods, namespace: "default", body: p, options: WriteOptions())
            Issue.record("labels \(key)=\(value) were accepted")
        } catch let s as Status {
            #expect(s.code == 422 && s.message?.contains("metadata.labels") == true && s.message?.contains(words) == true, "\(s.message ?? "")")
        }
        await #expect(throws: Status.self) { _ = try await api.get(pods, namespace: "default", name: "labelled") }
        p.setValue(["example.com/app": "Web_1.x", "tier": "", "k8s.io/part-of": "a-b"], at: ["metadata", "labels"])
        _ = try await api.create(pods, namespace: "default", body: p, options: WriteOptions())
    }

    @Test func boundPodDeletionIsGracefulUntilTheNodeConfirms() async throws {
        let api = try await server()
        let pods = await res(api, "", "pods")
        _ = try await api.create(pods, namespace: "default", body: pod("bound", node: "n1"), options: WriteOptions())
        let (marked, gone) = try await api.delete(pods, namespace: "default", name: "bound", options: .init())
        #expect(!gone)
        #expect(marked.value(at: "metadata.deletionTimestamp") != nil)
        #expect(marked.value(at: "metadata.deletionGracePeriodSeconds") == 30)
        // still readable while terminating
        _ = try await api.get(pods, namespace: "default", name: "bound")
        // the node confirms with grace 0
        var opts = APIServer.DeleteOptions()
        opts.gracePeriodSeconds = 0
        let (_, gone2) = try await api.delete(pods, namespace: "default", name: "bound", options: opts)
        #expect(gone2)
        await #expect(throws: Status.self) { _ = try await api.get(pods, namespace: "default", name: "bound") }
        // an unbound pod goes at once
        _ = try await api.create(pods, namespace: "default", body: pod("free"), options: WriteOptions())
        #expect(try await api.delete(pods, namespace: "default", name: "free", options: .init()).gone)
    }

    @Test func finalizersHoldDeletionUntilRemoved() async throws {
        let api = try await server()
        let cms = await res(api, "", "configmaps")
        let cm: JSONValue = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "f", "finalizers": ["example.com/hold"]]]
        _ = try await api.create(cms, namespace: "default", body: cm, options: WriteOptions())
        let (marked, gone) = try await api.delete(cms, namespace: "default", name: "f", options: .init())
        #expect(!gone && marked.value(at: "metadata.deletionTimestamp") != nil)
        let patched = try await api.patch(cms, namespace: "default", name: "f", type: .merge,
                                          patch: ["metadata": ["finalizers": nil]], options: WriteOptions())
        _ = patched
        await #expect(throws: Status.self) { _ = try await api.get(cms, namespace: "default", name: "f") }
    }

    @Test func staleResourceVersionConflicts() async throws {
        let api = try await server()
        let cms = await res(api, "", "configmaps")
        let created = try await api.create(cms, namespace: "default", body: ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "c"]],
                                           options: WriteOptions()).object
        var a = created
        a["data"] = ["k": "1"]
        _ = try await api.update(cms, namespace: "default", name: "c", body: a, options: WriteOptions())
        var b = created
        b["data"] = ["k": "2"]
        do {
            _ = try await api.update(cms, namespace: "default", name: "c", body: b, options: WriteOptions())
            Issue.record("stale update must conflict")
        } catch let s as Status {
            #expect(s.code == 409 && s.reason == "Conflict")
            #expect(s.message == "Operation cannot be fulfilled on configmaps \"c\": the object has been modified; please apply your changes to the latest version and try again")
        }
    }

    @Test func generationFollowsSpecAndStatusIsItsOwnSubresource() async throws {
        let api = try await server()
        let deps = await res(api, "apps", "deployments")
        let d: JSONValue = ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "d"],
                            "spec": ["replicas": 1, "selector": ["matchLabels": ["a": "b"]],
                                     "template": ["metadata": ["labels": ["a": "b"]], "spec": ["containers": [["name": "c", "image": "i"]]]]],
                            "status": ["replicas": 99]]
        let created = try await api.create(deps, namespace: "default", body: d, options: WriteOptions()).object
        #expect(created.value(at: "metadata.generation") == 1)
        #expect(created["status"] == nil)  // status is not set through the main resource
        var labelled = created
        labelled.setValue(["x": "y"], at: ["metadata", "labels"])
        let l = try await api.update(deps, namespace: "default", name: "d", body: labelled, options: WriteOptions()).object
        #expect(l.value(at: "metadata.generation") == 1)
        var scaled = l
        scaled.setValue(3, at: ["spec", "replicas"])
        let s = try await api.update(deps, namespace: "default", name: "d", body: scaled, options: WriteOptions()).object
        #expect(s.value(at: "metadata.generation") == 2)
        var st = s
        st["status"] = ["replicas": 3]
        var opts = WriteOptions()
        opts.subresource = "status"
        let withStatus = try await api.update(deps, namespace: "default", name: "d", body: st, options: opts).object
        #expect(withStatus.value(at: "status.replicas") == 3)
        #expect(withStatus.value(at: "metadata.generation") == 2)
    }

    @Test func strictFieldValidationRejectsUnknownFields() async throws {
        let api = try await server()
        var p = pod("s")
        p.setValue(1, at: ["spec", "bogus"])
        var opts = WriteOptions()
        opts.fieldValidation = "Strict"
        do {
            _ = try await api.create(await res(api, "", "pods"), namespace: "default", body: p, options: opts)
            Issue.record("strict validation must refuse")
        } catch let s as Status {
            #expect(s.code == 400 && s.message?.contains("unknown field \"spec.bogus\"") == true)
        }
        opts.fieldValidation = "Warn"
        let r = try await api.create(await res(api, "", "pods"), namespace: "default", body: p, options: opts)
        #expect(r.warnings == ["unknown field \"spec.bogus\""])

        // A merge patch is judged by what it changes: the stored unknown field is not
        // reported again, one the patch brings is (and Strict refuses only that).
        let pods = await res(api, "", "pods")
        let labels = try await api.patch(pods, namespace: "default", name: "s", type: .merge,
                                         patch: ["metadata": ["labels": ["rev": "b"]]], options: opts)
        #expect(labels.warnings.isEmpty, "\(labels.warnings)")
        let added = try await api.patch(pods, namespace: "default", name: "s", type: .merge,
                                        patch: ["metadata": ["alsoBogus": true]], options: opts)
        #expect(added.warnings == ["unknown field \"metadata.alsoBogus\""])
        opts.fieldValidation = "Strict"
        _ = try await api.patch(pods, namespace: "default", name: "s", type: .merge,
                                patch: ["metadata": ["labels": ["rev": "c"]]], options: opts)
        do {
            _ = try await api.patch(pods, namespace: "default", name: "s", type: .merge, patch: ["metadata": ["third": 1]], options: opts)
            Issue.record("strict validation must refuse a patch that adds an unknown field")
        } catch let s as Status {
            #expect(s.code == 400 && s.message?.contains("unknown field \"metadata.third\"") == true, "\(s)")
        }
    }

    @Test func watchSendsObjectsLeavingTheSelectorAsDeleted() async throws {
        // exercised through the store: a MODIFIED event carries the previous value
        let store = try SQLiteStore(path: ":memory:")
        _ = try await store.write(.create(key: "/registry/pods/ns/p") { _ in Array(#"{"a":1}"#.utf8) })
        let stream = try await store.watch(prefix: "/registry/pods/", after: 1)
        _ = try await store.write(.update(key: "/registry/pods/ns/p", expected: nil) { _ in Array(#"{"a":2}"#.utf8) })
        let ev = await firstEvents(stream, 1).first
        #expect(ev?.type == .modified)
        #expect(ev?.prevValue.map { String(decoding: $0, as: UTF8.self) } == #"{"a":1}"#)
    }
}
