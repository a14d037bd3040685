import Foundation
import HTTPTypes
import KubeAPI
@testable import MiniControlPlane
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Synchronization
import Testing

/// The event-loop write path on a test channel: what it answers itself, what it hands on to
/// the responder (what reaches the end of the pipeline), and in which order.
@Suite struct EventLoopWriteHandlerTests {
    func setUp() async throws -> (APIServer, NIOAsyncTestingChannel) {
        let api = APIServer(store: try SQLiteStore(path: ":memory:"))
        try await api.bootstrap()
        let channel = try await NIOAsyncTestingChannel { ch in
            try ch.pipeline.syncOperations.addHandler(EventLoopWriteHandler(api: api))
        }
        return (api, channel)
    }

    func send(_ ch: NIOAsyncTestingChannel, _ method: HTTPRequest.Method, _ path: String, body: String? = nil,
              contentType: String = "application/json", headers extra: HTTPFields = [:]) async throws
    {
        var fields: HTTPFields = [.contentType: contentType, .userAgent: "kubectl/v1.35.2 (linux/amd64)"]
        fields.append(contentsOf: extra)
        try await ch.writeInbound(HTTPRequestPart.head(HTTPRequest(method: method, scheme: nil, authority: "x", path: path, headerFields: fields)))
        if let body { try await ch.writeInbound(HTTPRequestPart.body(ByteBuffer(string: body))) }
        try await ch.writeInbound(HTTPRequestPart.end(nil))
    }

