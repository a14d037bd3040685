package import NIOCore

/// SPDY/3.1 framing, the transport of `kubectl port-forward` (and of exec/attach before
/// WebSockets): after an `Upgrade: SPDY/3.1` handshake, or inside a WebSocket tunnel, both
/// ends exchange frames. A frame is 8 header bytes and a payload:
///
///     control: 1 | version (15) | type (16) || flags (8) | length (24) || payload
///     data:    0 | stream id (31)           || flags (8) | length (24) || payload
///
/// Go's spdystream (what kubectl, client-go and the kubelet use) implements no flow control:
/// WINDOW_UPDATE and SETTINGS are parsed and ignored on both sides, and so are they here.
package enum SPDY {
    package static let version: UInt16 = 3
    /// The value of the `Upgrade` header for a plain SPDY upgrade.
    package static let upgrade = "SPDY/3.1"
    package static let maxDataLength = (1 << 24) - 1
    /// FLAG_FIN on data and control frames: the sender's half of the stream is closed.
    package static let flagFin: UInt8 = 0x01
    /// FLAG_UNIDIRECTIONAL on SYN_STREAM.
    package static let flagUnidirectional: UInt8 = 0x02

    package enum FrameType: UInt16, Sendable {
        case synStream = 1, synReply = 2, rstStream = 3, settings = 4, ping = 6, goAway = 7, headers = 8, windowUpdate = 9
    }

    /// RST_STREAM status codes.
    package enum RstStatus: UInt32, Sendable {
        case protocolError = 1, invalidStream, refusedStream, unsupportedVersion, cancel, internalError, flowControlError,
            streamInUse, streamAlreadyClosed, invalidCredentials, frameTooLarge
    }
}

/// A malformed frame or a zlib failure; the connection cannot go on after one.
package struct SPDYError: Error, CustomStringConvertible, Equatable {
    package var description: String
    package init(_ description: String) { self.description = description }
}

/// A name/value header block. Names go on the wire in lower case and are matched without
/// regard to case (Go canonicalises `streamtype` to `Streamtype`); several values of one
/// name travel NUL-separated in one entry.
package struct SPDYHeaders: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    package struct Field: Sendable, Equatable {
        package var name: String
        package var value: String
    }

    package var fields: [Field] = []

    package init() {}
    package init(dictionaryLiteral elements: (String, String)...) {
        fields = elements.map { Field(name: $0.0, value: $0.1) }
    }

    /// The first value of `name`, compared case-insensitively.
    package subscript(_ name: String) -> String? {
        let n = name.lowercased()
        return fields.first { $0.name.lowercased() == n }?.value
    }

    package mutating func add(_ name: String, _ value: String) { fields.append(Field(name: name, value: value)) }

    /// Entries in wire form: lower-cased names in first-seen order, values NUL-joined.
    var entries: [(name: String, value: String)] {
        var order: [String] = []
        var values: [String: [String]] = [:]
        for f in fields {
            let n = f.name.lowercased()
            if values[n] == nil { order.append(n) }
            values[n, default: []].append(f.value)
        }
        return order.map { ($0, values[$0]!.joined(separator: "\u{0}")) }
    }
}

/// SETTINGS entry: flags (8) | id (24) | value (32).
package struct SPDYSetting: Sendable, Equatable {
    package var flags: UInt8
    package var id: UInt32
    package var value: UInt32
    package init(flags: UInt8 = 0, id: UInt32, value: UInt32) {
        self.flags = flags
        self.id = id
        self.value = value
    }
}

package enum SPDYFrame: Sendable, Equatable {
    case data(streamID: UInt32, flags: UInt8, payload: ByteBuffer)
    case synStream(streamID: UInt32, associatedTo: UInt32, priority: UInt8, flags: UInt8, headers: SPDYHeaders)
    case synReply(streamID: UInt32, flags: UInt8, headers: SPDYHeaders)
    case rstStream(streamID: UInt32, status: UInt32)
    case settings(flags: UInt8, entries: [SPDYSetting])
    case ping(id: UInt32)
    case goAway(lastGoodStreamID: UInt32, status: UInt32)
    case headers(streamID: UInt32, flags: UInt8, headers: SPDYHeaders)
    case windowUpdate(streamID: UInt32, delta: UInt32)
    /// A control frame of a type SPDY/3 does not define (e.g. CREDENTIAL), or of another version.
    case unknownControl(version: UInt16, type: UInt16, flags: UInt8, payload: ByteBuffer)

    /// An empty data frame with FIN: "I will send no more on this stream".
    package static func fin(_ streamID: UInt32) -> SPDYFrame { .data(streamID: streamID, flags: SPDY.flagFin, payload: ByteBuffer()) }
}

