import Foundation
public import KubeAPI

extension APIServer {
    // MARK: typed decoding (types, quantities, unknown fields)

    /// With `old`, only what differs from it is checked (see `TypeShape.check(_:unchangedFrom:)`).
    static func typedCheck(_ r: ResourceInfo, _ obj: JSONValue, unchangedFrom old: JSONValue? = nil) throws -> [String] {
        // the compiled shape answers as `JSONValueDecoder.decodeReportingUnknown` would,
        // without building the typed value (a quarter of a create's CPU when decoded)
        func check<T: Decodable>(_ t: T.Type) throws -> [String] { try TypeShape.of(t).check(obj, unchangedFrom: old) }
        switch (r.group, r.resource) {
        case ("", "pods"): return try check(Pod.self)
        case ("", "nodes"): return try check(Node.self)
        case ("", "services"): return try check(Service.self)
        case ("", "endpoints"): return try check(Endpoints.self)
        case ("", "configmaps"): return try check(ConfigMap.self)
        case ("", "secrets"): return try check(Secret.self)
        case ("", "serviceaccounts"): return try check(ServiceAccount.self)
        case ("", "events"): return try check(Event.self)
        case ("", "namespaces"): return try check(Namespace.self)
        case ("apps", "deployments"): return try check(Deployment.self)
        case ("apps", "replicasets"): return try check(ReplicaSet.self)
        case ("apps", "statefulsets"): return try check(StatefulSet.self)
        case ("apps", "daemonsets"): return try check(DaemonSet.self)
        case ("discovery.k8s.io", "endpointslices"): return try check(EndpointSlice.self)
        case ("coordination.k8s.io", "leases"): return try check(Lease.self)
        case ("events.k8s.io", "events"): return try check(EventV1.self)
        case ("apiextensions.k8s.io", "customresourcedefinitions"): return try check(CustomResourceDefinition.self)
        default: return []
        }
    }

    /// Decodes into the typed model: type errors → 400 naming the field; unknown fields →
    /// 400 with `fieldValidation=Strict`, warnings with `Warn`.
    func checkBody(_ r: ResourceInfo, _ obj: JSONValue, _ opts: WriteOptions, unchangedFrom old: JSONValue? = nil) throws -> [String] {
        let unknown: [String]
        do {
            unknown = try Self.typedCheck(r, obj, unchangedFrom: old)
        } catch let e as JSONValueDecodingError {
            throw APIError.badRequest("\(r.kind) in version \"\(r.version)\" cannot be handled as a \(r.kind): \(e.path): \(e.message)")
        } catch let e as Quantity.ParseError {
            throw APIError.badRequest("\(r.kind) in version \"\(r.version)\" cannot be handled as a \(r.kind): \(e)")
        } catch {
            throw APIError.badRequest("\(r.kind) in version \"\(r.version)\" cannot be handled as a \(r.kind): \(error)")
        }
        let relevant = unknown.filter { !$0.hasPrefix("status") || r.resource != "pods" }
        if relevant.isEmpty { return [] }
        switch opts.fieldValidation {
        case "Strict":
            let list = relevant.map { "unknown field \"\($0)\"" }
            throw APIError.badRequest("\(r.kind) in version \"\(r.version)\" cannot be handled as a \(r.kind): strict decoding error: " + list.joined(separator: ", "))
        case "Ignore": return []
        default: return relevant.map { "unknown field \"\($0)\"" }
        }
    }

    func checkKind(_ r: ResourceInfo, _ obj: JSONValue) throws {
        guard case .object = obj else {
            throw APIError.badRequest("Object '\(r.kind)' is missing in '\(JSONWriter.string(obj).prefix(100))'")
        }
        if let av = obj["apiVersion"]?.stringValue, av != r.groupVersion {
            throw APIError.badRequest("the API version in the data (\(av)) does not match the expected API version (\(r.groupVersion))")
        }
        if let k = obj["kind"]?.stringValue, k != r.kind {
            throw APIError.badRequest("the kind in the data (\(k)) does not match the expected kind (\(r.kind))")
        }
    }

    // MARK: create

    public func create(_ r: ResourceInfo, namespace: String?, body: JSONValue, options: WriteOptions) async throws
        -> WriteResult
    {
        try await run(createStep(r, namespace: namespace, body: body, options: options))
    }

