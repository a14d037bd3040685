import Foundation
import HTTPTypes
import HummingbirdCore
import HummingbirdWSClient
import HummingbirdWebSocket
import KubeAPI
import Logging
import NIOConcurrencyHelpers
import NIOCore

extension KubeletProxy {
    /// `pods/portforward` for kubectl 1.35: a WebSocket with subprotocol
    /// `SPDY/3.1+portforward.k8s.io` whose binary messages carry SPDY. The API server does not
    /// look inside: it opens the same tunnel to the node agent's `/portForward/<ns>/<pod>` and
    /// copies the bytes both ways (message boundaries carry no meaning in the tunnel).
    /// `.dontUpgrade` for a pod that does not exist or has no node yet leaves the request to
    /// the plain handler, whose error kubectl then reports.
    static func portForwardUpgrade(api: APIServer, request: HTTPRequest, namespace ns: String, name: String, logger: Logger) async
        -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>
    {
        guard let proto = PortForwardProtocol.negotiateTunnel(request.headerFields[.secWebSocketProtocol]) else { return .dontUpgrade }
        let proxy = KubeletProxy(api: api)
        guard let pods = api.registry.lookup(group: "", version: "v1", resource: "pods"),
            let pod = try? await api.get(pods, namespace: ns, name: name), !pod.isNull,
            let node = pod.value(at: ["spec", "nodeName"])?.stringValue, !node.isEmpty,
            let base = try? await proxy.kubeletURL(node)
        else { return .dontUpgrade }
        let url = "ws" + base.dropFirst(4) + "/portForward/\(ns)/\(name)"
        return .upgrade([.secWebSocketProtocol: proto]) { inbound, outbound, _ in
            let config = WebSocketClientConfiguration(maxFrameSize: 1 << 20, additionalHeaders: [.secWebSocketProtocol: proto])
            do {
                try await WebSocketClient.connect(url: url, configuration: config, logger: logger) { kin, kout, _ in
                    await withTaskGroup(of: Void.self) { g in
                        g.addTask {
                            do {
                                for try await frame in inbound where frame.opcode != .text { try await kout.write(.binary(frame.data)) }
                            } catch {}
                        }
                        g.addTask {
                            do {
                                for try await frame in kin where frame.opcode != .text { try await outbound.write(.binary(frame.data)) }
                            } catch {}
                        }
                        // either side gone: the tunnel is over
                        await g.next()
                        g.cancelAll()
                    }
                }
            } catch {
                logger.info("port-forward to \(ns)/\(name): kubelet tunnel \(url): \(error)")
            }
        }
    }

