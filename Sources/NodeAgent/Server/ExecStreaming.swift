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
/// 2 stderr, 3 the final `Status` (exit code), 4 terminal resize (JSON width and height),
/// 255 close (v5: the client closed the stream named by the next byte, stdin).
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

    /// A resize message: `{"Width":80,"Height":24}`.
    package static func terminalSize(_ bytes: [UInt8]) -> (width: UInt16, height: UInt16)? {
        struct Size: Decodable {
            var Width: UInt16
            var Height: UInt16
        }
        guard let s = try? JSONDecoder().decode(Size.self, from: Data(bytes)) else { return nil }
        return (s.Width, s.Height)
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
    /// WebSocket upgrades for `/exec/<ns>/<pod>/<container>?command=…&stdin=…&tty=…` and
    /// `/attach/<ns>/<pod>/<container>?stdin=…&tty=…`.
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
            func flag(_ key: String) -> Bool { flags[key] == "true" || flags[key] == "1" }
            let cmd = command, wantsStdin = flag("stdin"), tty = flag("tty")
            // With a terminal everything is on stdout: kubectl opens no stderr stream then.
            let outChannel = flag("stdout") || flags["stdout"] == nil ? RemoteCommand.stdout : nil
            let errChannel = tty ? outChannel : flag("stderr") || flags["stderr"] == nil ? RemoteCommand.stderr : nil
            return .upgrade([.secWebSocketProtocol: proto]) { inbound, outbound, _ in
                func send(_ channel: UInt8, _ data: some Sequence<UInt8>) async throws {
                    var b = ByteBuffer()
                    b.writeInteger(channel)
                    b.writeBytes(data)
                    try await outbound.write(.binary(b))
                }
                guard let id = await source.runningContainer(namespace: ns, pod: name, container: container) else {
                    try await send(RemoteCommand.error, Array(RemoteCommand.failure("container \(container) in pod \(ns)/\(name) is not running").utf8))
                    return
                }
                // kubectl's input: stdin bytes, terminal sizes, and (v5) the end of stdin.
                func readInput(stdin: @escaping @Sendable ([UInt8]) async throws -> Void,
                               resize: @escaping @Sendable (UInt16, UInt16) async throws -> Void,
                               endOfStdin: @escaping @Sendable () async throws -> Void) -> Task<Void, Never> {
                    Task {
                        do {
                            for try await message in inbound.messages(maxSize: 1 << 20) {
                                guard case .binary(var b) = message, let ch: UInt8 = b.readInteger() else { continue }
                                let bytes = b.readBytes(length: b.readableBytes) ?? []
                                switch ch {
                                case RemoteCommand.stdin where wantsStdin && !bytes.isEmpty: try await stdin(bytes)
                                case RemoteCommand.resize:
                                    if let size = RemoteCommand.terminalSize(bytes) { try await resize(size.width, size.height) }
                                case RemoteCommand.close where bytes.first == RemoteCommand.stdin: try await endOfStdin()
                                default: break
                                }
                            }
                        } catch {}
                        if wantsStdin { try? await endOfStdin() }
                    }
                }
                if attach {
                    let session: AttachSession
                    do { session = try await source.runtime.attach(id, stdin: wantsStdin) } catch {
                        try await send(RemoteCommand.error, Array(RemoteCommand.failure("\(error)").utf8))
                        return
                    }
                    let input = readInput(stdin: { try await session.write($0) },
                                          resize: { try await session.resize(width: $0, height: $1) },
                                          endOfStdin: { try await session.closeStdin() })
                    // Ends when the container exits, or when kubectl goes away (then detach).
                    let watchdog = Task {
                        await input.value
                        session.detach()
                    }
                    for await (stream, data) in session.output {
                        if let ch = stream == .stdout ? outChannel : errChannel { try? await send(ch, data) }
                    }
                    input.cancel()
                    watchdog.cancel()
                    try? await send(RemoteCommand.error, Array(RemoteCommand.status(exitCode: 0, command: []).utf8))
                    logger.debug("attach to \(ns)/\(name)/\(container) ended")
                    return
                }
                // kubectl sends its terminal's size first thing whenever it asks for one.
                let session: ExecSession
                do { session = try await source.runtime.exec(id, cmd: cmd, tty: tty, sizeFollows: tty) } catch {
                    try await send(RemoteCommand.error, Array(RemoteCommand.failure("\(error)").utf8))
                    return
                }
                if !wantsStdin { try? session.stdin.close() }
                let out = pipeChunks(session.stdout), err = pipeChunks(session.stderr)
                let stdinClosed = OnceFlag()
                let input = readInput(stdin: { bytes in try await writeOffPool(session.stdin, bytes) },
                                      resize: { session.resize(width: $0, height: $1) },
                                      endOfStdin: { if stdinClosed.claim() { try? session.stdin.close() } })
                await withTaskGroup(of: Void.self) { g in
                    g.addTask { for await d in out { if let ch = outChannel { try? await send(ch, d) } } }
                    g.addTask { for await d in err { if let ch = errChannel { try? await send(ch, d) } } }
                }
                let code = await session.wait()
                input.cancel()
                try await send(RemoteCommand.error, Array(RemoteCommand.status(exitCode: code, command: cmd).utf8))
                logger.debug("exec \(cmd) in \(ns)/\(name)/\(container) exited \(code)")
            }
        }
    }
}

/// Writes to a pipe on a thread of its own (see `onOwnThread`): a process that does not read
/// its stdin must not block a thread of the cooperative pool, nor one of dispatch's.
func writeOffPool(_ handle: FileHandle, _ bytes: [UInt8]) async throws {
    try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Void, any Error>) in
        detachThread {
            do {
                try handle.write(contentsOf: bytes)
                cont.resume()
            } catch { cont.resume(throwing: error) }
        }
    }
}

/// True for the first caller only.
final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    func claim() -> Bool {
        lock.withLock {
            defer { done = true }
            return !done
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
