package import Foundation
import Glibc
import Runtime

/// TCP connect and HTTP GET with a deadline, on plain sockets (run off the cooperative pool):
/// what HTTP and TCP probes and HTTP lifecycle hooks need, with Go's error wording.
package enum NetProbe {
    package enum Outcome: Sendable, Equatable {
        case success(String)
        case failure(String)
    }

    /// Runs a blocking probe on a thread of its own (see `onOwnThread`), never on a Swift
    /// concurrency thread.
    static func offload<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await onOwnThread(body)
    }

    /// Connects to host:port within `timeout`; returns the socket or Go's dial error text.
    static func connect(host: String, port: Int, timeout: TimeInterval) -> (Int32, String?) {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { return (-1, "dial tcp \(host):\(port): invalid address") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { return (-1, "dial tcp \(host):\(port): socket: \(String(cString: strerror(errno)))") }
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if r != 0 && errno != EINPROGRESS {
            let e = errno
            close(fd)
            return (-1, "dial tcp \(host):\(port): connect: \(goErrno(e))")
        }
        if r != 0 {
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let n = poll(&p, 1, Int32(timeout * 1000))
            if n <= 0 {
                close(fd)
                return (-1, "dial tcp \(host):\(port): i/o timeout")
            }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err != 0 {
                close(fd)
                return (-1, "dial tcp \(host):\(port): connect: \(goErrno(err))")
            }
        }
        return (fd, nil)
    }

    static func goErrno(_ e: Int32) -> String {
        switch e {
        case ECONNREFUSED: return "connection refused"
        case EHOSTUNREACH: return "no route to host"
        case ENETUNREACH: return "network is unreachable"
        default: return String(cString: strerror(e)).lowercased()
        }
    }

    /// TCP socket probe: success when the connection is established.
    package static func tcp(host: String, port: Int, timeout: TimeInterval) async -> Outcome {
        await offload {
            let (fd, err) = connect(host: host, port: port, timeout: timeout)
            if let err { return .failure(err) }
            close(fd)
            return .success("")
        }
    }

    /// HTTP GET: success for a 2xx/3xx status (redirects are not followed).
    package static func httpGet(scheme: String = "http", host: String, port: Int, path: String, headers: [(String, String)] = [],
                                timeout: TimeInterval) async -> Outcome
    {
        let url = "\(scheme.lowercased())://\(host):\(port)\(path.hasPrefix("/") ? path : "/" + path)"
        if scheme.uppercased() == "HTTPS" { return .failure("Get \"\(url)\": HTTPS probes are not supported yet") }
        let hdrs = headers
        return await offload {
            let deadline = Date().addingTimeInterval(timeout)
            let (fd, err) = connect(host: host, port: port, timeout: timeout)
            if let err { return .failure("Get \"\(url)\": \(err)") }
            defer { close(fd) }
            var req = "GET \(path.isEmpty ? "/" : path) HTTP/1.1\r\nHost: \(host):\(port)\r\n"
            var names = Set<String>()
            for (k, v) in hdrs {
                req += "\(k): \(v)\r\n"
                names.insert(k.lowercased())
            }
            if !names.contains("user-agent") { req += "User-Agent: kube-probe/1.35\r\n" }
            if !names.contains("accept") { req += "Accept: */*\r\n" }
            req += "Connection: close\r\n\r\n"
            let bytes = Array(req.utf8)
            var off = 0
            while off < bytes.count {
                let n = bytes[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n > 0 { off += n; continue }
                if errno == EAGAIN {
                    var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    if poll(&p, 1, Int32(max(deadline.timeIntervalSinceNow, 0) * 1000)) <= 0 {
                        return .failure("Get \"\(url)\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
                    }
                    continue
                }
                return .failure("Get \"\(url)\": write: \(goErrno(errno))")
            }
            var resp: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 4096)
            while resp.count < 10 * 1024 {
                if let nl = resp.firstIndex(of: 0x0a) {
                    let line = String(decoding: resp[..<nl], as: UTF8.self)
                    let parts = line.split(separator: " ")
                    guard parts.count >= 2, let code = Int(parts[1]) else {
                        return .failure("Get \"\(url)\": malformed HTTP response \"\(line)\"")
                    }
                    if (200..<400).contains(code) { return .success("") }
                    return .failure("HTTP probe failed with statuscode: \(code)")
                }
                let left = deadline.timeIntervalSinceNow
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if left <= 0 || poll(&p, 1, Int32(left * 1000)) <= 0 {
                    return .failure("Get \"\(url)\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
                }
                let n = recv(fd, &buf, buf.count, 0)
                if n > 0 { resp += buf[..<n]; continue }
                if n < 0 && errno == EAGAIN { continue }
                return .failure("Get \"\(url)\": EOF")
            }
            return .failure("Get \"\(url)\": response status line too long")
        }
    }
}