    func createStep(_ r: ResourceInfo, namespace: String?, body: JSONValue, options: WriteOptions) throws -> WriteStep {
        try checkKind(r, body)
        var obj = body
        obj["apiVersion"] = .string(r.groupVersion)
        obj["kind"] = .string(r.kind)
        var meta = obj["metadata"]?.objectValue ?? [:]
        if r.namespaced {
            if let ns = meta["namespace"]?.stringValue, !ns.isEmpty, let namespace, ns != namespace {
                throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            meta["namespace"] = namespace.map(JSONValue.string)
        } else {
            meta["namespace"] = nil
        }
        var name = meta["name"]?.stringValue ?? ""
        if name.isEmpty, let gen = meta["generateName"]?.stringValue, !gen.isEmpty {
            name = String(gen.prefix(58)) + Self.randomSuffix()
            meta["name"] = .string(name)
        }
        if name.isEmpty {
            throw APIError.invalid(r, "", [.required("metadata.name", "name or generateName is required")])
        }
        let warnings = try checkBody(r, obj, options)
        var errs = Validation.validateName(r, name)
        errs += Validation.validate(r, obj)
        if !errs.isEmpty { throw APIError.invalid(r, name, errs) }
        try namespaceCheck(r, namespace, name: name)

        let now = Self.now()
        meta["uid"] = .string(Self.newUID())
        meta["creationTimestamp"] = .string(now)
        meta["resourceVersion"] = nil
        meta["deletionTimestamp"] = nil
        meta["deletionGracePeriodSeconds"] = nil
        meta["selfLink"] = nil
        if obj["spec"] != nil || r.isCustom { meta["generation"] = 1 }
        obj["metadata"] = .object(meta)
        if r.hasStatus && r.resource != "pods" && r.resource != "nodes" && r.resource != "namespaces" && r.resource != "services" {
            obj["status"] = nil
        }
        if r.group == "", r.resource == "pods" { try admitPriority(r, &obj, name: name) }
        try Defaults.apply(r, &obj)
        recordManagedFields(&obj, old: nil, manager: options.fieldManager, operation: "Update", config: obj, apiVersion: r.groupVersion, time: now, subresource: nil)

        var allocated = Allocation()
        if r.group == "", r.resource == "services" {
            allocated = try allocateService(r, &obj, name: name, previous: nil)
        }
        if r.group == "", r.resource == "namespaces" {
            obj["spec"] = ["finalizers": ["kubernetes"]]
            obj["status"] = ["phase": "Active"]
        }
        if r.group == "apiextensions.k8s.io" { obj["status"] = Self.crdStatus(obj) }
        if options.dryRun {
            release(allocated)
            return .done(WriteResult(object: obj, warnings: warnings))
        }
        let (frozen, claimed, created) = (obj, allocated, name)
        return .commit(.create(key: r.key(namespace: namespace, name: created), value: APIServer.stamped(frozen))) { outcome in
            do {
                let kv = try outcome.get()
                let stored = Self.versioned(frozen, kv.modRevision)
                if r.group == "apiextensions.k8s.io", let crd = try? JSONValueDecoder().decode(CustomResourceDefinition.self, from: stored) {
                    self.registry.register(crd: crd)
                }
                return .done(WriteResult(object: stored, warnings: warnings, bytes: kv.value))
            } catch StoreError.keyExists {
                self.release(claimed)
                throw APIError.alreadyExists(r, created)
            } catch {
                self.release(claimed)
                throw error
            }
        }
    }

    static func crdStatus(_ obj: JSONValue) -> JSONValue {
        let now = JSONValue.string(now())
        let names = obj.value(at: ["spec", "names"]) ?? .emptyObject
        let stored = (obj.value(at: ["spec", "versions"])?.arrayValue ?? []).filter { $0["storage"]?.boolValue == true }.compactMap { $0["name"] }
        return [
            "acceptedNames": names,
            "storedVersions": .array(stored),
            "conditions": [
                ["type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now],
                ["type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now],
            ],
        ]
    }

    // MARK: get / list

    public func get(_ r: ResourceInfo, namespace: String?, name: String) async throws -> JSONValue {
        if r.resource == "componentstatuses" { return componentStatus(name) ?? { () -> JSONValue in .null }() }
        guard let kv = store.get(r.key(namespace: namespace, name: name)) else {
            throw APIError.notFound(r, name)
        }
        return try decodeStored(kv)
    }

    public struct ListResult: Sendable {
        public var items: [JSONValue]
        public var resourceVersion: String
        public var continueToken: String?
        public var remaining: Int64?
    }

    public func list(_ r: ResourceInfo, namespace: String?, labelSelector: LabelSelectorExpr, fieldSelector: FieldSelectorExpr,
                     limit: Int?, continueToken: String?) async throws -> ListResult
    {
        if r.resource == "componentstatuses" {
            let items = ["scheduler", "controller-manager", "etcd-0"].compactMap { componentStatus($0) }
            return ListResult(items: items, resourceVersion: "")
        }
        let prefix = r.prefix(namespace: namespace)
        var start: String? = nil
        if let continueToken, !continueToken.isEmpty {
            guard let data = Data(base64Encoded: continueToken), let tok = try? JSONParser.parse([UInt8](data)),
                let s = tok["start"]?.stringValue
            else { throw APIError.badRequest("continue key is not valid: illegal base64 data") }
            start = s
        }
        let (kvs, rev) = store.list(prefix: prefix)
        var items: [JSONValue] = []
        var next: String? = nil
        var remaining: Int64 = 0
        for kv in kvs {
            if let start, kv.key <= start { continue }
            if next != nil {
                remaining += 1
                continue
            }
            let o = try decodeStored(kv)
            guard Self.matches(r, o, labelSelector, fieldSelector) else { continue }
            items.append(o)
            if let limit, limit > 0, items.count >= limit {
                next = kv.key
            }
        }
        var token: String? = nil
        if let next, remaining > 0 {
            token = Data(JSONWriter.bytes(["rv": .int(rev), "start": .string(next)])).base64EncodedString()
        }
        return ListResult(items: items, resourceVersion: String(rev), continueToken: token, remaining: token == nil ? nil : remaining)
    }

    static func matches(_ r: ResourceInfo, _ o: JSONValue, _ ls: LabelSelectorExpr, _ fs: FieldSelectorExpr) -> Bool {
        if !ls.isEmpty {
            let labels = (o.value(at: ["metadata", "labels"])?.objectValue ?? [:]).compactMapValues(\.stringValue)
            if !ls.matches(labels) { return false }
        }
        if !fs.isEmpty, !fs.matches(FieldLabels.fields(r, o)) { return false }
        return true
    }

    func componentStatus(_ name: String) -> JSONValue? {
        guard ["scheduler", "controller-manager", "etcd-0"].contains(name) else { return nil }
        let msg: JSONValue = name == "etcd-0" ? "ok" : "ok"
        return ["kind": "ComponentStatus", "apiVersion": "v1",
                "metadata": ["name": .string(name), "creationTimestamp": .null],
                "conditions": [["type": "Healthy", "status": "True", "message": msg]]]
    }

    // MARK: update

    /// PUT: replaces the object (or its status/scale). `expected` resourceVersion from the body.
    public func update(_ r: ResourceInfo, namespace: String?, name: String, body: JSONValue, options: WriteOptions)
        async throws -> WriteResult
    {
        try await run(updateStep(r, namespace: namespace, name: name, body: body, options: options))
    }

    func updateStep(_ r: ResourceInfo, namespace: String?, name: String, body: JSONValue, options: WriteOptions) throws
        -> WriteStep
    {
        try checkKind(r, body)
        if let bn = body.value(at: ["metadata", "name"])?.stringValue, bn != name {
            throw APIError.badRequest("the name of the object (\(bn)) does not match the name on the URL (\(name))")
        }
        let warnings = options.subresource == nil ? try checkBody(r, body, options) : []
        let rvText = body.value(at: ["metadata", "resourceVersion"])?.stringValue
        var expected: Int64? = nil
        if let rvText, !rvText.isEmpty {
            guard let v = Int64(rvText) else {
                throw APIError.invalid(r, name, [.invalid("metadata.resourceVersion", .string(rvText), "must be a valid resource version")])
            }
            expected = v
        }
        let key = r.key(namespace: namespace, name: name)
        guard let kv = store.get(key) else { throw APIError.notFound(r, name) }
        if let expected, expected != kv.modRevision { throw APIError.conflict(r, name) }
        let old = try decodeStored(kv)
        return try commitUpdate(r, namespace: namespace, name: name, old: old, oldRev: kv.modRevision,
                                proposed: body, options: options, operation: "Update", config: body)
            .map { var result = $0; result.warnings += warnings; return result }
    }

    /// Builds the new object from the old one and a proposal, runs validation and defaults,
    /// and writes it if the stored revision is still `oldRev`.
    func commitUpdate(_ r: ResourceInfo, namespace: String?, name: String, old: JSONValue, oldRev: Int64,
                      proposed: JSONValue, options: WriteOptions, operation: String, config: JSONValue) throws
        -> WriteStep
    {
        var obj: JSONValue
        switch options.subresource {
        case "status":
            obj = old
            obj["status"] = proposed["status"]
            // status updates may change labels/annotations? No: only status, as upstream.
        case "scale":
            obj = old
            guard let replicas = proposed.value(at: ["spec", "replicas"])?.intValue else {
                throw APIError.invalid(r, name, [.required("spec.replicas")])
            }
            if replicas < 0 {
                throw APIError.invalid(r, name, [.invalid("spec.replicas", .int(replicas), "must be greater than or equal to 0")])
            }
            obj.setValue(.int(replicas), at: ["spec", "replicas"])
        default:
            obj = proposed
            obj["apiVersion"] = .string(r.groupVersion)
            obj["kind"] = .string(r.kind)
            if r.hasStatus { obj["status"] = old["status"] }
        }
        // immutable metadata
        var meta = obj["metadata"]?.objectValue ?? [:]
        let oldMeta = old["metadata"]?.objectValue ?? [:]
        for k in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "name", "generation"] {
            meta[k] = oldMeta[k]
        }
        meta["resourceVersion"] = nil
        if options.subresource != nil {
            meta = oldMeta
            meta["resourceVersion"] = nil
        }
        obj["metadata"] = .object(meta)
        if options.subresource == nil {
            try Defaults.apply(r, &obj)
            var errs = Validation.validate(r, obj)
            errs += Self.immutabilityErrors(r, old: old, new: obj)
            if !errs.isEmpty { throw APIError.invalid(r, name, errs) }
        }
        var allocated = Allocation()
        if r.group == "", r.resource == "services", options.subresource == nil {
            allocated = try allocateService(r, &obj, name: name, previous: old)
        }
        // generation follows spec changes
        if !Self.sameObject(old, obj, ignoring: Self.notSpec), let g = old.value(at: ["metadata", "generation"])?.intValue {
            obj.setValue(.int(g + 1), at: ["metadata", "generation"])
        }
        let now = Self.now()
        recordManagedFields(&obj, old: old, manager: options.fieldManager, operation: operation, config: config,
                            apiVersion: r.groupVersion, time: now, subresource: options.subresource)
        if r.group == "apiextensions.k8s.io", options.subresource == nil { obj["status"] = Self.crdStatus(obj) }
        if Self.sameStoredObject(old, obj) {
            // no-op update: return the stored object unchanged, as upstream does
            release(allocated)
            return .done(WriteResult(object: old))
        }
        if options.dryRun {
            release(allocated)
            return .done(WriteResult(object: obj))
        }
        let key = r.key(namespace: namespace, name: name)
        let (frozen, claimed) = (obj, allocated)
        // finalizers all gone on a terminating object: delete it.
        if obj.value(at: ["metadata", "deletionTimestamp"]) != nil,
            (obj.value(at: ["metadata", "finalizers"])?.arrayValue ?? []).isEmpty,
            r.resource != "pods" || obj.value(at: ["metadata", "deletionGracePeriodSeconds"])?.intValue == 0
        {
            return .commit(.delete(key: key, expected: oldRev)) { outcome in
                let kv: KeyValue
                do { kv = try outcome.get() } catch StoreError.conflict { throw APIError.conflict(r, name) }
                let last = try self.decodeStored(kv)
                return .async {
                    await self.afterDelete(r, last)
                    return .done(WriteResult(object: frozen))
                }
            }
        }
        return .commit(.update(key: key, expected: oldRev, value: APIServer.stamped(frozen))) { outcome in
            do {
                let kv = try outcome.get()
                let stored = Self.versioned(frozen, kv.modRevision)
                if r.group == "", r.resource == "services" { self.releaseDropped(old: old, new: stored) }
                if r.group == "apiextensions.k8s.io", let crd = try? JSONValueDecoder().decode(CustomResourceDefinition.self, from: stored) {
                    self.registry.register(crd: crd)
                }
                return .done(WriteResult(object: stored, bytes: kv.value))
            } catch StoreError.conflict {
                self.release(claimed)
                throw APIError.conflict(r, name)
            } catch StoreError.notFound {
                self.release(claimed)
                throw APIError.notFound(r, name)
            }
        }
    }

    /// The top-level keys that are not the object's spec, for `generation`.
    static let notSpec: Set<String> = ["metadata", "status", "apiVersion", "kind"]

    /// Whether two objects are equal apart from the keys in `ignoring` (compared in place: no
    /// copy of either with those keys removed).
    static func sameObject(_ a: JSONValue, _ b: JSONValue, ignoring: Set<String>) -> Bool {
        guard case .object(let x) = a, case .object(let y) = b else { return a == b }
        for (k, v) in x where !ignoring.contains(k) {
            guard let w = y[k], v == w else { return false }
        }
        for k in y.keys where !ignoring.contains(k) && x[k] == nil { return false }
        return true
    }

    /// Whether an update changes nothing that is stored: `metadata.resourceVersion` and the
    /// managed fields' timestamps alone do not count (a new owner does).
    static func sameStoredObject(_ old: JSONValue, _ new: JSONValue) -> Bool {
        guard sameObject(old, new, ignoring: ["metadata"]) else { return false }
        let m = old["metadata"] ?? .null, n = new["metadata"] ?? .null
        guard sameObject(m, n, ignoring: ["resourceVersion", "managedFields"]) else { return false }
        let e = m["managedFields"]?.arrayValue, f = n["managedFields"]?.arrayValue
        guard let e, let f else { return m["managedFields"] == n["managedFields"] }
        guard e.count == f.count else { return false }
        for (a, b) in zip(e, f) where !sameObject(a, b, ignoring: ["time"]) { return false }
        return true
    }

    static func immutabilityErrors(_ r: ResourceInfo, old: JSONValue, new: JSONValue) -> [FieldError] {
        var errs: [FieldError] = []
        switch (r.group, r.resource) {
        case ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"):
            if let a = old.value(at: ["spec", "selector"]), let b = new.value(at: ["spec", "selector"]), a != b {
                errs.append(.invalid("spec.selector", b, "field is immutable"))
            }
        case ("", "pods"):
            var a = old["spec"] ?? .null
            var b = new["spec"] ?? .null
            if a == b { break }  // mostly the same storage: no copies to strip
            // mutable: container images, activeDeadlineSeconds, tolerations (additions), terminationGracePeriodSeconds
            func strip(_ v: JSONValue) -> JSONValue {
                var v = v
                if var cs = v["containers"]?.arrayValue {
                    for i in cs.indices { cs[i]["image"] = nil }
                    v["containers"] = .array(cs)
                }
                if var cs = v["initContainers"]?.arrayValue {
                    for i in cs.indices { cs[i]["image"] = nil }
                    v["initContainers"] = .array(cs)
                }
                for k in ["activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds", "nodeName", "schedulingGates"] { v[k] = nil }
                return v
            }
            a = strip(a)
            b = strip(b)
            if a != b {
                errs.append(.forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"))
            }
            if let n = old.value(at: ["spec", "nodeName"])?.stringValue, !n.isEmpty,
                new.value(at: ["spec", "nodeName"])?.stringValue != n
            {
                errs.append(.forbidden("spec.nodeName", "pod updates may not change fields other than `spec.containers[*].image`"))
            }
        case ("", "services"):
            if let a = old.value(at: ["spec", "clusterIP"])?.stringValue, !a.isEmpty,
                let b = new.value(at: ["spec", "clusterIP"])?.stringValue, !b.isEmpty, a != b
            {
                errs.append(.invalid("spec.clusterIPs[0]", .string(b), "may not change once set"))
            }
        case ("", "configmaps"), ("", "secrets"):
            if old["immutable"]?.boolValue == true {
                if old["data"] != new["data"] || old["binaryData"] != new["binaryData"] {
                    errs.append(.forbidden("data", "field is immutable when `immutable` is set"))
                }
            }
        default: break
        }
        return errs
    }

    // MARK: patch

    public enum PatchType: String, Sendable {
        case json = "application/json-patch+json"
        case merge = "application/merge-patch+json"
        case strategic = "application/strategic-merge-patch+json"
        case apply = "application/apply-patch+yaml"
    }

    public func patch(_ r: ResourceInfo, namespace: String?, name: String, type: PatchType, patch: JSONValue,
                      options: WriteOptions) async throws -> WriteResult
    {
        try await run(patchStep(r, namespace: namespace, name: name, type: type, patch: patch, options: options))
    }

    /// A patch is applied to the object as stored; when another write got in first (the
    /// store's conflict), it is applied again to the new object, up to five times in all,
    /// unless it named a resourceVersion, as kube-apiserver retries.
    func patchStep(_ r: ResourceInfo, namespace: String?, name: String, type: PatchType, patch: JSONValue,
                   options: WriteOptions, attempt: Int = 0) throws -> WriteStep
    {
        let key = r.key(namespace: namespace, name: name)
        guard let kv = store.get(key) else {
            if type == .apply {
                return .async { .done(try await self.applyCreate(r, namespace: namespace, name: name, config: patch, options: options)) }
            }
            throw APIError.notFound(r, name)
        }
        let old = try decodeStored(kv)
        var proposed: JSONValue
        var operation = "Update"
        do {
            switch type {
            case .json: proposed = try Patch.jsonPatch(old, patch)
            case .merge: proposed = Patch.mergePatch(old, patch)
            case .strategic:
                if r.isCustom {
                    throw APIError.unsupportedMediaType("application/strategic-merge-patch+json (strategic merge patch is not supported for custom resources; use merge patch)")
                }
                proposed = try Patch.strategicMerge(old, patch)
            case .apply:
                try checkKind(r, patch)
                if options.fieldManager.isEmpty {
                    throw APIError.badRequest("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
                }
                operation = "Apply"
                let managed = old.value(at: ["metadata", "managedFields"])?.arrayValue ?? []
                let isMine = { (e: JSONValue) in Self.isEntry(e, manager: options.fieldManager, operation: "Apply", subresource: options.subresource) }
                let mine = managed.first(where: isMine)
                let others = managed.filter { !isMine($0) }
                proposed = try Patch.apply(live: old, config: patch, previous: mine?["fieldsV1"], others: others.compactMap { $0["fieldsV1"] })
                if !options.force {
                    let conflicts = Self.applyConflicts(old: old, new: proposed, others: others)
                    if !conflicts.isEmpty {
                        throw Status(message: Self.conflictMessage(conflicts), reason: "Conflict", code: 409,
                                     details: StatusDetails(causes: conflicts.map { StatusCause(reason: "FieldManagerConflict", message: "conflict with \($0.manager)", field: $0.field) }))
                    }
                }
            }
        } catch let e as PatchError {
            throw Status(message: e.description, reason: "UnprocessableEntity", code: 422)
        }
        if !proposed.isNull, proposed.objectValue == nil {
            throw APIError.badRequest("the patch did not produce an object")
        }
        // a resourceVersion inside the patch is a precondition
        var expectedRev = kv.modRevision
        if let rv = patch.value(at: ["metadata", "resourceVersion"])?.stringValue, let v = Int64(rv) {
            if v != kv.modRevision { throw APIError.conflict(r, name) }
            expectedRev = v
        }
        proposed.setValue(nil, at: ["metadata", "resourceVersion"])
        // As kube-apiserver, the patched object is decoded strictly; the parts the patch
        // left as stored were checked when they were written (server-side apply's
        // configuration is checked whole).
        let warnings = options.subresource == nil
            ? try checkBody(r, proposed, options, unchangedFrom: type == .apply ? nil : old) : []
        let retries = patch.value(at: ["metadata", "resourceVersion"]) == nil && attempt < 4
        return try commitUpdate(r, namespace: namespace, name: name, old: old, oldRev: expectedRev,
                                proposed: proposed, options: options, operation: operation,
                                config: type == .apply ? patch : proposed)
            .then { outcome in
                do {
                    var result = try outcome.get()
                    result.warnings += warnings
                    return .done(result)
                } catch let s as Status where s.reason == "Conflict" && retries {
                    return try self.patchStep(r, namespace: namespace, name: name, type: type, patch: patch,
                                              options: options, attempt: attempt + 1)
                }
            }
    }

    struct ApplyConflict {
        /// As kube-apiserver prints a manager: `"kubectl-edit" using apps/v1`.
        var manager: String
        /// As structured-merge-diff prints a path: `.spec.replicas`.
        var field: String
    }

    static func isEntry(_ e: JSONValue, manager: String, operation: String, subresource: String?) -> Bool {
        e["manager"]?.stringValue == manager && e["operation"]?.stringValue == operation
            && (e["subresource"]?.stringValue ?? "") == (subresource ?? "")
    }

    static func describeManager(_ e: JSONValue) -> String {
        var s = "\"\(e["manager"]?.stringValue ?? "")\""
        if let sub = e["subresource"]?.stringValue, !sub.isEmpty { s += " with subresource \"\(sub)\"" }
        if e["operation"]?.stringValue == "Update" { s += " using \(e["apiVersion"]?.stringValue ?? "")" }
        return s
    }

    /// Fields an apply would change (add, or give another value) that another manager owns:
    /// conflicts unless the apply is forced. Fields applied with the value they already have
    /// are shared, not conflicts.
    static func applyConflicts(old: JSONValue, new: JSONValue, others: [JSONValue]) -> [ApplyConflict] {
        let changed = Patch.fieldChanges(old: old, new: new).changed
        guard !changed.isEmpty else { return [] }
        var out: [ApplyConflict] = []
        for e in others {
            guard let f = e["fieldsV1"] else { continue }
            let clash = FieldSet(fieldsV1: f).intersection(changed)
            for field in clash.paths.map(FieldSet.describe).sorted() {
                out.append(ApplyConflict(manager: describeManager(e), field: field))
            }
        }
        return out
    }

    /// kube-apiserver's wording: one conflict on a line, several grouped by manager.
    static func conflictMessage(_ conflicts: [ApplyConflict]) -> String {
        if conflicts.count == 1 {
            return "Apply failed with 1 conflict: conflict with \(conflicts[0].manager): \(conflicts[0].field)"
        }
        var byManager: [String: [String]] = [:]
        for c in conflicts { byManager[c.manager, default: []].append(c.field) }
        var lines: [String] = []
        for m in byManager.keys.sorted() {
            lines.append("conflicts with \(m):")
            lines += byManager[m]!.map { "- \($0)" }
        }
        return "Apply failed with \(conflicts.count) conflicts: " + lines.joined(separator: "\n")
    }

    func applyCreate(_ r: ResourceInfo, namespace: String?, name: String, config: JSONValue, options: WriteOptions)
        async throws -> WriteResult
    {
        if options.fieldManager.isEmpty {
            throw APIError.badRequest("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
        }
        var obj = config
        obj.setValue(.string(name), at: ["metadata", "name"])
        var res = try await create(r, namespace: namespace, body: obj, options: options)
        // creation via apply: the managed entry is an Apply
        var o = res.object
        if var entries = o.value(at: ["metadata", "managedFields"])?.arrayValue, !entries.isEmpty {
            entries[0]["operation"] = "Apply"
            entries[0]["fieldsV1"] = Patch.fieldsV1(config)
            o.setValue(.array(entries), at: ["metadata", "managedFields"])
            if !options.dryRun, let rv = o.value(at: ["metadata", "resourceVersion"])?.stringValue, let rev = Int64(rv) {
                o.setValue(nil, at: ["metadata", "resourceVersion"])
                let frozen = o
                let kv = try await store.write(.update(key: r.key(namespace: namespace, name: name), expected: rev, value: APIServer.stamped(frozen)))
                o = try decodeStored(kv)
            }
            res.object = o
            res.bytes = nil
        }
        return res
    }

    /// Keeps `metadata.managedFields` as kube-apiserver does. An Update takes the fields it
    /// adds or changes (and drops those it removes) from everyone else and adds them to its
    /// own entry; an Apply owns exactly the fields of its configuration, and what it changed
    /// leaves the other managers (it got this far only without conflicts, or forced). A
    /// manager left owning nothing loses its entry; an Update that changes no field leaves
    /// the entries as they are.
    ///
    /// What the request says about managedFields counts as kube-apiserver counts it: a client
    /// that leaves them out (or sends null) keeps the live ones — clients that do not know
    /// them, or caches that strip them as the scheduler's and controllers' informers do, must
    /// not wipe them — `[]` or `[{}]` resets them, and a subresource never sets them.
    func recordManagedFields(_ obj: inout JSONValue, old: JSONValue?, manager: String, operation: String, config: JSONValue,
                             apiVersion: String, time: String, subresource: String?)
    {
        if let old {
            let sent = obj.value(at: ["metadata", "managedFields"])
            let live = old.value(at: ["metadata", "managedFields"])
            if subresource != nil || sent == nil || sent == .null {
                obj.setValue(live, at: ["metadata", "managedFields"])
            } else if let s = sent?.arrayValue, s.isEmpty || (s.count == 1 && s[0].objectValue?.isEmpty == true) {
                obj.setValue(Optional<JSONValue>.none, at: ["metadata", "managedFields"])
            }
        }
        guard !manager.isEmpty else { return }
        let entries = obj.value(at: ["metadata", "managedFields"])?.arrayValue ?? []
        let isMine = { (e: JSONValue) in Self.isEntry(e, manager: manager, operation: operation, subresource: subresource) }
        func entry(_ fields: JSONValue) -> JSONValue {
            var e: JSONValue = ["manager": .string(manager), "operation": .string(operation),
                                "apiVersion": .string(apiVersion), "time": .string(time),
                                "fieldsType": "FieldsV1", "fieldsV1": fields]
            if let subresource { e["subresource"] = .string(subresource) }
            return e
        }
        if old == nil, entries.isEmpty {
            // a create: its manager owns every field
            let all = Patch.fieldsV1(obj)
            if all.objectValue?.isEmpty == false { obj.setValue([entry(all)], at: ["metadata", "managedFields"]) }
            return
        }
        let (changed, removed) = Patch.fieldChanges(old: old, new: obj)
        if operation != "Apply", changed.isEmpty, removed.isEmpty { return }
        let mine: JSONValue?
        if operation == "Apply" {
            var cfg = config
            cfg.setValue(nil, at: ["metadata", "managedFields"])
            mine = Patch.fieldsV1(cfg)
        } else {
            var ignored = false
            mine = FieldSet.removing(removed, from: FieldSet.adding(changed, to: entries.first(where: isMine)?["fieldsV1"]), changed: &ignored)
        }
        // (JSONValue takes `nil` as JSON null: spell the optional out)
        var mineEntry: JSONValue? = nil
        if let mine, mine.objectValue?.isEmpty == false { mineEntry = entry(mine) }
        let taken = changed.union(removed)
        var out: [JSONValue] = []
        var placed = false
        for var e in entries {
            if isMine(e) {
                // in its old place, so applying the same configuration again changes nothing
                if let mineEntry, !placed { out.append(mineEntry) }
                placed = true
                continue
            }
            if let f = e["fieldsV1"], !taken.isEmpty {
                var changed = false
                let kept = FieldSet.removing(taken, from: f, changed: &changed)
                guard let kept else { continue }
                if changed { e["fieldsV1"] = kept }
            }
            out.append(e)
        }
        if !placed, let mineEntry { out.append(mineEntry) }
        if out.isEmpty {
            obj.setValue(Optional<JSONValue>.none, at: ["metadata", "managedFields"])
        } else {
            obj.setValue(.array(out), at: ["metadata", "managedFields"])
        }
    }

    // MARK: delete

    public struct DeleteOptions: Sendable {
        public var gracePeriodSeconds: Int64? = nil
        public var propagationPolicy: String? = nil
        public var preconditionUID: String? = nil
        public var preconditionRV: String? = nil
        public var dryRun = false
        public init() {}
    }

    /// Returns the object as it is after the call: gone (the last state), or marked for deletion.
    public func delete(_ r: ResourceInfo, namespace: String?, name: String, options: DeleteOptions) async throws
        -> (object: JSONValue, gone: Bool)
    {
        let key = r.key(namespace: namespace, name: name)
        for _ in 0..<5 {
            guard let kv = store.get(key) else { throw APIError.notFound(r, name) }
            var obj = try decodeStored(kv)
            if let uid = options.preconditionUID, uid != obj.value(at: ["metadata", "uid"])?.stringValue {
                throw APIError.conflict(r, name, "Precondition failed: UID in precondition: \(uid), UID in object meta: \(obj.value(at: ["metadata", "uid"])?.stringValue ?? "")")
            }
            if let rv = options.preconditionRV, rv != String(kv.modRevision) {
                throw APIError.conflict(r, name, "Precondition failed: ResourceVersion in precondition: \(rv), ResourceVersion in object meta: \(kv.modRevision)")
            }
            if options.dryRun { return (obj, false) }
            var finalizers = (obj.value(at: ["metadata", "finalizers"])?.arrayValue ?? []).compactMap(\.stringValue)
            switch options.propagationPolicy {
            case "Foreground" where !finalizers.contains("foregroundDeletion"): finalizers.append("foregroundDeletion")
            case "Orphan" where !finalizers.contains("orphan"): finalizers.append("orphan")
            default: break
            }
            // graceful deletion of pods bound to a node: the node confirms with grace 0
            var grace: Int64 = 0
            if r.group == "", r.resource == "pods" {
                let phase = obj.value(at: ["status", "phase"])?.stringValue ?? ""
                let bound = !(obj.value(at: ["spec", "nodeName"])?.stringValue ?? "").isEmpty
                let requested = options.gracePeriodSeconds ?? obj.value(at: ["spec", "terminationGracePeriodSeconds"])?.intValue ?? 30
                if bound && phase != "Succeeded" && phase != "Failed" { grace = max(0, requested) }
                if let g = options.gracePeriodSeconds, g == 0 { grace = 0 }
            }
            let existingDT = obj.value(at: ["metadata", "deletionTimestamp"])
            if r.group == "", r.resource == "namespaces" {
                if ["default", "kube-system", "kube-public"].contains(name) {
                    throw APIError.forbidden(r, name, "this namespace may not be deleted")
                }
                // namespace: mark Terminating; the namespace finalizer drains it
                if existingDT == nil {
                    obj.setValue(.string(Self.now()), at: ["metadata", "deletionTimestamp"])
                    obj.setValue(0, at: ["metadata", "deletionGracePeriodSeconds"])
                    obj.setValue("Terminating", at: ["status", "phase"])
                    let stored = try await writeMarked(r, key: key, obj: obj, rev: kv.modRevision)
                    guard let stored else { continue }
                    Task { await self.finalizeNamespace(name) }
                    return (stored, false)
                }
                return (obj, false)
            }
            if grace > 0 || !finalizers.isEmpty {
                let currentGrace = obj.value(at: ["metadata", "deletionGracePeriodSeconds"])?.intValue
                if existingDT != nil, (currentGrace ?? 0) <= grace, finalizers == (obj.value(at: ["metadata", "finalizers"])?.arrayValue ?? []).compactMap(\.stringValue) {
                    return (obj, false)
                }
                if grace > 0 || existingDT == nil {
                    let when = Date().addingTimeInterval(TimeInterval(grace))
                    obj.setValue(.string(Tables.formatTime(when)), at: ["metadata", "deletionTimestamp"])
                    obj.setValue(.int(grace), at: ["metadata", "deletionGracePeriodSeconds"])
                }
                obj.setValue(finalizers.isEmpty ? nil : .array(finalizers.map(JSONValue.string)), at: ["metadata", "finalizers"])
                if grace > 0 || !finalizers.isEmpty {
                    let stored = try await writeMarked(r, key: key, obj: obj, rev: kv.modRevision)
                    guard let stored else { continue }
                    return (stored, false)
                }
            }
            do {
                let gone = try await store.write(.delete(key: key, expected: kv.modRevision))
                let last = try decodeStored(gone)
                await afterDelete(r, last)
                return (last, true)
            } catch StoreError.conflict {
                continue
            } catch StoreError.notFound {
                throw APIError.notFound(r, name)
            }
        }
        throw APIError.conflict(r, name)
    }

    private func writeMarked(_ r: ResourceInfo, key: String, obj: JSONValue, rev: Int64) async throws -> JSONValue? {
        var o = obj
        o.setValue(nil, at: ["metadata", "resourceVersion"])
        let frozen = o
        do {
            let kv = try await store.write(.update(key: key, expected: rev, value: APIServer.stamped(frozen)))
            return try decodeStored(kv)
        } catch StoreError.conflict {
            return nil
        }
    }

    func afterDelete(_ r: ResourceInfo, _ last: JSONValue) async {
        if r.group == "", r.resource == "services" { releaseDropped(old: last, new: .emptyObject) }
        if r.group == "apiextensions.k8s.io" {
            let g = last.value(at: ["spec", "group"])?.stringValue ?? ""
            let p = last.value(at: ["spec", "names", "plural"])?.stringValue ?? ""
            registry.unregister(group: g, plural: p)
            // custom objects go with their definition
            for kv in store.list(prefix: "/registry/\(g)/\(p)/").items {
                _ = try? await store.write(.delete(key: kv.key, expected: nil))
            }
        }
    }

    // MARK: services

    struct Allocation: Sendable {
        var ips: [String] = []
        var ports: [Int] = []
    }

    func release(_ a: Allocation) {
        for ip in a.ips { allocators.releaseIP(ip) }
        for p in a.ports { allocators.releasePort(p) }
    }

    func releaseDropped(old: JSONValue, new: JSONValue) {
        let oldIPs = Set((old.value(at: ["spec", "clusterIPs"])?.arrayValue ?? []).compactMap(\.stringValue))
        let newIPs = Set((new.value(at: ["spec", "clusterIPs"])?.arrayValue ?? []).compactMap(\.stringValue))
        for ip in oldIPs.subtracting(newIPs) where ip != "None" { allocators.releaseIP(ip) }
        let oldPorts = Set((old.value(at: ["spec", "ports"])?.arrayValue ?? []).compactMap { $0["nodePort"]?.intValue })
        let newPorts = Set((new.value(at: ["spec", "ports"])?.arrayValue ?? []).compactMap { $0["nodePort"]?.intValue })
        for p in oldPorts.subtracting(newPorts) { allocators.releasePort(Int(p)) }
    }

    func allocateService(_ r: ResourceInfo, _ obj: inout JSONValue, name: String, previous: JSONValue?) throws -> Allocation {
        var a = Allocation()
        let type = obj.value(at: ["spec", "type"])?.stringValue ?? "ClusterIP"
        do {
            if type != "ExternalName" {
                let oldIP = previous?.value(at: ["spec", "clusterIP"])?.stringValue
                var requested = obj.value(at: ["spec", "clusterIP"])?.stringValue
                if requested == nil || requested == "", let ips = obj.value(at: ["spec", "clusterIPs"])?.arrayValue?.first?.stringValue {
                    requested = ips
                }
                if requested == "None" {
                    obj.setValue("None", at: ["spec", "clusterIP"])
                    obj.setValue(["None"], at: ["spec", "clusterIPs"])
                } else if let oldIP, !oldIP.isEmpty, requested == nil || requested == "" || requested == oldIP {
                    obj.setValue(.string(oldIP), at: ["spec", "clusterIP"])
                    obj.setValue([.string(oldIP)], at: ["spec", "clusterIPs"])
                } else {
                    let ip = try allocators.allocateIP(requested)
                    a.ips.append(ip)
                    obj.setValue(.string(ip), at: ["spec", "clusterIP"])
                    obj.setValue([.string(ip)], at: ["spec", "clusterIPs"])
                }
            } else {
                obj.setValue(nil, at: ["spec", "clusterIP"])
                obj.setValue(nil, at: ["spec", "clusterIPs"])
            }
            if type == "NodePort" || type == "LoadBalancer" {
                var ports = obj.value(at: ["spec", "ports"])?.arrayValue ?? []
                let oldPorts = previous?.value(at: ["spec", "ports"])?.arrayValue ?? []
                for i in ports.indices {
                    let req = ports[i]["nodePort"]?.intValue.map(Int.init)
                    let prevPort = oldPorts.first { $0["port"] == ports[i]["port"] && $0["protocol"] == ports[i]["protocol"] }?["nodePort"]?.intValue.map(Int.init)
                    if let prevPort, req == nil || req == prevPort {
                        ports[i]["nodePort"] = .int(Int64(prevPort))
                        continue
                    }
                    do {
                        let p = try allocators.allocatePort(req)
                        a.ports.append(p)
                        ports[i]["nodePort"] = .int(Int64(p))
                    } catch {
                        let field = "spec.ports[\(i)].nodePort"
                        let range = allocators.nodePortRange
                        switch error {
                        case .portAllocated(let p):
                            throw APIError.invalid(r, name, [.invalid(field, .int(Int64(p)), "provided port is already allocated")])
                        case .portOutOfRange(let p):
                            throw APIError.invalid(r, name, [.invalid(field, .int(Int64(p)), "provided port is not in the valid range. The range of valid ports is \(range.lowerBound)-\(range.upperBound)")])
                        default:
                            throw APIError.invalid(r, name, [.invalid(field, .null, "range is full")])
                        }
                    }
                }
                obj.setValue(.array(ports), at: ["spec", "ports"])
                if obj.value(at: ["spec", "externalTrafficPolicy"]) == nil {
                    obj.setValue("Cluster", at: ["spec", "externalTrafficPolicy"])
                }
            } else {
                // nodePorts are released when a service stops being NodePort
                var ports = obj.value(at: ["spec", "ports"])?.arrayValue ?? []
                for i in ports.indices { ports[i]["nodePort"] = nil }
                if !ports.isEmpty { obj.setValue(.array(ports), at: ["spec", "ports"]) }
            }
        } catch let e as ServiceAllocators.AllocationError {
            release(a)
            let shown = JSONValue.string(obj.value(at: ["spec", "clusterIP"])?.stringValue ?? "")
            let list = "[]string{\(FieldError.goQuote(shown))}"
            let cidr = allocators.serviceCIDR
            switch e {
            case .ipAllocated(let ip):
                throw APIError.invalid(r, name, [FieldError(kind: .invalid, field: "spec.clusterIPs", detail: "Invalid value: \(list): failed to allocate IP \(ip): provided IP is already allocated")])
            case .ipOutOfRange(let ip):
                throw APIError.invalid(r, name, [FieldError(kind: .invalid, field: "spec.clusterIPs", detail: "Invalid value: \(list): failed to allocate IP \(ip): the provided IP (\(ip)) is not in the valid range. The range of valid IPs is \(cidr)")])
            case .ipInvalid(let ip):
                throw APIError.invalid(r, name, [.invalid("spec.clusterIPs[0]", .string(ip), "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")])
            default:
                throw APIError.invalid(r, name, [FieldError(kind: .invalid, field: "spec.clusterIPs", detail: "Internal error: range is full")])
            }
        } catch {
            release(a)
            throw error
        }
        return a
    }
}

/// The fields each kind can be selected by (`?fieldSelector=`), as Kubernetes registers them.
public enum FieldLabels {
    public static func supported(_ r: ResourceInfo) -> Set<String> {
        var s: Set<String> = ["metadata.name"]
        if r.namespaced { s.insert("metadata.namespace") }
        switch (r.group, r.resource) {
        case ("", "pods"):
            s.formUnion(["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                         "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"])
        case ("", "events"):
            s.formUnion(["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                         "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                         "reason", "reportingComponent", "source", "type"])
        case ("events.k8s.io", "events"):
            s.formUnion(["regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid", "reason", "type", "reportingController"])
        case ("", "nodes"): s.insert("spec.unschedulable")
        case ("", "secrets"): s.insert("type")
        case ("", "namespaces"): s.insert("status.phase")
        case ("", "services"): s.formUnion(["spec.clusterIP", "spec.type"])
        case ("apps", "replicasets"): s.insert("status.replicas")
        default: break
        }
        return s
    }

    public static func fields(_ r: ResourceInfo, _ o: JSONValue) -> [String: String] {
        var out: [String: String] = [:]
        for f in supported(r) {
            guard let v = o.value(at: f) else { continue }
            switch v {
            case .string(let s): out[f] = s
            case .bool(let b): out[f] = b ? "true" : "false"
            case .int(let i): out[f] = String(i)
            default: break
            }
        }
        if r.resource == "events", r.group == "", let c = o.value(at: ["source", "component"])?.stringValue { out["source"] = c }
        if r.resource == "nodes", out["spec.unschedulable"] == nil { out["spec.unschedulable"] = "false" }
        if r.resource == "pods", out["spec.hostNetwork"] == nil { out["spec.hostNetwork"] = "false" }
        return out
    }
}

extension APIServer {
    /// A random (version 4) UUID in lowercase, as Kubernetes writes uids. Foundation's `UUID()`
    /// opens, reads and closes /dev/urandom for each one (~2 % of the server's CPU per create);
    /// the stdlib generator is the getrandom(2) call alone.
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    static func newUID() -> String {
        var g = SystemRandomNumberGenerator()
        var hi = g.next() as UInt64, lo = g.next() as UInt64
        hi = hi & ~0xF000 | 0x4000  // version 4 (bits 12–15 of time_hi_and_version)
        lo = lo & ~(0xC000 << 48) | (0x8000 << 48)  // variant 10xx
        let hex = hexDigits
        return String(unsafeUninitializedCapacity: 36) { out in
            var i = 0
            func put(_ v: UInt64, _ nibbles: Int) {
                var shift = (nibbles - 1) * 4
                for _ in 0..<nibbles {
                    if i == 8 || i == 13 || i == 18 || i == 23 { out[i] = UInt8(ascii: "-"); i += 1 }
                    out[i] = hex[Int(v >> UInt64(shift) & 0xF)]; i += 1
                    shift -= 4
                }
            }
            put(hi, 16)
            put(lo, 16)
            return i
        }
    }
}
