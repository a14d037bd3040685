// Decoding of Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`).
//
// client-go typed clients (kubectl create deployment|configmap|secret|…) send objects in
// Kubernetes' protobuf envelope and never fall back to JSON. The API server works on JSON
// documents, so this file turns such a body into the `JSONValue` the same request would have
// carried as `application/json`.
//
// Envelope: 4 magic bytes "k8s\0", then a runtime.Unknown message
//   1 typeMeta {1 apiVersion, 2 kind}; 2 raw (the object's own message); 3 contentEncoding; 4 contentType.
//
// JSON shape: the wire is read into the field table at the bottom of this file, then rendered
// the way Go's encoding/json renders the decoded Go struct:
//   * Kubernetes' generated marshallers write every non-pointer scalar (even "" / 0 / false);
//     a field marked `?` below is a non-pointer Go field tagged `omitempty`, so its zero value
//     is left out, exactly as JSON would. Pointer fields (`replicas *int32`) carry no `?`
//     and appear whenever they are on the wire, zero or not (replicas: 0 survives).
//   * Nested structs always appear (Go never omits a struct for omitempty); `?` on a message
//     field means `omitzero` (metadata.creationTimestamp).
//   * Time → RFC 3339 seconds ("2006-01-02T15:04:05Z"), zero time → null; MicroTime → six
//     fractional digits; Duration → Go duration text ("1h2m3s"); IntOrString → number or
//     string; Quantity → its string; []byte and map<string,bytes> → base64; FieldsV1 and
//     RawExtension → the embedded JSON document.
//   * Fields marked `^` are Go embedded structs (`json:",inline"` / `json:""`): their fields
//     are merged into the parent object (Volume.volumeSource, Probe.handler, …).
// A field number the table does not know is an error, never silently dropped.

public enum KubeProtobuf {
    /// The media type client-go sends protobuf bodies with.
    public static let mediaType = "application/vnd.kubernetes.protobuf"

    /// Why a protobuf body could not be decoded. `message` names the cause.
    public struct DecodeError: Error, Sendable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { "protobuf: \(message)" }
    }

    /// Decodes a body in Kubernetes' protobuf envelope ("k8s\0" magic + runtime.Unknown) into the
    /// JSON object the same request would have sent as application/json, with `apiVersion` and
    /// `kind` set from the envelope's typeMeta.
    public static func decode(_ bytes: [UInt8]) throws(KubeProtobuf.DecodeError) -> JSONValue {
        guard bytes.count >= 4, bytes[0] == 0x6B, bytes[1] == 0x38, bytes[2] == 0x73, bytes[3] == 0x00 else {
            throw DecodeError("bad magic: body does not start with \"k8s\\0\"")
        }
        let envelope = try Envelope(bytes, from: 4)
        if !envelope.contentEncoding.isEmpty {
            throw DecodeError("unsupported contentEncoding \"\(envelope.contentEncoding)\"")
        }
        if !envelope.contentType.isEmpty && envelope.contentType != mediaType {
            throw DecodeError("unsupported contentType \"\(envelope.contentType)\" in envelope")
        }
        guard !envelope.kind.isEmpty else {
            throw DecodeError("envelope has no kind (apiVersion \"\(envelope.apiVersion)\")")
        }
        let schema = try loadedSchema()
        guard let name = schema.kinds[envelope.apiVersion]?[envelope.kind], let message = schema.messages[name] else {
            throw DecodeError("unknown kind \"\(envelope.kind)\" in \"\(envelope.apiVersion)\"")
        }
        let decoder = Decoder(bytes: bytes, schema: schema)
        var object = try decoder.message(message, envelope.raw)
        object["apiVersion"] = .string(envelope.apiVersion)
        object["kind"] = .string(envelope.kind)
        return .object(object)
    }

    /// Whether `decode` knows the message for this apiVersion ("v1", "apps/v1", …) and kind.
    public static func supports(apiVersion: String, kind: String) -> Bool {
        guard let schema = try? loadedSchema() else { return false }
        return schema.kinds[apiVersion]?[kind] != nil
    }
}

// MARK: - Wire reader

extension KubeProtobuf {
    enum WireType: UInt8 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5

        var name: String {
            switch self {
            case .varint: return "varint"
            case .fixed64: return "64-bit"
            case .lengthDelimited: return "length-delimited"
            case .startGroup: return "start-group"
            case .endGroup: return "end-group"
            case .fixed32: return "32-bit"
            }
        }
    }

    /// A forward-only reader over `bytes[pos..<end]`; nested messages are read by making a
    /// reader over a sub-range of the same array (no copying).
    struct WireReader {
        let bytes: [UInt8]
        var pos: Int
        let end: Int

        init(_ bytes: [UInt8], _ range: Range<Int>) {
            self.bytes = bytes
            self.pos = range.lowerBound
            self.end = range.upperBound
        }

        var atEnd: Bool { pos >= end }

        mutating func varint() throws(DecodeError) -> UInt64 {
            let start = pos
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard pos < end else { throw DecodeError("truncated varint at offset \(start)") }
                let b = bytes[pos]
                pos += 1
                if shift == 63 && b > 1 { throw DecodeError("varint overflows 64 bits at offset \(start)") }
                result |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { return result }
                shift += 7
                if shift > 63 { throw DecodeError("varint longer than 10 bytes at offset \(start)") }
            }
        }

        /// Reads a field key; returns nil at the end of the range.
        mutating func key() throws(DecodeError) -> (number: Int, wire: WireType)? {
            guard pos < end else { return nil }
            let at = pos
            let k = try varint()
            let number = k >> 3
            guard let wire = WireType(rawValue: UInt8(k & 7)) else {
                throw DecodeError("invalid wire type \(k & 7) at offset \(at)")
            }
            guard number >= 1, number <= 536_870_911 else {
                throw DecodeError("invalid field number \(number) at offset \(at)")
            }
            return (Int(number), wire)
        }

        mutating func fixed64() throws(DecodeError) -> UInt64 {
            guard end - pos >= 8 else { throw DecodeError("truncated 64-bit value at offset \(pos)") }
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(bytes[pos + i]) << (8 * UInt64(i)) }
            pos += 8
            return v
        }

        mutating func fixed32() throws(DecodeError) -> UInt32 {
            guard end - pos >= 4 else { throw DecodeError("truncated 32-bit value at offset \(pos)") }
            var v: UInt32 = 0
            for i in 0..<4 { v |= UInt32(bytes[pos + i]) << (8 * UInt32(i)) }
            pos += 4
            return v
        }

        /// Reads a length prefix and returns the range of the payload.
        mutating func lengthDelimited() throws(DecodeError) -> Range<Int> {
            let at = pos
            let n = try varint()
            guard n <= UInt64(end - pos) else {
                throw DecodeError("truncated length-delimited value at offset \(at): length \(n), \(end - pos) bytes left")
            }
            let r = pos..<(pos + Int(n))
            pos += Int(n)
            return r
        }

        func string(_ r: Range<Int>) -> String {
            String(decoding: bytes[r], as: UTF8.self)
        }
    }
}

// MARK: - Envelope

extension KubeProtobuf {
    struct Envelope {
        var apiVersion = ""
        var kind = ""
        var raw: Range<Int>
        var contentEncoding = ""
        var contentType = ""

        init(_ bytes: [UInt8], from start: Int) throws(DecodeError) {
            raw = bytes.count..<bytes.count
            var r = WireReader(bytes, start..<bytes.count)
            while let (number, wire) = try r.key() {
                guard wire == .lengthDelimited else {
                    throw DecodeError("field \(number) of message runtime.Unknown has wire type \(wire.name), want length-delimited")
                }
                let value = try r.lengthDelimited()
                switch number {
                case 1:
                    var t = WireReader(bytes, value)
                    while let (n, w) = try t.key() {
                        guard w == .lengthDelimited else {
                            throw DecodeError("field \(n) of message runtime.TypeMeta has wire type \(w.name), want length-delimited")
                        }
                        let v = try t.lengthDelimited()
                        switch n {
                        case 1: apiVersion = t.string(v)
                        case 2: kind = t.string(v)
                        default: throw DecodeError("unknown field number \(n) in message runtime.TypeMeta")
                        }
                    }
                case 2: raw = value
                case 3: contentEncoding = r.string(value)
                case 4: contentType = r.string(value)
                default: throw DecodeError("unknown field number \(number) in message runtime.Unknown")
                }
            }
        }
    }
}

// MARK: - Schema model

extension KubeProtobuf {
    indirect enum FieldType: Sendable, Equatable {
        case string, int32, int64, bool, bytes, double
        case message(String)
        /// Well-known messages rendered as JSON scalars or documents.
        case time, microTime, duration, intOrString, quantity, rawJSON, stringList
        case repeated(FieldType)
        case map(FieldType)
    }

    struct FieldSpec: Sendable, Equatable {
        var number: Int
        var name: String
        var type: FieldType
        /// Leave the value out when it is zero (non-pointer omitempty scalar, or omitzero struct).
        var omitZero: Bool
        /// Go embedded struct: merge its fields into the parent object.
        var inline: Bool
    }

