import CShim
import Foundation
import Glibc

/// The runtime's half of port forwarding (the CRI's `PortForward`): a TCP connection to
/// `localhost:<port>` as seen from inside a pod sandbox's network namespace. The socket is
/// made inside the namespace (setns on a helper thread only, in CShim) and keeps belonging to
/// it, so the agent relays a pod's loopback-only port without joining the pod's network.
package enum SandboxPortDialer {
    package struct DialError: Error, CustomStringConvertible, Sendable {
        package var description: String
    }

    /// How long a connect may wait for a pod whose listen backlog is full.
    static let connectTimeout = timeval(tv_sec: 20, tv_usec: 0)

    /// Connects to 127.0.0.1:`port`, then to [::1]:`port`, inside the namespace at `netnsPath`
    /// (nil: the agent's own, for hostNetwork pods). `sandbox` only names it in errors, worded
    /// as containerd words them. Returns a connected socket descriptor the caller owns. The
    /// blocking work runs on a thread of its own, never on the cooperative pool.
    package static func connect(netnsPath: String?, sandbox: String, port: UInt16) async throws -> Int32 {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Int32, any Error>) in
            let t = Thread { c.resume(with: Result { try connectBlocking(netnsPath: netnsPath, sandbox: sandbox, port: port) }) }
            t.name = "portforward-dial"
            t.start()
        }
    }

    static func connectBlocking(netnsPath: String?, sandbox: String, port: UInt16) throws -> Int32 {
        var failures: [String] = []
        for (family, network, host) in [(AF_INET, "tcp4", "127.0.0.1"), (AF_INET6, "tcp6", "[::1]")] {
            var fd: Int32
            if let netnsPath {
                fd = swl_cni_socket_in_netns(netnsPath, family, Int32(SOCK_STREAM.rawValue), 0)
                if fd < 0 && family == AF_INET {
                    // no IPv4 socket there means the namespace itself is unusable
                    throw DialError(description: "failed to execute portforward in network namespace \"\(netnsPath)\": "
                                    + "failed to enter it: \(goErrno(-fd))")
                }
                if fd < 0 { errno = -fd }
            } else {
                fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            }
            if fd < 0 {
                // e.g. IPv6 disabled in the namespace
                failures.append("dial \(network) \(host):\(port): socket: \(goErrno(errno))")
                continue
            }
            var tv = connectTimeout
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let rc: Int32
            if family == AF_INET {
                var a = sockaddr_in()
                a.sin_family = sa_family_t(AF_INET)
                a.sin_port = port.bigEndian
                a.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
                rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            } else {
                var a = sockaddr_in6()
                a.sin6_family = sa_family_t(AF_INET6)
                a.sin6_port = port.bigEndian
                a.sin6_addr = in6addr_loopback
                rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
            }
            if rc == 0 {
                var none = timeval()
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, socklen_t(MemoryLayout<timeval>.size))
                return fd
            }
            let e = errno
            close(fd)
            failures.append("dial \(network) \(host):\(port): connect: \(goErrno(e))")
        }
        let inside = "failed to connect to localhost:\(port) inside namespace \"\(sandbox)\", IPv4: \(failures[0]) IPv6 \(failures[1]) "
        guard let netnsPath else { throw DialError(description: inside) }
        throw DialError(description: "failed to execute portforward in network namespace \"\(netnsPath)\": \(inside)")
    }

    /// strerror as Go prints syscall errors: "connection refused", not "Connection refused".
    static func goErrno(_ e: Int32) -> String {
        let s = String(cString: strerror(e))
        return s.prefix(1).lowercased() + s.dropFirst()
    }
}
