import Foundation
import Glibc
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import KubeAPI

/// The API client, its transport and its informers against a scripted HTTP/1.1 server on
/// 127.0.0.1: keep-alive reuse, a request retried when the server drops a reused connection,
/// timeouts, refused connections, watch streams whose events straddle chunks, informers that
/// strip managedFields or meet an object that does not decode.
@Suite struct APIClientTests {
    enum Action {
        case reply(String)  // raw bytes after the request head
        case close  // drop the connection without answering
        case silent  // never answer
        case replyThenClose(String)  // answer (keep-alive, as far as the client can tell), then drop the connection
    }

    /// The scripted servers and the transports of this suite have an event loop of their own,
    /// so other suites' work on the shared loops cannot hold up their answers.
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Answers each request head with `script(connection number, request number on it, request line)`.
    final class ScriptedServer: @unchecked Sendable {
        let channel: any Channel
        var port: Int { channel.localAddress!.port! }
        var baseURL: String { "http://127.0.0.1:\(port)" }

        init(_ script: @escaping @Sendable (Int, Int, String) -> Action) async throws {
            let counter = Mutex(0)
            channel = try await ServerBootstrap(group: APIClientTests.group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { ch in
                    let n = counter.withLock { c in
                        c += 1
                        return c
                    }
                    return ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Handler(connection: n, script: script)) }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        func close() async { try? await channel.close() }

        final class Handler: ChannelInboundHandler, @unchecked Sendable {
            typealias InboundIn = ByteBuffer
            let connection: Int
            let script: @Sendable (Int, Int, String) -> Action
            var pending = ""
            var requests = 0
            init(connection: Int, script: @escaping @Sendable (Int, Int, String) -> Action) {
                self.connection = connection
                self.script = script
            }
            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                var b = unwrapInboundIn(data)
                pending += b.readString(length: b.readableBytes) ?? ""
                while let end = pending.range(of: "\r\n\r\n") {
                    let head = String(pending[..<end.lowerBound])
                    var rest = String(pending[end.upperBound...])
                    // a body, if any, is as long as Content-Length says
                    if let cl = head.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-length:") }),
                       let n = Int(cl.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
                    {
                        guard rest.utf8.count >= n else { return }
                        rest = String(rest.dropFirst(n))
                    }
                    pending = rest
                    requests += 1
                    switch script(connection, requests, String(head.split(separator: "\r\n").first ?? "")) {
                    case .reply(let raw): context.writeAndFlush(NIOAny(ByteBuffer(string: raw)), promise: nil)
                    case .close:
                        context.close(promise: nil)
                        return
                    case .silent: break
                    case .replyThenClose(let raw):
                        context.writeAndFlush(NIOAny(ByteBuffer(string: raw)), promise: nil)
                        context.close(promise: nil)
                        return
                    }
                }
            }
        }
    }

    static func ok(_ body: String) -> String { "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)" }

