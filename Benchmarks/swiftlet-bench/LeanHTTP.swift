// A lean HTTP/1.1 load generator: one keep-alive connection per worker straight on NIO's
// HTTP/1 codec, each response collected by one handler. The benchmark
// runs on the same two cores as the server it measures, so every microsecond the client
// spends is taken from the server; AsyncHTTPClient spent ~200 µs per request here, this
// ~40. Both the server under test and the reference are driven by it.
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

struct LeanResponse {
    var status: Int
    var body: ByteBuffer
}

struct LeanHTTPError: Error, CustomStringConvertible {
    var description: String
}

/// One connection; one request at a time (the worker that owns it awaits each response).
final class LeanConnection: @unchecked Sendable {
    private let channel: any Channel
    private let handler: ResponseCollector
    private let host: String

    private init(channel: any Channel, handler: ResponseCollector, host: String) {
        self.channel = channel
        self.handler = handler
        self.host = host
    }

    static func connect(host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> LeanConnection {
        let collector = ResponseCollector()
        let ch = try await ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHTTPClientHandlers()
                    try ch.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: host, port: port).get()
        return LeanConnection(channel: ch, handler: collector, host: "\(host):\(port)")
    }

    /// Sends a request and returns its response; a status outside 2xx throws with the body.
    func send(_ method: String, _ path: String, body: [UInt8], contentType: String = "application/json") async throws -> LeanResponse {
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
        head.headers.add(name: "Host", value: host)
        head.headers.add(name: "Content-Type", value: contentType)
        head.headers.add(name: "Content-Length", value: String(body.count))
        let payload = ByteBuffer(bytes: body)
        let promise = channel.eventLoop.makePromise(of: LeanResponse.self)
        let handler = self.handler, channel = self.channel, request = head
        channel.eventLoop.execute {
            handler.pending = promise
            channel.write(HTTPClientRequestPart.head(request), promise: nil)
            channel.write(HTTPClientRequestPart.body(.byteBuffer(payload)), promise: nil)
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }
        let r = try await promise.futureResult.get()
        guard (200..<300).contains(r.status) else {
            throw LeanHTTPError(description: "\(method) \(path): HTTP \(r.status): \(String(buffer: r.body))")
        }
        return r
    }

    func close() async { try? await channel.close() }
}

private final class ResponseCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    var pending: EventLoopPromise<LeanResponse>?
    private var status = 0
    private var body = ByteBuffer()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            status = Int(h.status.code)
            body.clear()
        case .body(var b):
            body.writeBuffer(&b)
        case .end:
            let p = pending
            pending = nil
            p?.succeed(LeanResponse(status: status, body: body))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        pending?.fail(error)
        pending = nil
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        pending?.fail(LeanHTTPError(description: "connection closed"))
        pending = nil
    }
}

/// Runs `count` operations over `connections`, one worker per connection, each taking the
/// next index as it finishes the last; records each latency.
func runLoad(count: Int, over connections: [LeanConnection], _ op: @escaping @Sendable (LeanConnection, Int) async throws -> Void) async throws -> Stats {
    let box = StatsBox()
    let next = IndexCounter()
    let start = now()
    try await withThrowingTaskGroup(of: Void.self) { g in
        for conn in connections {
            g.addTask {
                while true {
                    let i = next.take()
                    if i >= count { return }
                    let t0 = now()
                    try await op(conn, i)
                    box.record(ns: now() - t0)
                }
            }
        }
        try await g.waitForAll()
    }
    var s = box.stats
    s.seconds = Double(now() - start) / 1e9
    return s
}

func connectAll(host: String, port: Int, count: Int) async throws -> [LeanConnection] {
    var out: [LeanConnection] = []
    for _ in 0..<count { out.append(try await LeanConnection.connect(host: host, port: port)) }
    return out
}

final class IndexCounter: Sendable {
    private let n = Mutex(0)
    func take() -> Int {
        n.withLock { n in
            defer { n += 1 }
            return n
        }
    }
}