    /// The API server's HTTP/1 channel: WebSocket upgrades as before, and kubectl's plain
    /// SPDY upgrade for `pods/portforward` (see `SPDYUpgradeAwareChannel`).
    static func streamingServer(api: APIServer) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            SPDYUpgradeAwareChannel(
                http: HTTP1WebSocketUpgradeChannel(
                    responder: responder,
                    configuration: .init(http1: .init(additionalChannelHandlers: [EventLoopWriteHandler(api: api)]),
                                         ws: .init(maxFrameSize: 1 << 20)),
                    shouldUpgrade: webSocketUpgrade(api: api)),
                claims: { head in portForwardTarget(head.target) != nil },
                serve: { head, rest, channel, logger in
                    await servePlainSPDY(api: api, head: head, rest: rest, channel: channel, logger: logger)
                })
        }
    }

    /// Namespace and pod of `/api/v1/namespaces/<ns>/pods/<name>/portforward[?…]`.
    static func portForwardTarget(_ target: String) -> (namespace: String, name: String)? {
        let path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        let segs = path.split(separator: "/").map(String.init)
        guard segs.count == 7, segs[0] == "api", segs[1] == "v1", segs[2] == "namespaces", segs[4] == "pods", segs[6] == "portforward"
        else { return nil }
        return (segs[3], segs[5])
    }

    /// kubectl's fallback (and client-go's SPDY dialer): `POST …/portforward` with
    /// `Upgrade: SPDY/3.1` and `X-Stream-Protocol-Version: portforward.k8s.io`. After the 101
    /// the connection carries the same SPDY bytes as the WebSocket tunnel, so they go to the
    /// node agent through that tunnel, unread.
    static func servePlainSPDY(api: APIServer, head: RawRequestHead, rest: ByteBuffer, channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>,
                               logger: Logger) async
    {
        do {
            try await channel.executeThenClose { inbound, outbound in
                func fail(_ status: Status) async throws {
                    let body = (try? JSONEncoder().encode(status)) ?? Data()
                    var b = ByteBuffer(string: "HTTP/1.1 \(status.code ?? 500) \(reasonPhrase(status.code ?? 500))\r\n"
                                       + "Content-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n")
                    b.writeBytes(body)
                    try await outbound.write(b)
                }
                guard let (ns, name) = portForwardTarget(head.target) else { return }
                // X-Stream-Protocol-Version, as httpstream.Handshake negotiates it
                let offered = (head.header(PortForwardProtocol.protocolVersionHeader) ?? "").split(separator: ",")
                    .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                if !offered.isEmpty && !offered.contains(PortForwardProtocol.v1) {
                    try await fail(Status(message: "unable to upgrade: unable to negotiate protocol: client supports \(offered), server supports [\(PortForwardProtocol.v1)]",
                                          reason: "Forbidden", code: 403))
                    return
                }
                guard let pods = api.registry.lookup(group: "", version: "v1", resource: "pods"),
                    let pod = try? await api.get(pods, namespace: ns, name: name), !pod.isNull
                else {
                    try await fail(Status(message: "pods \"\(name)\" not found", reason: "NotFound", code: 404,
                                          details: StatusDetails(name: name, kind: "pods")))
                    return
                }
                guard let node = pod.value(at: ["spec", "nodeName"])?.stringValue, !node.isEmpty else {
                    try await fail(Status(message: "pod \(name) does not have a host assigned", reason: "BadRequest", code: 400))
                    return
                }
                let base: String
                do { base = try await KubeletProxy(api: api).kubeletURL(node) } catch let s as Status {
                    try await fail(s)
                    return
                }
                let url = "ws" + base.dropFirst(4) + "/portForward/\(ns)/\(name)"
                let config = WebSocketClientConfiguration(maxFrameSize: 1 << 20,
                                                          additionalHeaders: [.secWebSocketProtocol: PortForwardProtocol.tunneledV1])
                let upgraded = NIOLockedValueBox(false)
                do {
                    try await WebSocketClient.connect(url: url, configuration: config, logger: logger) { kin, kout, _ in
                        upgraded.withLockedValue { $0 = true }
                        var ack = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: \(SPDY.upgrade)\r\n"
                        if !offered.isEmpty { ack += "\(PortForwardProtocol.protocolVersionHeader): \(PortForwardProtocol.v1)\r\n" }
                        try await outbound.write(ByteBuffer(string: ack + "\r\n"))
                        await withTaskGroup(of: Void.self) { g in
                            g.addTask {
                                do {
                                    if rest.readableBytes > 0 { try await kout.write(.binary(rest)) }
                                    for try await b in inbound { try await kout.write(.binary(b)) }
                                } catch {}
                            }
                            g.addTask {
                                do {
                                    for try await frame in kin where frame.opcode != .text { try await outbound.write(frame.data) }
                                } catch {}
                            }
                            await g.next()
                            g.cancelAll()
                        }
                    }
                } catch {
                    logger.info("port-forward to \(ns)/\(name): kubelet tunnel \(url): \(error)")
                    if !upgraded.withLockedValue({ $0 }) {
                        try await fail(Status(message: "error dialing backend: \(error)", reason: "InternalError", code: 500))
                    }
                }
            }
        } catch {
            logger.debug("port-forward SPDY connection ended: \(error)")
        }
    }

    static func reasonPhrase(_ code: Int32) -> String {
        switch code {
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        default: "Internal Server Error"
        }
    }
}
