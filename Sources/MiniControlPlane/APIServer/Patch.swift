import Foundation
public import KubeAPI

public struct PatchError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}

/// The four patch types kubectl sends, applied to an object held as `JSONValue`.
public enum Patch {
    // MARK: JSON merge patch (RFC 7386)

    public static func mergePatch(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard case .object(let p) = patch else { return patch }
        var t = target.objectValue ?? [:]
        for (k, v) in p {
            if v.isNull {
                t[k] = nil
            } else {
                t[k] = mergePatch(t[k] ?? .null, v)
            }
        }
        return .object(t)
    }

    // MARK: JSON patch (RFC 6902)

    public static func jsonPatch(_ target: JSONValue, _ patch: JSONValue) throws -> JSONValue {
        guard case .array(let ops) = patch else {
            throw PatchError("json: cannot unmarshal \(patch.typeName) into Go value of type jsonpatch.Patch")
        }
        var doc = target
        for op in ops {
            guard let name = op["op"]?.stringValue else { throw PatchError("Unexpected kind: missing op") }
            guard let path = op["path"]?.stringValue else { throw PatchError("missing path in json patch operation") }
            let tokens = try pointer(path)
            switch name {
            case "add": doc = try set(doc, tokens, op["value"] ?? .null, insert: true)
            case "replace":
                _ = try get(doc, tokens)
                doc = try set(doc, tokens, op["value"] ?? .null, insert: false)
            case "remove": doc = try remove(doc, tokens)
            case "test":
                guard try get(doc, tokens) == (op["value"] ?? .null) else {
                    throw PatchError("testing value \(path) failed: test failed")
                }
            case "move", "copy":
                guard let from = op["from"]?.stringValue else { throw PatchError("missing from in \(name) operation") }
                let ft = try pointer(from)
                let v = try get(doc, ft)
                if name == "move" { doc = try remove(doc, ft) }
                doc = try set(doc, tokens, v, insert: true)
            default: throw PatchError("Unexpected kind: \(name)")
            }
        }
        return doc
    }

