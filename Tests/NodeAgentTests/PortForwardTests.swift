import Foundation
import Glibc
import KubeAPI
import Logging
import NIOCore
@testable import NodeAgent
import Runtime
import Testing

/// A TCP server on 127.0.0.1 (an ephemeral port) standing in for a pod: per connection it
/// optionally sends a banner, then answers every chunk with "echo:<chunk>" and closes when it
/// reads EOF. Blocking sockets on threads of their own.
final class LoopbackEchoServer: @unchecked Sendable {
    let fd: Int32
    let port: UInt16
    let banner: String?
    /// Instead of echoing: read to EOF, then answer with the number of bytes read.
    let counting: Bool
    private let lock = NSLock()
    private var _eofs = 0
    /// Connections whose client side reached EOF (our relay closed or half-closed it).
    var eofs: Int { lock.withLock { _eofs } }

    init(banner: String? = nil, counting: Bool = false) throws {
        self.banner = banner
        self.counting = counting
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        self.fd = fd
        port = UInt16(bigEndian: a.sin_port)
        let t = Thread { [self] in
            while true {
                let c = accept(fd, nil, nil)
                if c < 0 { break }
                Thread { self.serve(c) }.start()
            }
            // Only this thread closes the listener, after its last accept: closed elsewhere, the
            // number could be reused by another test's socket before that accept runs.
            close(fd)
            stopped.signal()
        }
        t.start()
    }