    struct MessageSpec: Sendable {
        var name: String
        var fields: [Int: FieldSpec]
    }

    struct Schema: Sendable {
        var messages: [String: MessageSpec]
        /// apiVersion → kind → message name.
        var kinds: [String: [String: String]]
    }

    private static let parsedSchema: Result<Schema, DecodeError> = Result(catching: { () throws(DecodeError) -> Schema in
        try parseSchema(schemaText, kinds: kindsTable)
    })

    static func loadedSchema() throws(DecodeError) -> Schema {
        switch parsedSchema {
        case .success(let s): return s
        case .failure(let e): throw DecodeError("internal schema error: \(e.message)")
        }
    }

    /// Parses the table format documented above `schemaText`.
    static func parseSchema(_ text: String, kinds: [String: [String]]) throws(DecodeError) -> Schema {
        // Join continuation lines (leading whitespace) onto their message line.
        var entries: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.first == " " {
                guard !entries.isEmpty else { throw DecodeError("continuation line before any message: \(line)") }
                entries[entries.count - 1] += " " + line.trimmingSpaces()
            } else {
                entries.append(String(line))
            }
        }
        var messages: [String: MessageSpec] = [:]
        for entry in entries {
            guard let eq = entry.firstIndex(of: "=") else { throw DecodeError("missing '=' in: \(entry)") }
            let name = entry[..<eq].trimmingSpaces()
            guard messages[name] == nil else { throw DecodeError("message \(name) defined twice") }
            var fields: [Int: FieldSpec] = [:]
            for item in entry[entry.index(after: eq)...].split(separator: ";") {
                let parts = item.split(separator: " ")
                guard parts.count == 3, let number = Int(parts[0]), number > 0 else {
                    throw DecodeError("bad field \"\(item.trimmingSpaces())\" in message \(name)")
                }
                var typeText = Substring(parts[2])
                var omitZero = false
                var inline = false
                if typeText.hasSuffix("?") { omitZero = true; typeText = typeText.dropLast() }
                if typeText.hasSuffix("^") { inline = true; typeText = typeText.dropLast() }
                let type = try parseType(typeText, in: name)
                guard fields[number] == nil else { throw DecodeError("field number \(number) twice in message \(name)") }
                fields[number] = FieldSpec(number: number, name: String(parts[1]), type: type, omitZero: omitZero, inline: inline)
            }
            messages[name] = MessageSpec(name: name, fields: fields)
        }
        // Every referenced message must exist; inline fields must be plain messages.
        for message in messages.values {
            for field in message.fields.values {
                var t = field.type
                while true {
                    switch t {
                    case .repeated(let inner), .map(let inner): t = inner; continue
                    case .message(let ref) where messages[ref] == nil:
                        throw DecodeError("message \(message.name) field \(field.number) refers to unknown message \(ref)")
                    default: break
                    }
                    break
                }
                if field.inline, case .message = field.type {} else if field.inline {
                    throw DecodeError("inline field \(field.number) of \(message.name) is not a message")
                }
            }
        }
        var kindMap: [String: [String: String]] = [:]
        for (apiVersion, list) in kinds {
            for kind in list {
                guard messages[kind] != nil else { throw DecodeError("kind \(kind) in \(apiVersion) has no message") }
                kindMap[apiVersion, default: [:]][kind] = kind
            }
        }
        return Schema(messages: messages, kinds: kindMap)
    }

    private static func parseType(_ text: Substring, in message: String) throws(DecodeError) -> FieldType {
        if text.hasPrefix("[") && text.hasSuffix("]") {
            return .repeated(try parseType(text.dropFirst().dropLast(), in: message))
        }
        if text.hasPrefix("{") && text.hasSuffix("}") {
            return .map(try parseType(text.dropFirst().dropLast(), in: message))
        }
        switch text {
        case "s": return .string
        case "i32": return .int32
        case "i64": return .int64
        case "b": return .bool
        case "y": return .bytes
        case "f64": return .double
        case "Time": return .time
        case "MicroTime": return .microTime
        case "Duration": return .duration
        case "IntOrString": return .intOrString
        case "Quantity": return .quantity
        case "RawJSON": return .rawJSON
        case "StringList": return .stringList
        default:
            guard let first = text.first, first.isUppercase || first.isLowercase, !text.contains(where: { "[]{}?^".contains($0) }) else {
                throw DecodeError("bad type \"\(text)\" in message \(message)")
            }
            return .message(String(text))
        }
    }
}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}

// MARK: - Decoder

extension KubeProtobuf {
    struct Decoder {
        let bytes: [UInt8]
        let schema: Schema

        init(bytes: [UInt8], schema: Schema) {
            self.bytes = bytes
            self.schema = schema
        }

        /// Decodes one message into its JSON object fields.
        func message(_ spec: MessageSpec, _ range: Range<Int>) throws(DecodeError) -> JSONObject {
            var out: JSONObject = [:]
            var lists: [Int: [JSONValue]] = [:]
            var maps: [Int: JSONObject] = [:]
            var r = WireReader(bytes, range)
            while let (number, wire) = try r.key() {
                guard let field = spec.fields[number] else {
                    throw DecodeError("unknown field number \(number) in message \(spec.name)")
                }
                switch field.type {
                case .repeated(let element):
                    if wire == .lengthDelimited, element.isPackable {
                        // Packed encoding: a run of scalars in one length-delimited value.
                        let payload = try r.lengthDelimited()
                        var p = WireReader(bytes, payload)
                        while !p.atEnd {
                            lists[number, default: []].append(try scalar(element, wire: element.wireType, &p, field, spec))
                        }
                    } else {
                        lists[number, default: []].append(try value(element, wire: wire, &r, field, spec))
                    }
                case .map(let valueType):
                    try expect(.lengthDelimited, wire, field, spec)
                    let (k, v) = try mapEntry(valueType, try r.lengthDelimited(), field, spec)
                    maps[number, default: [:]][k] = v
                default:
                    let v = try value(field.type, wire: wire, &r, field, spec)
                    if field.inline {
                        guard case .object(let inner) = v else { continue }
                        out.merge(inner) { _, new in new }
                    } else if field.omitZero && v.isZeroValue {
                        out[field.name] = nil
                    } else {
                        out[field.name] = v
                    }
                }
            }
            for (number, list) in lists { out[spec.fields[number]!.name] = .array(list) }
            for (number, map) in maps { out[spec.fields[number]!.name] = .object(map) }
            return out
        }

        private func expect(_ want: WireType, _ got: WireType, _ field: FieldSpec, _ spec: MessageSpec) throws(DecodeError) {
            guard want == got else {
                throw DecodeError("field \(field.number) (\(field.name)) of message \(spec.name) has wire type \(got.name), want \(want.name)")
            }
        }

        /// Decodes one (non-repeated) value of `type` at the reader's position.
        private func value(_ type: FieldType, wire: WireType, _ r: inout WireReader, _ field: FieldSpec, _ spec: MessageSpec) throws(DecodeError) -> JSONValue {
            if type.isPackable { return try scalar(type, wire: wire, &r, field, spec) }
            try expect(.lengthDelimited, wire, field, spec)
            let payload = try r.lengthDelimited()
            switch type {
            case .string: return .string(r.string(payload))
            case .bytes: return .string(KubeProtobuf.base64(bytes[payload]))
            case .message(let name):
                guard let inner = schema.messages[name] else { throw DecodeError("no schema for message \(name)") }
                return .object(try message(inner, payload))
            case .time, .microTime, .duration, .intOrString, .quantity, .rawJSON, .stringList:
                return try wellKnown(type, payload)
            case .int32, .int64, .bool, .double, .repeated, .map:
                throw DecodeError("field \(field.number) (\(field.name)) of message \(spec.name) has an unsupported type")
            }
        }

        private func scalar(_ type: FieldType, wire: WireType, _ r: inout WireReader, _ field: FieldSpec, _ spec: MessageSpec) throws(DecodeError) -> JSONValue {
            try expect(type.wireType, wire, field, spec)
            switch type {
            case .int32: return .int(Int64(Int32(truncatingIfNeeded: try r.varint())))
            case .int64: return .int(Int64(bitPattern: try r.varint()))
            case .bool: return .bool(try r.varint() != 0)
            case .double: return KubeProtobuf.jsonNumber(Double(bitPattern: try r.fixed64()))
            default: throw DecodeError("field \(field.number) (\(field.name)) of message \(spec.name) is not a scalar")
            }
        }

