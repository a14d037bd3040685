package import Foundation
import Glibc

/// A connection to a running container's shim over `<state>/attach` (the protocol is in
/// swiftlet-shim's header): the container's output from now on, and — when the container was
/// created with stdin — input, the end of this client's input, and terminal resizes. The
/// output stream finishes when the container has exited or `detach()` was called.
package final class AttachSession: @unchecked Sendable {
    package enum Stream: UInt8, Sendable { case stdout = 1, stderr = 2 }

    package let output: AsyncStream<(Stream, Data)>
    private let fd: Int32
    /// Blocking sends run here, off the cooperative pool; the shim applies backpressure.
    private let writer = DispatchQueue(label: "swiftlet.attach.writer")

    init(stateDir: String, stdin: Bool) throws {
        // Through the directory's fd: container state paths can exceed sun_path's 108 bytes.
        let dir = open(stateDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { throw RuntimeError.sys("open", stateDir) }
        defer { Glibc.close(dir) }
        let s = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw RuntimeError.sys("socket", "attach") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let path = "/proc/self/fd/\(dir)/attach"
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in
            for (i, b) in path.utf8.enumerated() { buf[i] = b }
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            Glibc.close(s)
            if e == ENOENT || e == ECONNREFUSED {
                throw RuntimeError(.invalidState, "container is not running (no attach socket in \(stateDir))")
            }
            throw RuntimeError.sys("connect", stateDir + "/attach", errno: e)
        }
        fd = s
        var cont: AsyncStream<(Stream, Data)>.Continuation!
        output = AsyncStream(bufferingPolicy: .unbounded) { cont = $0 }
        let c = cont!
        if stdin { try sendBlocking([5]) }
        // The reader holds the session (and so its fd) until the shim ends the stream or
        // `detach()` shuts the socket down: the fd is closed in deinit, never under a
        // blocked recv, so its number cannot be reused while this thread still reads it.
        Thread { [self] in
            var buf = [UInt8](repeating: 0, count: 16385)
            while true {
                let n = buf.withUnsafeMutableBytes { recv(self.fd, $0.baseAddress, $0.count, 0) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                if let stream = Stream(rawValue: buf[0]) { c.yield((stream, Data(buf[1..<n]))) }
            }
            c.finish()
        }.start()
    }

    deinit { Glibc.close(fd) }

    private func sendBlocking(_ msg: [UInt8]) throws {
        while true {
            let n = msg.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n >= 0 { return }
            if errno != EINTR { throw RuntimeError.sys("send", "attach") }
        }
    }

    private func transmit(_ msg: [UInt8]) async throws {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Void, any Error>) in
            writer.async {
                do {
                    try self.sendBlocking(msg)
                    cont.resume()
                } catch { cont.resume(throwing: error) }
            }
        }
    }

    /// Sends input to the container's stdin (dropped by the shim if it has none).
    package func write(_ data: some Collection<UInt8>) async throws {
        var rest = Array(data)[...]
        while !rest.isEmpty {
            let chunk = rest.prefix(32768)
            rest = rest.dropFirst(chunk.count)
            try await transmit([0] + chunk)
        }
    }

    /// This client's input has ended (closes the container's stdin when it is `stdinOnce`).
    package func closeStdin() async throws { try await transmit([3]) }

    /// Sets the container's terminal size.
    package func resize(width: UInt16, height: UInt16) async throws {
        try await transmit([4, UInt8(width & 0xff), UInt8(width >> 8), UInt8(height & 0xff), UInt8(height >> 8)])
    }

    /// Detaches: the output stream finishes, the container goes on.
    package func detach() { shutdown(fd, Int32(SHUT_RDWR)) }
}
