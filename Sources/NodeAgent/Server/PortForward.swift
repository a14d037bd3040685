import Foundation
import HTTPTypes
import HummingbirdCore
import HummingbirdWebSocket
import KubeAPI
package import Logging
package import NIOCore
import NIOPosix
import Runtime
import Synchronization

// The kubelet's port forwarding (`/portForward/<ns>/<pod>[/<uid>]`), as kubectl 1.35 reaches
// it through the API server: a WebSocket with subprotocol `SPDY/3.1+portforward.k8s.io`
// carrying SPDY/3.1 (see `PortForwardProtocol`). Per forwarded connection the client opens an
// error stream and a data stream sharing a `requestID`; the agent connects to
// localhost:<port> inside the pod's network namespace, relays the data stream both ways
// (half-closes included) and writes a failure, in the kubelet's words, on the error stream.

extension KubeletServer {
    /// The upgrade for `/portForward/<ns>/<pod>[/<uid>]`; `.dontUpgrade` (a 404 from the plain
    /// HTTP responder) when the pod has no ready sandbox here or the client does not offer the
    /// tunnel subprotocol.
    static func portForwardUpgrade(request: HTTPRequest, segments: [String], source: KubeletServerSource, logger: Logger) async
        -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>
    {
        guard segments.count == 3 || segments.count == 4,
            let proto = PortForwardProtocol.negotiateTunnel(request.headerFields[.secWebSocketProtocol])
        else { return .dontUpgrade }
        let ns = segments[1], name = segments[2], uid = segments.count == 4 ? segments[3] : nil
        guard let pod = await source.pods().first(where: { $0.namespace == ns && $0.name == name && (uid == nil || $0.uid == uid) }),
            let sandbox = ((try? await source.runtime.listPodSandbox()) ?? [])
                .filter({ $0.config.uid == pod.uid && $0.state == .ready }).max(by: { $0.config.attempt < $1.config.attempt })
        else {
            logger.info("port-forward to \(ns)/\(name): no ready sandbox on this node")
            return .dontUpgrade
        }
        let session = PortForwardSession(pod: sandbox.id, logger: logger) { port in
            try await SandboxPortDialer.connect(netnsPath: sandbox.netnsPath, sandbox: sandbox.id, port: port)
        }
        return .upgrade([.secWebSocketProtocol: proto]) { inbound, outbound, _ in
            // The tunnel is one byte stream: message boundaries mean nothing.
            let bytes = inbound.compactMap { $0.opcode == .text ? nil : $0.data }
            do {
                try await session.run(inbound: bytes) { try await outbound.write(.binary($0)) }
            } catch {
                logger.info("port-forward to \(ns)/\(name) ended: \(error)")
            }
        }
    }
}

