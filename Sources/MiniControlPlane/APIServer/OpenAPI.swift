import Foundation
import KubeAPI
import Synchronization

/// `/openapi/v3`: an index of group-versions and one document per group-version, with
/// paths (whose PATCH operations advertise `fieldValidation`, so kubectl validates on the
/// server) and component schemas derived from the typed models (so `kubectl explain` works).
enum OpenAPI {
    static func path(_ gv: String) -> String { gv.contains("/") ? "apis/\(gv)" : "api/\(gv)" }

    /// What was built for one set of served resources: the index hashes every group-version's
    /// document, and kubectl asks for the index and a document on each `apply`, `explain` and
    /// validating `create`; the resources change only when a CRD does.
    private struct Built: Sendable {
        var resources: [ResourceInfo] = []
        var index: JSONValue?
        var documents: JSONObject = [:]
    }
    private static let built = Mutex(Built())

    /// The index for `all`, built once per set of resources.
    static func cachedIndex(_ all: [ResourceInfo]) -> JSONValue {
        if let hit = built.withLock({ $0.resources == all ? $0.index : nil }) { return hit }
        let index = index(all)
        built.withLock { b in
            if b.resources != all { b = Built(resources: all) }
            b.index = index
        }
        return index
    }

    /// The document of one group-version for `all`, built once per set of resources.
    static func cachedDocument(for gvPath: String, resources all: [ResourceInfo]) -> JSONValue? {
        if let hit = built.withLock({ $0.resources == all ? $0.documents[gvPath] : nil }) { return hit }
        guard let doc = document(for: gvPath, resources: all) else { return nil }
        built.withLock { b in
            if b.resources != all { b = Built(resources: all) }
            b.documents[gvPath] = doc
        }
        return doc
    }

    static func index(_ all: [ResourceInfo]) -> JSONValue {
        var paths: JSONObject = [:]
        var gvs: [String] = []
        for r in all where !gvs.contains(r.groupVersion) { gvs.append(r.groupVersion) }
        for gv in gvs {
            let doc = cachedDocument(for: path(gv), resources: all) ?? .null
            let hash = fnv(JSONWriter.bytes(doc))
            paths[path(gv)] = ["serverRelativeURL": .string("/openapi/v3/\(path(gv))?hash=\(hash)")]
        }
        return ["paths": .object(paths)]
    }

    static func fnv(_ bytes: [UInt8]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return String(format: "%016llX", h)
    }

    static func definitionName(_ swiftName: String, group: String) -> String {
        let meta: Set<String> = ["ObjectMeta", "OwnerReference", "ManagedFieldsEntry", "LabelSelector", "LabelSelectorRequirement",
                                 "Condition", "ListMeta", "Status", "StatusDetails", "StatusCause"]
        let apps: Set<String> = ["Deployment", "DeploymentSpec", "DeploymentStatus", "DeploymentStrategy", "RollingUpdateDeployment",
                                 "ReplicaSet", "ReplicaSetSpec", "ReplicaSetStatus", "StatefulSet", "StatefulSetSpec",
                                 "StatefulSetStatus", "DaemonSet", "DaemonSetSpec", "DaemonSetStatus"]
        if meta.contains(swiftName) { return "io.k8s.apimachinery.pkg.apis.meta.v1.\(swiftName)" }
        if apps.contains(swiftName) { return "io.k8s.api.apps.v1.\(swiftName)" }
        switch swiftName {
        case "EndpointSlice", "SliceEndpoint", "EndpointConditions": return "io.k8s.api.discovery.v1.\(swiftName == "SliceEndpoint" ? "Endpoint" : swiftName)"
        case "Lease", "LeaseSpec": return "io.k8s.api.coordination.v1.\(swiftName)"
        case "EventV1": return "io.k8s.api.events.v1.Event"
        default:
            if swiftName.hasPrefix("CustomResource") { return "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.\(swiftName)" }
            return "io.k8s.api.core.v1.\(swiftName)"
        }
    }

    static func typed(_ r: ResourceInfo) -> (any Decodable.Type)? {
        switch (r.group, r.resource) {
        case ("", "pods"): return Pod.self
        case ("", "nodes"): return Node.self
        case ("", "services"): return Service.self
        case ("", "endpoints"): return Endpoints.self
        case ("", "configmaps"): return ConfigMap.self
        case ("", "secrets"): return Secret.self
        case ("", "serviceaccounts"): return ServiceAccount.self
        case ("", "events"): return Event.self
        case ("", "namespaces"): return Namespace.self
        case ("apps", "deployments"): return Deployment.self
        case ("apps", "replicasets"): return ReplicaSet.self
        case ("apps", "statefulsets"): return StatefulSet.self
        case ("apps", "daemonsets"): return DaemonSet.self
        case ("discovery.k8s.io", "endpointslices"): return EndpointSlice.self
        case ("coordination.k8s.io", "leases"): return Lease.self
        case ("events.k8s.io", "events"): return EventV1.self
        case ("apiextensions.k8s.io", "customresourcedefinitions"): return CustomResourceDefinition.self
        default: return nil
        }
    }

