import KubeAPI

/// `/version`, `/api`, `/apis` and per-group-version discovery, plain and aggregated (v2).
enum Discovery {
    static let aggregatedContentType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    static let gitVersion = "v1.35.0-swiftlet"

    static func version() -> JSONValue {
        ["major": "1", "minor": "35", "emulationMajor": "1", "emulationMinor": "35", "minCompatibilityMajor": "1",
         "minCompatibilityMinor": "34", "gitVersion": .string(gitVersion), "gitCommit": "swiftlet", "gitTreeState": "clean",
         "buildDate": "2026-11-23T00:00:00Z", "goVersion": "swift6.3", "compiler": "swiftc", "platform": "linux/amd64"]
    }

    static func wantsAggregated(_ accept: String) -> Bool {
        accept.containsBytes("as=APIGroupDiscoveryList") && accept.containsBytes("v=v2")
    }

    static func groups(_ all: [ResourceInfo]) -> [String] {
        var seen: [String] = []
        for g in BuiltinResources.groupOrder where all.contains(where: { $0.group == g }) { seen.append(g) }
        for r in all where !seen.contains(r.group) { seen.append(r.group) }
        return seen
    }

    static func versions(of group: String, _ all: [ResourceInfo]) -> [String] {
        var vs: [String] = []
        for r in all where r.group == group && !vs.contains(r.version) { vs.append(r.version) }
        return vs
    }

    static func groupList(_ all: [ResourceInfo]) -> JSONValue {
        let gs = groups(all).filter { !$0.isEmpty }.compactMap { group($0, all) }
        return ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(gs)]
    }

    static func group(_ g: String, _ all: [ResourceInfo]) -> JSONValue? {
        let vs = versions(of: g, all)
        guard let first = vs.first else { return nil }
        let entries: [JSONValue] = vs.map { ["groupVersion": .string("\(g)/\($0)"), "version": .string($0)] }
        return ["kind": "APIGroup", "apiVersion": "v1", "name": .string(g), "versions": .array(entries),
                "preferredVersion": ["groupVersion": .string("\(g)/\(first)"), "version": .string(first)]]
    }

    static func resourceList(group: String, version: String, _ all: [ResourceInfo]) -> JSONValue {
        var res: [JSONValue] = []
        for r in all where r.group == group && r.version == version {
            var e: JSONValue = ["name": .string(r.resource), "singularName": .string(r.singular), "namespaced": .bool(r.namespaced),
                                "kind": .string(r.kind), "verbs": .array(r.verbs.map(JSONValue.string))]
            if !r.shortNames.isEmpty { e["shortNames"] = .array(r.shortNames.map(JSONValue.string)) }
            if !r.categories.isEmpty { e["categories"] = .array(r.categories.map(JSONValue.string)) }
            res.append(e)
            for sub in subresources(r) {
                var e: JSONObject = [:]
                e["name"] = .string("\(r.resource)/\(sub.name)")
                e["singularName"] = ""
                e["namespaced"] = .bool(r.namespaced)
                e["kind"] = .string(sub.kind)
                e["verbs"] = .array(sub.verbs.map(JSONValue.string))
                if let g = sub.group {
                    e["group"] = .string(g)
                    e["version"] = .string(sub.version ?? "v1")
                }
                res.append(.object(e))
            }
        }
        return ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(group.isEmpty ? version : "\(group)/\(version)"),
                "resources": .array(res)]
    }

    struct Sub {
        var name: String
        var kind: String
        var verbs: [String]
        var group: String? = nil
        var version: String? = nil
    }

    static func subresources(_ r: ResourceInfo) -> [Sub] {
        var out: [Sub] = []
        if r.hasStatus { out.append(Sub(name: "status", kind: r.kind, verbs: ["get", "patch", "update"])) }
        if r.hasScale { out.append(Sub(name: "scale", kind: "Scale", verbs: ["get", "patch", "update"], group: "autoscaling", version: "v1")) }
        for s in r.otherSubresources {
            switch s {
            case "binding": out.append(Sub(name: s, kind: "Binding", verbs: ["create"]))
            case "eviction": out.append(Sub(name: s, kind: "Eviction", verbs: ["create"], group: "policy", version: "v1"))
            case "log": out.append(Sub(name: s, kind: "Pod", verbs: ["get"]))
            case "exec", "attach", "portforward": out.append(Sub(name: s, kind: "PodExecOptions", verbs: ["create", "get"]))
            case "proxy": out.append(Sub(name: s, kind: r.kind + "ProxyOptions", verbs: ["create", "delete", "get", "patch", "update"]))
            case "token": out.append(Sub(name: s, kind: "TokenRequest", verbs: ["create"], group: "authentication.k8s.io", version: "v1"))
            case "finalize": out.append(Sub(name: s, kind: "Namespace", verbs: ["update"]))
            case "ephemeralcontainers": out.append(Sub(name: s, kind: "Pod", verbs: ["get", "patch", "update"]))
            default: break
            }
        }
        return out
    }

    static func aggregated(_ all: [ResourceInfo], legacy: Bool) -> JSONValue {
        var items: [JSONValue] = []
        for g in groups(all) where legacy ? g.isEmpty : !g.isEmpty {
            var versions: [JSONValue] = []
            for v in Self.versions(of: g, all) {
                var resources: [JSONValue] = []
                for r in all where r.group == g && r.version == v {
                    var e: JSONValue = [
                        "resource": .string(r.resource),
                        "responseKind": ["group": .string(g), "version": .string(v), "kind": .string(r.kind)],
                        "scope": .string(r.namespaced ? "Namespaced" : "Cluster"), "singularResource": .string(r.singular),
                        "verbs": .array(r.verbs.map(JSONValue.string)),
                    ]
                    if !r.shortNames.isEmpty { e["shortNames"] = .array(r.shortNames.map(JSONValue.string)) }
                    if !r.categories.isEmpty { e["categories"] = .array(r.categories.map(JSONValue.string)) }
                    let subs: [JSONValue] = subresources(r).map { s in
                        ["subresource": .string(s.name),
                         "responseKind": ["group": .string(s.group ?? g), "version": .string(s.version ?? v), "kind": .string(s.kind)],
                         "verbs": .array(s.verbs.map(JSONValue.string))]
                    }
                    if !subs.isEmpty { e["subresources"] = .array(subs) }
                    resources.append(e)
                }
                versions.append(["version": .string(v), "resources": .array(resources), "freshness": "Current"])
            }
            items.append(["metadata": ["name": .string(g), "creationTimestamp": .null], "versions": .array(versions)])
        }
        return ["kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": [:], "items": .array(items)]
    }
}

