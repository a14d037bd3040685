public import Foundation
public import NIOCore
public import NIOHTTP1

/// A small Kubernetes API client: CRUD on typed objects, list and watch as an
/// `AsyncSequence`, over `APITransport` (HTTP/1.1 on NIO, one connection pool per server and
/// process; every watch on a connection of its own, so requests never queue behind them).
/// Errors come back as the server's `Status`.
public struct APIClient: Sendable {
    public let baseURL: String
    public let transport: APITransport
    public var userAgent: String = "swiftlet/0.1.0"
    public var timeout: TimeAmount = .seconds(30)

    public init(baseURL: String) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.transport = APITransport.shared(for: self.baseURL)
    }

    // MARK: paths

    public func path<T: KubeObject>(_ type: T.Type, namespace: String?, name: String? = nil, subresource: String? = nil) -> String {
        var p = T.group.isEmpty ? "/api/\(T.version)" : "/apis/\(T.group)/\(T.version)"
        if T.namespaced, let namespace, !namespace.isEmpty { p += "/namespaces/\(namespace)" }
        p += "/\(T.resource)"
        if let name { p += "/\(name)" }
        if let subresource { p += "/\(subresource)" }
        return p
    }

    static func query(_ items: [(String, String?)]) -> String {
        let parts = items.compactMap { k, v -> String? in
            guard let v else { return nil }
            let enc = v.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? v
            return "\(k)=\(enc)"
        }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }

    // MARK: raw requests

    public func request(_ method: HTTPMethod, _ path: String, body: JSONValue? = nil,
                        contentType: String = "application/json") async throws -> JSONValue
    {
        let bytes = try await exchange(method, path, body: body, contentType: contentType)
        return bytes.isEmpty ? JSONValue.null : try JSONParser.parse(bytes)
    }

    /// A request whose successful answer is not needed (an event's echo): the status is
    /// checked and an error body becomes the server's `Status`, but a 2xx body is not parsed.
    public func send(_ method: HTTPMethod, _ path: String, body: JSONValue, contentType: String = "application/json") async throws {
        _ = try await exchange(method, path, body: body, contentType: contentType)
    }

    /// One request and its answer's bytes; a status outside 2xx is thrown as `failure` says.
    private func exchange(_ method: HTTPMethod, _ path: String, body: JSONValue?, contentType: String) async throws -> [UInt8] {
        var headers = [("Accept", "application/json"), ("User-Agent", userAgent)]
        if body != nil { headers.append(("Content-Type", contentType)) }
        let resp = try await transport.send(method, path, headers: headers, body: body.map { JSONWriter.bytes($0) }, timeout: timeout)
        let bytes = Array(resp.body.readableBytesView)
        guard (200..<300).contains(resp.status) else { throw Self.failure(resp.status, bytes, path) }
        return bytes
    }

    /// The server's `Status` for a failed request, or one that names the HTTP status.
    static func failure(_ status: Int, _ body: [UInt8], _ path: String) -> Status {
        if let value = try? JSONParser.parse(body), let s = try? JSONValueDecoder().decode(Status.self, from: value), s.code != nil { return s }
        return Status(message: "unexpected HTTP \(status) from \(path)", reason: "Unknown", code: Int32(status))
    }

    // MARK: typed CRUD

    public func get<T: KubeObject>(_ type: T.Type, namespace: String? = nil, name: String) async throws -> T {
        try JSONValueDecoder().decode(T.self, from: try await request(.GET, path(T.self, namespace: namespace, name: name)))
    }

    /// `dropManagedFields` removes `metadata.managedFields` from the items before they are
    /// decoded (informers that never read them, as upstream's scheduler and controllers).
    public func list<T: KubeObject>(_ type: T.Type, namespace: String? = nil, labelSelector: String? = nil,
                                    fieldSelector: String? = nil, limit: Int? = nil, continueToken: String? = nil,
                                    resourceVersion: String? = nil, dropManagedFields: Bool = false) async throws -> ObjectList<T>
    {
        let q = Self.query([("labelSelector", labelSelector), ("fieldSelector", fieldSelector), ("limit", limit.map(String.init)),
                            ("continue", continueToken), ("resourceVersion", resourceVersion)])
        var v = try await request(.GET, path(T.self, namespace: namespace) + q)
        if dropManagedFields {
            v.withValue(at: "items") { items in
                items?.withElements { item in item.withValue(at: "metadata") { $0?.withValue(at: "managedFields") { $0 = nil } } }
            }
        }
        return try JSONValueDecoder().decode(ObjectList<T>.self, from: v)
    }

    public func create<T: KubeObject>(_ object: T, fieldManager: String? = nil) async throws -> T {
        let q = Self.query([("fieldManager", fieldManager)])
        let body = try JSONValueEncoder().encode(object)
        return try JSONValueDecoder().decode(T.self, from: try await request(.POST, path(T.self, namespace: object.namespace) + q, body: body))
    }

    /// PUT with the object's resourceVersion: a stale one gives a 409 `Status`.
    public func update<T: KubeObject>(_ object: T, subresource: String? = nil) async throws -> T {
        let body = try JSONValueEncoder().encode(object)
        let p = path(T.self, namespace: object.namespace, name: object.name, subresource: subresource)
        return try JSONValueDecoder().decode(T.self, from: try await request(.PUT, p, body: body))
    }

    public func updateStatus<T: KubeObject>(_ object: T) async throws -> T { try await update(object, subresource: "status") }

    public func mergePatch<T: KubeObject>(_ type: T.Type, namespace: String? = nil, name: String, patch: JSONValue,
                                          subresource: String? = nil) async throws -> T
    {
        let p = path(T.self, namespace: namespace, name: name, subresource: subresource)
        return try JSONValueDecoder().decode(T.self, from: try await request(.PATCH, p, body: patch, contentType: "application/merge-patch+json"))
    }

    /// PATCH with any patch type (`application/strategic-merge-patch+json`, `application/json-patch+json`, …).
    public func patch<T: KubeObject>(_ type: T.Type, namespace: String? = nil, name: String, patch: JSONValue,
                                     contentType: String, subresource: String? = nil) async throws -> T
    {
        let p = path(T.self, namespace: namespace, name: name, subresource: subresource)
        return try JSONValueDecoder().decode(T.self, from: try await request(.PATCH, p, body: patch, contentType: contentType))
    }

    /// DELETE; `propagationPolicy` is Background, Foreground or Orphan; `uid` and
    /// `resourceVersion` become preconditions (409 when the object changed meanwhile).
    public func delete<T: KubeObject>(_ type: T.Type, namespace: String? = nil, name: String, gracePeriodSeconds: Int64? = nil,
                                      propagationPolicy: String? = nil, uid: String? = nil, resourceVersion: String? = nil)
        async throws
    {
        let q = Self.query([("gracePeriodSeconds", gracePeriodSeconds.map(String.init))])
        var body: JSONValue? = nil
        if propagationPolicy != nil || uid != nil || resourceVersion != nil {
            var o: JSONObject = ["kind": .string("DeleteOptions"), "apiVersion": .string("v1")]
            if let propagationPolicy { o["propagationPolicy"] = .string(propagationPolicy) }
            var pre: JSONObject = [:]
            if let uid { pre["uid"] = .string(uid) }
            if let resourceVersion { pre["resourceVersion"] = .string(resourceVersion) }
            if !pre.isEmpty { o["preconditions"] = .object(pre) }
            body = .object(o)
        }
        _ = try await request(.DELETE, path(T.self, namespace: namespace, name: name) + q, body: body)
    }

    /// Binds a pod to a node through `pods/<name>/binding`, as the scheduler does.
    public func bind(podNamespace: String, podName: String, podUID: String? = nil, node: String) async throws {
        var meta = ObjectMeta(name: podName, namespace: podNamespace)
        meta.uid = podUID
        let b = Binding(metadata: meta, target: ObjectReference(kind: "Node", name: node, apiVersion: "v1"))
        _ = try await request(.POST, path(Pod.self, namespace: podNamespace, name: podName, subresource: "binding"),
                              body: try JSONValueEncoder().encode(b))
    }

    /// A service account token (TokenRequest, `serviceaccounts/<name>/token`), bound to a pod
    /// when `boundPod` (name, uid) is given: the token and when it expires.
    public func requestToken(namespace: String, serviceAccount: String, audiences: [String] = [], expirationSeconds: Int64 = 3600,
                             boundPod: (name: String, uid: String)? = nil) async throws -> (token: String, expires: Date) {
        var spec: JSONObject = ["expirationSeconds": .int(expirationSeconds)]
        if !audiences.isEmpty { spec["audiences"] = .array(audiences.map { .string($0) }) }
        if let boundPod {
            spec["boundObjectRef"] = ["kind": "Pod", "apiVersion": "v1", "name": .string(boundPod.name), "uid": .string(boundPod.uid)]
        }
        let body: JSONValue = ["apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": .object(spec)]
        let r = try await request(.POST, path(ServiceAccount.self, namespace: namespace, name: serviceAccount, subresource: "token"), body: body)
        guard let token = r.value(at: ["status", "token"])?.stringValue else {
            throw Status(message: "TokenRequest for \(namespace)/\(serviceAccount) returned no token", reason: "InternalError", code: 500)
        }
        let expires = r.value(at: ["status", "expirationTimestamp"])?.stringValue.flatMap { ISO8601DateFormatter().date(from: $0) }
            ?? Date().addingTimeInterval(Double(expirationSeconds))
        return (token, expires)
    }

    /// Evicts a pod through `pods/<name>/eviction` (policy/v1 Eviction).
    public func evict(podNamespace: String, podName: String) async throws {
        let body: JSONValue = .object(["apiVersion": .string("policy/v1"), "kind": .string("Eviction"),
                                       "metadata": .object(["name": .string(podName), "namespace": .string(podNamespace)])])
        _ = try await request(.POST, path(Pod.self, namespace: podNamespace, name: podName, subresource: "eviction"), body: body)
    }

    // MARK: watch

    /// One watch request from `resourceVersion`; the stream ends when the server closes it.
    /// A 410 arrives as an `ERROR` event (or is thrown) so callers can relist.
    public func watch<T: KubeObject>(_ type: T.Type, namespace: String? = nil, resourceVersion: String,
                                     labelSelector: String? = nil, fieldSelector: String? = nil,
                                     timeoutSeconds: Int? = nil) async throws -> AsyncThrowingStream<RawWatchEvent, any Error>
    {
        let q = Self.query([("watch", "true"), ("resourceVersion", resourceVersion), ("allowWatchBookmarks", "true"),
                            ("labelSelector", labelSelector), ("fieldSelector", fieldSelector),
                            ("timeoutSeconds", timeoutSeconds.map(String.init))])
        let resp = try await transport.stream(.GET, path(T.self, namespace: namespace) + q,
                                              headers: [("Accept", "application/json"), ("User-Agent", userAgent)], timeout: timeout)
        guard resp.status == 200 else {
            var buf = ByteBuffer()
            for try await var chunk in resp.body where buf.readableBytes < 1 << 20 { buf.writeBuffer(&chunk) }
            throw Self.failure(resp.status, Array(buf.readableBytesView), path(T.self, namespace: namespace))
        }
        let body = resp.body
        return AsyncThrowingStream { cont in
            let task = Task {
                var pending = ByteBuffer()
                do {
                    for try await var chunk in body {
                        pending.writeBuffer(&chunk)
                        // one event per line; a chunk may hold several or part of one
                        while let nl = pending.readableBytesView.firstIndex(of: 0x0a) {
                            let length = nl - pending.readerIndex
                            let line = pending.readBytes(length: length) ?? []
                            pending.moveReaderIndex(forwardBy: 1)
                            if line.isEmpty { continue }
                            let v = try JSONParser.parse(line)
                            cont.yield(RawWatchEvent(type: v["type"]?.stringValue ?? "", object: v["object"] ?? .null))
                        }
                        pending.discardReadBytes()
                    }
                    cont.finish()
                } catch {
                    cont.finish(throwing: error)
                }
            }
            cont.onTermination = { _ in task.cancel() }
        }
    }
}

/// A watch event before decoding into a type.
public struct RawWatchEvent: Sendable {
    public var type: String
    public var object: JSONValue
    public var resourceVersion: String? { object.value(at: ["metadata", "resourceVersion"])?.stringValue }
}
