import HTTPTypes
import HummingbirdCore
import HummingbirdWSClient
import HummingbirdWebSocket
import KubeAPI
import Logging
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
        guard let pods = await api.registry.lookup(group: "", version: "v1", resource: "pods"),
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
}
