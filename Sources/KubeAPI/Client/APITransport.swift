public import NIOCore
public import NIOHTTP1
import NIOPosix
import Synchronization

/// HTTP/1.1 to one API server straight on NIO's codec: a pool of keep-alive connections for
/// requests, a connection of its own for each watch. The clients of the control plane (the
/// scheduler, controllers, the agent) share two cores with the server; async-http-client spent
/// ~200 µs of CPU per request here (its state machines, request bags, tracing, a body stream
/// per response), this ~40 µs.
///
/// Every `APIClient` for the same host and port shares one transport (`shared(for:)`), so a
/// process holds one pool per server. Plain HTTP only, as the server speaks today; TLS would
/// go in `connect`.
public final class APITransport: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var body: ByteBuffer
    }

    /// A response whose body arrives in pieces (a watch).
    public struct Streamed: Sendable {
        public var status: Int
        public var body: AsyncThrowingStream<ByteBuffer, any Error>
    }

    public let host: String
    public let port: Int
    /// `host:port` as the Host header and messages spell it (an IPv6 address in brackets).
    private let authority: String
    private let group: any EventLoopGroup
    private let setupError: String?
    private let state = Mutex(PoolState())
    /// Idle connections kept for reuse; more are closed when they come back.
    private let maxIdle = 128

    private struct PoolState {
        var idle: [Connection] = []
        var shutdown = false
    }

    private static let registry = Mutex<[String: APITransport]>([:])

    /// The process-wide transport for `baseURL`'s host and port.
    public static func shared(for baseURL: String) -> APITransport {
        let (host, port, err) = Self.parse(baseURL)
        let key = "\(host):\(port)"
        return registry.withLock { r in
            if let t = r[key], !t.isShutdown { return t }
            let t = APITransport(host: host, port: port, setupError: err)
            r[key] = t
            return t
        }
    }

    init(host: String, port: Int, setupError: String?, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.host = host
        self.port = port
        self.authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        self.setupError = setupError
        self.group = group
    }

    static func parse(_ baseURL: String) -> (String, Int, String?) {
        var rest = Substring(baseURL)
        guard rest.hasPrefix("http://") else {
            return ("", 0, "unsupported server URL \(baseURL): only http:// is spoken by this client")
        }
        rest = rest.dropFirst("http://".count)
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        var host = String(rest), port = 80
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {  // [::1]:6443
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { port = Int(after.dropFirst()) ?? -1 }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            port = Int(rest[rest.index(after: colon)...]) ?? -1
        }
        guard (1...65535).contains(port), !host.isEmpty else { return (host, port, "invalid server URL \(baseURL)") }
        return (host, port, nil)
    }

    var isShutdown: Bool { state.withLock { $0.shutdown } }

    /// Closes the idle connections and refuses new requests; requests and watches under way
    /// run to their end.
    public func shutdown() {
        let idle = state.withLock { s in
            s.shutdown = true
            defer { s.idle = [] }
            return s.idle
        }
        for c in idle { c.channel.close(promise: nil) }
    }

    // MARK: requests

    /// Sends one request and collects its response. A request that fails on a reused
    /// connection before any byte of a response came back (the server closed it while idle)
    /// is sent once more on a new connection.
    public func send(_ method: HTTPMethod, _ target: String, headers: [(String, String)], body: [UInt8]?,
                     timeout: TimeAmount) async throws -> Response
    {
        let head = try requestHead(method, target, headers: headers, bodyCount: body?.count)
        var attempt = 0
        while true {
            attempt += 1
            let (conn, reused) = try await checkout()
            do {
                let r = try await conn.roundTrip(head, body: body, timeout: timeout)
                checkin(conn, keepAlive: r.keepAlive)
                return Response(status: r.status, body: r.body)
            } catch let e as TransportError where e.beforeResponse && reused && attempt == 1 {
                conn.channel.close(promise: nil)
                continue
            } catch {
                conn.channel.close(promise: nil)
                throw error
            }
        }
    }

    /// Sends a request on a connection of its own and hands back the status and the body as
    /// it arrives; the connection closes when the stream ends or its consumer goes away.
    public func stream(_ method: HTTPMethod, _ target: String, headers: [(String, String)], timeout: TimeAmount) async throws -> Streamed {
        let head = try requestHead(method, target, headers: headers, bodyCount: nil)
        let conn = try await connect()
        do {
            let (status, body) = try await conn.openStream(head, timeout: timeout)
            return Streamed(status: status, body: body)
        } catch {
            conn.channel.close(promise: nil)
            throw error
        }
    }

    private func requestHead(_ method: HTTPMethod, _ target: String, headers: [(String, String)], bodyCount: Int?) throws -> HTTPRequestHead {
        if let setupError { throw TransportError(message: setupError, beforeResponse: true) }
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: target)
        head.headers.reserveCapacity(headers.count + 2)
        head.headers.add(name: "Host", value: authority)
        for (k, v) in headers { head.headers.add(name: k, value: v) }
        if let bodyCount { head.headers.add(name: "Content-Length", value: String(bodyCount)) }
        return head
    }

    private func checkout() async throws -> (Connection, reused: Bool) {
        while true {
            let c: Connection? = try state.withLock { s in
                if s.shutdown { throw TransportError(message: "the API client was shut down", beforeResponse: true) }
                return s.idle.popLast()
            }
            guard let c else { return (try await connect(), false) }
            if c.channel.isActive { return (c, true) }
        }
    }

    private func checkin(_ c: Connection, keepAlive: Bool) {
        let keep = keepAlive && c.channel.isActive && state.withLock { s in
            guard !s.shutdown, s.idle.count < maxIdle else { return false }
            s.idle.append(c)
            return true
        }
        if !keep { c.channel.close(promise: nil) }
    }

    private func connect() async throws -> Connection {
        let handler = ResponseHandler()
        do {
            let channel = try await ClientBootstrap(group: group)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(10))
                .channelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture {
                        try ch.pipeline.syncOperations.addHTTPClientHandlers()
                        try ch.pipeline.syncOperations.addHandler(handler)
                    }
                }
                .connect(host: host, port: port).get()
            return Connection(channel: channel, handler: handler)
        } catch {
            throw TransportError(message: "cannot connect to the API server at \(authority): \(error)", beforeResponse: true)
        }
    }
}

