package import FoundationEssentials

/// JSON as CNI passes it around: `[String: Any]` trees of Swift values (String, Int, Double,
/// Bool, [Any], [String: Any], `CNIJSON.null`). Our own reader and writer rather than
/// Foundation's JSONSerialization, which would link Foundation, CoreFoundation and ICU into
/// every plugin process (a plugin lives for one call: their start-up and the NSNumber and
/// NSDictionary bridging were a large part of it).
package enum CNIJSON {
    /// JSON's `null`.
    package struct Null: Hashable, Sendable {}
    package static let null = Null()

    package struct Error: Swift.Error, CustomStringConvertible {
        package var offset: Int
        package var reason: String
        package var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    /// Parses one JSON value (surrounding whitespace allowed). Numbers without a fraction or
    /// exponent that fit in an Int become Int, other numbers Double.
    package static func parse(_ data: Data) throws -> Any {
        try data.withUnsafeBytes { raw in
            var r = Reader(bytes: raw.bindMemory(to: UInt8.self))
            r.skipSpace()
            let v = try r.value(depth: 0)
            r.skipSpace()
            guard r.pos == r.bytes.count else { throw r.fail("unexpected data after the value") }
            return v
        }
    }

    /// JSON's whitespace: space, tab, line feed, carriage return.
    package static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0a || b == 0x0d }

    /// `parse` for a top-level object, nil when `data` is not one.
    package static func object(_ data: Data) -> [String: Any]? { (try? parse(data)) as? [String: Any] }

    /// Writes `value`, object keys sorted (our output is stable), optionally indented.
    package static func data(_ value: Any, pretty: Bool = false) throws -> Data {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        try write(value, into: &out, pretty: pretty, indent: 0)
        return Data(out)
    }

    private struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var pos = 0

        init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

        func fail(_ reason: String) -> CNIJSON.Error { CNIJSON.Error(offset: pos, reason: reason) }

        mutating func skipSpace() {
            while pos < bytes.count, CNIJSON.isSpace(bytes[pos]) { pos += 1 }
        }

        mutating func value(depth: Int) throws -> Any {
            guard depth < 512 else { throw fail("nested too deeply") }
            guard pos < bytes.count else { throw fail("unexpected end") }
            switch bytes[pos] {
            case UInt8(ascii: "{"):
                pos += 1
                var obj: [String: Any] = [:]
                skipSpace()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return obj }
                while true {
                    skipSpace()
                    guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                    let k = try string()
                    skipSpace()
                    guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    pos += 1
                    skipSpace()
                    obj[k] = try value(depth: depth + 1)
                    skipSpace()
                    guard pos < bytes.count else { throw fail("unexpected end in an object") }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "}") { pos += 1; return obj }
                    throw fail("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                pos += 1
                var arr: [Any] = []
                skipSpace()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return arr }
                while true {
                    skipSpace()
                    arr.append(try value(depth: depth + 1))
                    skipSpace()
                    guard pos < bytes.count else { throw fail("unexpected end in an array") }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "]") { pos += 1; return arr }
                    throw fail("expected ',' or ']'")
                }
            case UInt8(ascii: "\""):
                return try string()
            case UInt8(ascii: "t"): try literal("true"); return true
            case UInt8(ascii: "f"): try literal("false"); return false
            case UInt8(ascii: "n"): try literal("null"); return CNIJSON.null
            default:
                return try number()
            }
        }

        mutating func literal(_ word: String) throws {
            let w = Array(word.utf8)
            guard pos + w.count <= bytes.count, w.indices.allSatisfy({ bytes[pos + $0] == w[$0] }) else { throw fail("unknown literal") }
            pos += w.count
        }

        mutating func number() throws -> Any {
            let start = pos
            var integral = true
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            let digits = pos
            while pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { pos += 1 }
            guard pos > digits else { throw fail("unexpected character") }
            guard bytes[digits] != 0x30 || pos == digits + 1 else { throw fail("leading zero in a number") }
            if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
                integral = false
                pos += 1
                let f = pos
                while pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { pos += 1 }
                guard pos > f else { throw fail("digits expected after '.'") }
            }
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
                integral = false
                pos += 1
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
                let e = pos
                while pos < bytes.count, (0x30...0x39).contains(bytes[pos]) { pos += 1 }
                guard pos > e else { throw fail("digits expected in an exponent") }
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
            if integral, let i = Int(text) { return i }
            guard let d = Double(text) else { throw fail("number out of range") }
            return d
        }

        mutating func hex4() throws -> UInt32 {
            guard pos + 4 <= bytes.count else { throw fail("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[pos]
                let d: UInt8
                switch c {
                case 0x30...0x39: d = c - 0x30
                case 0x41...0x46: d = c - 0x41 + 10
                case 0x61...0x66: d = c - 0x61 + 10
                default: throw fail("bad \\u escape")
                }
                v = v << 4 | UInt32(d)
                pos += 1
            }
            return v
        }

        mutating func string() throws -> String {
            pos += 1 // opening quote
            var out: [UInt8] = []
            while true {
                guard pos < bytes.count else { throw fail("unterminated string") }
                let c = bytes[pos]
                pos += 1
                switch c {
                case UInt8(ascii: "\""):
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard pos < bytes.count else { throw fail("unterminated escape") }
                    let e = bytes[pos]
                    pos += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0c)
                    case UInt8(ascii: "n"): out.append(0x0a)
                    case UInt8(ascii: "r"): out.append(0x0d)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xd800..<0xdc00).contains(scalar) {
                            guard pos + 2 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                                throw fail("lone surrogate")
                            }
                            pos += 2
                            let low = try hex4()
                            guard (0xdc00..<0xe000).contains(low) else { throw fail("bad surrogate pair") }
                            scalar = 0x10000 + ((scalar - 0xd800) << 10) + (low - 0xdc00)
                        }
                        guard let u = Unicode.Scalar(scalar) else { throw fail("invalid code point") }
                        out.append(contentsOf: Array(String(Character(u)).utf8))
                    default: throw fail("unknown escape")
                    }
                case 0..<0x20:
                    throw fail("control character in a string")
                default:
                    out.append(c)
                }
            }
        }
    }

    private static func write(_ v: Any, into out: inout [UInt8], pretty: Bool, indent: Int) throws {
        func newline(_ level: Int) {
            guard pretty else { return }
            out.append(0x0a)
            out.append(contentsOf: [UInt8](repeating: 0x20, count: level * 2))
        }
        switch v {
        case let s as String: writeString(s, into: &out)
        case let b as Bool: out.append(contentsOf: Array((b ? "true" : "false").utf8))
        case let i as Int: out.append(contentsOf: Array(String(i).utf8))
        case let i as Int64: out.append(contentsOf: Array(String(i).utf8))
        case let i as Int32: out.append(contentsOf: Array(String(i).utf8))
        case let i as UInt16: out.append(contentsOf: Array(String(i).utf8))
        case let i as UInt32: out.append(contentsOf: Array(String(i).utf8))
        case let d as Double:
            guard d.isFinite else { throw Error(offset: out.count, reason: "\(d) has no JSON form") }
            out.append(contentsOf: Array((d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : "\(d)").utf8))
        case is Null: out.append(contentsOf: Array("null".utf8))
        case let a as [Any]:
            out.append(UInt8(ascii: "["))
            for (i, x) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                try write(x, into: &out, pretty: pretty, indent: indent + 1)
            }
            if !a.isEmpty { newline(indent) }
            out.append(UInt8(ascii: "]"))
        case let o as [String: Any]:
            out.append(UInt8(ascii: "{"))
            for (i, k) in o.keys.sorted().enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                writeString(k, into: &out)
                out.append(UInt8(ascii: ":"))
                if pretty { out.append(0x20) }
                try write(o[k]!, into: &out, pretty: pretty, indent: indent + 1)
            }
            if !o.isEmpty { newline(indent) }
            out.append(UInt8(ascii: "}"))
        default:
            throw Error(offset: out.count, reason: "\(type(of: v)) has no JSON form")
        }
    }

    private static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5c, c])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5c, c])
            case 0x0a: out.append(contentsOf: [0x5c, UInt8(ascii: "n")])
            case 0x0d: out.append(contentsOf: [0x5c, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5c, UInt8(ascii: "t")])
            case 0..<0x20:
                let h = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [0x5c, UInt8(ascii: "u"), 0x30, 0x30, h[Int(c >> 4)], h[Int(c & 15)]])
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
