import Foundation
@testable import MiniControlPlane
import NIOCore
import NIOEmbedded
import Testing

/// Collects what reaches the handler after the sniffer.
final class ByteCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    var received = ByteBuffer()
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var b = unwrapInboundIn(data)
        received.writeBuffer(&b)
    }
}

struct NoHTTPHere: Error {}

@Suite struct SPDYUpgradeChannelTests {
    /// A sniffer on an embedded channel; `setupHTTP` installs `collector` as "the HTTP pipeline".
    func sniffer(on channel: EmbeddedChannel, collector: ByteCollector, claims: @escaping (RawRequestHead?) -> Bool)
        throws -> EventLoopFuture<SPDYUpgradeAwareChannel.Decision>
    {
        let promise = channel.eventLoop.makePromise(of: SPDYUpgradeAwareChannel.Decision.self)
        try channel.pipeline.syncOperations.addHandler(FirstRequestSniffer(promise: promise, claims: claims, setupHTTP: { ch in
            try! ch.pipeline.syncOperations.addHandler(collector)
            return ch.eventLoop.makeFailedFuture(NoHTTPHere())
        }))
        return promise.futureResult
    }

    @Test func anOrdinaryRequestReachesTheHTTPPipelineByteForByte() throws {
        let ch = EmbeddedChannel()
        let collector = ByteCollector()
        let claimed = Flag()
        _ = try sniffer(on: ch, collector: collector, claims: { _ in claimed.set(); return false })
        let request = "GET /api/v1/pods?watch=true HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\nafter"
        let bytes = Array(request.utf8)
        // split inside the request line, the headers and the blank line
        for part in [bytes[0..<5], bytes[5..<40], bytes[40..<(bytes.count - 7)], bytes[(bytes.count - 7)...]] {
            try ch.writeInbound(ByteBuffer(bytes: part))
        }
        #expect(String(buffer: collector.received) == request)
        #expect(claimed.isSet)  // asked, and said no
        // later reads go straight through: the sniffer has left the pipeline
        try ch.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        #expect(String(buffer: collector.received) == request + "GET / HTTP/1.1\r\n\r\n")
        #expect(throws: (any Error).self) { try ch.pipeline.syncOperations.handler(type: FirstRequestSniffer.self) }
        _ = try ch.finish()
    }

    @Test func aClaimedSPDYUpgradeGetsTheRawConnectionAndTheBytesAfterTheHead() throws {
        let ch = EmbeddedChannel()
        let collector = ByteCollector()
        let decision = try sniffer(on: ch, collector: collector, claims: { $0 != nil })
        let head = "POST /api/v1/namespaces/default/pods/web/portforward HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
            + "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\nX-Stream-Protocol-Version: v2\r\n\r\n"
        var b = ByteBuffer(string: head)
        b.writeBytes([0x80, 0x03, 0x00, 0x01])
        try ch.writeInbound(b)
        guard case .spdy(let h, let rest, _) = try decision.wait() else { Issue.record("not SPDY"); return }
        #expect(h.method == "POST" && h.target == "/api/v1/namespaces/default/pods/web/portforward")
        #expect(h.header("x-stream-protocol-version") == "portforward.k8s.io, v2")
        #expect(Array(rest.readableBytesView) == [0x80, 0x03, 0x00, 0x01])
        #expect(collector.received.readableBytes == 0)
        _ = try? ch.finish()
    }

    @Test func theChannelOnlyClaimsSPDYUpgradesToPortForward() {
        #expect(KubeletProxy.portForwardTarget("/api/v1/namespaces/ns1/pods/p1/portforward?x=1")! == ("ns1", "p1"))
        #expect(KubeletProxy.portForwardTarget("/api/v1/namespaces/ns1/pods/p1/exec") == nil)
        #expect(KubeletProxy.portForwardTarget("/api/v1/pods") == nil)
        #expect(RawRequestHead("garbage") == nil)
        #expect(RawRequestHead("GET / HTTP/1.1\r\nA: 1\r\na: 2")?.header("A") == "1, 2")
    }

    @Test func aConnectionThatClosesBeforeItsHeadFailsTheDecision() throws {
        let ch = EmbeddedChannel()
        let decision = try sniffer(on: ch, collector: ByteCollector(), claims: { _ in true })
        try ch.writeInbound(ByteBuffer(string: "POST /api/v1/namespaces/d/pods/p/portfor"))
        _ = try? ch.finish()
        #expect(throws: (any Error).self) { try decision.wait() }
    }
}

final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var v = false
    func set() { lock.withLock { v = true } }
    var isSet: Bool { lock.withLock { v } }
}