/// The server side of one port-forward connection: reads SPDY frames, answers streams,
/// pairs them by `requestID` and runs one relay per pair, until the connection ends.
package final class PortForwardSession: Sendable {
    /// Opens a connection to the pod's port; returns a connected socket descriptor.
    package typealias Dial = @Sendable (UInt16) async throws -> Int32

    /// How errors name the pod: the sandbox id, as the kubelet's streaming server does.
    let pod: String
    let logger: Logger
    let dial: Dial
    private let streams = Mutex<[UInt32: StreamInbox]>([:])

    package init(pod: String, logger: Logger, dial: @escaping Dial) {
        self.pod = pod
        self.logger = logger
        self.dial = dial
    }

    /// One stream of a pair, as announced by its SYN_STREAM.
    struct Half {
        var id: UInt32
        var port: UInt16
    }

    /// Serves the connection whose client→server bytes are `inbound`, writing server→client
    /// bytes with `send`. Returns when `inbound` ends (relays still running are stopped);
    /// throws on a protocol error.
    package func run(inbound: some AsyncSequence<ByteBuffer, any Error>, send: @escaping @Sendable (ByteBuffer) async throws -> Void)
        async throws
    {
        let writer = try SPDYConnectionWriter(sink: send)
        let decoder = try SPDYFrameDecoder()
        var pending: [String: (error: Half?, data: Half?, inbox: StreamInbox?)] = [:]
        var goneAway = false
        defer {
            let open = streams.withLock { s in
                let v = Array(s.values)
                s = [:]
                return v
            }
            for inbox in open { inbox.close(final: nil) }
        }
        try await withThrowingDiscardingTaskGroup { group in
            defer { group.cancelAll() }
            for try await chunk in inbound {
                decoder.append(chunk)
                while let frame = try decoder.next() {
                    switch frame {
                    case .synStream(let id, _, _, let flags, let headers):
                        let port: UInt16
                        let type: String
                        switch Self.validate(headers) {
                        case .failure(let why):
                            logger.info("port-forward: stream \(id) rejected: \(why)")
                            try await writer.send([.rstStream(streamID: id, status: SPDY.RstStatus.cancel.rawValue)])
                            continue
                        case .success(let v): (port, type) = v
                        }
                        if goneAway {
                            try await writer.send([.rstStream(streamID: id, status: SPDY.RstStatus.refusedStream.rawValue)])
                            continue
                        }
                        try await writer.send([.synReply(streamID: id, flags: 0, headers: [:])])
                        let request = Self.requestID(headers, streamID: id, type: type)
                        var pair = pending[request] ?? (nil, nil, nil)
                        let half = Half(id: id, port: port)
                        if type == PortForwardProtocol.streamTypeError {
                            guard pair.error == nil else {
                                try await writer.send([.data(streamID: id, flags: 0,
                                                             payload: ByteBuffer(string: "error processing stream for request \(request): error stream already assigned")),
                                                       .fin(id)])
                                continue
                            }
                            pair.error = half
                        } else {
                            guard pair.data == nil else {
                                try await writer.send([.rstStream(streamID: id, status: SPDY.RstStatus.cancel.rawValue)])
                                continue
                            }
                            let inbox = StreamInbox()
                            streams.withLock { $0[id] = inbox }
                            if flags & SPDY.flagFin != 0 { await inbox.push(.fin) }
                            pair.data = half
                            pair.inbox = inbox
                        }
                        if let e = pair.error, let d = pair.data, let inbox = pair.inbox {
                            pending[request] = nil
                            group.addTask { await self.forward(request: request, error: e, data: d, inbox: inbox, writer: writer) }
                        } else {
                            pending[request] = pair
                        }
                    case .data(let id, let flags, let payload):
                        guard let inbox = streams.withLock({ $0[id] }) else { continue }
                        if payload.readableBytes > 0 { await inbox.push(.bytes(payload)) }
                        if flags & SPDY.flagFin != 0 { await inbox.push(.fin) }
                    case .rstStream(let id, _):
                        streams.withLock { $0.removeValue(forKey: id) }?.close(final: .reset)
                    case .ping(let id):
                        // answer the client's pings (odd ids); even ones would answer ours
                        if id & 1 == 1 { try await writer.send([.ping(id: id)]) }
                    case .goAway:
                        goneAway = true
                    case .synReply, .headers, .settings, .windowUpdate, .unknownControl:
                        continue
                    }
                }
            }
        }
    }

    /// The `port` and `streamType` of a new stream, or why it is refused (kubelet's wording).
    static func validate(_ headers: SPDYHeaders) -> Result<(UInt16, String), PortForwardStreamError> {
        guard let portString = headers[PortForwardProtocol.portHeader], !portString.isEmpty else {
            return .failure(.init("\"\(PortForwardProtocol.portHeader)\" header is required"))
        }
        guard let port = UInt16(portString) else { return .failure(.init("unable to parse \"\(portString)\" as a port")) }
        guard port > 0 else { return .failure(.init("port \"\(portString)\" must be > 0")) }
        guard let type = headers[PortForwardProtocol.streamTypeHeader], !type.isEmpty else {
            return .failure(.init("\"\(PortForwardProtocol.streamTypeHeader)\" header is required"))
        }
        guard type == PortForwardProtocol.streamTypeError || type == PortForwardProtocol.streamTypeData else {
            return .failure(.init("invalid stream type \"\(type)\""))
        }
        return .success((port, type))
    }

    /// The stream's `requestID`; clients too old to send one get the kubelet's guess from the
    /// stream ids (error stream n, data stream n+2).
    static func requestID(_ headers: SPDYHeaders, streamID: UInt32, type: String) -> String {
        if let id = headers[PortForwardProtocol.requestIDHeader], !id.isEmpty { return id }
        return String(type == PortForwardProtocol.streamTypeError ? Int(streamID) : Int(streamID) - 2)
    }

    /// Relays one forwarded connection: dial, then bytes both ways until the pod has closed
    /// its side and the client is done (FIN, or the RST kubectl sends after our FIN).
    func forward(request: String, error errorHalf: Half, data dataHalf: Half, inbox: StreamInbox, writer: SPDYConnectionWriter) async {
        let errorID = errorHalf.id, dataID = dataHalf.id, port = dataHalf.port
        defer {
            streams.withLock { s in if s[dataID] === inbox { s[dataID] = nil } }
            inbox.close(final: nil)
        }
        let fd: Int32
        do {
            fd = try await dial(port)
        } catch {
            let message = "error forwarding port \(port) to pod \(pod), uid : \(error)"
            logger.info("port-forward: \(message)")
            try? await writer.send([.data(streamID: errorID, flags: 0, payload: ByteBuffer(string: message)), .fin(errorID), .fin(dataID)])
            return
        }
        enum Outcome { case clientDone, clientReset, podDone }
        var dataFinSent = false
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .withConnectedSocket(fd) { ch in
                    ch.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: ch,
                                                                    configuration: .init(isOutboundHalfClosureEnabled: true))
                    }
                }
            try await channel.executeThenClose { fromPod, toPod in
                try await withThrowingTaskGroup(of: Outcome.self) { g in
                    // client → pod, until FIN, RST or the end of the connection
                    g.addTask {
                        while let event = await inbox.next() {
                            switch event {
                            case .bytes(let b):
                                do { try await toPod.write(b) } catch { return .clientDone }  // the pod closed: drop the rest
                            case .fin:
                                toPod.finish()  // shutdown(SHUT_WR): the pod reads EOF
                                return .clientDone
                            case .reset:
                                return .clientReset
                            }
                        }
                        return .clientReset
                    }
                    // pod → client, then FIN on the data stream
                    g.addTask {
                        do {
                            for try await b in fromPod { try await writer.send([.data(streamID: dataID, flags: 0, payload: b)]) }
                        } catch let e as SPDYConnectionWriter.Failed {
                            throw e
                        } catch {
                            self.logger.debug("port-forward \(request): reading port \(port): \(error)")
                        }
                        try await writer.send([.fin(dataID)])
                        return .podDone
                    }
                    for try await outcome in g {
                        switch outcome {
                        case .podDone: dataFinSent = true
                        case .clientReset: g.cancelAll()
                        case .clientDone: continue
                        }
                    }
                }
            }
        } catch {
            logger.debug("port-forward \(request) to port \(port) ended: \(error)")
        }
        try? await writer.send(dataFinSent ? [.fin(errorID)] : [.fin(dataID), .fin(errorID)])
    }
}

