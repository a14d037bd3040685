import Foundation
import HTTPTypes
package import HummingbirdCore
import HummingbirdWebSocket
import KubeAPI
import Logging
import NIOCore
import Runtime

/// The Kubernetes remote-command protocol over WebSocket (`v5.channel.k8s.io`, and
/// `v4.channel.k8s.io`): every binary message starts with its channel — 0 stdin, 1 stdout,
/// 2 stderr, 3 the final `Status` (exit code), 4 terminal resize, 255 close (v5: the client
/// closed stdin).
package enum RemoteCommand {
    package static let protocols = ["v5.channel.k8s.io", "v4.channel.k8s.io"]
    package static let stdin: UInt8 = 0, stdout: UInt8 = 1, stderr: UInt8 = 2, error: UInt8 = 3, resize: UInt8 = 4, close: UInt8 = 255

    /// The first protocol we speak among those the client offers.
    package static func negotiate(_ header: String?) -> String? {
        let offered = (header ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return protocols.first { offered.contains($0) }
    }

    /// The status kubectl reads the exit code from.
    package static func status(exitCode: Int32, command: [String]) -> String {
        if exitCode == 0 { return #"{"metadata":{},"status":"Success"}"# }
        let cmd = "[" + command.joined(separator: " ") + "]"
        return """
            {"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command \(cmd), exit code \(exitCode)","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"\(exitCode)"}]}}
            """
    }

    static func failure(_ message: String) -> String {
        let m = message.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: " ")
        return #"{"metadata":{},"status":"Failure","message":""# + m + #"","reason":"InternalError","code":500}"#
    }
}

/// Reads a pipe on a thread of its own and hands the chunks over as an AsyncStream.
func pipeChunks(_ handle: FileHandle) -> AsyncStream<Data> {
    AsyncStream { cont in
        let t = Thread {
            while true {
                let d = handle.availableData
                if d.isEmpty { break }
                cont.yield(d)
            }
            cont.finish()
        }
        t.start()
    }
}

extension KubeletServer {
    /// WebSocket upgrades for `/exec/<ns>/<pod>/<container>?command=…&stdin=…`.
    package static func upgrade(source: KubeletServerSource) -> HTTPServerBuilder {
        .http1WebSocketUpgrade(configuration: .init(ws: .init(maxFrameSize: 1 << 20))) { request, _, logger in
            let path = request.path ?? ""
            let (p, query) = path.split(separator: "?", maxSplits: 1).map(String.init).pair
            let segs = p.split(separator: "/").map(String.init)
            if segs.first == "portForward" { return await portForwardUpgrade(request: request, segments: segs, source: source, logger: logger) }
            guard segs.count == 4, segs[0] == "exec" || segs[0] == "attach",
                let proto = RemoteCommand.negotiate(request.headerFields[.secWebSocketProtocol])
            else { return .dontUpgrade }
            var command: [String] = []
            var flags: [String: String] = [:]
            for item in (query ?? "").split(separator: "&") {
                let kv = item.split(separator: "=", maxSplits: 1).map {
                    String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
                }
                if kv[0] == "command" { command.append(kv.count > 1 ? kv[1] : "") } else { flags[kv[0]] = kv.count > 1 ? kv[1] : "" }
            }
            let ns = segs[1], name = segs[2], container = segs[3], attach = segs[0] == "attach"
            let cmd = command, wantsStdin = flags["stdin"] == "true" || flags["stdin"] == "1"
            return .upgrade([.secWebSocketProtocol: proto]) { inbound, outbound, _ in
                func send(_ channel: UInt8, _ data: some Sequence<UInt8>) async throws {
                    var b = ByteBuffer()
                    b.writeInteger(channel)
                    b.writeBytes(data)
                    try await outbound.write(.binary(b))
                }
                guard !attach else {
                    try await send(RemoteCommand.error, Array(RemoteCommand.failure("attach is not supported by this node yet").utf8))
                    return
                }
                guard let id = await source.runningContainer(namespace: ns, pod: name, container: container) else {
                    try await send(RemoteCommand.error, Array(RemoteCommand.failure("container \(container) in pod \(ns)/\(name) is not running").utf8))
                    return
                }
                let session: ExecSession
                do { session = try await source.runtime.exec(id, cmd: cmd) } catch {
                    try await send(RemoteCommand.error, Array(RemoteCommand.failure("\(error)").utf8))
                    return
                }
                if !wantsStdin { try? session.stdin.close() }
                let out = pipeChunks(session.stdout), err = pipeChunks(session.stderr)
                let stdinTask = Task {
                    guard wantsStdin else { return }
                    do {
                        for try await message in inbound.messages(maxSize: 1 << 20) {
                            guard case .binary(var b) = message, let ch: UInt8 = b.readInteger() else { continue }
                            if ch == RemoteCommand.stdin, let bytes = b.readBytes(length: b.readableBytes), !bytes.isEmpty {
                                try session.stdin.write(contentsOf: bytes)
                            } else if ch == RemoteCommand.close {
                                break
                            }
                        }
                    } catch {}
                    try? session.stdin.close()
                }
                await withTaskGroup(of: Void.self) { g in
                    g.addTask { for await d in out { try? await send(RemoteCommand.stdout, d) } }
                    g.addTask { for await d in err { try? await send(RemoteCommand.stderr, d) } }
                }
                let code = await session.wait()
                stdinTask.cancel()
                try await send(RemoteCommand.error, Array(RemoteCommand.status(exitCode: code, command: cmd).utf8))
                logger.debug("exec \(cmd) in \(ns)/\(name)/\(container) exited \(code)")
            }
        }
    }
}

extension KubeletServerSource {
    /// The running container `container` of pod ns/name, by runtime id.
    func runningContainer(namespace: String, pod name: String, container: String) async -> String? {
        guard let pod = await pods().first(where: { $0.namespace == namespace && $0.name == name }) else { return nil }
        return ((try? await runtime.listContainers(sandboxID: nil)) ?? [])
            .filter { $0.labels[RuntimeLabels.podUID] == pod.uid && $0.containerName == container && $0.state == .running }
            .max { $0.attempt < $1.attempt }?.id
    }
}

extension Array where Element == String {
    var pair: (String, String?) { (first ?? "", count > 1 ? self[1] : nil) }
}