/// A failure below HTTP: no connection, a connection lost, a timeout.
public struct TransportError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// Nothing of a response had arrived: the server may never have seen the request.
    public var beforeResponse: Bool
    public var description: String { message }
}

private final class Connection: Sendable {
    let channel: any Channel
    let handler: ResponseHandler
    init(channel: any Channel, handler: ResponseHandler) {
        self.channel = channel
        self.handler = handler
    }

    struct Collected {
        var status: Int
        var body: ByteBuffer
        var keepAlive: Bool
    }

    func roundTrip(_ head: HTTPRequestHead, body: [UInt8]?, timeout: TimeAmount) async throws -> Collected {
        let loop = channel.eventLoop
        let promise = loop.makePromise(of: Collected.self)
        let channel = self.channel, handler = self.handler
        loop.execute {
            // The server may have closed this idle connection after checkout looked at it; its
            // channelInactive has then already run, and nothing would answer before the timeout.
            guard channel.isActive else {
                promise.fail(TransportError(message: "the API server closed the connection", beforeResponse: true))
                return
            }
            handler.start(.collect(promise), on: channel, timeout: timeout)
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: body))), promise: nil) }
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }
        return try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    func openStream(_ head: HTTPRequestHead, timeout: TimeAmount) async throws -> (Int, AsyncThrowingStream<ByteBuffer, any Error>) {
        let (stream, cont) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        let channel = self.channel, handler = self.handler
        cont.onTermination = { _ in channel.close(promise: nil) }
        let headPromise = channel.eventLoop.makePromise(of: Int.self)
        channel.eventLoop.execute {
            guard channel.isActive else {
                let e = TransportError(message: "the API server closed the connection", beforeResponse: true)
                headPromise.fail(e)
                cont.finish(throwing: e)
                return
            }
            handler.start(.stream(head: headPromise, body: cont), on: channel, timeout: timeout)
            channel.writeAndFlush(HTTPClientRequestPart.head(head), promise: nil)
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }
        let status = try await withTaskCancellationHandler {
            try await headPromise.futureResult.get()
        } onCancel: {
            channel.close(promise: nil)
        }
        return (status, stream)
    }
}

/// Reads the responses of one connection, one at a time. Touched on the channel's event loop only.
private final class ResponseHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart

    enum Waiter {
        case none
        case collect(EventLoopPromise<Connection.Collected>)
        case stream(head: EventLoopPromise<Int>?, body: AsyncThrowingStream<ByteBuffer, any Error>.Continuation)
    }

    private var waiter: Waiter = .none
    private var status = 0
    private var keepAlive = true
    private var body = ByteBuffer()
    private var responded = false
    private var timer: Scheduled<Void>?

    func start(_ w: Waiter, on channel: any Channel, timeout: TimeAmount) {
        waiter = w
        status = 0
        responded = false
        body.clear()
        timer = channel.eventLoop.scheduleTask(in: timeout) { [weak self] in
            self?.fail(TransportError(message: "the API server did not answer within \(timeout.nanoseconds / 1_000_000_000) s", beforeResponse: false))
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            responded = true
            status = Int(h.status.code)
            keepAlive = h.isKeepAlive
            if case .stream(let head?, let body) = waiter {
                timer?.cancel()  // a watch lasts as long as the server keeps it
                timer = nil
                waiter = .stream(head: nil, body: body)
                head.succeed(status)
            }
        case .body(var b):
            switch waiter {
            case .collect: body.writeBuffer(&b)
            case .stream(_, let cont): cont.yield(b)
            case .none: break
            }
        case .end:
            timer?.cancel()
            timer = nil
            let w = waiter
            waiter = .none
            switch w {
            case .collect(let p): p.succeed(.init(status: status, body: body, keepAlive: keepAlive))
            case .stream(_, let cont):
                cont.finish()
                context.close(promise: nil)
            case .none: break
            }
        }
    }

    private func fail(_ error: TransportError) {
        timer?.cancel()
        timer = nil
        let w = waiter
        waiter = .none
        switch w {
        case .collect(let p): p.fail(error)
        case .stream(let head, let cont):
            head?.fail(error)
            cont.finish(throwing: error)
        case .none: break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(TransportError(message: "connection to the API server failed: \(error)", beforeResponse: !responded))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(TransportError(message: "the API server closed the connection", beforeResponse: !responded))
        context.fireChannelInactive()
    }
}
