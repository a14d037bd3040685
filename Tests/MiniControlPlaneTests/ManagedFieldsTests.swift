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
}