/// Turns bytes from the connection into frames. Owns the connection's inbound header
/// decompressor, so one decoder per connection, fed in order.
package final class SPDYFrameDecoder {
    private var buffer = ByteBuffer()
    private let inflater: SPDYHeaderDecompressor
    /// Upper bound on a frame's payload (the 24-bit length allows 16 MiB).
    package var maxFrameLength = SPDY.maxDataLength

    package init() throws(SPDYError) { inflater = try SPDYHeaderDecompressor() }

    package func append(_ bytes: ByteBuffer) {
        var b = bytes
        buffer.writeBuffer(&b)
    }

    package func append(_ bytes: some Sequence<UInt8>) { buffer.writeBytes(bytes) }

    /// Bytes received but not yet part of a whole frame.
    package var pendingBytes: Int { buffer.readableBytes }

    /// The next whole frame, or nil until more bytes arrive.
    package func next() throws(SPDYError) -> SPDYFrame? {
        guard buffer.readableBytes >= 8,
            let first: UInt32 = buffer.getInteger(at: buffer.readerIndex),
            let flagsLength: UInt32 = buffer.getInteger(at: buffer.readerIndex + 4)
        else { return nil }
        let flags = UInt8(flagsLength >> 24)
        let length = Int(flagsLength & 0xff_ffff)
        guard length <= maxFrameLength else { throw SPDYError("frame of \(length) bytes exceeds the limit of \(maxFrameLength)") }
        guard buffer.readableBytes >= 8 + length else { return nil }
        buffer.moveReaderIndex(forwardBy: 8)
        var payload = buffer.readSlice(length: length)!
        if buffer.readableBytes == 0 { buffer.clear() } else if buffer.readerIndex > 1 << 16 { buffer.discardReadBytes() }
        if first & 0x8000_0000 == 0 {
            let id = first & 0x7fff_ffff
            guard id != 0 else { throw SPDYError("data frame on stream 0") }
            return .data(streamID: id, flags: flags, payload: payload)
        }
        let version = UInt16(first >> 16 & 0x7fff), type = UInt16(first & 0xffff)
        guard version == SPDY.version, let t = SPDY.FrameType(rawValue: type) else {
            return .unknownControl(version: version, type: type, flags: flags, payload: payload)
        }
        func u32(_ what: String) throws(SPDYError) -> UInt32 {
            guard let v: UInt32 = payload.readInteger() else { throw SPDYError("\(t) frame too short for its \(what)") }
            return v
        }
        switch t {
        case .synStream:
            let id = try u32("stream id") & 0x7fff_ffff
            let assoc = try u32("associated stream id") & 0x7fff_ffff
            guard let pri: UInt8 = payload.readInteger(), let _: UInt8 = payload.readInteger() else {
                throw SPDYError("SYN_STREAM too short for its priority and slot")
            }
            guard id != 0 else { throw SPDYError("SYN_STREAM for stream 0") }
            return .synStream(streamID: id, associatedTo: assoc, priority: pri >> 5, flags: flags, headers: try headerBlock(&payload))
        case .synReply:
            let id = try u32("stream id") & 0x7fff_ffff
            return .synReply(streamID: id, flags: flags, headers: try headerBlock(&payload))
        case .headers:
            let id = try u32("stream id") & 0x7fff_ffff
            return .headers(streamID: id, flags: flags, headers: try headerBlock(&payload))
        case .rstStream:
            let id = try u32("stream id") & 0x7fff_ffff
            return .rstStream(streamID: id, status: try u32("status"))
        case .settings:
            let n = try u32("entry count")
            guard Int(n) * 8 <= payload.readableBytes else { throw SPDYError("SETTINGS announces \(n) entries in \(length) bytes") }
            var entries: [SPDYSetting] = []
            for _ in 0..<n {
                let fid = try u32("entry id"), value = try u32("entry value")
                entries.append(SPDYSetting(flags: UInt8(fid >> 24), id: fid & 0xff_ffff, value: value))
            }
            return .settings(flags: flags, entries: entries)
        case .ping:
            return .ping(id: try u32("id"))
        case .goAway:
            let last = try u32("last good stream id") & 0x7fff_ffff
            // SPDY/3 added the status; tolerate a SPDY/2-style frame without it
            let status: UInt32 = payload.readInteger() ?? 0
            return .goAway(lastGoodStreamID: last, status: status)
        case .windowUpdate:
            let id = try u32("stream id") & 0x7fff_ffff
            return .windowUpdate(streamID: id, delta: try u32("delta") & 0x7fff_ffff)
        }
    }

    /// Decompresses and parses a name/value block (the rest of `payload`).
    private func headerBlock(_ payload: inout ByteBuffer) throws(SPDYError) -> SPDYHeaders {
        let compressed = payload.readBytes(length: payload.readableBytes) ?? []
        var block = ByteBuffer(bytes: try inflater.decompress(compressed))
        guard let count: UInt32 = block.readInteger() else { throw SPDYError("header block without a pair count") }
        var headers = SPDYHeaders()
        for i in 0..<count {
            guard let nl: UInt32 = block.readInteger(), let name = block.readString(length: Int(nl)),
                let vl: UInt32 = block.readInteger(), let value = block.readString(length: Int(vl))
            else { throw SPDYError("header block ends inside pair \(i) of \(count)") }
            guard !name.isEmpty else { throw SPDYError("header block has an empty name") }
            for v in value.split(separator: "\u{0}", omittingEmptySubsequences: false) { headers.add(name, String(v)) }
        }
        return headers
    }
}

