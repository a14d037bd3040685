import KubeAPI
import Testing

@testable import MiniControlPlane

/// managedFields and server-side apply conflicts as kube-apiserver keeps them: an Update
/// takes ownership of what it changes, an Apply that would change another manager's field
/// is refused unless forced, and equal values are shared.
@Suite struct ManagedFieldsTests {
    func setUp() async throws -> (APIServer, ResourceInfo) {
        let api = APIServer(store: try SQLiteStore(path: ":memory:"))
        try await api.bootstrap()
        let deployments = api.registry.lookup(group: "apps", version: "v1", resource: "deployments")!
        let d: JSONValue = [
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web", "labels": ["app": "web"]],
            "spec": ["replicas": 1, "selector": ["matchLabels": ["app": "web"]],
                     "template": ["metadata": ["labels": ["app": "web"]], "spec": ["containers": [["name": "c", "image": "nginx:1.26"]]]]],
        ]
        _ = try await api.create(deployments, namespace: "default", body: d, options: WriteOptions(fieldManager: "kubectl-create"))
        return (api, deployments)
    }

    static func entries(_ o: JSONValue) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for e in o.value(at: ["metadata", "managedFields"])?.arrayValue ?? [] {
            out["\(e["manager"]?.stringValue ?? "")/\(e["operation"]?.stringValue ?? "")\(e["subresource"]?.stringValue.map { "/" + $0 } ?? "")"] = e["fieldsV1"]
        }
        return out
    }

    static func owns(_ fields: JSONValue?, _ path: [String]) -> Bool {
        guard let fields else { return false }
        return FieldSet(fieldsV1: fields).paths.contains(path.joined(separator: String(FieldSet.sep)))
    }

    func patch(_ api: APIServer, _ r: ResourceInfo, _ type: APIServer.PatchType, _ body: JSONValue, manager: String,
               force: Bool = false, subresource: String? = nil) async throws -> JSONValue
    {
        var o = WriteOptions(fieldManager: manager, force: force)
        o.subresource = subresource
        return try await api.patch(r, namespace: "default", name: "web", type: type, patch: body, options: o).object
    }

    static let replicas = ["f:spec", "f:replicas"]
    static let image = ["f:spec", "f:template", "f:spec", "f:containers", #"k:{"name":"c"}"#, "f:image"]

    @Test func anUpdateTakesTheFieldsItChanges() async throws {
        let (api, r) = try await setUp()
        let o = try await patch(api, r, .merge, ["spec": ["replicas": 3]], manager: "kubectl-edit")
        let e = Self.entries(o)
        #expect(e["kubectl-edit/Update"] == ["f:spec": ["f:replicas": [:]]])
        #expect(!Self.owns(e["kubectl-create/Update"], Self.replicas))
        #expect(Self.owns(e["kubectl-create/Update"], Self.image))
        // an update that changes nothing leaves the entries alone
        let again = try await patch(api, r, .merge, ["spec": ["replicas": 3]], manager: "someone-else")
        #expect(Self.entries(again)["someone-else/Update"] == nil)
    }

    /// A PUT without managedFields (a client that strips them, as informers of the scheduler
    /// and controllers do) keeps the live entries; `[]` resets them, as kube-apiserver does.
    @Test func anUpdateWithoutManagedFieldsKeepsTheLiveOnes() async throws {
        let (api, r) = try await setUp()
        var live = try await api.get(r, namespace: "default", name: "web")
        live.setValue(Optional<JSONValue>.none, at: ["metadata", "managedFields"])
        live.setValue(5, at: ["spec", "replicas"])
        let kept = try await api.update(r, namespace: "default", name: "web", body: live,
                                        options: WriteOptions(fieldManager: "scaler")).object
        let e = Self.entries(kept)
        #expect(Self.owns(e["kubectl-create/Update"], Self.image), "the creator's entry survives an update that left managedFields out")
        #expect(!Self.owns(e["kubectl-create/Update"], Self.replicas))
        #expect(e["scaler/Update"] == ["f:spec": ["f:replicas": [:]]])

        var reset = kept
        reset.setValue([], at: ["metadata", "managedFields"])
        reset.setValue(6, at: ["spec", "replicas"])
        let after = try await api.update(r, namespace: "default", name: "web", body: reset,
                                         options: WriteOptions(fieldManager: "resetter")).object
        #expect(Array(Self.entries(after).keys) == ["resetter/Update"], "[] resets managedFields")
    }

    @Test func applyingAnotherManagersFieldConflictsWithKubectlsWording() async throws {
        let (api, r) = try await setUp()
        _ = try await patch(api, r, .merge, ["spec": ["replicas": 3]], manager: "kubectl-edit")
        let config: JSONValue = ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"], "spec": ["replicas": 5]]
        do {
            _ = try await patch(api, r, .apply, config, manager: "applier")
            Issue.record("the apply should conflict")
        } catch let s as Status {
            #expect(s.code == 409)
            #expect(s.reason == "Conflict")
            #expect(s.message == #"Apply failed with 1 conflict: conflict with "kubectl-edit" using apps/v1: .spec.replicas"#)
            #expect(s.details?.causes?.first?.field == ".spec.replicas")
            #expect(s.details?.causes?.first?.reason == "FieldManagerConflict")
        }
        // nothing was written
        #expect(try await api.get(r, namespace: "default", name: "web").value(at: "spec.replicas") == 3)

        // forced: the applier takes the field, and a manager left with nothing loses its entry
        let forced = try await patch(api, r, .apply, config, manager: "applier", force: true)
        #expect(forced.value(at: "spec.replicas") == 5)
        let e = Self.entries(forced)
        #expect(e["kubectl-edit/Update"] == nil)
        #expect(Self.owns(e["applier/Apply"], Self.replicas))
    }

    @Test func applyingTheLiveValueSharesTheField() async throws {
        let (api, r) = try await setUp()
        _ = try await patch(api, r, .merge, ["spec": ["replicas": 3]], manager: "kubectl-edit")
        let config: JSONValue = ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"], "spec": ["replicas": 3]]
        let o = try await patch(api, r, .apply, config, manager: "applier")
        let e = Self.entries(o)
        #expect(Self.owns(e["kubectl-edit/Update"], Self.replicas))
        #expect(Self.owns(e["applier/Apply"], Self.replicas))
        // the same configuration again is a no-op: same resourceVersion
        let again = try await patch(api, r, .apply, config, manager: "applier")
        #expect(again.value(at: "metadata.resourceVersion") == o.value(at: "metadata.resourceVersion"))
    }

    @Test func anApplyThatOwnsNothingAddsNoEntry() async throws {
        let (api, r) = try await setUp()
        let o = try await patch(api, r, .apply, ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"]], manager: "applier")
        let entries = o.value(at: ["metadata", "managedFields"])?.arrayValue ?? []
        #expect(entries.count == 1)
        #expect(entries.allSatisfy { $0.objectValue != nil })
        // and the object still takes further applies
        _ = try await patch(api, r, .apply, ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web", "labels": ["x": "y"]]], manager: "applier")
    }

    @Test func severalConflictsAreGroupedByManager() async throws {
        let (api, r) = try await setUp()
        let config: JSONValue = [
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"],
            "spec": ["replicas": 2, "template": ["spec": ["containers": [["name": "c", "image": "nginx:1.27"]]]]],
        ]
        do {
            _ = try await patch(api, r, .apply, config, manager: "applier")
            Issue.record("the apply should conflict")
        } catch let s as Status {
            #expect(s.message == "Apply failed with 2 conflicts: conflicts with \"kubectl-create\" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"c\"].image")
            #expect(s.details?.causes?.map(\.field) == [".spec.replicas", ".spec.template.spec.containers[name=\"c\"].image"])
        }
    }

    @Test func aStatusUpdateOwnsOnlyStatus() async throws {
        let (api, r) = try await setUp()
        let o = try await patch(api, r, .merge, ["status": ["replicas": 1, "readyReplicas": 1]], manager: "controller", subresource: "status")
        #expect(Self.entries(o)["controller/Update/status"] == ["f:status": ["f:replicas": [:], "f:readyReplicas": [:]]])
    }

    @Test func fieldSetsRoundTripThroughFieldsV1() {
        let v: JSONValue = ["f:metadata": ["f:labels": [".": [:], "f:app": [:]]],
                            "f:spec": ["f:containers": [#"k:{"name":"c"}"#: [".": [:], "f:image": [:]]], "f:replicas": [:]]]
        let s = FieldSet(fieldsV1: v)
        #expect(s.paths.count == 5)
        #expect(s.fieldsV1 == v)
        #expect(FieldSet.describe(Self.image.joined(separator: String(FieldSet.sep))) == #".spec.template.spec.containers[name="c"].image"#)
    }

    /// The oracle for `fieldChanges`: every owned path with its value, compared naively.
    static func leafValues(_ obj: JSONValue) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        func walk(_ v: JSONValue, _ field: String, _ prefix: String) {
            switch v {
            case .object(let o) where !o.isEmpty:
                for (k, x) in o { walk(x, k, FieldSet.join(prefix, "f:" + k)) }
            case .array(let a):
                guard let key = Patch.mergeKey(field: field, elements: a) else { out[prefix] = v; return }
                for e in a {
                    guard let kv = e[key] else { continue }
                    let item = FieldSet.join(prefix, "k:" + JSONWriter.string(.object([key: kv])))
                    out[item] = true
                    for (k, x) in e.objectValue ?? [:] { walk(x, k, FieldSet.join(item, "f:" + k)) }
                }
            default: out[prefix] = v
            }
        }
        for (k, x) in obj.objectValue ?? [:] where k != "apiVersion" && k != "kind" {
            if k == "metadata" {
                for mk in ["labels", "annotations", "finalizers", "ownerReferences"] { if let mv = x[mk] { walk(mv, mk, FieldSet.join("f:metadata", "f:" + mk)) } }
            } else {
                walk(x, k, "f:" + k)
            }
        }
        return out
    }

    @Test func fieldChangesAgreeWithANaiveComparison() {
        let base: JSONValue = [
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": ["name": "web", "labels": ["app": "web", "tier": "f"], "resourceVersion": "3", "finalizers": ["a"]],
            "spec": ["replicas": 1, "paused": false, "selector": ["matchLabels": ["app": "web"]],
                     "template": ["metadata": ["labels": ["app": "web"]],
                                  "spec": ["containers": [["name": "c", "image": "nginx:1.26", "args": ["-x"], "ports": [["containerPort": 80]]],
                                                          ["name": "d", "image": "busybox"]]]]],
        ]
        let c0: [JSONValue] = [.string("spec"), .string("template"), .string("spec"), .string("containers")]
        func at(_ path: [JSONValue], _ v: JSONValue?) -> JSONValue {
            var o = base
            o.setValue(v, at: path.map { $0.stringValue! })
            return o
        }
        var variants: [JSONValue] = [
            base,
            at([.string("metadata"), .string("labels"), .string("tier")], "b"),
            at([.string("metadata"), .string("labels"), .string("new")], "x"),
            at([.string("metadata"), .string("labels"), .string("tier")], nil),
            at([.string("metadata"), .string("labels")], [:]),
            at([.string("metadata"), .string("resourceVersion")], "9"),
            at([.string("spec"), .string("replicas")], 4),
            at([.string("spec"), .string("replicas")], ["odd": 1]),
            at([.string("spec"), .string("template"), .string("metadata")], nil),
            at(c0, [["name": "c", "image": "nginx:1.27", "args": ["-x"], "ports": [["containerPort": 80]]], ["name": "d", "image": "busybox"]]),
            at(c0, [["name": "c", "image": "nginx:1.26", "args": ["-y"], "ports": [["containerPort": 81]]], ["name": "d", "image": "busybox"]]),
            at(c0, [["name": "c", "image": "nginx:1.26", "args": ["-x"], "ports": [["containerPort": 80]]]]),
            at(c0, [["name": "e", "image": "x"], ["name": "d", "image": "busybox", "tty": true]]),
            at(c0, "not a list"),
            at([.string("status")], ["replicas": 1]),
        ]
        variants.append(.object(["apiVersion": "apps/v1", "kind": "Deployment"]))
        for old in variants {
            for new in variants {
                let (changed, removed) = Patch.fieldChanges(old: old, new: new)
                let a = Self.leafValues(old), b = Self.leafValues(new)
                let wantChanged = Set(b.filter { a[$0.key] != $0.value }.keys)
                let wantRemoved = Set(a.keys.filter { b[$0] == nil })
                #expect(changed.paths == wantChanged, "\(old) → \(new)")
                #expect(removed.paths == wantRemoved, "\(old) → \(new)")
            }
        }
        // a create owns what the oracle lists
        let created = Patch.fieldChanges(old: nil, new: base)
        #expect(created.changed.paths == Set(Self.leafValues(base).keys))
        #expect(FieldSet(fieldsV1: Patch.fieldsV1(base)).paths == created.changed.paths)
    }

    @Test func fieldsV1TreesGainAndLosePaths() {
        let tree: JSONValue = ["f:metadata": ["f:labels": ["f:app": [:]]], "f:spec": ["f:replicas": [:]]]
        var changed = false
        let j = { (p: [String]) in p.joined(separator: String(FieldSet.sep)) }
        let less = FieldSet.removing(FieldSet(paths: [j(["f:metadata", "f:labels", "f:app"])]), from: tree, changed: &changed)
        #expect(changed)
        #expect(less == ["f:spec": ["f:replicas": [:]]])
        var none = false
        #expect(FieldSet.removing(FieldSet(paths: [j(["f:spec", "f:replicas"])]), from: less!, changed: &none) == nil)
        // adding under a leaf member keeps the member with "."
        let more = FieldSet.adding(FieldSet(paths: [j(["f:spec", "f:replicas", "f:x"])]), to: tree)
        #expect(more.value(at: ["f:spec", "f:replicas", "."]) != nil)
        #expect(FieldSet(fieldsV1: more).paths == FieldSet(fieldsV1: tree).paths.union([j(["f:spec", "f:replicas", "f:x"])]))
    }
}