    static func pointer(_ p: String) throws -> [String] {
        if p.isEmpty { return [] }
        guard p.hasPrefix("/") else { throw PatchError("JSON pointer must be empty or start with a \"/\": \(p)") }
        return p.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    static func get(_ doc: JSONValue, _ tokens: [String]) throws -> JSONValue {
        var cur = doc
        for t in tokens {
            switch cur {
            case .object(let o):
                guard let n = o[t] else { throw PatchError("doc is missing path: /\(tokens.joined(separator: "/"))") }
                cur = n
            case .array(let a):
                guard let i = Int(t), i >= 0, i < a.count else {
                    throw PatchError("doc is missing path: /\(tokens.joined(separator: "/")): index out of range")
                }
                cur = a[i]
            default: throw PatchError("doc is missing path: /\(tokens.joined(separator: "/"))")
            }
        }
        return cur
    }

    static func set(_ doc: JSONValue, _ tokens: [String], _ value: JSONValue, insert: Bool) throws -> JSONValue {
        guard let first = tokens.first else { return value }
        let rest = Array(tokens.dropFirst())
        switch doc {
        case .object(var o):
            if rest.isEmpty {
                o[first] = value
            } else {
                guard let child = o[first] else {
                    throw PatchError("doc is missing path: /\(tokens.joined(separator: "/")): missing value")
                }
                o[first] = try set(child, rest, value, insert: insert)
            }
            return .object(o)
        case .array(var a):
            if rest.isEmpty {
                if first == "-" {
                    a.append(value)
                } else if let i = Int(first), i >= 0, i <= a.count {
                    if insert { a.insert(value, at: i) } else if i < a.count { a[i] = value } else {
                        throw PatchError("replace operation does not apply: index out of range")
                    }
                } else {
                    throw PatchError("add operation does not apply: doc is missing path: \"\(first)\": index out of range")
                }
            } else {
                guard let i = Int(first), i >= 0, i < a.count else { throw PatchError("index out of range: \(first)") }
                a[i] = try set(a[i], rest, value, insert: insert)
            }
            return .array(a)
        default:
            throw PatchError("doc is missing path: /\(tokens.joined(separator: "/"))")
        }
    }

    static func remove(_ doc: JSONValue, _ tokens: [String]) throws -> JSONValue {
        guard let first = tokens.first else { return .null }
        let rest = Array(tokens.dropFirst())
        switch doc {
        case .object(var o):
            guard let child = o[first] else {
                throw PatchError("remove operation does not apply: doc is missing path: \"/\(tokens.joined(separator: "/"))\"")
            }
            o[first] = rest.isEmpty ? nil : try remove(child, rest)
            return .object(o)
        case .array(var a):
            guard let i = Int(first), i >= 0, i < a.count else { throw PatchError("index out of range: \(first)") }
            if rest.isEmpty { a.remove(at: i) } else { a[i] = try remove(a[i], rest) }
            return .array(a)
        default: throw PatchError("doc is missing path")
        }
    }

    // MARK: Strategic merge patch

    /// Merge keys for lists, by field name (the `patchMergeKey` tags of the Kubernetes types).
    static func mergeKey(field: String, elements: [JSONValue]) -> String? {
        switch field {
        case "containers", "initContainers", "ephemeralContainers", "env", "volumes", "imagePullSecrets",
            "resourceClaims", "readinessGates":
            return field == "readinessGates" ? "conditionType" : "name"
        case "volumeMounts": return "mountPath"
        case "volumeDevices": return "devicePath"
        case "conditions", "addresses": return "type"
        case "ownerReferences": return "uid"
        case "hostAliases": return "ip"
        case "taints": return "key"
        case "topologySpreadConstraints": return "topologyKey"
        case "ports":
            if elements.contains(where: { $0["containerPort"] != nil }) { return "containerPort" }
            return "port"
        default: return nil
        }
    }

    /// Lists of scalars that merge as sets instead of being replaced.
    static let mergedPrimitiveLists: Set<String> = ["finalizers"]

    public static func strategicMerge(_ target: JSONValue, _ patch: JSONValue) throws -> JSONValue {
        guard case .object(var p) = patch else { return patch }
        if p["$patch"]?.stringValue == "replace" {
            p["$patch"] = nil
            return stripDirectives(.object(p))
        }
        if p["$patch"]?.stringValue == "delete" { return .null }
        var t = target.objectValue ?? [:]
        // $retainKeys: drop keys of the target not listed.
        if let retain = p["$retainKeys"]?.arrayValue {
            let keep = Set(retain.compactMap(\.stringValue))
            t = t.filter { keep.contains($0.key) }
            p["$retainKeys"] = nil
        }
        for (k, v) in p {
            if k.hasPrefix("$setElementOrder/") || k == "$patch" { continue }
            if k.hasPrefix("$deleteFromPrimitiveList/") {
                let field = String(k.dropFirst("$deleteFromPrimitiveList/".count))
                let remove = Set(v.arrayValue ?? [])
                if let arr = t[field]?.arrayValue { t[field] = .array(arr.filter { !remove.contains($0) }) }
                continue
            }
            if v.isNull {
                t[k] = nil
                continue
            }
            switch (t[k], v) {
            case (.object?, .object):
                let merged = try strategicMerge(t[k]!, v)
                t[k] = merged.isNull ? nil : merged
            case (.array(let cur)?, .array(let pl)):
                t[k] = .array(try mergeList(field: k, current: cur, patch: pl))
            default:
                t[k] = stripDirectives(v)
            }
        }
        // Honour $setElementOrder for merged lists.
        for (k, v) in p where k.hasPrefix("$setElementOrder/") {
            let field = String(k.dropFirst("$setElementOrder/".count))
            guard let order = v.arrayValue, let arr = t[field]?.arrayValue,
                let key = mergeKey(field: field, elements: arr)
            else { continue }
            let rank = Dictionary(order.enumerated().compactMap { (i, e) in e[key].map { ($0, i) } }, uniquingKeysWith: { a, _ in a })
            let sorted = arr.enumerated().sorted { a, b in
                let ra = a.element[key].flatMap { rank[$0] } ?? Int.max
                let rb = b.element[key].flatMap { rank[$0] } ?? Int.max
                return ra == rb ? a.offset < b.offset : ra < rb
            }.map(\.element)
            t[field] = .array(sorted)
        }
        return .object(t)
    }

    static func mergeList(field: String, current: [JSONValue], patch: [JSONValue]) throws -> [JSONValue] {
        if let directive = patch.first(where: { $0["$patch"]?.stringValue == "replace" }) {
            _ = directive
            return patch.filter { $0["$patch"] == nil }.map(stripDirectives)
        }
        if mergedPrimitiveLists.contains(field) {
            var out = current
            for e in patch where !out.contains(e) { out.append(e) }
            return out
        }
        guard let key = mergeKey(field: field, elements: current + patch) else {
            return patch.map(stripDirectives)
        }
        var out = current
        for e in patch {
            guard let kv = e[key] else {
                out.append(stripDirectives(e))
                continue
            }
            let idx = out.firstIndex { $0[key] == kv }
            if e["$patch"]?.stringValue == "delete" {
                if let idx { out.remove(at: idx) }
                continue
            }
            if let idx {
                out[idx] = try strategicMerge(out[idx], e)
            } else {
                out.append(stripDirectives(e))
            }
        }
        return out
    }

    static func stripDirectives(_ v: JSONValue) -> JSONValue {
        switch v {
        case .object(let o):
            var r: JSONObject = [:]
            for (k, x) in o where !k.hasPrefix("$") { r[k] = stripDirectives(x) }
            return .object(r)
        case .array(let a): return .array(a.map(stripDirectives))
        default: return v
        }
    }

    // MARK: Server-side apply

    /// The set of field paths an applied configuration sets, in FieldsV1 form
    /// (`{"f:spec":{"f:replicas":{}}}`), list items keyed by their merge key.
    public static func fieldsV1(_ v: JSONValue, field: String = "") -> JSONValue {
        switch v {
        case .object(let o):
            var r: JSONObject = [:]
            r.reserveCapacity(o.count)
            for (k, x) in o {
                if field.isEmpty, k == "apiVersion" || k == "kind" { continue }
                if field.isEmpty, k == "metadata" {
                    var m: JSONObject = [:]
                    for mk in ["labels", "annotations", "finalizers", "ownerReferences"] {
                        if let mv = x[mk] { m["f:" + mk] = fieldsV1(mv, field: mk) }
                    }
                    if !m.isEmpty { r["f:metadata"] = .object(m) }
                    continue
                }
                r["f:" + k] = fieldsV1(x, field: k)
            }
            return .object(r)
        case .array(let a):
            guard let key = mergeKey(field: field, elements: a) else { return .emptyObject }
            var r: JSONObject = [:]
            for e in a {
                guard let kv = e[key] else { continue }
                var inner = fieldsV1(e, field: "").objectValue ?? [:]
                inner["."] = .emptyObject
                r["k:" + JSONWriter.string(.object([key: kv]))] = .object(inner)
            }
            return .object(r)
        default:
            return .emptyObject
        }
    }

    /// Applies `config` for `manager` over `live`: fields in the config are set; fields this
    /// manager set before (per `previous`) but no longer sets are removed, unless another
    /// manager owns them too.
    public static func apply(live: JSONValue, config: JSONValue, previous: JSONValue?, others: [JSONValue]) throws
        -> JSONValue
    {
        var result = try strategicMerge(live, config)
        if let previous {
            let newFields = fieldsV1(config)
            result = prune(result, previous: previous, current: newFields, others: others)
        }
        return result
    }

    static func prune(_ obj: JSONValue, previous: JSONValue, current: JSONValue, others: [JSONValue]) -> JSONValue {
        guard case .object(var o) = obj, case .object(let prev) = previous else { return obj }
        for (pk, pv) in prev {
            guard pk.hasPrefix("f:") else { continue }
            let name = String(pk.dropFirst(2))
            let cur = current[pk]
            let otherSubs = others.compactMap { $0[pk] }
            if cur == nil {
                if otherSubs.isEmpty { o[name] = nil }
                continue
            }
            guard let child = o[name] else { continue }
            if case .array(var arr) = child, pv.objectValue?.keys.contains(where: { $0.hasPrefix("k:") }) == true {
                // list items keyed: drop items we applied before and no longer apply
                for ik in pv.objectValue!.keys where ik.hasPrefix("k:") && cur?[ik] == nil {
                    guard otherSubs.allSatisfy({ $0[ik] == nil }),
                        let keyObj = try? JSONParser.parse(String(ik.dropFirst(2))), case .object(let kv) = keyObj,
                        let (k, v) = kv.first
                    else { continue }
                    arr.removeAll { $0[k] == v }
                }
                o[name] = .array(arr)
            } else if case .object = child {
                o[name] = prune(child, previous: pv, current: cur!, others: otherSubs)
            }
        }
        return .object(o)
    }
}

// MARK: Field ownership

/// A set of field paths in the FieldsV1 vocabulary (`f:spec` `f:replicas`, or
/// `f:spec` `f:containers` `k:{"name":"c"}` for a list item itself), as the managed-fields
/// machinery of kube-apiserver tracks them per manager. A path is its elements joined by
/// `FieldSet.sep` (one string to hash, not an array of them).
struct FieldSet: Equatable {
    static let sep: Character = "\u{1}"
    var paths: Set<String> = []

