import Foundation
import Glibc
import Testing
@testable import Runtime

/// A minimal HTTP/1.1 server on 127.0.0.1 that demands a bearer token, like Docker Hub:
/// 401 + WWW-Authenticate → /token → retry with the token.
final class FakeTokenRegistry: @unchecked Sendable {
    let fd: Int32
    let port: UInt16
    let manifest: Data
    private let lock = NSLock()
    private var _seen: [String] = []
    var seen: [String] { lock.withLock { _seen } }

    init(manifest: Data) throws {
        self.manifest = manifest
        let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, len) == 0 && getsockname(sock, $0, &len) == 0 }
        }
        guard ok, listen(sock, 8) == 0 else { throw RuntimeError.sys("bind/listen", "127.0.0.1") }
        fd = sock
        port = UInt16(bigEndian: addr.sin_port)
        let thread = Thread { [self] in self.serve(max: 10) }
        thread.start()
    }

    private func serve(max: Int) {
        for _ in 0..<max {
            let c = accept(fd, nil, nil)
            if c < 0 { return }
            var buf = [UInt8](repeating: 0, count: 8192)
            var req = Data()
            while !String(decoding: req, as: UTF8.self).contains("\r\n\r\n") {
                let n = read(c, &buf, buf.count)
                if n <= 0 { break }
                req.append(contentsOf: buf[0..<n])
            }
            let text = String(decoding: req, as: UTF8.self)
            let line = text.split(separator: "\r\n").first.map(String.init) ?? ""
            let auth = text.split(separator: "\r\n").first { $0.lowercased().hasPrefix("authorization:") }.map(String.init) ?? ""
            lock.withLock { _seen.append(line + (auth.isEmpty ? "" : " | " + auth)) }
            let path = line.split(separator: " ").dropFirst().first.map(String.init) ?? ""
            var status = "200 OK", headers = "", body = Data()
            if path.hasPrefix("/token") {
                body = Data(#"{"token":"sekrit"}"#.utf8)
            } else if !auth.contains("Bearer sekrit") {
                status = "401 Unauthorized"
                headers = "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:\(port)/token\",service=\"fake\",scope=\"repository:app:pull\"\r\n"
            } else {
                headers = "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n"
                body = manifest
            }
            let head = "HTTP/1.1 \(status)\r\n\(headers)Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
            let out = Data(head.utf8) + body
            _ = out.withUnsafeBytes { write(c, $0.baseAddress, $0.count) }
            close(c)
        }
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}

@Suite struct RegistryAuthTests {
    @Test func bearerTokenChallengeIsAnswered() async throws {
        let manifest = Data(#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:aa"},"layers":[]}"#.utf8)
        let server = try FakeTokenRegistry(manifest: manifest)
        defer { server.stop() }
        let (digest, m) = try await RegistryClient().manifest(try ImageReference("127.0.0.1:\(server.port)/app:v1"))
        #expect(digest == "sha256:" + RegistryClient.sha256(manifest))
        #expect((m["config"] as? [String: Any])?["digest"] as? String == "sha256:aa")
        let seen = server.seen
        #expect(seen.count == 3, "\(seen)")
        #expect(seen.first?.hasPrefix("GET /v2/app/manifests/v1 ") == true)
        #expect(seen.dropFirst().first?.hasPrefix("GET /token?service=fake&scope=repository:app:pull ") == true)
        #expect(seen.last?.hasSuffix("Bearer sekrit") == true)
    }
}
