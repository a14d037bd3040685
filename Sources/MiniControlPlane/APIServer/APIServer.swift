import Foundation
public import KubeAPI
public import Logging

/// The API server's state and its REST semantics, independent of HTTP: storage, the resource
/// registry, allocators. `APIHTTPResponder` maps HTTP requests onto it.
public final class APIServer: Sendable {
    public let store: any Store
    public let registry: ResourceRegistry
    public let allocators: ServiceAllocators
    public let logger: Logger
    /// Bodies larger than this are refused with 413, as kube-apiserver's 3 MiB limit.
    public let maxBodyBytes: Int
    public let bookmarkInterval: Duration
    /// Signs and checks service account tokens; nil: TokenRequest is refused.
    public let tokens: TokenIssuer?
    let started = Date()

    public init(store: any Store, logger: Logger = Logger(label: "swiftlet.apiserver"), maxBodyBytes: Int = 3 * 1024 * 1024,
                bookmarkInterval: Duration = .seconds(60), tokens: TokenIssuer? = nil) {
        self.store = store
        self.tokens = tokens
        self.registry = ResourceRegistry()
        self.allocators = ServiceAllocators()
        self.logger = logger
        self.maxBodyBytes = maxBodyBytes
        self.bookmarkInterval = bookmarkInterval
    }

