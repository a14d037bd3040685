import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWSClient
import HummingbirdWebSocket
import Logging
import KubeAPI
import NIOCore
import NIOHTTP1

/// Forwards the subresources that only a node agent can answer to that node's kubelet API, as
/// kube-apiserver does: `pods/log` → `/containerLogs/…` (streamed, so `kubectl logs -f`
/// works) and `nodes/proxy/<path>` → `<path>`. The kubelet is found through the Node's
/// InternalIP and `daemonEndpoints.kubeletEndpoint.Port`.
struct KubeletProxy {
    static let subresources: Set<String> = ["log", "exec", "attach", "portforward", "proxy"]
    let api: APIServer

    func serve(_ request: Request, _ r: ResourceInfo, namespace: String?, name: String, sub: String, rest: [String],
               query: String?) async throws -> Response
    {
        switch (r.resource, sub) {
        case ("pods", "log"):
            let pod = try await api.get(r, namespace: namespace, name: name)
            if pod.isNull { throw APIError.notFound(r, name) }
            let q = APIHTTPResponder.Query(query)
            var container = q["container"] ?? ""
            let names = (pod.value(at: ["spec", "containers"])?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            let initNames = (pod.value(at: ["spec", "initContainers"])?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            if container.isEmpty {
                guard names.count == 1 else {
                    throw Status(message: "a container name must be specified for pod \(name), choose one of: [\(names.joined(separator: " "))]",
                                 reason: "BadRequest", code: 400)
                }
                container = names[0]
            } else if !names.contains(container) && !initNames.contains(container) {
                throw Status(message: "container \(container) is not valid for pod \(name)", reason: "BadRequest", code: 400)
            }
            guard let node = pod.value(at: ["spec", "nodeName"])?.stringValue, !node.isEmpty else {
                throw Status(message: "pod \(name) does not have a host assigned", reason: "BadRequest", code: 400)
            }
            var params: [String] = []
            for k in ["follow", "previous", "timestamps", "tailLines", "sinceSeconds", "limitBytes"] {
                if let v = q[k] { params.append("\(k)=\(v)") }
            }
            let path = "/containerLogs/\(namespace ?? "default")/\(name)/\(container)" + (params.isEmpty ? "" : "?" + params.joined(separator: "&"))
            return try await forward(node: node, path: path, method: .GET)
        case ("nodes", "proxy"):
            let path = "/" + rest.joined(separator: "/") + (query.map { "?" + $0 } ?? "")
            return try await forward(node: name, path: path, method: .GET)
        default:
            throw Status(message: "the server is currently unable to handle the request (\(sub) for \(r.resource) \"\(name)\" needs a streaming connection to the node agent, which is not yet served)",
                         reason: "ServiceUnavailable", code: 503)
        }
    }

    /// The kubelet's base URL from the Node object.
    func kubeletURL(_ node: String) async throws -> String {
        guard let nodes = api.registry.lookup(group: "", version: "v1", resource: "nodes") else {
            throw Status(message: "nodes are not served", reason: "InternalError", code: 500)
        }
        let obj = try await api.get(nodes, namespace: nil, name: node)
        if obj.isNull { throw APIError.notFound(nodes, node) }
        let addrs = obj.value(at: ["status", "addresses"])?.arrayValue ?? []
        let ip = addrs.first { $0["type"]?.stringValue == "InternalIP" }?["address"]?.stringValue
            ?? addrs.first?["address"]?.stringValue
        let port = obj.value(at: ["status", "daemonEndpoints", "kubeletEndpoint", "Port"])?.intValue ?? 10250
        guard let ip else {
            throw Status(message: "no preferred addresses found; known addresses: []", reason: "BadRequest", code: 400)
        }
        return "http://\(ip):\(port)"
    }

    func forward(node: String, path: String, method: NIOHTTP1.HTTPMethod) async throws -> Response {
        let base = try await kubeletURL(node)
        var req = HTTPClientRequest(url: base + path)
        req.method = method
        let resp: HTTPClientResponse
        do {
            resp = try await HTTPClient.shared.execute(req, timeout: .hours(24))
        } catch {
            throw Status(message: "Get \"\(base + path)\": \(error)", reason: "InternalError", code: 500)
        }
        let code = Int(resp.status.code)
        let contentType = resp.headers.first(name: "Content-Type") ?? "text/plain"
        if !(200..<300).contains(code) {
            let body = try await resp.body.collect(upTo: 1 << 20)
            let text = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
            throw Status(message: text.isEmpty ? "kubelet answered \(code)" : text, reason: code == 404 ? "NotFound" : "BadRequest",
                         code: Int32(code == 404 ? 404 : 400))
        }
        let body = resp.body
        return Response(status: .ok, headers: [.contentType: contentType], body: ResponseBody { writer in
            for try await chunk in body { try await writer.write(chunk) }
            try await writer.finish(nil)
        })
    }

    /// WebSocket upgrades for `pods/exec` and `pods/attach`: the API server accepts kubectl's
    /// remote-command WebSocket (v5/v4.channel.k8s.io), opens the same to the node's kubelet
    /// and relays frames both ways until the kubelet closes.
    static func upgrader(api: APIServer) -> HTTPServerBuilder {
        .http1WebSocketUpgrade(configuration: .init(ws: .init(maxFrameSize: 1 << 20)), shouldUpgrade: webSocketUpgrade(api: api))
    }

    static func webSocketUpgrade(api: APIServer)
        -> @Sendable (HTTPRequest, any Channel, Logger) async throws -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>>
    {
        { request, _, logger in
            let full = request.path ?? ""
            let parts = full.split(separator: "?", maxSplits: 1).map(String.init)
            let segs = parts[0].split(separator: "/").map(String.init)
            if segs.count == 7, segs[0] == "api", segs[1] == "v1", segs[2] == "namespaces", segs[4] == "pods", segs[6] == "portforward" {
                return await portForwardUpgrade(api: api, request: request, namespace: segs[3], name: segs[5], logger: logger)
            }
            // api v1 namespaces <ns> pods <name> exec|attach
            guard segs.count == 7, segs[0] == "api", segs[1] == "v1", segs[2] == "namespaces", segs[4] == "pods",
                segs[6] == "exec" || segs[6] == "attach"
            else { return .dontUpgrade }
            let offered = (request.headerFields[.secWebSocketProtocol] ?? "").split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard let proto = ["v5.channel.k8s.io", "v4.channel.k8s.io"].first(where: { offered.contains($0) }) else { return .dontUpgrade }
            let proxy = KubeletProxy(api: api)
            let ns = segs[3], name = segs[5]
            guard let pods = api.registry.lookup(group: "", version: "v1", resource: "pods"),
                let pod = try? await api.get(pods, namespace: ns, name: name), !pod.isNull,
                let node = pod.value(at: ["spec", "nodeName"])?.stringValue, !node.isEmpty,
                let base = try? await proxy.kubeletURL(node)
            else { return .dontUpgrade }
            var container = ""
            var forward: [String] = []
            for item in (parts.count > 1 ? parts[1] : "").split(separator: "&") {
                let kv = item.split(separator: "=", maxSplits: 1).map(String.init)
                if kv[0] == "container" { container = kv.count > 1 ? (kv[1].removingPercentEncoding ?? kv[1]) : "" } else { forward.append(String(item)) }
            }
            if container.isEmpty {
                container = pod.value(at: ["spec", "containers"])?.arrayValue?.first?["name"]?.stringValue ?? ""
            }
            let url = "ws" + base.dropFirst(4) + "/\(segs[6])/\(ns)/\(name)/\(container)?" + forward.joined(separator: "&")
            return .upgrade([.secWebSocketProtocol: proto]) { inbound, outbound, _ in
                let config = WebSocketClientConfiguration(maxFrameSize: 1 << 20, additionalHeaders: [.secWebSocketProtocol: proto])
                try await WebSocketClient.connect(url: url, configuration: config, logger: logger) { kin, kout, _ in
                    await withTaskGroup(of: Void.self) { g in
                        g.addTask {
                            do {
                                for try await m in inbound.messages(maxSize: 1 << 24) {
                                    switch m {
                                    case .binary(let b): try await kout.write(.binary(b))
                                    case .text(let t): try await kout.write(.text(t))
                                    }
                                }
                            } catch {}
                        }
                        g.addTask {
                            do {
                                for try await m in kin.messages(maxSize: 1 << 24) {
                                    switch m {
                                    case .binary(let b): try await outbound.write(.binary(b))
                                    case .text(let t): try await outbound.write(.text(t))
                                    }
                                }
                            } catch {}
                        }
                        await g.next()
                        g.cancelAll()
                    }
                }
            }
        }
    }
}
