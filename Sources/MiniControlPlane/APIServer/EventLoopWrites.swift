import Foundation
import HTTPTypes
import HummingbirdCore
import KubeAPI
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Answers plain writes (create, replace, patch of an object or its status; most of an API
/// server's traffic) on the connection's event loop, ahead of the async HTTP responder:
/// the body is decoded, admitted, validated, defaulted and encoded on the event loop, the store
/// commits it with the writes around it, and the response goes out from the event loop when
/// the store calls back. No task, no actor hop and no async stream per request; everything
/// else (reads, watches, subresources, authenticated requests) goes on to the responder
/// unchanged.
///
/// Responses keep the order of requests: while a request handed on is unanswered, later
/// ones are handed on too, and while a write waits for its commit, later requests wait with it.
final class EventLoopWriteHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private struct Write {
        var head: HTTPRequest
        var uri: URI
        var target: APIHTTPResponder.ResourcePath
    }

    private enum State {
        case idle
        /// The current request goes on to the responder, part by part.
        case handingOn
        /// A plain write whose body is arriving.
        case collecting(Write, ByteBuffer)
        /// A plain write waiting for its commit.
        case answering
    }

    private let responder: APIHTTPResponder
    private var state = State.idle
    /// Requests handed on whose response has not ended.
    private var handedOn = 0
    /// What arrived while a write waited for its commit, in order.
    private var held: [HTTPRequestPart] = []
    private var quiesceHeld = false
    private var active = true
    /// Whether parts were handed on since this was last cleared.
    private var handedOnParts = false

    init(api: APIServer) {
        responder = APIHTTPResponder(api: api)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .answering = state {
            held.append(part)
            return
        }
        process(context, part)
    }

    private func process(_ context: ChannelHandlerContext, _ part: HTTPRequestPart) {
        switch (state, part) {
        case (.idle, .head(let head)):
            if handedOn == 0, let write = asPlainWrite(head) {
                state = .collecting(write, context.channel.allocator.buffer(capacity: 0))
            } else {
                handedOn += 1
                state = .handingOn
                handOn(context, part)
            }
        case (.handingOn, .end):
            state = .idle
            handOn(context, part)
        case (.collecting(let write, var body), .body(var more)):
            state = .idle  // drops the enum's reference, so `body` grows in place
            if body.readableBytes + more.readableBytes > responder.api.maxBodyBytes {
                // the responder refuses it, as it refuses every oversized body
                handedOn += 1
                state = .handingOn
                handOn(context, .head(write.head))
                if body.readableBytes > 0 { handOn(context, .body(body)) }
                handOn(context, .body(more))
                return
            }
            body.writeBuffer(&more)
            state = .collecting(write, body)
        case (.collecting(let write, let body), .end):
            state = .answering
            answer(context, write, body)
        default:
            // .handingOn: the request's body; anything else is out of order and the
            // responder's HTTP handling deals with it
            handOn(context, part)
        }
    }

    private func handOn(_ context: ChannelHandlerContext, _ part: HTTPRequestPart) {
        handedOnParts = true
        context.fireChannelRead(wrapInboundOut(part))
    }

    /// The request as a plain write, if it is one this handler answers.
    private func asPlainWrite(_ head: HTTPRequest) -> Write? {
        guard head.method == .post || head.method == .put || head.method == .patch,
            head.headerFields[.authorization] == nil, !(head.headerFields[.connection] ?? "").lowercased().contains("close"),
            head.headerFields[.expect] == nil, let path = head.path
        else { return nil }
        let uri = URI(path)
        let segments = uri.path.split(separator: "/").map(String.init)
        guard case .resource(let target)? = try? APIHTTPResponder.resolve(responder.api.registry, path: uri.path, segments: segments),
            target.rest.isEmpty, !(target.resource.namespaced && target.namespace == nil && target.name != nil),
            APIHTTPResponder.isPlainWrite(head.method, target.resource, name: target.name, sub: target.sub)
        else { return nil }
        return Write(head: head, uri: uri, target: target)
    }

    private func answer(_ context: ChannelHandlerContext, _ write: Write, _ body: ByteBuffer) {
        let t = write.target
        let created = write.head.method == .post
        let step: WriteStep
        do {
            step = try responder.plainWrite(write.head.method, t.resource, namespace: t.namespace, name: t.name, sub: t.sub,
                                            query: APIHTTPResponder.Query(write.uri.query), headers: write.head.headerFields,
                                            body: Array(body.readableBytesView))
        } catch {
            return respond(context, .failure(error), created: created)
        }
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        responder.api.run(step, hop: { work in loop.execute(work) }, done: { outcome in
            let (handler, context) = bound.value
            handler.respond(context, outcome, created: created)
        })
    }

    private func respond(_ context: ChannelHandlerContext, _ outcome: Result<WriteResult, any Error>, created: Bool) {
        guard active else { return }
        var (status, fields, bytes): APIHTTPResponder.Answer
        switch outcome {
        case .success(let r): (status, fields, bytes) = APIHTTPResponder.answer(r, status: created ? .created : .ok)
        case .failure(let error): (status, fields, bytes) = APIHTTPResponder.answer(responder.failure(error))
        }
        fields[.contentLength] = String(bytes.count)
        fields[.date] = HTTPDate.now()
        fields[.server] = "swiftlet"
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(buffer)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        state = .idle
        resume(context)
    }

    /// Goes on with what waited for the answer, until it is all processed or a write waits again.
    private func resume(_ context: ChannelHandlerContext) {
        handedOnParts = false
        while !held.isEmpty {
            if case .answering = state { break }
            process(context, held.removeFirst())
        }
        // the responder's channel delivers what it was given at the end of a read
        if handedOnParts { context.fireChannelReadComplete() }
        if quiesceHeld, case .idle = state {
            quiesceHeld = false
            context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { handedOn = max(0, handedOn - 1) }
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // a server shutting down closes idle connections: this one is not idle until the
        // write it is answering has its answer
        if event is ChannelShouldQuiesceEvent {
            switch state {
            case .collecting, .answering:
                quiesceHeld = true
                return
            case .idle, .handingOn:
                break
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        active = false
        held = []
        context.fireChannelInactive()
    }
}

/// The `Date` header's value (RFC 9110's IMF-fixdate), formatted once a second.
enum HTTPDate {
    private static let cache = Mutex<(second: Int, text: String)>((-1, ""))

    static func now() -> String {
        var t = time(nil)
        return cache.withLock { c in
            if c.second == t { return c.text }
            var tm = tm()
            gmtime_r(&t, &tm)
            let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
            let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
            func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
            c = (t, "\(days[Int(tm.tm_wday)]), \(two(tm.tm_mday)) \(months[Int(tm.tm_mon)]) \(tm.tm_year + 1900) "
                    + "\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) GMT")
            return c.text
        }
    }
}
