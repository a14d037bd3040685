package import Foundation
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import Synchronization

/// The gRPC health checking protocol (`grpc.health.v1.Health/Check`) over cleartext HTTP/2,
/// as the kubelet's gRPC probe calls it: connect (retrying until the deadline, as grpc-go's
/// blocking dial does), one unary call, success only for `SERVING`; the kubelet's wording.
package enum GRPCProbe {
    /// `HealthCheckResponse.ServingStatus` names.
    static let statusNames = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"]
    /// gRPC status code names as grpc-go prints them.
    static let codeNames = ["OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
                            "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
                            "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"]

    /// Go's time.Duration text for whole or fractional seconds ("1s", "1.5s").
    static func goDuration(_ t: TimeInterval) -> String {
        t == t.rounded() ? "\(Int(t))s" : "\(t)s"
    }

    /// `HealthCheckRequest{service}` framed as one gRPC message (uncompressed).
    static func requestMessage(service: String) -> [UInt8] {
        var proto: [UInt8] = []
        if !service.isEmpty {
            let s = Array(service.utf8)
            proto.append(0x0a)  // field 1, length-delimited
            var n = s.count
            while n >= 0x80 {
                proto.append(UInt8(n & 0x7f) | 0x80)
                n >>= 7
            }
            proto.append(UInt8(n))
            proto += s
        }
        let len = UInt32(proto.count)
        return [0, UInt8(len >> 24), UInt8((len >> 16) & 0xff), UInt8((len >> 8) & 0xff), UInt8(len & 0xff)] + proto
    }

    /// The `status` field of a framed `HealthCheckResponse` (0 when absent, as proto3 decodes).
    static func servingStatus(_ framed: [UInt8]) -> Int? {
        guard framed.count >= 5, framed[0] == 0 else { return nil }
        let len = Int(framed[1]) << 24 | Int(framed[2]) << 16 | Int(framed[3]) << 8 | Int(framed[4])
        guard framed.count >= 5 + len else { return nil }
        var i = 5, status = 0
        let end = 5 + len
        func varint() -> Int? {
            var v = 0, shift = 0
            while i < end {
                let b = framed[i]
                i += 1
                v |= Int(b & 0x7f) << shift
                if b & 0x80 == 0 { return v }
                shift += 7
                if shift > 63 { return nil }
            }
            return nil
        }
        while i < end {
            guard let key = varint() else { return nil }
            switch key & 7 {
            case 0:
                guard let v = varint() else { return nil }
                if key >> 3 == 1 { status = v }
            case 2:
                guard let l = varint(), i + l <= end else { return nil }
                i += l
            case 1: i += 8
            case 5: i += 4
            default: return nil
            }
        }
        return status
    }

    enum CallError: Error {
        case status(code: Int, message: String)
        case protocolError(String)
    }

    /// Runs the probe against host:port with the whole call bounded by `timeout`.
    package static func check(host: String, port: Int, service: String, timeout: TimeInterval) async -> NetProbe.Outcome {
        let addr = "\(host):\(port)"
        let deadline = Date().addingTimeInterval(timeout)
        var multiplexer: NIOHTTP2Handler.AsyncStreamMultiplexer<Void>?
        var channel: (any Channel)?
        while multiplexer == nil, deadline.timeIntervalSinceNow > 0 {
            do {
                let left = max(deadline.timeIntervalSinceNow, 0.001)
                let (ch, mux) = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connectTimeout(.milliseconds(Int64(left * 1000)))
                    .connect(host: host, port: port) { ch in
                        ch.eventLoop.makeCompletedFuture {
                            let mux = try ch.pipeline.syncOperations.configureAsyncHTTP2Pipeline(mode: .client) { stream in
                                stream.eventLoop.makeSucceededVoidFuture()
                            }
                            return (ch as any Channel, mux)
                        }
                    }
                channel = ch
                multiplexer = mux
            } catch {
                let pause = min(0.1, max(deadline.timeIntervalSinceNow, 0))
                try? await Task.sleep(nanoseconds: UInt64(pause * 1e9))
            }
        }
        guard let multiplexer, let channel else {
            return .failure("timeout: failed to connect service \"\(addr)\" within \(goDuration(timeout)): context deadline exceeded")
        }
        defer { channel.close(promise: nil) }
        // The deadline is the event loop's: it closes the connection, which ends the call
        // even when this task's thread pool is busy. A call that failed because that timer
        // closed the connection timed out, whatever the clock says when the error arrives (the
        // event loop's clock and `Date` differ by a little, and the delay is whole milliseconds).
        let left = max(deadline.timeIntervalSinceNow, 0)
        let expired = Mutex(false)
        let timer = channel.eventLoop.scheduleTask(in: .microseconds(Int64(left * 1e6))) {
            expired.withLock { $0 = true }
            channel.close(promise: nil)
        }
        defer { timer.cancel() }
        let result: Result<[UInt8], any Error>?
        do {
            result = .success(try await call(multiplexer, authority: addr, service: service, deadline: deadline))
        } catch {
            result = expired.withLock({ $0 }) || Date() >= deadline ? nil : .failure(error)
        }
        switch result {
        case nil:
            return .failure("timeout: health rpc did not complete within \(goDuration(timeout))")
        case .failure(CallError.status(let code, let message)):
            if code == 12 {
                return .failure("error: this server does not implement the grpc health protocol (grpc.health.v1.Health): \(message)")
            }
            if code == 4 { return .failure("timeout: health rpc did not complete within \(goDuration(timeout))") }
            let name = code < codeNames.count ? codeNames[code] : "Code(\(code))"
            return .failure("error: health rpc probe failed: rpc error: code = \(name) desc = \(message)")
        case .failure(let error):
            return .failure("error: health rpc probe failed: \(error)")
        case .success(let framed):
            guard let status = servingStatus(framed) else {
                return .failure("error: health rpc probe failed: rpc error: code = Internal desc = grpc: failed to unmarshal the received message")
            }
            if status == 1 { return .success("service healthy") }
            let name = status < statusNames.count ? statusNames[status] : String(status)
            return .failure("service unhealthy (responded with \"\(name)\")")
        }
    }

    /// One unary Check on a new stream: the response message, or the call's gRPC status.
    static func call(_ mux: NIOHTTP2Handler.AsyncStreamMultiplexer<Void>, authority: String, service: String,
                     deadline: Date) async throws -> [UInt8] {
        let stream = try await mux.openStream { ch in
            ch.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<HTTP2Frame.FramePayload, HTTP2Frame.FramePayload>(wrappingChannelSynchronously: ch)
            }
        }
        return try await stream.executeThenClose { inbound, outbound in
            let micros = max(Int(deadline.timeIntervalSinceNow * 1e6), 1)
            let headers: HPACKHeaders = [
                ":method": "POST", ":scheme": "http", ":path": "/grpc.health.v1.Health/Check", ":authority": authority,
                "content-type": "application/grpc", "te": "trailers", "user-agent": "kube-probe/1.35",
                "grpc-timeout": "\(min(micros, 99_999_999))u",
            ]
            // A server may answer from the headers alone (UNIMPLEMENTED, trailers-only) and close
            // the stream before the request body goes out: as grpc-go, the answer read counts
            // then, and a failed write only when no answer came.
            var writeError: (any Error)?
            do {
                try await outbound.write(.headers(.init(headers: headers)))
                try await outbound.write(.data(.init(data: .byteBuffer(ByteBuffer(bytes: requestMessage(service: service))), endStream: true)))
            } catch {
                writeError = error
            }
            var body: [UInt8] = []
            var httpStatus: String?
            for try await payload in inbound {
                switch payload {
                case .headers(let h):
                    if let s = h.headers.first(name: ":status") { httpStatus = s }
                    if let code = h.headers.first(name: "grpc-status").flatMap(Int.init) {
                        let message = h.headers.first(name: "grpc-message").map { $0.removingPercentEncoding ?? $0 } ?? ""
                        if code != 0 { throw CallError.status(code: code, message: message) }
                        return body
                    }
                    if let s = httpStatus, s != "200" {
                        throw CallError.status(code: s == "404" ? 12 : 14, message: "unexpected HTTP status code received from server: \(s)")
                    }
                case .data(let d):
                    if case .byteBuffer(var b) = d.data { body += b.readBytes(length: b.readableBytes) ?? [] }
                case .rstStream(let code):
                    throw CallError.protocolError("stream reset by the server (\(code))")
                default:
                    break
                }
            }
            if let writeError { throw writeError }
            throw CallError.status(code: 13, message: "server closed the stream without sending trailers")
        }
    }
}