struct PortForwardStreamError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Writes frames to the connection one batch at a time: encoding (which advances the shared
/// header compressor) and writing happen under one turn, so the wire order is the encode order.
actor SPDYConnectionWriter {
    /// The connection failed; nothing more can be sent.
    struct Failed: Error, CustomStringConvertible {
        var cause: any Error
        var description: String { "port-forward connection failed: \(cause)" }
    }

    private let encoder: SPDYFrameEncoder
    private let sink: @Sendable (ByteBuffer) async throws -> Void
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var failure: Failed?

    init(sink: @escaping @Sendable (ByteBuffer) async throws -> Void) throws {
        encoder = try SPDYFrameEncoder()
        self.sink = sink
    }

    /// Sends `frames` in order, after any batch already under way. A cancelled caller gets
    /// CancellationError before anything is encoded; once encoded, a batch is written even if
    /// the caller is cancelled meanwhile (a half-sent batch, or a header block the peer never
    /// sees, would break the connection for every stream).
    func send(_ frames: [SPDYFrame]) async throws {
        while busy { await withCheckedContinuation { waiters.append($0) } }
        busy = true
        defer {
            busy = false
            if !waiters.isEmpty { waiters.removeFirst().resume() }
        }
        if let failure { throw failure }
        try Task.checkCancellation()
        var out = ByteBuffer()
        do {
            for f in frames { try encoder.encode(f, into: &out) }
            let sink = self.sink, bytes = out
            try await Task { try await sink(bytes) }.value
        } catch {
            let f = Failed(cause: error)
            failure = f
            throw f
        }
    }
}

/// The client→pod bytes of one data stream, handed from the connection's reader to the
/// relay in order. The reader waits while more than `limit` bytes are queued (spdystream does
/// no flow control, so this backpressure is what keeps a slow pod from filling the agent's
/// memory), and bytes that arrive before the pod connection is up wait here.
final class StreamInbox: Sendable {
    enum Event: Sendable {
        case bytes(ByteBuffer), fin, reset
    }

    private struct State {
        var events: [Event] = []
        var head = 0
        var queued = 0
        var closed = false
        var final: Event?
        var consumer: CheckedContinuation<Event?, Never>?
        var producers: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    let limit: Int

    init(limit: Int = 256 * 1024) { self.limit = limit }

    /// Queues `event` (dropped once closed); waits while the relay is more than `limit` behind.
    func push(_ event: Event) async {
        enum Outcome { case handed(CheckedContinuation<Event?, Never>), queued(wait: Bool) }
        let outcome: Outcome = state.withLock { s in
            guard !s.closed else { return .queued(wait: false) }
            if let c = s.consumer {
                s.consumer = nil
                return .handed(c)
            }
            s.events.append(event)
            if case .bytes(let b) = event { s.queued += b.readableBytes }
            return .queued(wait: s.queued > limit)
        }
        switch outcome {
        case .handed(let c): c.resume(returning: event)
        case .queued(false): return
        case .queued(true):
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s in
                    if s.closed || s.queued <= limit { return true }
                    s.producers.append(c)
                    return false
                }
                if now { c.resume() }
            }
        }
    }

    /// The next event; after `close`, its `final` event once, then nil. Cancellation closes.
    func next() async -> Event? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Event?, Never>) in
                let (ready, value, wake): (Bool, Event?, [CheckedContinuation<Void, Never>]) = state.withLock { s in
                    if s.head < s.events.count {
                        let e = s.events[s.head]
                        s.head += 1
                        if s.head == s.events.count {
                            s.events.removeAll(keepingCapacity: true)
                            s.head = 0
                        }
                        if case .bytes(let b) = e { s.queued -= b.readableBytes }
                        var wake: [CheckedContinuation<Void, Never>] = []
                        if s.queued <= limit {
                            wake = s.producers
                            s.producers = []
                        }
                        return (true, e, wake)
                    }
                    if s.closed {
                        let f = s.final
                        s.final = nil
                        return (true, f, [])
                    }
                    s.consumer = c
                    return (false, nil, [])
                }
                for w in wake { w.resume() }
                if ready { c.resume(returning: value) }
            }
        } onCancel: {
            close(final: nil)
        }
    }

    /// Drops what is queued, releases waiting producers; the consumer gets `final`, then nil.
    func close(final: Event?) {
        let (consumer, producers): (CheckedContinuation<Event?, Never>?, [CheckedContinuation<Void, Never>]) = state.withLock { s in
            if s.closed { return (nil, []) }
            s.closed = true
            s.events = []
            s.head = 0
            s.queued = 0
            let c = s.consumer
            s.consumer = nil
            if c == nil { s.final = final }
            let p = s.producers
            s.producers = []
            return (c, p)
        }
        consumer?.resume(returning: final)
        for p in producers { p.resume() }
    }
}