    /// Loads CRDs and allocations from storage and creates the system namespaces and the
    /// `kubernetes` Service, as kube-apiserver's bootstrap controllers do.
    public func bootstrap() async throws {
        let crdInfo = registry.lookup(group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions")!
        for kv in store.list(prefix: crdInfo.storagePrefix).items {
            if let crd = try? JSONValueDecoder().decode(CustomResourceDefinition.self, from: kv.value) {
                registry.register(crd: crd)
            }
        }
        var ips: [String] = []
        var ports: [Int] = []
        for kv in store.list(prefix: "/registry/services/").items {
            guard let o = try? JSONParser.parse(kv.value) else { continue }
            ips += (o.value(at: ["spec", "clusterIPs"])?.arrayValue ?? []).compactMap(\.stringValue)
            if let ip = o.value(at: ["spec", "clusterIP"])?.stringValue { ips.append(ip) }
            ports += (o.value(at: ["spec", "ports"])?.arrayValue ?? []).compactMap { $0["nodePort"]?.intValue }.map { Int($0) }
        }
        allocators.markUsed(ips: ips, ports: ports)
        let ns = registry.lookup(group: "", version: "v1", resource: "namespaces")!
        // namespaces left Terminating by a previous run are drained again
        for kv in store.list(prefix: ns.storagePrefix).items {
            if let o = try? JSONParser.parse(kv.value), o.value(at: ["metadata", "deletionTimestamp"]) != nil,
                let name = o.value(at: ["metadata", "name"])?.stringValue
            {
                Task { await self.finalizeNamespace(name) }
            }
        }
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            if store.get(ns.key(namespace: nil, name: name)) == nil {
                let obj: JSONValue = ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]]
                _ = try? await create(ns, namespace: nil, body: obj, options: WriteOptions(fieldManager: "kube-apiserver"))
            }
        }
        try await ensureSystemPriorityClasses()
        let svc = registry.lookup(group: "", version: "v1", resource: "services")!
        if store.get(svc.key(namespace: "default", name: "kubernetes")) == nil {
            let ip = allocators.firstIP
            let obj: JSONValue = [
                "apiVersion": "v1", "kind": "Service",
                "metadata": ["name": "kubernetes", "namespace": "default",
                             "labels": ["component": "apiserver", "provider": "kubernetes"]],
                "spec": ["type": "ClusterIP", "clusterIP": .string(ip),
                         "ports": [["name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443]]],
            ]
            _ = try? await create(svc, namespace: "default", body: obj, options: WriteOptions(fieldManager: "kube-apiserver"))
        }
    }

    // MARK: helpers

    static let nameChars = Array("bcdfghjklmnpqrstvwxz2456789")

    static func randomSuffix(_ n: Int = 5) -> String {
        String((0..<n).map { _ in nameChars.randomElement()! })
    }

    static func now() -> String { Tables.formatTime(Date()) }

    /// The value closure for a store write: the object with `metadata.resourceVersion` set to
    /// the revision the write gets, encoded. The object is encoded here, on the request's own
    /// task, with a placeholder version; the store (one actor, so one core) only splices the
    /// revision's digits in.
    static func stamped(_ obj: JSONValue) -> @Sendable (Int64) throws -> [UInt8] {
        var o = obj
        o.setValue(.string(rvPlaceholder), at: ["metadata", "resourceVersion"])
        let bytes = JSONWriter.bytes(o)
        guard let at = find(rvPlaceholderBytes, in: bytes) else {
            return { rev in JSONWriter.bytes(versioned(obj, rev)) }
        }
        let head = bytes[..<at], tail = bytes[(at + rvPlaceholderBytes.count)...]
        return { rev in
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + 8)
            out.append(contentsOf: head)
            out.append(contentsOf: String(rev).utf8)
            out.append(contentsOf: tail)
            return out
        }
    }

    /// Unguessable per process, so no user-supplied string can be mistaken for it.
    static let rvPlaceholder = "rv-" + UUID().uuidString
    static let rvPlaceholderBytes = Array(rvPlaceholder.utf8)

    static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard let first = needle.first, hay.count >= needle.count else { return nil }
        return hay.withUnsafeBytes { h in
            needle.withUnsafeBytes { n in
                // memchr to each candidate first byte, memcmp there.
                let base = h.baseAddress!
                var i = 0
                let last = h.count - n.count
                while i <= last {
                    guard let p = memchr(base + i, Int32(first), last - i + 1) else { return nil }
                    i = base.distance(to: UnsafeRawPointer(p))
                    if memcmp(base + i, n.baseAddress!, n.count) == 0 { return i }
                    i += 1
                }
                return nil
            }
        }
    }

    /// `obj` with `metadata.resourceVersion` set to `rev`.
    static func versioned(_ obj: JSONValue, _ rev: Int64) -> JSONValue {
        var o = obj
        o.setValue(.string(String(rev)), at: ["metadata", "resourceVersion"])
        return o
    }

    func decodeStored(_ kv: KeyValue) throws -> JSONValue {
        try JSONParser.parse(kv.value)
    }

    private static let deletionTimestampBytes = Array("\"deletionTimestamp\"".utf8)

    func namespaceCheck(_ r: ResourceInfo, _ namespace: String?, name: String) throws {
        guard r.namespaced else { return }
        guard let namespace, !namespace.isEmpty else {
            throw APIError.badRequest("the server could not find the requested resource: namespace is required")
        }
        let nsKey = "/registry/namespaces/\(namespace)"
        guard let kv = store.get(nsKey) else {
            throw APIError.notFound(qualified: "namespaces", group: "", kind: "namespaces", namespace)
        }
        // Parsed only when the bytes can hold a deletion timestamp (every create asks).
        if Self.find(Self.deletionTimestampBytes, in: kv.value) != nil, let o = try? JSONParser.parse(kv.value),
            o.value(at: ["metadata", "deletionTimestamp"]) != nil
        {
            throw APIError.forbidden(r, name, "unable to create new content in namespace \(namespace) because it is being terminated")
        }
    }
}

/// Options that come with writes: `fieldManager`, `dryRun`, `fieldValidation`, `force`.
public struct WriteOptions: Sendable {
    public var fieldManager: String = ""
    public var dryRun = false
    public var fieldValidation = "Warn"
    public var force = false
    public var subresource: String? = nil
    public init(fieldManager: String = "", dryRun: Bool = false, fieldValidation: String = "Warn", force: Bool = false) {
        self.fieldManager = fieldManager
        self.dryRun = dryRun
        self.fieldValidation = fieldValidation
        self.force = force
    }
}

/// What a write returns: the object, and warnings to send as `Warning` headers.
public struct WriteResult: Sendable {
    public var object: JSONValue
    public var warnings: [String] = []
    /// The object's stored bytes, when they are exactly what to send back (saves re-encoding).
    public var bytes: [UInt8]? = nil
}