/// Turns frames into bytes. Owns the connection's outbound header compressor, so one
/// encoder per connection, and frames must reach the wire in the order they were encoded.
package final class SPDYFrameEncoder {
    private let deflater: SPDYHeaderCompressor

    package init() throws(SPDYError) { deflater = try SPDYHeaderCompressor() }

    package func encode(_ frame: SPDYFrame) throws(SPDYError) -> ByteBuffer {
        var out = ByteBuffer()
        try encode(frame, into: &out)
        return out
    }

    package func encode(_ frame: SPDYFrame, into out: inout ByteBuffer) throws(SPDYError) {
        func control(_ type: SPDY.FrameType, _ flags: UInt8, _ body: ByteBuffer) {
            out.writeInteger(UInt16(0x8000) | SPDY.version)
            out.writeInteger(type.rawValue)
            out.writeInteger(UInt32(flags) << 24 | UInt32(body.readableBytes))
            var b = body
            out.writeBuffer(&b)
        }
        var body = ByteBuffer()
        switch frame {
        case .data(let id, let flags, var payload):
            guard id != 0, id & 0x8000_0000 == 0 else { throw SPDYError("data frame for invalid stream \(id)") }
            guard payload.readableBytes <= SPDY.maxDataLength else { throw SPDYError("data frame of \(payload.readableBytes) bytes") }
            out.writeInteger(id)
            out.writeInteger(UInt32(flags) << 24 | UInt32(payload.readableBytes))
            out.writeBuffer(&payload)
        case .synStream(let id, let assoc, let priority, let flags, let headers):
            body.writeInteger(id & 0x7fff_ffff)
            body.writeInteger(assoc & 0x7fff_ffff)
            body.writeInteger(UInt8(priority & 0x7) << 5)
            body.writeInteger(UInt8(0))
            body.writeBytes(try deflater.compress(Self.block(headers)))
            control(.synStream, flags, body)
        case .synReply(let id, let flags, let headers):
            body.writeInteger(id & 0x7fff_ffff)
            body.writeBytes(try deflater.compress(Self.block(headers)))
            control(.synReply, flags, body)
        case .headers(let id, let flags, let headers):
            body.writeInteger(id & 0x7fff_ffff)
            body.writeBytes(try deflater.compress(Self.block(headers)))
            control(.headers, flags, body)
        case .rstStream(let id, let status):
            body.writeInteger(id & 0x7fff_ffff)
            body.writeInteger(status)
            control(.rstStream, 0, body)
        case .settings(let flags, let entries):
            body.writeInteger(UInt32(entries.count))
            for e in entries {
                body.writeInteger(UInt32(e.flags) << 24 | (e.id & 0xff_ffff))
                body.writeInteger(e.value)
            }
            control(.settings, flags, body)
        case .ping(let id):
            body.writeInteger(id)
            control(.ping, 0, body)
        case .goAway(let last, let status):
            body.writeInteger(last & 0x7fff_ffff)
            body.writeInteger(status)
            control(.goAway, 0, body)
        case .windowUpdate(let id, let delta):
            body.writeInteger(id & 0x7fff_ffff)
            body.writeInteger(delta & 0x7fff_ffff)
            control(.windowUpdate, 0, body)
        case .unknownControl(let version, let type, let flags, var payload):
            out.writeInteger(UInt16(0x8000) | version)
            out.writeInteger(type)
            out.writeInteger(UInt32(flags) << 24 | UInt32(payload.readableBytes))
            out.writeBuffer(&payload)
        }
    }

    /// The uncompressed name/value block.
    static func block(_ headers: SPDYHeaders) -> [UInt8] {
        var b: [UInt8] = []
        func u32(_ v: Int) { b += [UInt8(v >> 24 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
        let entries = headers.entries
        u32(entries.count)
        for e in entries {
            u32(e.name.utf8.count)
            b += e.name.utf8
            u32(e.value.utf8.count)
            b += e.value.utf8
        }
        return b
    }
}