    static func join(_ prefix: String, _ element: String) -> String { prefix.isEmpty ? element : prefix + String(sep) + element }

    var isEmpty: Bool { paths.isEmpty }
    func union(_ o: FieldSet) -> FieldSet { FieldSet(paths: paths.union(o.paths)) }
    func intersection(_ o: FieldSet) -> FieldSet { FieldSet(paths: paths.intersection(o.paths)) }

    /// The set a FieldsV1 tree describes: leaves (`{}`) and nodes marked with `"."`.
    init(fieldsV1 v: JSONValue) {
        func walk(_ v: JSONValue, _ prefix: String) {
            guard case .object(let o) = v else { return }
            for (k, child) in o where k != "." {
                let p = FieldSet.join(prefix, k)
                let co = child.objectValue ?? [:]
                if co.isEmpty || co["."] != nil { paths.insert(p) }
                walk(child, p)
            }
        }
        walk(v, "")
    }

    init(paths: Set<String> = []) { self.paths = paths }

    /// The FieldsV1 tree of this set: members without children are `{}`, members with
    /// children carry `"."`.
    var fieldsV1: JSONValue { Self.adding(self, to: nil) }

    /// `.spec.containers[name="c"].image`, as structured-merge-diff prints a path.
    static func describe(_ path: String) -> String {
        var s = ""
        for k in path.split(separator: sep).map(String.init) {
            if k.hasPrefix("f:") {
                s += "." + k.dropFirst(2)
            } else if k.hasPrefix("k:"), case .object(let o)? = try? JSONParser.parse(String(k.dropFirst(2))) {
                s += "[" + o.sorted { $0.key < $1.key }.map { "\($0.key)=\(JSONWriter.string($0.value))" }.joined(separator: ",") + "]"
            } else if k.hasPrefix("v:") {
                s += "[=" + k.dropFirst(2) + "]"
            } else if k.hasPrefix("i:") {
                s += "[" + k.dropFirst(2) + "]"
            } else {
                s += "." + k
            }
        }
        return s
    }
}

extension FieldSet {
    /// `tree` (FieldsV1) with `paths` added; a node that gains children keeps its own
    /// membership with `"."`.
    static func adding(_ paths: FieldSet, to tree: JSONValue?) -> JSONValue {
        var root = tree?.objectValue ?? [:]
        func insert(_ path: ArraySlice<Substring>, _ node: inout JSONObject) {
            let k = String(path.first!)
            var child = node[k]?.objectValue
            if path.count == 1 {
                if var c = child, !c.isEmpty, c["."] == nil { c["."] = .emptyObject; node[k] = .object(c) }
                if child == nil { node[k] = .emptyObject }
                return
            }
            if child == nil { child = [:] } else if child!.isEmpty { child!["."] = .emptyObject }  // a leaf member gains children
            insert(path.dropFirst(), &child!)
            node[k] = .object(child!)
        }
        for p in paths.paths { insert(p.split(separator: sep)[...], &root) }
        return .object(root)
    }