    private func serve(_ c: Int32) {
        defer { close(c) }
        if let banner { _ = banner.withCString { send(c, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }
        var buf = [UInt8](repeating: 0, count: 65536)
        var total = 0
        while true {
            let n = recv(c, &buf, buf.count, 0)
            if n <= 0 { break }
            total += n
            if counting { continue }
            let reply = Array("echo:".utf8) + buf[0..<n]
            _ = reply.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        lock.withLock { _eofs += 1 }
        if counting { _ = "\(total)".withCString { send(c, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }
    }

    private let stopped = DispatchSemaphore(value: 0)

    /// Stops listening (the port then refuses connections) and waits for the accept thread.
    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        stopped.wait()
    }
}

/// What the session sent, decoded as it arrives (the session's writer calls in order).
final class FrameSink: @unchecked Sendable {
    private let lock = NSLock()
    private let decoder = try! SPDYFrameDecoder()
    private var frames: [SPDYFrame] = []
    private var error: (any Error)?

    func receive(_ b: ByteBuffer) {
        lock.withLock {
            decoder.append(b)
            do { while let f = try decoder.next() { frames.append(f) } } catch { self.error = error }
        }
    }

    func take() throws -> SPDYFrame? {
        try lock.withLock {
            if let error { throw error }
            return frames.isEmpty ? nil : frames.removeFirst()
        }
    }
}

/// A SPDY client driving a `PortForwardSession` in memory, as kubectl would.
final class SPDYTestClient: @unchecked Sendable {
    let encoder = try! SPDYFrameEncoder()
    let sink = FrameSink()
    let input: AsyncThrowingStream<ByteBuffer, any Error>.Continuation
    let session: Task<Void, any Error>

    init(pod: String = "sb-1", dial: @escaping PortForwardSession.Dial = { port in
        try await SandboxPortDialer.connect(netnsPath: nil, sandbox: "sb-1", port: port)
    }) {
        let (inStream, inCont) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        input = inCont
        let s = PortForwardSession(pod: pod, logger: Logger(label: "test"), dial: dial)
        let sink = self.sink
        session = Task { try await s.run(inbound: inStream) { sink.receive($0) } }
    }

    func send(_ frames: SPDYFrame...) throws {
        var b = ByteBuffer()
        for f in frames { try encoder.encode(f, into: &b) }
        input.yield(b)
    }

    /// The pair of streams kubectl opens for one connection: error (half-closed at once), then data.
    func open(request: Int, errorStream: UInt32, dataStream: UInt32, port: UInt16) throws {
        try send(.synStream(streamID: errorStream, associatedTo: 0, priority: 0, flags: 0,
                            headers: ["streamType": "error", "port": "\(port)", "requestID": "\(request)"]),
                 .fin(errorStream),
                 .synStream(streamID: dataStream, associatedTo: 0, priority: 0, flags: 0,
                            headers: ["streamType": "data", "port": "\(port)", "requestID": "\(request)"]))
    }

    /// The next frame from the session, waiting at most `timeout` seconds (generous: the whole
    /// suite starts at once on two cores, and the first seconds are crowded).
    func next(timeout: Double = 30) async throws -> SPDYFrame {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let f = try sink.take() { return f }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw TimedOut()
    }

    /// Bytes of `stream` until its FIN.
    func read(stream: UInt32) async throws -> String {
        var s = ""
        while true {
            let f = try await next()
            guard case .data(stream, let flags, let payload) = f else { continue }
            s += String(buffer: payload)
            if flags & SPDY.flagFin != 0 { return s }
        }
    }

    func finish() async {
        input.finish()
        _ = try? await session.value
    }

    struct TimedOut: Error {}
}

/// One test body's frames, with data split per stream and FINs recorded, in arrival order.
struct StreamLog {
    var text: [UInt32: String] = [:]
    var fins: [UInt32] = []
    var others: [SPDYFrame] = []

    mutating func add(_ f: SPDYFrame) {
        if case .data(let id, let flags, let payload) = f {
            if payload.readableBytes > 0 { text[id, default: ""] += String(buffer: payload) }
            if flags & SPDY.flagFin != 0 { fins.append(id) }
        } else {
            others.append(f)
        }
    }
}

@Suite struct PortForwardSessionTests {
    @Test func aConnectionIsRelayedBothWaysAndTheClientsFINReachesThePodAsEOF() async throws {
        let pod = try LoopbackEchoServer()
        defer { pod.stop() }
        let c = SPDYTestClient()
        try c.open(request: 0, errorStream: 1, dataStream: 3, port: pod.port)
        #expect(try await c.next() == .synReply(streamID: 1, flags: 0, headers: [:]))
        #expect(try await c.next() == .synReply(streamID: 3, flags: 0, headers: [:]))
        try c.send(.data(streamID: 3, flags: 0, payload: ByteBuffer(string: "hello")))
        var log = StreamLog()
        while log.text[3] != "echo:hello" { log.add(try await c.next()) }
        // half-close: the pod reads EOF, closes, and its close comes back as FIN, then the error stream ends empty
        try c.send(.fin(3))
        while log.fins.count < 2 { log.add(try await c.next()) }
        #expect(log.fins == [3, 1])
        #expect(log.text[1] == nil && log.others.isEmpty, "\(log)")
        #expect(pod.eofs == 1)
        await c.finish()
    }

    @Test func aPortNobodyListensOnGetsTheKubeletsErrorOnTheErrorStream() async throws {
        // a port that was just free: nothing listens there
        let gone = try LoopbackEchoServer()
        gone.stop()
        let c = SPDYTestClient()
        try c.open(request: 0, errorStream: 1, dataStream: 3, port: gone.port)
        var log = StreamLog()
        while log.fins.count < 2 { log.add(try await c.next()) }
        let p = gone.port
        let message = log.text[1] ?? ""
        #expect(message.hasPrefix("error forwarding port \(p) to pod sb-1, uid : failed to connect to localhost:\(p) inside namespace \"sb-1\", "
                                  + "IPv4: dial tcp4 127.0.0.1:\(p): connect: connection refused IPv6 dial tcp6 [::1]:\(p): "), "\(message)")
        #expect(Set(log.fins) == [1, 3])
        // the connection goes on: the next request is served
        let pod = try LoopbackEchoServer()
        defer { pod.stop() }
        try c.open(request: 1, errorStream: 5, dataStream: 7, port: pod.port)
        try c.send(.data(streamID: 7, flags: SPDY.flagFin, payload: ByteBuffer(string: "again")))
        #expect(try await c.read(stream: 7) == "echo:again")
        await c.finish()
    }

    @Test func twoConnectionsInterleaveIndependently() async throws {
        let pod = try LoopbackEchoServer()
        defer { pod.stop() }
        let c = SPDYTestClient()
        // both pairs announced before either sends: pairing is by requestID, not by order
        try c.send(.synStream(streamID: 1, associatedTo: 0, priority: 0, flags: 0, headers: ["streamType": "error", "port": "\(pod.port)", "requestID": "0"]),
                   .synStream(streamID: 3, associatedTo: 0, priority: 0, flags: 0, headers: ["streamType": "error", "port": "\(pod.port)", "requestID": "1"]),
                   .synStream(streamID: 5, associatedTo: 0, priority: 0, flags: 0, headers: ["streamType": "data", "port": "\(pod.port)", "requestID": "1"]),
                   .synStream(streamID: 7, associatedTo: 0, priority: 0, flags: 0, headers: ["streamType": "data", "port": "\(pod.port)", "requestID": "0"]),
                   .data(streamID: 7, flags: 0, payload: ByteBuffer(string: "zero")),
                   .data(streamID: 5, flags: 0, payload: ByteBuffer(string: "one")))
        var log = StreamLog()
        while log.text[5] != "echo:one" || log.text[7] != "echo:zero" { log.add(try await c.next()) }
        #expect(log.others.count == 4)  // the SYN_REPLYs
        try c.send(.fin(5), .fin(7))
        while log.fins.count < 4 { log.add(try await c.next()) }
        #expect(Set(log.fins) == [1, 3, 5, 7])
        #expect(log.text[1] == nil && log.text[3] == nil)
        await c.finish()
    }

    @Test func aResetFromTheClientClosesThePodConnectionAndEndsTheErrorStream() async throws {
        let pod = try LoopbackEchoServer(banner: "hi")
        defer { pod.stop() }
        let c = SPDYTestClient()
        try c.open(request: 0, errorStream: 1, dataStream: 3, port: pod.port)
        var log = StreamLog()
        while log.text[3] != "hi" { log.add(try await c.next()) }
        // the client gives up on the stream (kubectl resets the data stream when its local side
        // errs): the pod connection is closed and the error stream ends
        try c.send(.rstStream(streamID: 3, status: SPDY.RstStatus.cancel.rawValue))
        while !log.fins.contains(1) { log.add(try await c.next()) }
        #expect(await eventuallyAsync { pod.eofs == 1 })
        await c.finish()
    }

    @Test func aLargeUploadArrivesWholeThroughTheBoundedInbox() async throws {
        let pod = try LoopbackEchoServer(counting: true)
        defer { pod.stop() }
        let c = SPDYTestClient()
        try c.open(request: 0, errorStream: 1, dataStream: 3, port: pod.port)
        // 4 MiB in 64 KiB frames, sent before the pod connection is even up: far past the
        // inbox's bound, so the reader has to wait for the relay again and again
        let chunk = ByteBuffer(bytes: (0..<65536).map { UInt8($0 % 251) })
        for _ in 0..<64 { try c.send(.data(streamID: 3, flags: 0, payload: chunk)) }
        try c.send(.fin(3))
        var log = StreamLog()
        while log.fins.count < 2 { log.add(try await c.next(timeout: 30)) }
        #expect(log.text[3] == "\(64 * 65536)")
        #expect(log.fins == [3, 1])
        await c.finish()
    }

    @Test func pingsAreAnsweredAndBadStreamsRefused() async throws {
        let c = SPDYTestClient()
        try c.send(.ping(id: 1))
        #expect(try await c.next() == .ping(id: 1))
        try c.send(.synStream(streamID: 1, associatedTo: 0, priority: 0, flags: 0, headers: ["streamType": "data"]))
        #expect(try await c.next() == .rstStream(streamID: 1, status: SPDY.RstStatus.cancel.rawValue))
        try c.send(.synStream(streamID: 3, associatedTo: 0, priority: 0, flags: 0, headers: ["streamType": "video", "port": "80"]))
        #expect(try await c.next() == .rstStream(streamID: 3, status: SPDY.RstStatus.cancel.rawValue))
        try c.send(.synStream(streamID: 5, associatedTo: 0, priority: 0, flags: 0, headers: ["streamType": "data", "port": "0"]))
        #expect(try await c.next() == .rstStream(streamID: 5, status: SPDY.RstStatus.cancel.rawValue))
        #expect(PortForwardSession.validate(["port": "0", "streamType": "data"]).failureDescription == "port \"0\" must be > 0")
        #expect(PortForwardSession.validate(["streamType": "data"]).failureDescription == "\"port\" header is required")
        await c.finish()
    }

    @Test func aBrokenFrameEndsTheSessionWithAnError() async throws {
        let c = SPDYTestClient()
        c.input.yield(ByteBuffer(bytes: [0, 0, 0, 0, 0, 0, 0, 1, 0x41]))
        await #expect(throws: SPDYError.self) { try await c.session.value }
    }

    @Test func theInboxMakesTheReaderWaitForASlowRelay() async throws {
        let inbox = StreamInbox(limit: 10)
        await inbox.push(.bytes(ByteBuffer(string: "0123456789")))  // at the limit: no wait
        let pushed = Flag()
        let producer = Task {
            await inbox.push(.bytes(ByteBuffer(string: "abc")))  // over the limit: waits
            pushed.set()
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(!pushed.isSet)
        guard case .bytes(let first) = await inbox.next() else { Issue.record("no bytes"); return }
        #expect(String(buffer: first) == "0123456789")
        _ = await producer.result
        #expect(pushed.isSet)
        inbox.close(final: .reset)
        guard case .reset = await inbox.next() else { Issue.record("no reset"); return }
        #expect(await inbox.next() == nil)
    }
}

extension Result where Failure: CustomStringConvertible {
    var failureDescription: String? {
        if case .failure(let e) = self { return e.description }
        return nil
    }
}

func eventuallyAsync(timeout: Double = 5, _ condition: @escaping @Sendable () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