    static func probe<T: Decodable>(_ t: T.Type, group: String) -> (String, JSONObject) {
        let (root, schemas) = SchemaProbe.schemas(for: t) { definitionName($0, group: group) }
        return (root, schemas)
    }

    static func document(for gvPath: String, resources all: [ResourceInfo]) -> JSONValue? {
        let rs = all.filter { path($0.groupVersion) == gvPath }
        guard let first = rs.first else { return nil }
        var schemas: JSONObject = [:]
        var paths: JSONObject = [:]
        for r in rs {
            let gvk: JSONValue = ["group": .string(r.group), "kind": .string(r.kind), "version": .string(r.version)]
            var rootName: String
            if let t = typed(r) {
                let (root, s) = probe(t, group: r.group)
                rootName = root
                schemas.merge(s) { a, _ in a }
            } else if let crd = r.crdSchema {
                rootName = "\(r.group.split(separator: ".").reversed().joined(separator: ".")).\(r.version).\(r.kind)"
                var s = crd
                if s["type"] == nil { s["type"] = "object" }
                var props = s["properties"]?.objectValue ?? [:]
                props["apiVersion"] = props["apiVersion"] ?? ["type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."]
                props["kind"] = props["kind"] ?? ["type": "string", "description": "Kind is a string value representing the REST resource this object represents."]
                props["metadata"] = ["allOf": [["$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]], "description": "Standard object's metadata."]
                s["properties"] = .object(props)
                schemas[rootName] = s
                let (_, meta) = probe(ObjectMeta.self, group: "")
                schemas.merge(meta) { a, _ in a }
            } else {
                rootName = "io.k8s.api.\(r.group.isEmpty ? "core" : r.group).\(r.version).\(r.kind)"
                schemas[rootName] = ["type": "object", "x-kubernetes-preserve-unknown-fields": true,
                                     "description": .string("\(r.kind) is served by swiftlet without a published schema.")]
            }
            schemas[rootName]?["x-kubernetes-group-version-kind"] = [gvk]
            let base = "/" + gvPath
            let coll = r.namespaced ? "\(base)/namespaces/{namespace}/\(r.resource)" : "\(base)/\(r.resource)"
            let item = "\(coll)/{name}"
            let ref: JSONValue = ["$ref": .string("#/components/schemas/\(rootName)")]
            func op(_ action: String, _ id: String, params: [String]) -> JSONValue {
                var p: [JSONValue] = params.map { ["name": .string($0), "in": "query", "schema": ["type": "string", "uniqueItems": true]] }
                if r.namespaced { p.append(["name": "namespace", "in": "path", "required": true, "schema": ["type": "string"]]) }
                return ["operationId": .string(id), "x-kubernetes-action": .string(action), "x-kubernetes-group-version-kind": gvk,
                        "parameters": .array(p),
                        "responses": ["200": ["description": "OK", "content": ["application/json": ["schema": ref]]]]]
            }
            let k = r.kind
            var collOps: JSONObject = [:]
            var itemOps: JSONObject = [:]
            if r.verbs.contains("list") { collOps["get"] = op("list", "list\(k)", params: ["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"]) }
            if r.verbs.contains("create") {
                var c = op("post", "create\(k)", params: ["dryRun", "fieldManager", "fieldValidation"])
                c["requestBody"] = ["content": ["*/*": ["schema": ref]], "required": true]
                collOps["post"] = c
            }
            if r.verbs.contains("get") { itemOps["get"] = op("get", "read\(k)", params: []) }
            if r.verbs.contains("update") { itemOps["put"] = op("put", "replace\(k)", params: ["dryRun", "fieldManager", "fieldValidation"]) }
            if r.verbs.contains("patch") { itemOps["patch"] = op("patch", "patch\(k)", params: ["dryRun", "fieldManager", "fieldValidation", "force"]) }
            if r.verbs.contains("delete") { itemOps["delete"] = op("delete", "delete\(k)", params: ["dryRun", "gracePeriodSeconds", "propagationPolicy"]) }
            if !collOps.isEmpty { paths[coll] = .object(collOps) }
            if !itemOps.isEmpty { paths[item] = .object(itemOps) }
        }
        return ["openapi": "3.0.0", "info": ["title": "Kubernetes", "version": .string(Discovery.gitVersion)],
                "paths": .object(paths), "components": ["schemas": .object(schemas)],
                "x-swiftlet-group-version": .string(first.groupVersion)]
    }
}