    /// `tree` (FieldsV1) without `paths`: parents left with nothing go too; nil when
    /// nothing is left. `changed` tells whether anything was removed.
    static func removing(_ paths: FieldSet, from tree: JSONValue, changed: inout Bool) -> JSONValue? {
        guard var root = tree.objectValue else { return tree }
        func remove(_ path: ArraySlice<Substring>, _ node: inout JSONObject) {
            let k = String(path.first!)
            guard var child = node[k]?.objectValue else { return }
            if path.count == 1 {
                if child.isEmpty || (child.count == 1 && child["."] != nil) {
                    node.removeValue(forKey: k)
                } else if child["."] != nil {
                    child.removeValue(forKey: ".")
                    node[k] = .object(child)
                } else {
                    return
                }
                changed = true
                return
            }
            let member = child.isEmpty || child["."] != nil
            remove(path.dropFirst(), &child)
            let rest = child.filter { $0.key != "." }
            if rest.isEmpty {
                if member { node[k] = .emptyObject } else { node.removeValue(forKey: k) }
            } else {
                node[k] = .object(child)
            }
        }
        for p in paths.paths { remove(p.split(separator: sep)[...], &root) }
        return root.isEmpty ? nil : .object(root)
    }
}

extension Patch {
    /// What an update changes: the owned-field paths (as `fieldsV1` lays them out: metadata's
    /// labels, annotations, finalizers and ownerReferences; list items by merge key, the
    /// item itself a path too; other lists and scalars whole) that it adds or gives another
    /// value, and those it removes. Equal subtrees are skipped without building paths.
    static func fieldChanges(old: JSONValue?, new: JSONValue) -> (changed: FieldSet, removed: FieldSet) {
        var changed = FieldSet(), removed = FieldSet()

        func all(_ v: JSONValue, _ field: String, _ prefix: String, _ into: inout FieldSet) {
            switch v {
            case .object(let o) where !o.isEmpty:
                for (k, x) in o { all(x, k, FieldSet.join(prefix, "f:" + k), &into) }
            case .array(let a):
                guard let key = mergeKey(field: field, elements: a) else {
                    into.paths.insert(prefix)
                    return
                }
                for e in a {
                    guard let kv = e[key] else { continue }
                    let item = FieldSet.join(prefix, "k:" + JSONWriter.string(.object([key: kv])))
                    into.paths.insert(item)
                    if case .object(let fields) = e { for (k, x) in fields { all(x, k, FieldSet.join(item, "f:" + k), &into) } }
                }
            default:
                into.paths.insert(prefix)
            }
        }

        func fields(_ a: JSONObject, _ b: JSONObject, _ prefix: String) {
            for (k, bv) in b { diff(a[k], bv, k, FieldSet.join(prefix, "f:" + k)) }
            for (k, av) in a where b[k] == nil { all(av, k, FieldSet.join(prefix, "f:" + k), &removed) }
        }

        func diff(_ a: JSONValue?, _ b: JSONValue, _ field: String, _ prefix: String) {
            guard let a else { return all(b, field, prefix, &changed) }
            if a == b { return }
            switch (a, b) {
            case (.object(let x), .object(let y)) where !x.isEmpty && !y.isEmpty:
                fields(x, y, prefix)
            case (.array(let x), .array(let y)):
                guard let key = mergeKey(field: field, elements: x + y) else {
                    changed.paths.insert(prefix)
                    return
                }
                func items(_ l: [JSONValue]) -> [String: JSONObject] {
                    var out: [String: JSONObject] = [:]
                    for e in l { if let kv = e[key] { out["k:" + JSONWriter.string(.object([key: kv]))] = e.objectValue ?? [:] } }
                    return out
                }
                let before = items(x), after = items(y)
                for (ik, e) in after {
                    if let o = before[ik] {
                        fields(o, e, FieldSet.join(prefix, ik))
                    } else {
                        all(.array([.object(e)]), field, prefix, &changed)
                    }
                }
                for (ik, o) in before where after[ik] == nil { all(.array([.object(o)]), field, prefix, &removed) }
            default:
                all(a, field, prefix, &removed)
                all(b, field, prefix, &changed)
            }
        }

        let a = old?.objectValue ?? [:]
        guard case .object(let b) = new else { return (changed, removed) }
        let ma = a["metadata"]?.objectValue ?? [:], mb = b["metadata"]?.objectValue ?? [:]
        for mk in ["labels", "annotations", "finalizers", "ownerReferences"] {
            let p = FieldSet.join("f:metadata", "f:" + mk)
            if let bv = mb[mk] { diff(ma[mk], bv, mk, p) } else if let av = ma[mk] { all(av, mk, p, &removed) }
        }
        for (k, bv) in b where k != "apiVersion" && k != "kind" && k != "metadata" { diff(a[k], bv, k, "f:" + k) }
        for (k, av) in a where b[k] == nil && k != "apiVersion" && k != "kind" && k != "metadata" { all(av, k, "f:" + k, &removed) }
        removed.paths.subtract(changed.paths)
        return (changed, removed)
    }
}
