import KubeAPI
import Testing
@testable import MiniControlPlane

/// The OpenAPI v3 index and documents are built once per set of served resources and built
/// again when that set changes (a CRD added, its schema changed, removed).
@Suite struct OpenAPITests {
    static func widgets(schema: JSONValue) -> ResourceInfo {
        var r = ResourceInfo(group: "example.com", version: "v1", resource: "widgets", singular: "widget", kind: "Widget", namespaced: true)
        r.crdSchema = schema
        return r
    }

    @Test func builtOncePerResourceSetAndAgainWhenItChanges() throws {
        let builtin = BuiltinResources.all
        #expect(OpenAPI.cachedIndex(builtin) == OpenAPI.index(builtin))
        #expect(OpenAPI.cachedDocument(for: "api/v1", resources: builtin) == OpenAPI.document(for: "api/v1", resources: builtin))
        #expect(OpenAPI.cachedDocument(for: "apis/example.com/v1", resources: builtin) == nil)

        let v1: JSONValue = ["type": "object", "properties": ["spec": ["type": "object", "properties": ["size": ["type": "integer"]]]]]
        let withCRD = builtin + [Self.widgets(schema: v1)]
        let index = OpenAPI.cachedIndex(withCRD)
        #expect(index["paths"]?["apis/example.com/v1"] != nil, "the index lists the CRD's group-version")
        let doc = try #require(OpenAPI.cachedDocument(for: "apis/example.com/v1", resources: withCRD))
        #expect(JSONWriter.string(doc).contains("\"size\""))

        // the CRD's schema changes: its document and the index's hash for it change too
        let v2: JSONValue = ["type": "object", "properties": ["spec": ["type": "object", "properties": ["colour": ["type": "string"]]]]]
        let changed = builtin + [Self.widgets(schema: v2)]
        let doc2 = try #require(OpenAPI.cachedDocument(for: "apis/example.com/v1", resources: changed))
        #expect(JSONWriter.string(doc2).contains("\"colour\"") && !JSONWriter.string(doc2).contains("\"size\""))
        #expect(OpenAPI.cachedIndex(changed)["paths"]?["apis/example.com/v1"] != index["paths"]?["apis/example.com/v1"])

        // and gone once the CRD is
        #expect(OpenAPI.cachedDocument(for: "apis/example.com/v1", resources: builtin) == nil)
        #expect(OpenAPI.cachedIndex(builtin)["paths"]?["apis/example.com/v1"] == nil)
    }
}