        private func mapEntry(_ valueType: FieldType, _ range: Range<Int>, _ field: FieldSpec, _ spec: MessageSpec) throws(DecodeError) -> (String, JSONValue) {
            let entryName = "\(spec.name).\(field.name) entry"
            let keySpec = FieldSpec(number: 1, name: "key", type: .string, omitZero: false, inline: false)
            let valueSpec = FieldSpec(number: 2, name: "value", type: valueType, omitZero: false, inline: false)
            let entrySpec = MessageSpec(name: entryName, fields: [1: keySpec, 2: valueSpec])
            var key = ""
            var value: JSONValue?
            var r = WireReader(bytes, range)
            while let (number, wire) = try r.key() {
                switch number {
                case 1:
                    try expect(.lengthDelimited, wire, keySpec, entrySpec)
                    key = r.string(try r.lengthDelimited())
                case 2:
                    value = try self.value(valueType, wire: wire, &r, valueSpec, entrySpec)
                default:
                    throw DecodeError("unknown field number \(number) in message \(entryName)")
                }
            }
            return (key, value ?? valueType.zeroJSON)
        }

        /// Time, MicroTime, Duration, IntOrString, Quantity, FieldsV1/RawExtension, ExtraValue.
        private func wellKnown(_ type: FieldType, _ range: Range<Int>) throws(DecodeError) -> JSONValue {
            var r = WireReader(bytes, range)
            let messageName: String
            switch type {
            case .time: messageName = "meta.v1.Time"
            case .microTime: messageName = "meta.v1.MicroTime"
            case .duration: messageName = "meta.v1.Duration"
            case .intOrString: messageName = "intstr.IntOrString"
            case .quantity: messageName = "resource.Quantity"
            case .rawJSON: messageName = "RawJSON (FieldsV1/RawExtension)"
            default: messageName = "ExtraValue"
            }
            var ints: [Int: Int64] = [:]
            var strings: [Int: Range<Int>] = [:]
            var list: [JSONValue] = []
            let varintFields: Set<Int>
            let bytesFields: Set<Int>
            switch type {
            case .time, .microTime: varintFields = [1, 2]; bytesFields = []
            case .duration: varintFields = [1]; bytesFields = []
            case .intOrString: varintFields = [1, 2]; bytesFields = [3]
            default: varintFields = []; bytesFields = [1]
            }
            while let (number, wire) = try r.key() {
                if varintFields.contains(number) {
                    guard wire == .varint else { throw DecodeError("field \(number) of message \(messageName) has wire type \(wire.name), want varint") }
                    ints[number] = Int64(bitPattern: try r.varint())
                } else if bytesFields.contains(number) {
                    guard wire == .lengthDelimited else { throw DecodeError("field \(number) of message \(messageName) has wire type \(wire.name), want length-delimited") }
                    let v = try r.lengthDelimited()
                    strings[number] = v
                    if type == .stringList { list.append(.string(r.string(v))) }
                } else {
                    throw DecodeError("unknown field number \(number) in message \(messageName)")
                }
            }
            switch type {
            case .time:
                // Kubernetes reads seconds only (nanos are dropped); an empty message is the zero time.
                guard let seconds = ints[1] else { return ints[2] == nil ? .null : .string(KubeProtobuf.formatRFC3339(seconds: 0, micros: nil)) }
                return .string(KubeProtobuf.formatRFC3339(seconds: seconds, micros: nil))
            case .microTime:
                guard ints[1] != nil || ints[2] != nil else { return .null }
                let nanos = Int64(Int32(truncatingIfNeeded: ints[2] ?? 0))
                var seconds = ints[1] ?? 0
                var micros = nanos / 1000
                seconds += micros / 1_000_000
                micros %= 1_000_000
                if micros < 0 { micros += 1_000_000; seconds -= 1 }
                return .string(KubeProtobuf.formatRFC3339(seconds: seconds, micros: micros))
            case .duration:
                return .string(KubeProtobuf.formatGoDuration(ints[1] ?? 0))
            case .intOrString:
                switch ints[1] ?? 0 {
                case 0: return .int(Int64(Int32(truncatingIfNeeded: ints[2] ?? 0)))
                case 1: return .string(strings[3].map { r.string($0) } ?? "")
                case let t: throw DecodeError("IntOrString has invalid type \(t)")
                }
            case .quantity:
                guard let s = strings[1] else { return .string("0") }
                let text = r.string(s)
                return .string(text.isEmpty ? "0" : text)
            case .rawJSON:
                guard let raw = strings[1], !raw.isEmpty else { return .null }
                do {
                    return try JSONParser.parse(Array(bytes[raw]))
                } catch {
                    throw DecodeError("\(messageName) holds invalid JSON: \(error.description)")
                }
            default:
                return .array(list)
            }
        }
    }
}

extension KubeProtobuf.FieldType {
    /// Scalars that may be packed and are read without a length prefix.
    var isPackable: Bool {
        switch self {
        case .int32, .int64, .bool, .double: return true
        default: return false
        }
    }

    var wireType: KubeProtobuf.WireType {
        switch self {
        case .int32, .int64, .bool: return .varint
        case .double: return .fixed64
        default: return .lengthDelimited
        }
    }

    /// The JSON of a map value that was absent from its entry (Go's zero value).
    var zeroJSON: JSONValue {
        switch self {
        case .string, .bytes: return .string("")
        case .int32, .int64, .intOrString: return .int(0)
        case .double: return .int(0)
        case .bool: return .bool(false)
        case .message: return .object([:])
        case .quantity: return .string("0")
        case .duration: return .string("0s")
        case .time, .microTime, .rawJSON, .stringList, .repeated, .map: return .null
        }
    }
}

extension JSONValue {
    /// Go's zero value as JSON: "", 0, false, null, or an object/array made only of zero values.
    fileprivate var isZeroValue: Bool {
        switch self {
        case .null: return true
        case .bool(let b): return !b
        case .int(let i): return i == 0
        case .double(let d): return d == 0
        case .string(let s): return s.isEmpty
        case .array(let a): return a.isEmpty
        case .object(let o): return o.values.allSatisfy(\.isZeroValue)
        }
    }
}

// MARK: - Formatting helpers

