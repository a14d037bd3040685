import Foundation
import Glibc
@testable import NodeAgent
@testable import Runtime
import Testing

/// Debian's python3-grpcio: the reference gRPC implementation, as the server the probe talks to.
/// (A file check, not running python: traits are evaluated on the shared cooperative pool.)
let grpcPythonAvailable = FileManager.default.fileExists(atPath: "/usr/lib/python3/dist-packages/grpc/__init__.py")

let healthServerScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("integration/Fixtures/grpc_health_server.py").path

/// The fixture server on 127.0.0.1 with a status file the test rewrites; killed by pid.
final class HealthServer: @unchecked Sendable {
    let dir: String
    let process: ChildProcess
    let port: Int

    init(status: String, health: Bool = true) async throws {
        dir = NSTemporaryDirectory() + "grpc-health-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try status.write(toFile: dir + "/status", atomically: true, encoding: .utf8)
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(devNull) }
        process = try ChildProcess("/usr/bin/python3", [healthServerScript, "127.0.0.1", "0", dir + "/status"] + (health ? [] : ["--no-health"]),
                                   fds: [devNull, devNull, 2])
        let deadline = Date().addingTimeInterval(20)
        var port: Int?
        while port == nil, Date() < deadline {
            port = (try? String(contentsOfFile: dir + "/status.port", encoding: .utf8)).flatMap { Int($0) }
            if port == nil { try await Task.sleep(nanoseconds: 20_000_000) }
        }
        guard let port else {
            kill(process.pid, SIGKILL)
            _ = process.waitBlocking()
            throw RuntimeError(.timeout, "the gRPC health server did not start")
        }
        self.port = port
    }

    func set(_ status: String) throws { try status.write(toFile: dir + "/status", atomically: true, encoding: .utf8) }

    func stop() {
        kill(process.pid, SIGKILL)
        _ = process.waitBlocking()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

@Suite struct GRPCProbeMessageTests {
    @Test func requestAndResponseMessages() {
        #expect(GRPCProbe.requestMessage(service: "") == [0, 0, 0, 0, 0])
        #expect(GRPCProbe.requestMessage(service: "ab") == [0, 0, 0, 0, 4, 0x0a, 2, 0x61, 0x62])
        let long = String(repeating: "x", count: 200)
        #expect(Array(GRPCProbe.requestMessage(service: long).prefix(8)) == [0, 0, 0, 0, 203, 0x0a, 0xc8, 0x01])
        #expect(GRPCProbe.servingStatus([0, 0, 0, 0, 2, 0x08, 1]) == 1)
        #expect(GRPCProbe.servingStatus([0, 0, 0, 0, 0]) == 0, "proto3: an absent status is UNKNOWN")
        // unknown fields are skipped, a truncated message is refused
        #expect(GRPCProbe.servingStatus([0, 0, 0, 0, 5, 0x12, 1, 0x41, 0x08, 2]) == 2)
        #expect(GRPCProbe.servingStatus([0, 0, 0, 0, 9, 0x08]) == nil)
        #expect(GRPCProbe.goDuration(1) == "1s" && GRPCProbe.goDuration(2.5) == "2.5s")
    }
}

@Suite(.serialized, .enabled(if: grpcPythonAvailable, "needs python3-grpcio (scripts/setup.sh installs it)"))
struct GRPCProbeTests {
    @Test func servingStatusesAndServices() async throws {
        let server = try await HealthServer(status: "SERVING")
        defer { server.stop() }
        func probe(_ service: String) async -> NetProbe.Outcome {
            await GRPCProbe.check(host: "127.0.0.1", port: server.port, service: service, timeout: 20)
        }
        var r = await probe("")
        #expect(r == .success("service healthy"), "\(r)")
        r = await probe("named")
        #expect(r == .success("service healthy"), "\(r)")
        try server.set("NOT_SERVING")
        r = await probe("")
        #expect(r == .failure(#"service unhealthy (responded with "NOT_SERVING")"#), "\(r)")
        try server.set("UNKNOWN")
        r = await probe("")
        #expect(r == .failure(#"service unhealthy (responded with "UNKNOWN")"#), "\(r)")
        r = await probe("other")
        #expect(r == .failure("error: health rpc probe failed: rpc error: code = NotFound desc = unknown service"), "\(r)")
    }

    @Test func serverWithoutTheHealthService() async throws {
        let server = try await HealthServer(status: "SERVING", health: false)
        defer { server.stop() }
        let r = await GRPCProbe.check(host: "127.0.0.1", port: server.port, service: "", timeout: 20)
        guard case .failure(let msg) = r else {
            Issue.record("expected a failure, got \(r)")
            return
        }
        #expect(msg.hasPrefix("error: this server does not implement the grpc health protocol (grpc.health.v1.Health): "), "\(msg)")
    }

    @Test func nothingListeningAndSilentPeerTimeOut() async throws {
        // a port nobody listens on: the dial retries until the deadline, as grpc-go's blocking dial
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        let start = Date()
        let refused = await GRPCProbe.check(host: "127.0.0.1", port: port, service: "", timeout: 1)
        #expect(refused == .failure("timeout: failed to connect service \"127.0.0.1:\(port)\" within 1s: context deadline exceeded"), "\(refused)")
        #expect(Date().timeIntervalSince(start) >= 0.9)
        // listening but never answering (no HTTP/2 SETTINGS, no response): the call times out
        listen(s, 4)
        defer { close(s) }
        let silent = await GRPCProbe.check(host: "127.0.0.1", port: port, service: "", timeout: 1)
        #expect(silent == .failure("timeout: health rpc did not complete within 1s"), "\(silent)")
    }
}
