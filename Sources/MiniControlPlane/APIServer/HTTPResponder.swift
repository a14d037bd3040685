import Foundation
public import Hummingbird
import KubeAPI
import NIOCore
import HTTPTypes

/// Maps kube-apiserver's HTTP surface onto `APIServer`.
public struct APIHTTPResponder: HTTPResponder {
    public typealias Context = BasicRequestContext
    let api: APIServer

    public init(api: APIServer) { self.api = api }

    public func respond(to request: Request, context: Context) async throws -> Response {
        do {
            return try await route(request)
        } catch {
            return Self.status(failure(error))
        }
    }

    /// The `Status` an error is answered with: its own, or 500 for anything unexpected.
    func failure(_ error: any Error) -> Status {
        if let s = error as? Status { return s }
        api.logger.error("internal error: \(error)")
        return APIError.internalError("\(error)")
    }

    // MARK: responses

    static func headers(_ contentType: String, warnings: [String]) -> HTTPFields {
        var headers: HTTPFields = [.contentType: contentType]
        for w in warnings { headers.append(HTTPField(name: HTTPField.Name("Warning")!, value: "299 - \"\(w)\"")) }
        return headers
    }

    static func json(_ v: JSONValue, status: HTTPResponse.Status = .ok, contentType: String = "application/json",
                     warnings: [String] = []) -> Response
    {
        Response(status: status, headers: headers(contentType, warnings: warnings),
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONWriter.bytes(v))))
    }

    /// A response's status, header fields and body, before they become a `Response` here or
    /// are written straight to the channel (`EventLoopWriteHandler`).
    typealias Answer = (status: HTTPResponse.Status, headers: HTTPFields, body: [UInt8])

    /// A write's result: the stored bytes when they are what to send, with its warnings.
    static func answer(_ r: WriteResult, status: HTTPResponse.Status) -> Answer {
        (status, headers("application/json", warnings: r.warnings), r.bytes ?? JSONWriter.bytes(r.object))
    }

    /// A `Status` under its own HTTP code.
    static func answer(_ s: Status) -> Answer {
        (HTTPResponse.Status(code: Int(s.code ?? 500)), headers("application/json", warnings: []),
         JSONWriter.bytes((try? JSONValueEncoder().encode(s)) ?? .null))
    }

    static func response(_ a: Answer) -> Response {
        Response(status: a.status, headers: a.headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: a.body)))
    }

    static func result(_ r: WriteResult, status: HTTPResponse.Status = .ok) -> Response { response(answer(r, status: status)) }

    static func status(_ s: Status) -> Response { response(answer(s)) }

    // MARK: query

    struct Query {
        var items: [String: String] = [:]
        init(_ raw: String?) {
            guard let raw, !raw.isEmpty else { return }
            for pair in raw.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let k = String(kv[0]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(kv[0])
                let v = kv.count > 1 ? (String(kv[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(kv[1])) : ""
                items[k] = v
            }
        }
        subscript(_ k: String) -> String? { items[k] }
        func bool(_ k: String) -> Bool { items[k] == "true" || items[k] == "1" }

        /// `?labelSelector=`, parsed; a 400 naming the problem when it does not parse.
        func labelSelector() throws -> LabelSelectorExpr {
            guard let s = items["labelSelector"], !s.isEmpty else { return .everything }
            do { return try LabelSelectorExpr(parsing: s) } catch { throw APIError.badRequest("unable to parse requirement: \(error)") }
        }

        /// `?fieldSelector=`, parsed and checked against the fields `r` can be selected by.
        func fieldSelector(for r: ResourceInfo) throws -> FieldSelectorExpr {
            let fs: FieldSelectorExpr
            do { fs = try FieldSelectorExpr(parsing: items["fieldSelector"] ?? "") } catch { throw APIError.badRequest("\(error)") }
            let ok = FieldLabels.supported(r)
            for req in fs.requirements where !ok.contains(req.field) {
                throw APIError.badRequest("field label not supported: \(req.field)")
            }
            return fs
        }
    }

    // MARK: routing

    /// The user a request acts as: the service account of a valid bearer token, anonymous
    /// without one (this server does not authorise: anonymous may do everything). A token
    /// that does not verify is refused with 401, as kube-apiserver refuses it.
    func requestUser(_ request: Request) async throws -> JSONValue {
        guard let auth = request.headers[.authorization], auth.hasPrefix("Bearer ") else {
            return ["username": "system:anonymous", "groups": ["system:unauthenticated"]]
        }
        switch await api.authenticate(String(auth.dropFirst(7).trimmingBlanks())) {
        case .success(let r): return r.user
        case .failure(let e):
            api.logger.debug("rejected a bearer token: \(e.message)")
            throw Status(message: "Unauthorized", reason: "Unauthorized", code: 401)
        }
    }

    func route(_ request: Request) async throws -> Response {
        if request.headers[.authorization] != nil { _ = try await requestUser(request) }
        let path = request.uri.path
        let query = Query(request.uri.query)
        let accept = request.headers[.accept] ?? ""
        let segs = path.split(separator: "/").map(String.init)
        switch path {
        case "/version", "/version/":
            return Self.json(Discovery.version())
        case "/healthz", "/livez", "/readyz":
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: "ok")))
        case "/api", "/api/":
            let all = api.registry.all()
            if Discovery.wantsAggregated(accept) {
                return Self.json(Discovery.aggregated(all, legacy: true), contentType: Discovery.aggregatedContentType)
            }
            return Self.json(["kind": "APIVersions", "versions": ["v1"],
                              "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"]]])
        case "/apis", "/apis/":
            let all = api.registry.all()
            if Discovery.wantsAggregated(accept) {
                return Self.json(Discovery.aggregated(all, legacy: false), contentType: Discovery.aggregatedContentType)
            }
            return Self.json(Discovery.groupList(all))
        case "/openapi/v2":
            // An empty OpenAPI v2 document (an empty protobuf message): kubectl's client-side
            // validation then finds no schema and leaves unknown kinds to the REST mapper,
            // which reports "no matches for kind", as against Kubernetes. Schemas live in v3.
            if accept.containsBytes("protobuf") {
                return Response(status: .ok, headers: [.contentType: "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"],
                                body: ResponseBody(byteBuffer: ByteBuffer()))
            }
            return Self.json(["swagger": "2.0", "info": ["title": "Kubernetes", "version": .string(Discovery.gitVersion)],
                              "paths": [:], "definitions": [:]])
        case "/.well-known/openid-configuration":
            guard let tokens = api.tokens else { throw APIError.pathNotFound(path) }
            return Self.json(tokens.openIDConfiguration)
        case "/openid/v1/jwks":
            guard let tokens = api.tokens else { throw APIError.pathNotFound(path) }
            return Self.json(tokens.jwks, contentType: "application/jwk-set+json")
        case "/openapi/v3", "/openapi/v3/":
            return Self.json(OpenAPI.cachedIndex(api.registry.all()))
        default: break
        }
        if segs.count >= 3, segs[0] == "openapi", segs[1] == "v3" {
            let gv = segs.dropFirst(2).joined(separator: "/")
            guard let doc = OpenAPI.cachedDocument(for: gv, resources: api.registry.all()) else {
                throw APIError.pathNotFound(path)
            }
            return Self.json(doc)
        }
        let target: ResourcePath
        switch try Self.resolve(api.registry, path: path, segments: segs) {
        case .group(let group):
            guard let g = Discovery.group(group, api.registry.all()) else { throw APIError.pathNotFound(path) }
            return Self.json(g)
        case .groupVersion(let group, let version):
            return Self.json(Discovery.resourceList(group: group, version: version, api.registry.all()))
        case .resource(let t):
            target = t
        }
        let (r, namespace, name, sub) = (target.resource, target.namespace, target.name, target.sub)
        if let sub, let name, KubeletProxy.subresources.contains(sub), r.otherSubresources.contains(sub) {
            return try await KubeletProxy(api: api).serve(request, r, namespace: namespace, name: name, sub: sub,
                                                          rest: target.rest, query: request.uri.query)
        }
        if !target.rest.isEmpty { throw APIError.pathNotFound(path) }
        if r.namespaced, namespace == nil, name != nil {
            throw APIError.pathNotFound(path)
        }
        return try await handle(request, r, namespace: namespace, name: name, sub: sub, query: query, accept: accept)
    }

    /// What a path under `/api` or `/apis` names.
    enum ResolvedPath {
        /// `/apis/<group>`
        case group(String)
        /// `/api/v1`, `/apis/<group>/<version>`
        case groupVersion(group: String, version: String)
        case resource(ResourcePath)
    }

    /// `[/namespaces/<ns>]/<resource>[/<name>[/<subresource>[/<rest>…]]]` of a served resource.
    struct ResourcePath {
        var resource: ResourceInfo
        var namespace: String?
        var name: String?
        var sub: String?
        /// Segments after the subresource (`nodes/<name>/proxy/<path>`).
        var rest: [String]
    }

    static func resolve(_ registry: ResourceRegistry, path: String, segments segs: [String]) throws -> ResolvedPath {
        var group = ""
        var version = ""
        var rest: ArraySlice<String>
        if segs.first == "api", segs.count >= 2 {
            version = segs[1]
            rest = segs[2...]
        } else if segs.first == "apis", segs.count >= 2 {
            group = segs[1]
            if segs.count == 2 { return .group(group) }
            version = segs[2]
            rest = segs[3...]
        } else {
            throw APIError.pathNotFound(path)
        }
        guard registry.hasGroupVersion(group: group, version: version) else { throw APIError.pathNotFound(path) }
        if rest.isEmpty { return .groupVersion(group: group, version: version) }
        var namespace: String? = nil
        var parts = Array(rest)
        if parts.count >= 3, parts[0] == "namespaces",
            registry.lookup(group: group, version: version, resource: parts[2]) != nil || group != ""
        {
            namespace = parts[1]
            parts = Array(parts.dropFirst(2))
        }
        guard let r = registry.lookup(group: group, version: version, resource: parts[0]) else {
            throw APIError.pathNotFound(path)
        }
        return .resource(ResourcePath(resource: r, namespace: namespace, name: parts.count > 1 ? parts[1] : nil,
                                      sub: parts.count > 2 ? parts[2] : nil, rest: Array(parts.dropFirst(3))))
    }

    func readBody(_ request: Request) async throws -> [UInt8] {
        let body = request.body
        do {
            let buf = try await body.collect(upTo: api.maxBodyBytes)
            return Array(buf.readableBytesView)
        } catch {
            throw APIError.tooLarge(api.maxBodyBytes)
        }
    }

    func parseBody(_ bytes: [UInt8], contentType: String) throws -> JSONValue {
        let ct = contentType.split(separator: ";").first.map { String($0.trimmingBlanks()) } ?? ""
        if ct == KubeProtobuf.mediaType {
            // kubectl's typed clients (`kubectl create deployment|configmap|secret…`) send protobuf
            do {
                return try KubeProtobuf.decode(bytes)
            } catch {
                throw APIError.badRequest("the body of the request could not be decoded as \(ct): \(error)")
            }
        }
        if ct == "application/cbor" { throw APIError.unsupportedMediaType(ct) }
        if bytes.isEmpty { throw APIError.badRequest("the body of the request was empty") }
        if ct.hasSuffix("yaml") {
            do {
                return try YAMLBridge.parse(String(decoding: bytes, as: UTF8.self))
            } catch {
                throw APIError.badRequest("\(error)")
            }
        }
        do {
            return try JSONParser.parse(bytes)
        } catch {
            // YAML is accepted where JSON is expected only with a YAML content type
            throw APIError.badRequest("couldn't get version/kind; json parse error: \(error)")
        }
    }

    func writeOptions(_ q: Query, _ headers: HTTPFields, sub: String?) -> WriteOptions {
        var o = WriteOptions()
        o.fieldManager = q["fieldManager"] ?? Self.defaultManager(headers[.userAgent] ?? "")
        o.dryRun = q["dryRun"] == "All"
        o.fieldValidation = q["fieldValidation"] ?? "Warn"
        o.force = q.bool("force")
        o.subresource = sub
        return o
    }

    /// kube-apiserver names a manager after the client's user agent, up to the first '/'.
    static func defaultManager(_ ua: String) -> String {
        String(ua.split(separator: "/").first ?? "unknown").prefix(128).description
    }

    func handle(_ request: Request, _ r: ResourceInfo, namespace: String?, name: String?, sub: String?, query q: Query,
                accept: String) async throws -> Response
    {
        let method = request.method
        let wantsTable = accept.containsBytes("as=Table")
        if let sub, name != nil {
            let supported = (r.hasStatus ? ["status"] : []) + (r.hasScale ? ["scale"] : []) + r.otherSubresources
            guard supported.contains(sub) else { throw APIError.pathNotFound(request.uri.path) }
            if !["status", "scale", "binding", "eviction", "token"].contains(sub) {
                throw Status(message: "the server is currently unable to handle the request (\(sub) for \(r.resource) \"\(name!)\" needs a node agent, which is not yet served)",
                             reason: "ServiceUnavailable", code: 503)
            }
        }
        if Self.isPlainWrite(method, r, name: name, sub: sub) {
            let step = try plainWrite(method, r, namespace: namespace, name: name, sub: sub, query: q, headers: request.headers,
                                      body: try await readBody(request))
            return Self.result(try await api.run(step), status: method == .post ? .created : .ok)
        }
        switch (method, name) {
        case (.get, nil):
            if q.bool("watch") { return try await Watch.serve(api: api, r, namespace: namespace, query: q, table: wantsTable) }
            var resp = try await list(r, namespace: namespace, q, table: wantsTable, includeObject: q["includeObject"])
            if r.resource == "componentstatuses" {
                resp.headers.append(HTTPField(name: HTTPField.Name("Warning")!, value: "299 - \"v1 ComponentStatus is deprecated in v1.19+\""))
            }
            return resp
        case (.post, nil):
            if r.resource == "tokenreviews" {
                let body = try parseBody(try await readBody(request), contentType: request.headers[.contentType] ?? "")
                return Self.json(await api.reviewToken(body), status: .created)
            }
            if r.resource == "selfsubjectreviews" {
                return Self.json(["kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                                  "metadata": ["creationTimestamp": .null],
                                  "status": ["userInfo": try await requestUser(request)]], status: .created)
            }
            if r.resource == "bindings" {
                let body = try parseBody(try await readBody(request), contentType: request.headers[.contentType] ?? "")
                let podName = body.value(at: ["metadata", "name"])?.stringValue ?? ""
                let pods = api.registry.lookup(group: "", version: "v1", resource: "pods")!
                return try await bind(pods, namespace: namespace, name: podName, body: body)
            }
            throw APIError.methodNotAllowed("the server does not allow this method on the requested resource")
        case (.delete, nil):
            guard r.verbs.contains("deletecollection") else { throw APIError.methodNotAllowed("the server does not allow this method on the requested resource") }
            let ls = try q.labelSelector()
            let fs = try q.fieldSelector(for: r)
            let items = try await api.list(r, namespace: namespace, labelSelector: ls, fieldSelector: fs, limit: nil, continueToken: nil)
            var out: [JSONValue] = []
            for item in items.items {
                let n = item.value(at: ["metadata", "name"])?.stringValue ?? ""
                let ns = item.value(at: ["metadata", "namespace"])?.stringValue
                if let (o, _) = try? await api.delete(r, namespace: ns, name: n, options: deleteOptions(q, nil)) { out.append(o) }
            }
            return Self.json(["kind": .string(r.listKind), "apiVersion": .string(r.groupVersion),
                              "metadata": ["resourceVersion": .string(items.resourceVersion)], "items": .array(out)])
        case (.get, let name?):
            if sub == "scale" { return Self.json(try scale(r, try await api.get(r, namespace: namespace, name: name))) }
            if q.bool("watch") {
                var q2 = q
                q2.items["fieldSelector"] = "metadata.name=\(name)"
                return try await Watch.serve(api: api, r, namespace: namespace, query: q2, table: wantsTable)
            }
            let obj = try await api.get(r, namespace: namespace, name: name)
            if obj.isNull { throw APIError.notFound(r, name) }
            if wantsTable {
                return Self.json(Watch.table(r, [obj], resourceVersion: obj.value(at: ["metadata", "resourceVersion"])?.stringValue ?? "", includeObject: q["includeObject"]),
                                 contentType: "application/json;as=Table;v=v1;g=meta.k8s.io")
            }
            return Self.json(obj)
        case (.put, let name?) where sub == "scale":
            let body = try parseBody(try await readBody(request), contentType: request.headers[.contentType] ?? "")
            var opts = writeOptions(q, request.headers, sub: sub)
            opts.subresource = "scale"
            let res = try await api.update(r, namespace: namespace, name: name, body: try scaleToObject(r, body, name: name), options: opts)
            return Self.json(try scale(r, res.object))
        case (.patch, let name?) where sub == "scale":
            let (type, patch) = try patchBody(request.headers, q, try await readBody(request))
            var opts = writeOptions(q, request.headers, sub: sub)
            opts.subresource = "scale"
            let current = try scale(r, try await api.get(r, namespace: namespace, name: name))
            let patched = try type == .json ? Patch.jsonPatch(current, patch) : Patch.mergePatch(current, patch)
            let res = try await api.update(r, namespace: namespace, name: name, body: try scaleToObject(r, patched, name: name), options: opts)
            return Self.json(try scale(r, res.object))
        case (.delete, let name?):
            var bodyOpts: JSONValue? = nil
            if let bytes = try? await readBody(request), !bytes.isEmpty { bodyOpts = try? JSONParser.parse(bytes) }
            let (obj, _) = try await api.delete(r, namespace: namespace, name: name, options: deleteOptions(q, bodyOpts))
            return Self.json(obj)
        case (.post, let name?):
            if sub == "binding" {
                let body = try parseBody(try await readBody(request), contentType: request.headers[.contentType] ?? "")
                return try await bind(r, namespace: namespace, name: name, body: body)
            }
            if sub == "token" {
                let body = try parseBody(try await readBody(request), contentType: request.headers[.contentType] ?? "")
                return Self.json(try await api.requestToken(namespace: namespace ?? "default", name: name, body: body), status: .created)
            }
            if sub == "eviction" {
                let (_, _) = try await api.delete(r, namespace: namespace, name: name, options: deleteOptions(q, nil))
                return Self.json(["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Success"], status: .created)
            }
            throw APIError.methodNotAllowed("the server does not allow this method on the requested resource")
        default:
            throw APIError.methodNotAllowed("the server does not allow this method on the requested resource")
        }
    }

    /// Whether a request writes one object as it is sent: a create, or a replace or patch of an
    /// object or its status. These are decided synchronously up to the commit (`plainWrite`).
    static func isPlainWrite(_ method: HTTPRequest.Method, _ r: ResourceInfo, name: String?, sub: String?) -> Bool {
        switch (method, name, sub) {
        case (.post, nil, nil): return !["tokenreviews", "selfsubjectreviews", "bindings"].contains(r.resource)
        case (.put, _?, nil), (.patch, _?, nil): return true
        case (.put, _?, "status"), (.patch, _?, "status"): return r.hasStatus
        default: return false
        }
    }

    /// The write a plain write request asks for (see `isPlainWrite`), up to its commit.
    func plainWrite(_ method: HTTPRequest.Method, _ r: ResourceInfo, namespace: String?, name: String?, sub: String?,
                    query q: Query, headers: HTTPFields, body: [UInt8]) throws -> WriteStep
    {
        let opts = writeOptions(q, headers, sub: sub)
        switch (method, name) {
        case (.post, nil):
            let obj = try parseBody(body, contentType: headers[.contentType] ?? "")
            return try api.createStep(r, namespace: namespace, body: obj, options: opts)
        case (.put, let name?):
            let obj = try parseBody(body, contentType: headers[.contentType] ?? "")
            return try api.updateStep(r, namespace: namespace, name: name, body: obj, options: opts)
        case (.patch, let name?):
            let (type, patch) = try patchBody(headers, q, body)
            return try api.patchStep(r, namespace: namespace, name: name, type: type, patch: patch, options: opts)
        default:
            throw APIError.methodNotAllowed("the server does not allow this method on the requested resource")
        }
    }

    /// A PATCH's type (from its content type) and the patch.
    func patchBody(_ headers: HTTPFields, _ q: Query, _ bytes: [UInt8]) throws -> (APIServer.PatchType, JSONValue) {
        let ct = (headers[.contentType] ?? "").split(separator: ";").first.map { String($0.trimmingBlanks()) } ?? ""
        guard let type = APIServer.PatchType(rawValue: ct) else { throw APIError.unsupportedMediaType(ct) }
        let patch = try parseBody(bytes, contentType: type == .apply ? "application/yaml" : "application/json")
        if type == .apply, q["fieldManager"] == nil {
            throw APIError.badRequest("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch")
        }
        return (type, patch)
    }

    func deleteOptions(_ q: Query, _ body: JSONValue?) -> APIServer.DeleteOptions {
        var o = APIServer.DeleteOptions()
        o.gracePeriodSeconds = q["gracePeriodSeconds"].flatMap { Int64($0) } ?? body?["gracePeriodSeconds"]?.intValue
        o.propagationPolicy = q["propagationPolicy"] ?? body?["propagationPolicy"]?.stringValue
        if let orphan = body?["orphanDependents"]?.boolValue, o.propagationPolicy == nil { o.propagationPolicy = orphan ? "Orphan" : "Background" }
        o.preconditionUID = body?.value(at: ["preconditions", "uid"])?.stringValue
        o.preconditionRV = body?.value(at: ["preconditions", "resourceVersion"])?.stringValue
        o.dryRun = q["dryRun"] == "All" || (body?["dryRun"]?.arrayValue?.contains("All") ?? false)
        return o
    }

    func list(_ r: ResourceInfo, namespace: String?, _ q: Query, table: Bool, includeObject: String?) async throws -> Response {
        let ls = try q.labelSelector()
        let fs = try q.fieldSelector(for: r)
        let limit = q["limit"].flatMap { Int($0) }
        let res = try await api.list(r, namespace: namespace, labelSelector: ls, fieldSelector: fs, limit: limit, continueToken: q["continue"])
        if let rvm = q["resourceVersionMatch"], rvm == "Exact", let rv = q["resourceVersion"], rv != res.resourceVersion {
            throw APIError.gone("The resourceVersion for the provided list is too old.")
        }
        if table {
            var t = Watch.table(r, res.items, resourceVersion: res.resourceVersion, includeObject: includeObject)
            if let c = res.continueToken {
                t.setValue(.string(c), at: ["metadata", "continue"])
                if let rem = res.remaining { t.setValue(.int(rem), at: ["metadata", "remainingItemCount"]) }
            }
            return Self.json(t, contentType: "application/json;as=Table;v=v1;g=meta.k8s.io")
        }
        var meta: JSONObject = ["resourceVersion": .string(res.resourceVersion)]
        if let c = res.continueToken {
            meta["continue"] = .string(c)
            if let rem = res.remaining { meta["remainingItemCount"] = .int(rem) }
        }
        return Self.json(["kind": .string(r.listKind), "apiVersion": .string(r.groupVersion), "metadata": .object(meta),
                          "items": .array(res.items)])
    }

    func bind(_ pods: ResourceInfo, namespace: String?, name: String, body: JSONValue) async throws -> Response {
        guard let node = body.value(at: ["target", "name"])?.stringValue, !node.isEmpty else {
            throw APIError.invalid(pods, name, [.required("target.name")])
        }
        for _ in 0..<5 {
            let kv = api.store.get(pods.key(namespace: namespace, name: name))
            guard let kv else { throw APIError.notFound(pods, name) }
            var pod = try JSONParser.parse(kv.value)
            if let existing = pod.value(at: ["spec", "nodeName"])?.stringValue, !existing.isEmpty {
                throw APIError.conflict(pods, name, "pod \(name) is already assigned to node \"\(existing)\"")
            }
            if pod.value(at: ["metadata", "deletionTimestamp"]) != nil {
                throw APIError.conflict(pods, name, "pod \(name) is being deleted, cannot be assigned to a host")
            }
            if let want = body.value(at: ["metadata", "uid"])?.stringValue, !want.isEmpty,
                let have = pod.value(at: ["metadata", "uid"])?.stringValue, want != have
            {
                throw APIError.conflict(pods, name, "Precondition failed: UID in precondition: \(want), UID in object meta: \(have)")
            }
            pod.setValue(.string(node), at: ["spec", "nodeName"])
            var conds = pod.value(at: ["status", "conditions"])?.arrayValue ?? []
            conds.removeAll { $0["type"]?.stringValue == "PodScheduled" }
            conds.append(["type": "PodScheduled", "status": "True", "lastProbeTime": .null, "lastTransitionTime": .string(APIServer.now())])
            pod.setValue(.array(conds), at: ["status", "conditions"])
            pod.setValue(nil, at: ["metadata", "resourceVersion"])
            let frozen = pod
            do {
                _ = try await api.store.write(.update(key: pods.key(namespace: namespace, name: name), expected: kv.modRevision, value: APIServer.stamped(frozen)))
                return Self.json(["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Success", "code": 201], status: .created)
            } catch StoreError.conflict {
                continue
            }
        }
        throw APIError.conflict(pods, name)
    }

    func scale(_ r: ResourceInfo, _ obj: JSONValue) throws -> JSONValue {
        var selector = ""
        if let s = obj.value(at: ["spec", "selector"]), let ls = try? JSONValueDecoder().decode(LabelSelector.self, from: s),
            let e = try? LabelSelectorExpr(ls)
        {
            selector = e.description
        }
        return ["kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": ["name": obj.value(at: ["metadata", "name"]) ?? "", "namespace": obj.value(at: ["metadata", "namespace"]) ?? "",
                             "uid": obj.value(at: ["metadata", "uid"]) ?? "", "resourceVersion": obj.value(at: ["metadata", "resourceVersion"]) ?? "",
                             "creationTimestamp": obj.value(at: ["metadata", "creationTimestamp"]) ?? .null],
                "spec": ["replicas": obj.value(at: ["spec", "replicas"]) ?? 0],
                "status": ["replicas": obj.value(at: ["status", "replicas"]) ?? 0, "selector": .string(selector)]]
    }

    func scaleToObject(_ r: ResourceInfo, _ scale: JSONValue, name: String) throws -> JSONValue {
        guard let replicas = scale.value(at: ["spec", "replicas"]) else {
            throw APIError.invalid(r, name, [.required("spec.replicas")])
        }
        var o: JSONValue = ["apiVersion": .string(r.groupVersion), "kind": .string(r.kind), "metadata": ["name": .string(name)], "spec": ["replicas": replicas]]
        if let rv = scale.value(at: ["metadata", "resourceVersion"])?.stringValue, !rv.isEmpty {
            o.setValue(.string(rv), at: ["metadata", "resourceVersion"])
        }
        return o
    }
}