    /// The next part written, waiting for it up to 30 s (a bound for a loaded machine).
    func nextOutbound(_ ch: NIOAsyncTestingChannel) async throws -> HTTPResponsePart {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let part = try await ch.readOutbound(as: HTTPResponsePart.self) { return part }
            try await Task.sleep(for: .milliseconds(2))
        }
        throw TestFailure("no response within 30 s")
    }

    /// The next response the handler wrote: its head and its body.
    func response(_ ch: NIOAsyncTestingChannel) async throws -> (HTTPResponse, JSONValue) {
        guard case .head(let head) = try await nextOutbound(ch) else {
            throw TestFailure("a response must start with its head")
        }
        var body = ByteBuffer()
        while true {
            switch try await nextOutbound(ch) {
            case .body(var b): body.writeBuffer(&b)
            case .end: return (head, try JSONParser.parse(Array(body.readableBytesView)))
            case .head: throw TestFailure("a second head inside a response")
            }
        }
    }

    /// Everything handed on to the responder so far.
    func handedOn(_ ch: NIOAsyncTestingChannel) async throws -> [HTTPRequestPart] {
        var parts: [HTTPRequestPart] = []
        while let p = try await ch.readInbound(as: HTTPRequestPart.self) { parts.append(p) }
        return parts
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    let configMap = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1"},"data":{"k":"v"}}"#

    @Test func aCreateIsAnsweredWithoutTheResponder() async throws {
        let (api, ch) = try await setUp()
        try await send(ch, .post, "/api/v1/namespaces/default/configmaps", body: configMap)
        let (head, obj) = try await response(ch)
        #expect(head.status == .created)
        #expect(head.headerFields[.contentType] == "application/json")
        #expect(head.headerFields[.date]?.hasSuffix(" GMT") == true)
        #expect(obj.value(at: "metadata.name") == "cm1")
        #expect(obj.value(at: "metadata.managedFields")?.arrayValue?.first?["manager"] == "kubectl")
        let rv = try #require(obj.value(at: "metadata.resourceVersion")?.stringValue)
        // durable, at the revision it answered with
        let kv = try #require(api.store.get("/registry/configmaps/default/cm1"))
        #expect(String(kv.modRevision) == rv)
        #expect(try await handedOn(ch).isEmpty)

        // a merge patch of it, and the error for a stale one, the same way
        try await send(ch, .patch, "/api/v1/namespaces/default/configmaps/cm1", body: #"{"data":{"k":"w"}}"#,
                       contentType: "application/merge-patch+json")
        let (h2, patched) = try await response(ch)
        #expect(h2.status == .ok && patched.value(at: "data.k") == "w")
        try await send(ch, .put, "/api/v1/namespaces/default/configmaps/cm1",
                       body: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm1","resourceVersion":"\#(rv)"}}"#)
        let (h3, status) = try await response(ch)
        #expect(h3.status == .conflict)
        #expect(status["message"]?.stringValue?.contains("the object has been modified") == true)
        #expect(try await handedOn(ch).isEmpty)
        _ = try await ch.finish()
    }

    @Test func badInputIsAStatusNamingTheCauseAndNothingIsStored() async throws {
        let (api, ch) = try await setUp()
        try await send(ch, .post, "/api/v1/namespaces/default/configmaps", body: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"#)
        let (head, status) = try await response(ch)
        #expect(head.status == .badRequest)
        #expect(status["kind"] == "Status" && status["reason"] == "BadRequest")
        try await send(ch, .post, "/api/v1/namespaces/nowhere/configmaps", body: configMap)
        let (h2, s2) = try await response(ch)
        #expect(h2.status == .notFound && s2["message"] == "namespaces \"nowhere\" not found")
        #expect(api.store.list(prefix: "/registry/configmaps/").items.isEmpty)
        #expect(try await handedOn(ch).isEmpty)
        _ = try await ch.finish()
    }

    @Test func whatIsNotAPlainWriteGoesToTheResponder() async throws {
        let (_, ch) = try await setUp()
        try await send(ch, .get, "/api/v1/namespaces/default/configmaps")
        // a write behind an unanswered request goes the same way, so responses keep their order
        try await send(ch, .post, "/api/v1/namespaces/default/configmaps", body: configMap)
        var parts = try await handedOn(ch)
        #expect(parts.count == 5)
        guard case .head(let first) = parts.first, case .head(let second) = parts[2] else {
            throw TestFailure("expected two request heads, got \(parts)")
        }
        #expect(first.method == .get && second.method == .post)
        #expect(try await ch.readOutbound(as: HTTPResponsePart.self) == nil)
        // the responder answers both; then writes are the handler's again
        for _ in 0..<2 {
            try await ch.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
            try await ch.writeOutbound(HTTPResponsePart.end(nil))
        }
        for _ in 0..<4 { _ = try await ch.readOutbound(as: HTTPResponsePart.self) }
        try await send(ch, .post, "/api/v1/namespaces/default/configmaps", body: configMap.replacingOccurrences(of: "cm1", with: "cm2"))
        #expect(try await response(ch).0.status == .created)
        // authenticated requests and subresources other than status go on too
        try await send(ch, .post, "/api/v1/namespaces/default/configmaps", body: configMap, headers: [.authorization: "Bearer x"])
        parts = try await handedOn(ch)
        #expect(parts.count == 3)
        try await ch.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
        try await ch.writeOutbound(HTTPResponsePart.end(nil))
        try await send(ch, .post, "/api/v1/namespaces/default/pods/p/eviction", body: "{}")
        parts = try await handedOn(ch)
        #expect(parts.count == 3)
        _ = try await ch.finish()
    }

    /// A store whose commits are not reported until the test opens the gate.
    final class GatedStore: Store {
        let inner: SQLiteStore
        private let held = Mutex<(open: Bool, waiting: [@Sendable () -> Void])>((false, []))
        init() throws { inner = try SQLiteStore(path: ":memory:") }
        func open() {
            let waiting = held.withLock { h in
                h.open = true
                defer { h.waiting = [] }
                return h.waiting
            }
            for w in waiting { w() }
        }
        func currentRevision() async -> Int64 { await inner.currentRevision() }
        func compactedRevision() async -> Int64 { await inner.compactedRevision() }
        func get(_ key: String) -> KeyValue? { inner.get(key) }
        func list(prefix: String) -> (items: [KeyValue], revision: Int64) { inner.list(prefix: prefix) }
        func count(prefix: String) -> Int { inner.count(prefix: prefix) }
        func write(_ op: StoreWrite) async throws -> KeyValue { try await inner.write(op) }
        func submit(_ op: StoreWrite, completion: @escaping @Sendable (Result<KeyValue, any Error>) -> Void) {
            inner.submit(op) { outcome in
                let now = self.held.withLock { h in
                    if !h.open { h.waiting.append { completion(outcome) } }
                    return h.open
                }
                if now { completion(outcome) }
            }
        }
        func watch(prefix: String, after: Int64) async throws -> AsyncStream<[StoreEvent]> { try await inner.watch(prefix: prefix, after: after) }
        func compact(_ revision: Int64) async throws { try await inner.compact(revision) }
    }

    @Test func requestsBehindAWriteWaitForItsAnswer() async throws {
        let store = try GatedStore()
        let api = APIServer(store: store)
        try await api.bootstrap()
        let ch = try await NIOAsyncTestingChannel { ch in
            try ch.pipeline.syncOperations.addHandler(EventLoopWriteHandler(api: api))
        }
        // a create and a read of it, as a pipelining client sends them
        try await send(ch, .post, "/api/v1/namespaces/default/configmaps", body: configMap)
        try await send(ch, .get, "/api/v1/namespaces/default/configmaps/cm1")
        // the commit is not reported yet: no answer, and the read waits behind the write
        let deadline = ContinuousClock.now + .seconds(30)
        while store.get("/registry/configmaps/default/cm1") == nil && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(try await ch.readOutbound(as: HTTPResponsePart.self) == nil)
        #expect(try await handedOn(ch).isEmpty)
        store.open()
        let (head, obj) = try await response(ch)
        #expect(head.status == .created && obj.value(at: "metadata.name") == "cm1")
        // then the read reaches the responder
        try await Task.sleep(for: .milliseconds(20))
        let parts = try await handedOn(ch)
        guard case .head(let get)? = parts.first else { throw TestFailure("the GET was not handed on: \(parts)") }
        #expect(get.method == .get && parts.count == 2)
        _ = try await ch.finish()
    }

    @Test func aBodyOverTheLimitIsHandedOnWhole() async throws {
        let api = APIServer(store: try SQLiteStore(path: ":memory:"), maxBodyBytes: 64)
        try await api.bootstrap()
        let ch = try await NIOAsyncTestingChannel { ch in
            try ch.pipeline.syncOperations.addHandler(EventLoopWriteHandler(api: api))
        }
        let big = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"k":""# + String(repeating: "x", count: 100) + #""}}"#
        try await send(ch, .post, "/api/v1/namespaces/default/configmaps", body: big)
        let parts = try await handedOn(ch)
        #expect(parts.count == 3)
        if case .body(let b) = parts[1] { #expect(b.readableBytes == big.utf8.count) } else { Issue.record("no body: \(parts)") }
        #expect(api.store.get("/registry/configmaps/default/big") == nil)
        _ = try await ch.finish()
    }
}
