import Foundation
import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore

/// The head of the first request on a connection, parsed just enough to route it.
struct RawRequestHead: Sendable {
    var method: String
    var target: String
    var headers: [(name: String, value: String)]

    /// All values of `name` (case-insensitive), comma-joined as HTTP allows.
    func header(_ name: String) -> String? {
        let n = name.lowercased()
        let values = headers.filter { $0.name.lowercased() == n }.map(\.value)
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }

    /// Parses "METHOD target HTTP/1.x\r\nName: value\r\n…" (without the final blank line).
    init?(_ text: String) {
        var lines = text.components(separatedBy: "\r\n")
        let request = lines.removeFirst().split(separator: " ")
        guard request.count == 3, request[2].hasPrefix("HTTP/1.") else { return nil }
        method = String(request[0])
        target = String(request[1])
        headers = lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]).trimmingCharacters(in: .whitespaces),
                    String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
    }
}

/// Hummingbird's HTTP/1 + WebSocket channel, plus the plain `Upgrade: SPDY/3.1` that kubectl
/// falls back to for port-forward when the WebSocket upgrade fails (and that client-go's
/// SPDY dialers use). NIO's upgrade handler only knows the upgraders it is given, and
/// Hummingbird gives it WebSocket alone; so the first request head on each connection is
/// read here first: a SPDY upgrade the predicate claims gets the raw connection, anything
/// else is replayed into the usual HTTP pipeline, which never sees the difference.
struct SPDYUpgradeAwareChannel: ServerChildChannel {
    typealias SPDYHandler = @Sendable (RawRequestHead, ByteBuffer, NIOAsyncChannel<ByteBuffer, ByteBuffer>, Logger) async -> Void

    enum Decision: Sendable {
        case http(HTTP1WebSocketUpgradeChannel.Value)
        /// The request, the bytes that followed it, and the raw connection.
        case spdy(RawRequestHead, ByteBuffer, NIOAsyncChannel<ByteBuffer, ByteBuffer>)
    }

    struct Value: ServerChildChannelValue {
        let channel: any Channel
        let decision: EventLoopFuture<Decision>
    }

    let http: HTTP1WebSocketUpgradeChannel
    /// Whether a request that asks for `Upgrade: SPDY/3.1` is ours (runs on the event loop).
    let claims: @Sendable (RawRequestHead) -> Bool
    let serve: SPDYHandler

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let promise = channel.eventLoop.makePromise(of: Decision.self)
            let http = self.http, claims = self.claims
            try channel.pipeline.syncOperations.addHandler(
                FirstRequestSniffer(promise: promise, claims: { head in
                    guard let head, (head.header("Upgrade") ?? "").lowercased().contains("spdy/3.1") else { return false }
                    return claims(head)
                }, setupHTTP: { ch in http.setup(channel: ch, logger: logger).map { Decision.http($0) } }))
            return Value(channel: channel, decision: promise.futureResult)
        }
    }

    func handle(value: Value, logger: Logger) async {
        let decision: Decision
        do { decision = try await value.decision.get() } catch {
            logger.trace("connection ended before its first request: \(error)")
            try? await value.channel.close()
            return
        }
        switch decision {
        case .http(let v): await http.handle(value: v, logger: logger)
        case .spdy(let head, let rest, let channel): await serve(head, rest, channel, logger)
        }
    }
}

/// Buffers a connection's first bytes until the request head is complete, then either hands
/// the raw channel over (SPDY) or installs the HTTP pipeline behind itself, replays what it
/// buffered and leaves.
final class FirstRequestSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let maxHead = 16 * 1024
    static let headTimeout = TimeAmount.seconds(30)

    private let promise: EventLoopPromise<SPDYUpgradeAwareChannel.Decision>
    private let claims: (RawRequestHead?) -> Bool
    private let setupHTTP: (any Channel) -> EventLoopFuture<SPDYUpgradeAwareChannel.Decision>
    private var buffered: ByteBuffer?
    private var decided = false
    private var timeout: Scheduled<Void>?

    init(promise: EventLoopPromise<SPDYUpgradeAwareChannel.Decision>, claims: @escaping (RawRequestHead?) -> Bool,
         setupHTTP: @escaping (any Channel) -> EventLoopFuture<SPDYUpgradeAwareChannel.Decision>)
    {
        self.promise = promise
        self.claims = claims
        self.setupHTTP = setupHTTP
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // a connection that never completes a request head must not stay forever
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: Self.headTimeout) {
            let (sniffer, ctx) = bound.value
            if !sniffer.decided { ctx.close(promise: nil) }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !decided else { return context.fireChannelRead(data) }
        var bytes = unwrapInboundIn(data)
        if buffered == nil { buffered = bytes } else { buffered!.writeBuffer(&bytes) }
        let view = buffered!.readableBytesView
        let end = view.firstRange(of: [13, 10, 13, 10] as [UInt8])
        guard end != nil || view.count > Self.maxHead else { return }
        decided = true
        timeout?.cancel()
        var head: RawRequestHead?
        if let end {
            let length = end.lowerBound - view.startIndex
            head = buffered!.getString(at: buffered!.readerIndex, length: length).flatMap(RawRequestHead.init)
        }
        if let head, let end, claims(head) {
            var rest = buffered!
            rest.moveReaderIndex(to: end.upperBound)
            buffered = nil
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            do {
                let raw = try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: context.channel,
                                                                      configuration: .init(isOutboundHalfClosureEnabled: true))
                promise.succeed(.spdy(head, rest, raw))
            } catch {
                promise.fail(error)
            }
            return
        }
        // Not ours: the HTTP pipeline goes in behind us and gets the bytes as if first.
        promise.completeWith(setupHTTP(context.channel))
        let replay = buffered!
        buffered = nil
        context.fireChannelRead(wrapInboundOut(replay))
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !decided {
            decided = true
            timeout?.cancel()
            promise.fail(ChannelError.eof)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !decided {
            decided = true
            timeout?.cancel()
            promise.fail(error)
            context.close(promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }
}