    @Test func reusesConnectionsAndRetriesWhenTheServerDropsAReusedOne() async throws {
        let server = try await ScriptedServer { conn, req, _ in
            // the first connection answers once, then drops the next request as a server
            // closing an idle connection would; later connections answer everything
            if conn == 1 && req == 2 { return .close }
            return .reply(Self.ok(#"{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"c\#(conn)r\#(req)"}}"#))
        }
        let t = APITransport(host: "127.0.0.1", port: server.port, setupError: nil, group: Self.group)
        defer { t.shutdown() }
        let c = APIClient(baseURL: server.baseURL)
        // through the transport directly, to see which connection answered
        let r1 = try await t.send(.GET, "/api/v1/namespaces/a", headers: [], body: nil, timeout: .seconds(30))
        #expect(String(buffer: r1.body).contains("c1r1"))
        let r2 = try await t.send(.GET, "/api/v1/namespaces/a", headers: [], body: nil, timeout: .seconds(30))
        #expect(String(buffer: r2.body).contains("c2r1"), "the dropped request is sent again on a new connection")
        let r3 = try await t.send(.POST, "/api/v1/namespaces", headers: [], body: Array("{}".utf8), timeout: .seconds(30))
        #expect(String(buffer: r3.body).contains("c2r2"), "the new connection is kept alive and reused")
        // and through APIClient's typed layer (its own shared transport: a third connection)
        let ns = try await c.get(Namespace.self, name: "x")
        #expect(ns.metadata.name == "c3r1")
        c.transport.shutdown()
        await server.close()
    }

    /// A server that closes each connection right after answering on it: the client's next
    /// request may find the connection still in the idle pool, or see it close between
    /// checkout and sending. Either way it goes out again on a new connection, at once, not
    /// after the timeout.
    @Test func aConnectionClosedRightAfterItsAnswerIsNotWaitedOn() async throws {
        let server = try await ScriptedServer { conn, _, _ in
            .replyThenClose(Self.ok(#"{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"c\#(conn)"}}"#))
        }
        let t = APITransport(host: "127.0.0.1", port: server.port, setupError: nil, group: Self.group)
        defer { t.shutdown() }
        var names: Set<String> = []
        for _ in 0..<30 {
            // A request left waiting on a dead connection ends in "did not answer within 30 s"
            // and fails the test. The timeout is long because at the start of a full run the
            // two cores are so oversubscribed that a loopback answer took seconds (CI: 18–46 s
            // for 100 of them).
            let r = try await t.send(.GET, "/api/v1/namespaces/a", headers: [], body: nil, timeout: .seconds(30))
            names.insert(String(buffer: r.body))
        }
        #expect(names.count == 30, "each request was answered on a connection of its own")
        await server.close()
    }

    @Test func aServerThatNeverAnswersTimesOut() async throws {
        let server = try await ScriptedServer { _, _, _ in .silent }
        let t = APITransport(host: "127.0.0.1", port: server.port, setupError: nil, group: Self.group)
        defer { t.shutdown() }
        let start = ContinuousClock.now
        await #expect {
            _ = try await t.send(.GET, "/healthz", headers: [], body: nil, timeout: .milliseconds(300))
        } throws: { e in
            (e as? TransportError)?.message.contains("did not answer within") == true
        }
        #expect(ContinuousClock.now - start < .seconds(5))
        await server.close()
    }

    @Test func refusedConnectionsAndBadURLsSayWhy() async throws {
        // a port nothing listens on: bound by this test (so no other test can take it), never listened on
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        #expect(bound)
        let port = Int(UInt16(bigEndian: addr.sin_port))
        let t = APITransport(host: "127.0.0.1", port: port, setupError: nil, group: Self.group)
        await #expect {
            _ = try await t.send(.GET, "/healthz", headers: [], body: nil, timeout: .seconds(5))
        } throws: { e in
            (e as? TransportError)?.message.contains("cannot connect to the API server at 127.0.0.1:\(port)") == true
        }
        let https = APIClient(baseURL: "https://127.0.0.1:6443")
        await #expect {
            _ = try await https.get(Namespace.self, name: "default")
        } throws: { e in
            "\(e)".contains("unsupported server URL https://127.0.0.1:6443")
        }
        #expect(APITransport.parse("http://[::1]:6443/").0 == "::1")
        #expect(APITransport.parse("http://[::1]:6443/").1 == 6443)
        #expect(APITransport.parse("http://127.0.0.1:8080").1 == 8080)
        #expect(APITransport.parse("http://localhost").1 == 80)
        #expect(APITransport.parse("http://127.0.0.1:99999").2 != nil)
    }

    /// An informer that strips managedFields caches objects without them, from the list and
    /// from the watch; one that does not keeps them.
    @Test func informersStripManagedFieldsWhenAsked() async throws {
        let mf = #""managedFields":[{"manager":"kubectl","operation":"Update","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{}}}]"#
        let list = #"{"kind":"NamespaceList","apiVersion":"v1","metadata":{"resourceVersion":"5"},"items":[{"metadata":{"name":"a","resourceVersion":"4",\#(mf)}}]}"#
        let event = #"{"type":"ADDED","object":{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"b","resourceVersion":"6",\#(mf)}}}"# + "\n"
        let server = try await ScriptedServer { _, _, line in
            if line.contains("watch=true") {
                // one event, then the stream stays open (the informer would watch on)
                return .reply("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + String(event.utf8.count, radix: 16) + "\r\n" + event + "\r\n")
            }
            return .reply(Self.ok(list))
        }
        let url = server.baseURL
        defer { APIClient(baseURL: url).transport.shutdown() }
        for strip in [true, false] {
            let informer = Informer<Namespace>(client: APIClient(baseURL: url), stripManagedFields: strip)
            let task = Task { await informer.run() }
            defer { task.cancel() }
            var seen = 0
            for _ in 0..<200 where seen < 2 {
                try await Task.sleep(for: .milliseconds(10))
                seen = await informer.count
            }
            let cached = await informer.list()
            #expect(cached.map(\.name) == ["a", "b"])
            #expect(cached.allSatisfy { ($0.metadata.managedFields == nil) == strip }, "strip \(strip)")
        }
        await server.close()
    }

    /// A list asked to drop managedFields removes them before decoding: entries that would not
    /// decode (here a string where an array belongs) cost nothing; without it they fail the list.
    @Test func listsDropManagedFieldsBeforeDecoding() async throws {
        let list = #"{"kind":"NamespaceList","apiVersion":"v1","metadata":{"resourceVersion":"5"},"items":[{"metadata":{"name":"a","managedFields":"not a list"}},{"metadata":{"name":"b"}}]}"#
        let server = try await ScriptedServer { _, _, _ in .reply(Self.ok(list)) }
        let url = server.baseURL
        defer { APIClient(baseURL: url).transport.shutdown() }
        let client = APIClient(baseURL: url)
        let items = try await client.list(Namespace.self, dropManagedFields: true).items
        #expect(items.map(\.name) == ["a", "b"])
        #expect(items.allSatisfy { $0.metadata.managedFields == nil })
        await #expect(throws: (any Error).self) { _ = try await client.list(Namespace.self) }
        await server.close()
    }

    /// An event whose object does not decode is skipped, counted and reported; the events
    /// after it still reach the cache.
    @Test func informersReportUndecodableEvents() async throws {
        let list = #"{"kind":"NamespaceList","apiVersion":"v1","metadata":{"resourceVersion":"5"},"items":[]}"#
        let events = #"{"type":"ADDED","object":{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"bad","resourceVersion":"6","labels":"not-a-map"}}}"#
            + "\n" + #"{"type":"ADDED","object":{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"good","resourceVersion":"7"}}}"# + "\n"
        let server = try await ScriptedServer { _, _, line in
            line.contains("watch=true")
                ? .reply("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + String(events.utf8.count, radix: 16) + "\r\n" + events + "\r\n")
                : .reply(Self.ok(list))
        }
        let url = server.baseURL
        defer { APIClient(baseURL: url).transport.shutdown() }
        let informer = Informer<Namespace>(client: APIClient(baseURL: url))
        let task = Task { await informer.run() }
        defer { task.cancel() }
        for _ in 0..<200 where await informer.count < 1 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(await informer.list().map(\.name) == ["good"])
        #expect(await informer.undecodable == 1)
        let err = await informer.lastError ?? ""
        #expect(err.contains("ADDED event for bad does not decode"), "\(err)")
        #expect(err.contains("metadata.labels"), "the error names the field: \(err)")
        await server.close()
    }

    @Test func watchEventsArriveWholeWhateverTheChunking() async throws {
        let events = [
            #"{"type":"ADDED","object":{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"a","resourceVersion":"5"}}}"#,
            #"{"type":"MODIFIED","object":{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"a","resourceVersion":"6"}}}"#,
            #"{"type":"BOOKMARK","object":{"kind":"Namespace","apiVersion":"v1","metadata":{"resourceVersion":"9"}}}"#,
        ]
        let stream = Array((events.joined(separator: "\n") + "\n").utf8)
        // cut the stream at awkward places: mid-event, right after a newline, one byte
        let cuts = [0, 17, 118, 119, 120, stream.count]
        var raw = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        for (a, b) in zip(cuts, cuts.dropFirst()) where b > a {
            raw += String(b - a, radix: 16) + "\r\n" + String(decoding: stream[a..<b], as: UTF8.self) + "\r\n"
        }
        raw += "0\r\n\r\n"
        let reply = raw
        let server = try await ScriptedServer { _, _, line in
            line.contains("watch=true") ? .reply(reply)
                : .reply("HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n")
        }
        let c = APIClient(baseURL: server.baseURL)
        var got: [(String, String?)] = []
        for try await e in try await c.watch(Namespace.self, resourceVersion: "4") { got.append((e.type, e.resourceVersion)) }
        #expect(got.map(\.0) == ["ADDED", "MODIFIED", "BOOKMARK"])
        #expect(got.map(\.1) == ["5", "6", "9"])
        c.transport.shutdown()
        await server.close()
    }
}