extension KubeProtobuf {
    /// Go's encoding/json writes integral float64 values without a fraction; our JSON parser
    /// would read those back as integers, so do the same here.
    static func jsonNumber(_ d: Double) -> JSONValue {
        if d == d.rounded(), abs(d) < 9e15 { return .int(Int64(d)) }
        return .double(d)
    }

    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Standard base64 with padding, as Go's encoding/json writes []byte.
    static func base64(_ data: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((data.count + 2) / 3 * 4)
        var i = data.startIndex
        while i < data.endIndex {
            let b0 = UInt32(data[i])
            let b1 = i + 1 < data.endIndex ? UInt32(data[i + 1]) : 0
            let b2 = i + 2 < data.endIndex ? UInt32(data[i + 2]) : 0
            let n = b0 << 16 | b1 << 8 | b2
            out.append(base64Alphabet[Int(n >> 18 & 63)])
            out.append(base64Alphabet[Int(n >> 12 & 63)])
            out.append(i + 1 < data.endIndex ? base64Alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "="))
            out.append(i + 2 < data.endIndex ? base64Alphabet[Int(n & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// RFC 3339 in UTC: "2006-01-02T15:04:05Z", or with six fractional digits when `micros` is given.
    static func formatRFC3339(seconds: Int64, micros: Int64?) -> String {
        var days = seconds / 86_400
        var secOfDay = seconds % 86_400
        if secOfDay < 0 { secOfDay += 86_400; days -= 1 }
        // Civil date from days since 1970-01-01 (proleptic Gregorian).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        var s = pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
        s += "T" + pad(secOfDay / 3600, 2) + ":" + pad(secOfDay / 60 % 60, 2) + ":" + pad(secOfDay % 60, 2)
        if let micros { s += "." + pad(micros, 6) }
        return s + "Z"
    }

    private static func pad(_ v: Int64, _ width: Int) -> String {
        let digits = String(v.magnitude)
        let padded = digits.count < width ? String(repeating: "0", count: width - digits.count) + digits : digits
        return v < 0 ? "-" + padded : padded
    }

    /// Go's time.Duration.String(): "1h2m3.5s", "1.5ms", "0s".
    static func formatGoDuration(_ nanoseconds: Int64) -> String {
        if nanoseconds == 0 { return "0s" }
        let negative = nanoseconds < 0
        let u = nanoseconds.magnitude
        var s: String
        if u < 1_000_000_000 {
            // Sub-second: one unit with a fraction.
            let (unit, scale): (String, UInt64) = u < 1000 ? ("ns", 1) : u < 1_000_000 ? ("µs", 1000) : ("ms", 1_000_000)
            s = fraction(u, scale) + unit
        } else {
            let totalSeconds = u / 1_000_000_000
            let hours = totalSeconds / 3600
            let minutes = totalSeconds / 60 % 60
            s = fraction(u % 60_000_000_000, 1_000_000_000) + "s"
            if hours > 0 {
                s = "\(hours)h\(minutes)m" + s
            } else if minutes > 0 {
                s = "\(minutes)m" + s
            }
        }
        return negative ? "-" + s : s
    }

    /// `value / scale` with the fractional part written without trailing zeros.
    private static func fraction(_ value: UInt64, _ scale: UInt64) -> String {
        let whole = value / scale
        var frac = value % scale
        guard frac != 0 else { return String(whole) }
        var width = String(scale).count - 1
        while frac % 10 == 0 { frac /= 10; width -= 1 }
        let digits = String(frac)
        return "\(whole)." + String(repeating: "0", count: width - digits.count) + digits
    }
}

// MARK: - Field table

extension KubeProtobuf {
    /// Top-level kinds by apiVersion; each kind's message has the same name in `schemaText`.
    /// Typed clients that kubectl uses send these (create deployment|configmap|secret|namespace|
    /// service|serviceaccount|job|cronjob|priorityclass|quota|role|clusterrole|rolebinding|
    /// clusterrolebinding|ingress|poddisruptionbudget|token, drain's Eviction, auth can-i/whoami).
    static let kindsTable: [String: [String]] = [
        "v1": ["Namespace", "ConfigMap", "Secret", "Service", "ServiceAccount", "Pod", "ResourceQuota", "Endpoints"],
        "apps/v1": ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"],
        "batch/v1": ["Job", "CronJob"],
        "scheduling.k8s.io/v1": ["PriorityClass"],
        "coordination.k8s.io/v1": ["Lease"],
        "discovery.k8s.io/v1": ["EndpointSlice"],
        "rbac.authorization.k8s.io/v1": ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"],
        "networking.k8s.io/v1": ["Ingress", "NetworkPolicy", "IngressClass"],
        "policy/v1": ["PodDisruptionBudget", "Eviction"],
        "authentication.k8s.io/v1": ["TokenRequest", "SelfSubjectReview"],
        "authorization.k8s.io/v1": ["SelfSubjectAccessReview", "SubjectAccessReview", "SelfSubjectRulesReview"],
    ]

    /// Every message reachable from `kindsTable`, from Kubernetes 1.36 (k8s.io/api release-1.36,
    /// k8s.io/apimachinery release-1.36); a superset of the fields kubectl 1.35 can send.
    /// Field numbers checked against the upstream generated.proto files, JSON names against the
    /// json struct tags of the Go types (they differ from the proto names only for embedded
    /// structs and two fields: IngressClassParametersReference.apiGroup, BoundObjectReference.uid).
    ///
    /// Format: `Message = N jsonName type[flags]; …`, continued on lines starting with spaces.
    /// Types: s string, i32/i64 varint integers, b bool, y bytes (base64), f64 double,
    /// [T] repeated, {T} map<string,T>, Time/MicroTime/Duration/IntOrString/Quantity,
    /// RawJSON (FieldsV1, RawExtension: embedded JSON), StringList (ExtraValue: []string),
    /// any other name a message in this table. Flags: `?` omit when zero (non-pointer
    /// omitempty scalar, or omitzero struct), `^` embedded struct merged into the parent.
    /// Messages whose short names collide carry their package: discovery.EndpointPort.
    /// PodSpec.workloadRef (42) and WorkloadReference come from 1.35, where that alpha field
    /// existed; 1.36 retired number 42 in favour of schedulingGroup (43).
    static let schemaText = """
    Namespace = 1 metadata ObjectMeta; 2 spec NamespaceSpec; 3 status NamespaceStatus
    ConfigMap = 1 metadata ObjectMeta; 4 immutable b; 2 data {s}; 3 binaryData {y}
    Secret = 1 metadata ObjectMeta; 5 immutable b; 2 data {y}; 4 stringData {s}; 3 type s?
    Service = 1 metadata ObjectMeta; 2 spec ServiceSpec; 3 status ServiceStatus
    ServiceAccount = 1 metadata ObjectMeta; 2 secrets [ObjectReference]; 3 imagePullSecrets [LocalObjectReference];
       4 automountServiceAccountToken b
    Pod = 1 metadata ObjectMeta; 2 spec PodSpec; 3 status PodStatus
    ResourceQuota = 1 metadata ObjectMeta; 2 spec ResourceQuotaSpec; 3 status ResourceQuotaStatus
    Endpoints = 1 metadata ObjectMeta; 2 subsets [EndpointSubset]
    Deployment = 1 metadata ObjectMeta; 2 spec DeploymentSpec; 3 status DeploymentStatus
    ReplicaSet = 1 metadata ObjectMeta; 2 spec ReplicaSetSpec; 3 status ReplicaSetStatus
    StatefulSet = 1 metadata ObjectMeta; 2 spec StatefulSetSpec; 3 status StatefulSetStatus
    DaemonSet = 1 metadata ObjectMeta; 2 spec DaemonSetSpec; 3 status DaemonSetStatus
    Job = 1 metadata ObjectMeta; 2 spec JobSpec; 3 status JobStatus
    CronJob = 1 metadata ObjectMeta; 2 spec CronJobSpec; 3 status CronJobStatus
    PriorityClass = 1 metadata ObjectMeta; 2 value i32; 3 globalDefault b?; 4 description s?; 5 preemptionPolicy s
    Lease = 1 metadata ObjectMeta; 2 spec LeaseSpec
    EndpointSlice = 1 metadata ObjectMeta; 4 addressType s; 2 endpoints [Endpoint]; 3 ports [discovery.EndpointPort]
    Role = 1 metadata ObjectMeta; 2 rules [PolicyRule]
    ClusterRole = 1 metadata ObjectMeta; 2 rules [PolicyRule]; 3 aggregationRule AggregationRule
    RoleBinding = 1 metadata ObjectMeta; 2 subjects [Subject]; 3 roleRef RoleRef
    ClusterRoleBinding = 1 metadata ObjectMeta; 2 subjects [Subject]; 3 roleRef RoleRef
    Ingress = 1 metadata ObjectMeta; 2 spec IngressSpec; 3 status IngressStatus
    NetworkPolicy = 1 metadata ObjectMeta; 2 spec NetworkPolicySpec
    IngressClass = 1 metadata ObjectMeta; 2 spec IngressClassSpec
    PodDisruptionBudget = 1 metadata ObjectMeta; 2 spec PodDisruptionBudgetSpec; 3 status PodDisruptionBudgetStatus
    Eviction = 1 metadata ObjectMeta; 2 deleteOptions DeleteOptions
    TokenRequest = 1 metadata ObjectMeta; 2 spec TokenRequestSpec; 3 status TokenRequestStatus
    SelfSubjectReview = 1 metadata ObjectMeta; 2 status SelfSubjectReviewStatus
    SelfSubjectAccessReview = 1 metadata ObjectMeta; 2 spec SelfSubjectAccessReviewSpec;
       3 status SubjectAccessReviewStatus
    SubjectAccessReview = 1 metadata ObjectMeta; 2 spec SubjectAccessReviewSpec; 3 status SubjectAccessReviewStatus
    SelfSubjectRulesReview = 1 metadata ObjectMeta; 2 spec SelfSubjectRulesReviewSpec; 3 status SubjectRulesReviewStatus
    ObjectMeta = 1 name s?; 2 generateName s?; 3 namespace s?; 4 selfLink s?; 5 uid s?; 6 resourceVersion s?;
       7 generation i64?; 8 creationTimestamp Time?; 9 deletionTimestamp Time; 10 deletionGracePeriodSeconds i64;
       11 labels {s}; 12 annotations {s}; 13 ownerReferences [OwnerReference]; 14 finalizers [s];
       17 managedFields [ManagedFieldsEntry]
    NamespaceSpec = 1 finalizers [s]
    NamespaceStatus = 1 phase s?; 2 conditions [NamespaceCondition]
    ServiceSpec = 1 ports [ServicePort]; 2 selector {s}; 3 clusterIP s?; 18 clusterIPs [s]; 4 type s?; 5 externalIPs [s];
       7 sessionAffinity s?; 8 loadBalancerIP s?; 9 loadBalancerSourceRanges [s]; 10 externalName s?;
       11 externalTrafficPolicy s?; 12 healthCheckNodePort i32?; 13 publishNotReadyAddresses b?;
       14 sessionAffinityConfig SessionAffinityConfig; 19 ipFamilies [s]; 17 ipFamilyPolicy s;
       20 allocateLoadBalancerNodePorts b; 21 loadBalancerClass s; 22 internalTrafficPolicy s; 23 trafficDistribution s
    ServiceStatus = 1 loadBalancer LoadBalancerStatus; 2 conditions [Condition]
    ObjectReference = 1 kind s?; 2 namespace s?; 3 name s?; 4 uid s?; 5 apiVersion s?; 6 resourceVersion s?;
       7 fieldPath s?
    LocalObjectReference = 1 name s?
    PodSpec = 1 volumes [Volume]; 20 initContainers [Container]; 2 containers [Container];
       34 ephemeralContainers [EphemeralContainer]; 3 restartPolicy s?; 4 terminationGracePeriodSeconds i64;
       5 activeDeadlineSeconds i64; 6 dnsPolicy s?; 7 nodeSelector {s}; 8 serviceAccountName s?; 9 serviceAccount s?;
       21 automountServiceAccountToken b; 10 nodeName s?; 11 hostNetwork b?; 12 hostPID b?; 13 hostIPC b?;
       27 shareProcessNamespace b; 14 securityContext PodSecurityContext; 15 imagePullSecrets [LocalObjectReference];
       16 hostname s?; 17 subdomain s?; 18 affinity Affinity; 19 schedulerName s?; 22 tolerations [Toleration];
       23 hostAliases [HostAlias]; 24 priorityClassName s?; 25 priority i32; 26 dnsConfig PodDNSConfig;
       28 readinessGates [PodReadinessGate]; 29 runtimeClassName s; 30 enableServiceLinks b; 31 preemptionPolicy s;
       32 overhead {Quantity}; 33 topologySpreadConstraints [TopologySpreadConstraint]; 35 setHostnameAsFQDN b;
       36 os PodOS; 37 hostUsers b; 38 schedulingGates [PodSchedulingGate]; 39 resourceClaims [PodResourceClaim];
       40 resources ResourceRequirements; 41 hostnameOverride s; 42 workloadRef WorkloadReference;
       43 schedulingGroup PodSchedulingGroup
    PodStatus = 17 observedGeneration i64?; 1 phase s?; 2 conditions [PodCondition]; 3 message s?; 4 reason s?;
       11 nominatedNodeName s?; 5 hostIP s?; 16 hostIPs [HostIP]; 6 podIP s?; 12 podIPs [PodIP]; 7 startTime Time;
       10 initContainerStatuses [ContainerStatus]; 8 containerStatuses [ContainerStatus]; 9 qosClass s?;
       13 ephemeralContainerStatuses [ContainerStatus]; 14 resize s?; 15 resourceClaimStatuses [PodResourceClaimStatus];
       18 extendedResourceClaimStatus PodExtendedResourceClaimStatus; 19 allocatedResources {Quantity};
       20 resources ResourceRequirements; 21 nodeAllocatableResourceClaimStatuses [NodeAllocatableResourceClaimStatus]
    ResourceQuotaSpec = 1 hard {Quantity}; 2 scopes [s]; 3 scopeSelector ScopeSelector
    ResourceQuotaStatus = 1 hard {Quantity}; 2 used {Quantity}
    EndpointSubset = 1 addresses [EndpointAddress]; 2 notReadyAddresses [EndpointAddress]; 3 ports [EndpointPort]
    DeploymentSpec = 1 replicas i32; 2 selector LabelSelector; 3 template PodTemplateSpec; 4 strategy DeploymentStrategy;
       5 minReadySeconds i32?; 6 revisionHistoryLimit i32; 7 paused b?; 9 progressDeadlineSeconds i32
    DeploymentStatus = 1 observedGeneration i64?; 2 replicas i32?; 3 updatedReplicas i32?; 7 readyReplicas i32?;
       4 availableReplicas i32?; 5 unavailableReplicas i32?; 9 terminatingReplicas i32;
       6 conditions [DeploymentCondition]; 8 collisionCount i32
    ReplicaSetSpec = 1 replicas i32; 4 minReadySeconds i32?; 2 selector LabelSelector; 3 template PodTemplateSpec
    ReplicaSetStatus = 1 replicas i32; 2 fullyLabeledReplicas i32?; 4 readyReplicas i32?; 5 availableReplicas i32?;
       7 terminatingReplicas i32; 3 observedGeneration i64?; 6 conditions [ReplicaSetCondition]
    StatefulSetSpec = 1 replicas i32; 2 selector LabelSelector; 3 template PodTemplateSpec;
       4 volumeClaimTemplates [PersistentVolumeClaim]; 5 serviceName s; 6 podManagementPolicy s?;
       7 updateStrategy StatefulSetUpdateStrategy; 8 revisionHistoryLimit i32; 9 minReadySeconds i32?;
       10 persistentVolumeClaimRetentionPolicy StatefulSetPersistentVolumeClaimRetentionPolicy;
       11 ordinals StatefulSetOrdinals
    StatefulSetStatus = 1 observedGeneration i64?; 2 replicas i32; 3 readyReplicas i32?; 4 currentReplicas i32?;
       5 updatedReplicas i32?; 6 currentRevision s?; 7 updateRevision s?; 9 collisionCount i32;
       10 conditions [StatefulSetCondition]; 11 availableReplicas i32
    DaemonSetSpec = 1 selector LabelSelector; 2 template PodTemplateSpec; 3 updateStrategy DaemonSetUpdateStrategy;
       4 minReadySeconds i32?; 6 revisionHistoryLimit i32
    DaemonSetStatus = 1 currentNumberScheduled i32; 2 numberMisscheduled i32; 3 desiredNumberScheduled i32;
       4 numberReady i32; 5 observedGeneration i64?; 6 updatedNumberScheduled i32?; 7 numberAvailable i32?;
       8 numberUnavailable i32?; 9 collisionCount i32; 10 conditions [DaemonSetCondition]
    JobSpec = 1 parallelism i32; 2 completions i32; 3 activeDeadlineSeconds i64; 11 podFailurePolicy PodFailurePolicy;
       16 successPolicy SuccessPolicy; 7 backoffLimit i32; 12 backoffLimitPerIndex i32; 13 maxFailedIndexes i32;
       4 selector LabelSelector; 5 manualSelector b; 6 template PodTemplateSpec; 8 ttlSecondsAfterFinished i32;
       9 completionMode s; 10 suspend b; 14 podReplacementPolicy s; 15 managedBy s
    JobStatus = 1 conditions [JobCondition]; 2 startTime Time; 3 completionTime Time; 4 active i32?; 5 succeeded i32?;
       6 failed i32?; 11 terminating i32; 7 completedIndexes s?; 10 failedIndexes s;
       8 uncountedTerminatedPods UncountedTerminatedPods; 9 ready i32
    CronJobSpec = 1 schedule s; 8 timeZone s; 2 startingDeadlineSeconds i64; 3 concurrencyPolicy s?; 4 suspend b;
       5 jobTemplate JobTemplateSpec; 6 successfulJobsHistoryLimit i32; 7 failedJobsHistoryLimit i32
    CronJobStatus = 1 active [ObjectReference]; 4 lastScheduleTime Time; 5 lastSuccessfulTime Time
    LeaseSpec = 1 holderIdentity s; 2 leaseDurationSeconds i32; 3 acquireTime MicroTime; 4 renewTime MicroTime;
       5 leaseTransitions i32; 6 strategy s; 7 preferredHolder s
    Endpoint = 1 addresses [s]; 2 conditions EndpointConditions; 3 hostname s; 4 targetRef ObjectReference;
       5 deprecatedTopology {s}; 6 nodeName s; 7 zone s; 8 hints EndpointHints
    discovery.EndpointPort = 1 name s; 2 protocol s; 3 port i32; 4 appProtocol s
    PolicyRule = 1 verbs [s]; 2 apiGroups [s]; 3 resources [s]; 4 resourceNames [s]; 5 nonResourceURLs [s]
    AggregationRule = 1 clusterRoleSelectors [LabelSelector]
    Subject = 1 kind s; 2 apiGroup s?; 3 name s; 4 namespace s?
    RoleRef = 1 apiGroup s; 2 kind s; 3 name s
    IngressSpec = 4 ingressClassName s; 1 defaultBackend IngressBackend; 2 tls [IngressTLS]; 3 rules [IngressRule]
    IngressStatus = 1 loadBalancer IngressLoadBalancerStatus
    NetworkPolicySpec = 1 podSelector LabelSelector; 2 ingress [NetworkPolicyIngressRule];
       3 egress [NetworkPolicyEgressRule]; 4 policyTypes [s]
    IngressClassSpec = 1 controller s?; 2 parameters IngressClassParametersReference
    PodDisruptionBudgetSpec = 1 minAvailable IntOrString; 2 selector LabelSelector; 3 maxUnavailable IntOrString;
       4 unhealthyPodEvictionPolicy s
    PodDisruptionBudgetStatus = 1 observedGeneration i64?; 2 disruptedPods {Time}; 3 disruptionsAllowed i32;
       4 currentHealthy i32; 5 desiredHealthy i32; 6 expectedPods i32; 7 conditions [Condition]
    DeleteOptions = 1 gracePeriodSeconds i64; 2 preconditions Preconditions; 3 orphanDependents b; 4 propagationPolicy s;
       5 dryRun [s]; 6 ignoreStoreReadErrorWithClusterBreakingPotential b
    TokenRequestSpec = 1 audiences [s]; 4 expirationSeconds i64; 3 boundObjectRef BoundObjectReference
    TokenRequestStatus = 1 token s; 2 expirationTimestamp Time
    SelfSubjectReviewStatus = 1 userInfo UserInfo
    SelfSubjectAccessReviewSpec = 1 resourceAttributes ResourceAttributes; 2 nonResourceAttributes NonResourceAttributes
    SubjectAccessReviewStatus = 1 allowed b; 4 denied b?; 2 reason s?; 3 evaluationError s?
    SubjectAccessReviewSpec = 1 resourceAttributes ResourceAttributes; 2 nonResourceAttributes NonResourceAttributes;
       3 user s?; 4 groups [s]; 5 extra {StringList}; 6 uid s?
    SelfSubjectRulesReviewSpec = 1 namespace s?
    SubjectRulesReviewStatus = 1 resourceRules [ResourceRule]; 2 nonResourceRules [NonResourceRule]; 3 incomplete b;
       4 evaluationError s?
    OwnerReference = 5 apiVersion s; 1 kind s; 3 name s; 4 uid s; 6 controller b; 7 blockOwnerDeletion b
    ManagedFieldsEntry = 1 manager s?; 2 operation s?; 3 apiVersion s?; 4 time Time; 6 fieldsType s?; 7 fieldsV1 RawJSON;
       8 subresource s?
    NamespaceCondition = 1 type s; 2 status s; 4 lastTransitionTime Time; 5 reason s?; 6 message s?
    ServicePort = 1 name s?; 2 protocol s?; 6 appProtocol s; 3 port i32; 4 targetPort IntOrString; 5 nodePort i32?
    SessionAffinityConfig = 1 clientIP ClientIPConfig
    LoadBalancerStatus = 1 ingress [LoadBalancerIngress]
    Condition = 1 type s; 2 status s; 3 observedGeneration i64?; 4 lastTransitionTime Time; 5 reason s; 6 message s
    Volume = 1 name s; 2 volumeSource VolumeSource^
    Container = 1 name s; 2 image s?; 3 command [s]; 4 args [s]; 5 workingDir s?; 6 ports [ContainerPort];
       19 envFrom [EnvFromSource]; 7 env [EnvVar]; 8 resources ResourceRequirements;
       23 resizePolicy [ContainerResizePolicy]; 24 restartPolicy s; 25 restartPolicyRules [ContainerRestartRule];
       9 volumeMounts [VolumeMount]; 21 volumeDevices [VolumeDevice]; 10 livenessProbe Probe; 11 readinessProbe Probe;
       22 startupProbe Probe; 12 lifecycle Lifecycle; 13 terminationMessagePath s?; 20 terminationMessagePolicy s?;
       14 imagePullPolicy s?; 15 securityContext SecurityContext; 16 stdin b?; 17 stdinOnce b?; 18 tty b?
    EphemeralContainer = 1 ephemeralContainerCommon EphemeralContainerCommon^; 2 targetContainerName s?
    PodSecurityContext = 1 seLinuxOptions SELinuxOptions; 8 windowsOptions WindowsSecurityContextOptions;
       2 runAsUser i64; 6 runAsGroup i64; 3 runAsNonRoot b; 4 supplementalGroups [i64]; 12 supplementalGroupsPolicy s;
       5 fsGroup i64; 7 sysctls [Sysctl]; 9 fsGroupChangePolicy s; 10 seccompProfile SeccompProfile;
       11 appArmorProfile AppArmorProfile; 13 seLinuxChangePolicy s
    Affinity = 1 nodeAffinity NodeAffinity; 2 podAffinity PodAffinity; 3 podAntiAffinity PodAntiAffinity
    Toleration = 1 key s?; 2 operator s?; 3 value s?; 4 effect s?; 5 tolerationSeconds i64
    HostAlias = 1 ip s; 2 hostnames [s]
    PodDNSConfig = 1 nameservers [s]; 2 searches [s]; 3 options [PodDNSConfigOption]
    PodReadinessGate = 1 conditionType s
    TopologySpreadConstraint = 1 maxSkew i32; 2 topologyKey s; 3 whenUnsatisfiable s; 4 labelSelector LabelSelector;
       5 minDomains i32; 6 nodeAffinityPolicy s; 7 nodeTaintsPolicy s; 8 matchLabelKeys [s]
    PodOS = 1 name s
    PodSchedulingGate = 1 name s
    PodResourceClaim = 1 name s; 3 resourceClaimName s; 4 resourceClaimTemplateName s
    ResourceRequirements = 1 limits {Quantity}; 2 requests {Quantity}; 3 claims [ResourceClaim]
    PodSchedulingGroup = 1 podGroupName s
    PodCondition = 1 type s; 7 observedGeneration i64?; 2 status s; 3 lastProbeTime Time; 4 lastTransitionTime Time;
       5 reason s?; 6 message s?
    HostIP = 1 ip s
    PodIP = 1 ip s
    ContainerStatus = 1 name s; 2 state ContainerState; 3 lastState ContainerState; 4 ready b; 5 restartCount i32;
       6 image s; 7 imageID s; 8 containerID s?; 9 started b; 10 allocatedResources {Quantity};
       11 resources ResourceRequirements; 12 volumeMounts [VolumeMountStatus]; 13 user ContainerUser;
       14 allocatedResourcesStatus [ResourceStatus]; 15 stopSignal s
    PodResourceClaimStatus = 1 name s; 2 resourceClaimName s
    PodExtendedResourceClaimStatus = 1 requestMappings [ContainerExtendedResourceRequest]; 2 resourceClaimName s
    NodeAllocatableResourceClaimStatus = 1 resourceClaimName s; 2 containers [s]; 3 resources {Quantity}
    ScopeSelector = 1 matchExpressions [ScopedResourceSelectorRequirement]
    EndpointAddress = 1 ip s; 3 hostname s?; 4 nodeName s; 2 targetRef ObjectReference
    EndpointPort = 1 name s?; 2 port i32; 3 protocol s?; 4 appProtocol s
    LabelSelector = 1 matchLabels {s}; 2 matchExpressions [LabelSelectorRequirement]
    PodTemplateSpec = 1 metadata ObjectMeta; 2 spec PodSpec
    DeploymentStrategy = 1 type s?; 2 rollingUpdate RollingUpdateDeployment
    DeploymentCondition = 1 type s; 2 status s; 6 lastUpdateTime Time; 7 lastTransitionTime Time; 4 reason s?;
       5 message s?
    ReplicaSetCondition = 1 type s; 2 status s; 3 lastTransitionTime Time; 4 reason s?; 5 message s?
    PersistentVolumeClaim = 1 metadata ObjectMeta; 2 spec PersistentVolumeClaimSpec;
       3 status PersistentVolumeClaimStatus
    StatefulSetUpdateStrategy = 1 type s?; 2 rollingUpdate RollingUpdateStatefulSetStrategy
    StatefulSetPersistentVolumeClaimRetentionPolicy = 1 whenDeleted s?; 2 whenScaled s?
    StatefulSetOrdinals = 1 start i32
    StatefulSetCondition = 1 type s; 2 status s; 3 lastTransitionTime Time; 4 reason s?; 5 message s?
    DaemonSetUpdateStrategy = 1 type s?; 2 rollingUpdate RollingUpdateDaemonSet
    DaemonSetCondition = 1 type s; 2 status s; 3 lastTransitionTime Time; 4 reason s?; 5 message s?
    PodFailurePolicy = 1 rules [PodFailurePolicyRule]
    SuccessPolicy = 1 rules [SuccessPolicyRule]
    JobCondition = 1 type s; 2 status s; 3 lastProbeTime Time; 4 lastTransitionTime Time; 5 reason s?; 6 message s?
    UncountedTerminatedPods = 1 succeeded [s]; 2 failed [s]
    JobTemplateSpec = 1 metadata ObjectMeta; 2 spec JobSpec
    EndpointConditions = 1 ready b; 2 serving b; 3 terminating b
    EndpointHints = 1 forZones [ForZone]; 2 forNodes [ForNode]
    IngressBackend = 4 service IngressServiceBackend; 3 resource TypedLocalObjectReference
    IngressTLS = 1 hosts [s]; 2 secretName s?
    IngressRule = 1 host s?; 2 ingressRuleValue IngressRuleValue^
    IngressLoadBalancerStatus = 1 ingress [IngressLoadBalancerIngress]
    NetworkPolicyIngressRule = 1 ports [NetworkPolicyPort]; 2 from [NetworkPolicyPeer]
    NetworkPolicyEgressRule = 1 ports [NetworkPolicyPort]; 2 to [NetworkPolicyPeer]
    IngressClassParametersReference = 1 apiGroup s; 2 kind s; 3 name s; 4 scope s; 5 namespace s
    Preconditions = 1 uid s; 2 resourceVersion s
    BoundObjectReference = 1 kind s?; 2 apiVersion s?; 3 name s?; 4 uid s?
    UserInfo = 1 username s?; 2 uid s?; 3 groups [s]; 4 extra {StringList}
    ResourceAttributes = 1 namespace s?; 2 verb s?; 3 group s?; 4 version s?; 5 resource s?; 6 subresource s?; 7 name s?;
       8 fieldSelector FieldSelectorAttributes; 9 labelSelector LabelSelectorAttributes
    NonResourceAttributes = 1 path s?; 2 verb s?
    ResourceRule = 1 verbs [s]; 2 apiGroups [s]; 3 resources [s]; 4 resourceNames [s]
    NonResourceRule = 1 verbs [s]; 2 nonResourceURLs [s]
    ClientIPConfig = 1 timeoutSeconds i32
    LoadBalancerIngress = 1 ip s?; 2 hostname s?; 3 ipMode s; 4 ports [PortStatus]
    VolumeSource = 1 hostPath HostPathVolumeSource; 2 emptyDir EmptyDirVolumeSource;
       3 gcePersistentDisk GCEPersistentDiskVolumeSource; 4 awsElasticBlockStore AWSElasticBlockStoreVolumeSource;
       5 gitRepo GitRepoVolumeSource; 6 secret SecretVolumeSource; 7 nfs NFSVolumeSource; 8 iscsi ISCSIVolumeSource;
       9 glusterfs GlusterfsVolumeSource; 10 persistentVolumeClaim PersistentVolumeClaimVolumeSource;
       11 rbd RBDVolumeSource; 12 flexVolume FlexVolumeSource; 13 cinder CinderVolumeSource;
       14 cephfs CephFSVolumeSource; 15 flocker FlockerVolumeSource; 16 downwardAPI DownwardAPIVolumeSource;
       17 fc FCVolumeSource; 18 azureFile AzureFileVolumeSource; 19 configMap ConfigMapVolumeSource;
       20 vsphereVolume VsphereVirtualDiskVolumeSource; 21 quobyte QuobyteVolumeSource;
       22 azureDisk AzureDiskVolumeSource; 23 photonPersistentDisk PhotonPersistentDiskVolumeSource;
       26 projected ProjectedVolumeSource; 24 portworxVolume PortworxVolumeSource; 25 scaleIO ScaleIOVolumeSource;
       27 storageos StorageOSVolumeSource; 28 csi CSIVolumeSource; 29 ephemeral EphemeralVolumeSource;
       30 image ImageVolumeSource
    ContainerPort = 1 name s?; 2 hostPort i32?; 3 containerPort i32; 4 protocol s?; 5 hostIP s?
    EnvFromSource = 1 prefix s?; 2 configMapRef ConfigMapEnvSource; 3 secretRef SecretEnvSource
    EnvVar = 1 name s; 2 value s?; 3 valueFrom EnvVarSource
    ContainerResizePolicy = 1 resourceName s; 2 restartPolicy s
    ContainerRestartRule = 1 action s?; 2 exitCodes ContainerRestartRuleOnExitCodes
    VolumeMount = 1 name s; 2 readOnly b?; 7 recursiveReadOnly s; 3 mountPath s; 4 subPath s?; 5 mountPropagation s;
       6 subPathExpr s?
    VolumeDevice = 1 name s; 2 devicePath s
    Probe = 1 handler ProbeHandler^; 2 initialDelaySeconds i32?; 3 timeoutSeconds i32?; 4 periodSeconds i32?;
       5 successThreshold i32?; 6 failureThreshold i32?; 7 terminationGracePeriodSeconds i64
    Lifecycle = 1 postStart LifecycleHandler; 2 preStop LifecycleHandler; 3 stopSignal s
    SecurityContext = 1 capabilities Capabilities; 2 privileged b; 3 seLinuxOptions SELinuxOptions;
       10 windowsOptions WindowsSecurityContextOptions; 4 runAsUser i64; 8 runAsGroup i64; 5 runAsNonRoot b;
       6 readOnlyRootFilesystem b; 7 allowPrivilegeEscalation b; 9 procMount s; 11 seccompProfile SeccompProfile;
       12 appArmorProfile AppArmorProfile
    EphemeralContainerCommon = 1 name s; 2 image s?; 3 command [s]; 4 args [s]; 5 workingDir s?; 6 ports [ContainerPort];
       19 envFrom [EnvFromSource]; 7 env [EnvVar]; 8 resources ResourceRequirements;
       23 resizePolicy [ContainerResizePolicy]; 24 restartPolicy s; 25 restartPolicyRules [ContainerRestartRule];
       9 volumeMounts [VolumeMount]; 21 volumeDevices [VolumeDevice]; 10 livenessProbe Probe; 11 readinessProbe Probe;
       22 startupProbe Probe; 12 lifecycle Lifecycle; 13 terminationMessagePath s?; 20 terminationMessagePolicy s?;
       14 imagePullPolicy s?; 15 securityContext SecurityContext; 16 stdin b?; 17 stdinOnce b?; 18 tty b?
    SELinuxOptions = 1 user s?; 2 role s?; 3 type s?; 4 level s?
    WindowsSecurityContextOptions = 1 gmsaCredentialSpecName s; 2 gmsaCredentialSpec s; 3 runAsUserName s;
       4 hostProcess b
    Sysctl = 1 name s; 2 value s
    SeccompProfile = 1 type s; 2 localhostProfile s
    AppArmorProfile = 1 type s; 2 localhostProfile s
    NodeAffinity = 1 requiredDuringSchedulingIgnoredDuringExecution NodeSelector;
       2 preferredDuringSchedulingIgnoredDuringExecution [PreferredSchedulingTerm]
    PodAffinity = 1 requiredDuringSchedulingIgnoredDuringExecution [PodAffinityTerm];
       2 preferredDuringSchedulingIgnoredDuringExecution [WeightedPodAffinityTerm]
    PodAntiAffinity = 1 requiredDuringSchedulingIgnoredDuringExecution [PodAffinityTerm];
       2 preferredDuringSchedulingIgnoredDuringExecution [WeightedPodAffinityTerm]
    PodDNSConfigOption = 1 name s?; 2 value s
    ResourceClaim = 1 name s; 2 request s?
    ContainerState = 1 waiting ContainerStateWaiting; 2 running ContainerStateRunning;
       3 terminated ContainerStateTerminated
    VolumeMountStatus = 1 name s; 2 mountPath s; 3 readOnly b?; 4 recursiveReadOnly s; 5 volumeStatus VolumeStatus
    ContainerUser = 1 linux LinuxContainerUser
    ResourceStatus = 1 name s; 2 resources [ResourceHealth]
    ContainerExtendedResourceRequest = 1 containerName s; 2 resourceName s; 3 requestName s
    ScopedResourceSelectorRequirement = 1 scopeName s; 2 operator s; 3 values [s]
    LabelSelectorRequirement = 1 key s; 2 operator s; 3 values [s]
    RollingUpdateDeployment = 1 maxUnavailable IntOrString; 2 maxSurge IntOrString
    PersistentVolumeClaimSpec = 1 accessModes [s]; 4 selector LabelSelector; 2 resources VolumeResourceRequirements;
       3 volumeName s?; 5 storageClassName s; 6 volumeMode s; 7 dataSource TypedLocalObjectReference;
       8 dataSourceRef TypedObjectReference; 9 volumeAttributesClassName s
    PersistentVolumeClaimStatus = 1 phase s?; 2 accessModes [s]; 3 capacity {Quantity};
       4 conditions [PersistentVolumeClaimCondition]; 5 allocatedResources {Quantity}; 7 allocatedResourceStatuses {s};
       8 currentVolumeAttributesClassName s; 9 modifyVolumeStatus ModifyVolumeStatus
    RollingUpdateStatefulSetStrategy = 1 partition i32; 2 maxUnavailable IntOrString
    RollingUpdateDaemonSet = 1 maxUnavailable IntOrString; 2 maxSurge IntOrString
    PodFailurePolicyRule = 1 action s; 2 onExitCodes PodFailurePolicyOnExitCodesRequirement;
       3 onPodConditions [PodFailurePolicyOnPodConditionsPattern]
    SuccessPolicyRule = 1 succeededIndexes s; 2 succeededCount i32
    ForZone = 1 name s
    ForNode = 1 name s
    IngressServiceBackend = 1 name s; 2 port ServiceBackendPort
    TypedLocalObjectReference = 1 apiGroup s; 2 kind s; 3 name s
    IngressRuleValue = 1 http HTTPIngressRuleValue
    IngressLoadBalancerIngress = 1 ip s?; 2 hostname s?; 4 ports [IngressPortStatus]
    NetworkPolicyPort = 1 protocol s; 2 port IntOrString; 3 endPort i32
    NetworkPolicyPeer = 1 podSelector LabelSelector; 2 namespaceSelector LabelSelector; 3 ipBlock IPBlock
    FieldSelectorAttributes = 1 rawSelector s?; 2 requirements [FieldSelectorRequirement]
    LabelSelectorAttributes = 1 rawSelector s?; 2 requirements [LabelSelectorRequirement]
    PortStatus = 1 port i32; 2 protocol s; 3 error s
    HostPathVolumeSource = 1 path s; 2 type s
    EmptyDirVolumeSource = 1 medium s?; 2 sizeLimit Quantity
    GCEPersistentDiskVolumeSource = 1 pdName s; 2 fsType s?; 3 partition i32?; 4 readOnly b?
    AWSElasticBlockStoreVolumeSource = 1 volumeID s; 2 fsType s?; 3 partition i32?; 4 readOnly b?
    GitRepoVolumeSource = 1 repository s; 2 revision s?; 3 directory s?
    SecretVolumeSource = 1 secretName s?; 2 items [KeyToPath]; 3 defaultMode i32; 4 optional b
    NFSVolumeSource = 1 server s; 2 path s; 3 readOnly b?
    ISCSIVolumeSource = 1 targetPortal s; 2 iqn s; 3 lun i32; 4 iscsiInterface s?; 5 fsType s?; 6 readOnly b?;
       7 portals [s]; 8 chapAuthDiscovery b?; 11 chapAuthSession b?; 10 secretRef LocalObjectReference;
       12 initiatorName s
    GlusterfsVolumeSource = 1 endpoints s; 2 path s; 3 readOnly b?
    PersistentVolumeClaimVolumeSource = 1 claimName s; 2 readOnly b?
    RBDVolumeSource = 1 monitors [s]; 2 image s; 3 fsType s?; 4 pool s?; 5 user s?; 6 keyring s?;
       7 secretRef LocalObjectReference; 8 readOnly b?
    FlexVolumeSource = 1 driver s; 2 fsType s?; 3 secretRef LocalObjectReference; 4 readOnly b?; 5 options {s}
    CinderVolumeSource = 1 volumeID s; 2 fsType s?; 3 readOnly b?; 4 secretRef LocalObjectReference
    CephFSVolumeSource = 1 monitors [s]; 2 path s?; 3 user s?; 4 secretFile s?; 5 secretRef LocalObjectReference;
       6 readOnly b?
    FlockerVolumeSource = 1 datasetName s?; 2 datasetUUID s?
    DownwardAPIVolumeSource = 1 items [DownwardAPIVolumeFile]; 2 defaultMode i32
    FCVolumeSource = 1 targetWWNs [s]; 2 lun i32; 3 fsType s?; 4 readOnly b?; 5 wwids [s]
    AzureFileVolumeSource = 1 secretName s; 2 shareName s; 3 readOnly b?
    ConfigMapVolumeSource = 1 localObjectReference LocalObjectReference^; 2 items [KeyToPath]; 3 defaultMode i32;
       4 optional b
    VsphereVirtualDiskVolumeSource = 1 volumePath s; 2 fsType s?; 3 storagePolicyName s?; 4 storagePolicyID s?
    QuobyteVolumeSource = 1 registry s; 2 volume s; 3 readOnly b?; 4 user s?; 5 group s?; 6 tenant s?
    AzureDiskVolumeSource = 1 diskName s; 2 diskURI s; 3 cachingMode s; 4 fsType s; 5 readOnly b; 6 kind s
    PhotonPersistentDiskVolumeSource = 1 pdID s; 2 fsType s?
    ProjectedVolumeSource = 1 sources [VolumeProjection]; 2 defaultMode i32
    PortworxVolumeSource = 1 volumeID s; 2 fsType s?; 3 readOnly b?
    ScaleIOVolumeSource = 1 gateway s; 2 system s; 3 secretRef LocalObjectReference; 4 sslEnabled b?;
       5 protectionDomain s?; 6 storagePool s?; 7 storageMode s?; 8 volumeName s?; 9 fsType s?; 10 readOnly b?
    StorageOSVolumeSource = 1 volumeName s?; 2 volumeNamespace s?; 3 fsType s?; 4 readOnly b?;
       5 secretRef LocalObjectReference
    CSIVolumeSource = 1 driver s; 2 readOnly b; 3 fsType s; 4 volumeAttributes {s};
       5 nodePublishSecretRef LocalObjectReference
    EphemeralVolumeSource = 1 volumeClaimTemplate PersistentVolumeClaimTemplate
    ImageVolumeSource = 1 reference s?; 2 pullPolicy s?
    ConfigMapEnvSource = 1 localObjectReference LocalObjectReference^; 2 optional b
    SecretEnvSource = 1 localObjectReference LocalObjectReference^; 2 optional b
    EnvVarSource = 1 fieldRef ObjectFieldSelector; 2 resourceFieldRef ResourceFieldSelector;
       3 configMapKeyRef ConfigMapKeySelector; 4 secretKeyRef SecretKeySelector; 5 fileKeyRef FileKeySelector
    ContainerRestartRuleOnExitCodes = 1 operator s?; 2 values [i32]
    ProbeHandler = 1 exec ExecAction; 2 httpGet HTTPGetAction; 3 tcpSocket TCPSocketAction; 4 grpc GRPCAction
    LifecycleHandler = 1 exec ExecAction; 2 httpGet HTTPGetAction; 3 tcpSocket TCPSocketAction; 4 sleep SleepAction
    Capabilities = 1 add [s]; 2 drop [s]
    NodeSelector = 1 nodeSelectorTerms [NodeSelectorTerm]
    PreferredSchedulingTerm = 1 weight i32; 2 preference NodeSelectorTerm
    PodAffinityTerm = 1 labelSelector LabelSelector; 2 namespaces [s]; 3 topologyKey s;
       4 namespaceSelector LabelSelector; 5 matchLabelKeys [s]; 6 mismatchLabelKeys [s]
    WeightedPodAffinityTerm = 1 weight i32; 2 podAffinityTerm PodAffinityTerm
    ContainerStateWaiting = 1 reason s?; 2 message s?
    ContainerStateRunning = 1 startedAt Time
    ContainerStateTerminated = 1 exitCode i32; 2 signal i32?; 3 reason s?; 4 message s?; 5 startedAt Time;
       6 finishedAt Time; 7 containerID s?
    VolumeStatus = 1 image ImageVolumeStatus
    LinuxContainerUser = 1 uid i64; 2 gid i64; 3 supplementalGroups [i64]
    ResourceHealth = 1 resourceID s; 2 health s?; 6 message s
    VolumeResourceRequirements = 1 limits {Quantity}; 2 requests {Quantity}
    TypedObjectReference = 1 apiGroup s; 2 kind s; 3 name s; 4 namespace s
    PersistentVolumeClaimCondition = 1 type s; 2 status s; 3 lastProbeTime Time; 4 lastTransitionTime Time; 5 reason s?;
       6 message s?
    ModifyVolumeStatus = 1 targetVolumeAttributesClassName s?; 2 status s
    PodFailurePolicyOnExitCodesRequirement = 1 containerName s; 2 operator s; 3 values [i32]
    PodFailurePolicyOnPodConditionsPattern = 1 type s; 2 status s
    ServiceBackendPort = 1 name s?; 2 number i32?
    HTTPIngressRuleValue = 1 paths [HTTPIngressPath]
    IngressPortStatus = 1 port i32; 2 protocol s; 3 error s
    IPBlock = 1 cidr s; 2 except [s]
    FieldSelectorRequirement = 1 key s; 2 operator s; 3 values [s]
    KeyToPath = 1 key s; 2 path s; 3 mode i32
    DownwardAPIVolumeFile = 1 path s; 2 fieldRef ObjectFieldSelector; 3 resourceFieldRef ResourceFieldSelector;
       4 mode i32
    VolumeProjection = 1 secret SecretProjection; 2 downwardAPI DownwardAPIProjection; 3 configMap ConfigMapProjection;
       4 serviceAccountToken ServiceAccountTokenProjection; 5 clusterTrustBundle ClusterTrustBundleProjection;
       6 podCertificate PodCertificateProjection
    PersistentVolumeClaimTemplate = 1 metadata ObjectMeta; 2 spec PersistentVolumeClaimSpec
    ObjectFieldSelector = 1 apiVersion s?; 2 fieldPath s
    ResourceFieldSelector = 1 containerName s?; 2 resource s; 3 divisor Quantity
    ConfigMapKeySelector = 1 localObjectReference LocalObjectReference^; 2 key s; 3 optional b
    SecretKeySelector = 1 localObjectReference LocalObjectReference^; 2 key s; 3 optional b
    FileKeySelector = 1 volumeName s; 2 path s; 3 key s; 4 optional b
    ExecAction = 1 command [s]
    HTTPGetAction = 1 path s?; 2 port IntOrString; 3 host s?; 4 scheme s?; 5 httpHeaders [HTTPHeader]
    TCPSocketAction = 1 port IntOrString; 2 host s?
    GRPCAction = 1 port i32; 2 service s
    SleepAction = 1 seconds i64
    NodeSelectorTerm = 1 matchExpressions [NodeSelectorRequirement]; 2 matchFields [NodeSelectorRequirement]
    ImageVolumeStatus = 1 imageRef s?
    HTTPIngressPath = 1 path s?; 3 pathType s; 2 backend IngressBackend
    SecretProjection = 1 localObjectReference LocalObjectReference^; 2 items [KeyToPath]; 4 optional b
    DownwardAPIProjection = 1 items [DownwardAPIVolumeFile]
    ConfigMapProjection = 1 localObjectReference LocalObjectReference^; 2 items [KeyToPath]; 4 optional b
    ServiceAccountTokenProjection = 1 audience s?; 2 expirationSeconds i64; 3 path s
    ClusterTrustBundleProjection = 1 name s; 2 signerName s; 3 labelSelector LabelSelector; 5 optional b; 4 path s
    PodCertificateProjection = 1 signerName s?; 2 keyType s?; 3 maxExpirationSeconds i32; 4 credentialBundlePath s?;
       5 keyPath s?; 6 certificateChainPath s?; 7 userAnnotations {s}
    HTTPHeader = 1 name s; 2 value s
    NodeSelectorRequirement = 1 key s; 2 operator s; 3 values [s]
    WorkloadReference = 1 name s; 2 podGroup s; 3 podGroupReplicaKey s?
    """
}
