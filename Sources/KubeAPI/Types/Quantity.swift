/// A Kubernetes resource quantity ("100m", "1Gi", "2", "1.5", "1e3"), parsed exactly.
///
/// The value is held as an integer count of nano-units, so "1000m" == "1" and "1Ki" == "1024"
/// compare equal without floating point. Values below one nano-unit round up, as
/// Kubernetes does. The original text is kept for serialisation.
public struct Quantity: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The value in units of 10⁻⁹.
    public let nanos: Int128
    public let text: String

    public enum ParseError: Error, Sendable, CustomStringConvertible {
        case empty
        case invalid(String)
        public var description: String {
            switch self {
            case .empty: return "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
            case .invalid(let s):
                return "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$' (got \"\(s)\")"
            }
        }
    }

    private static let binary: [String: Int] = ["Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60]
    private static let decimal: [String: Int] = [
        "n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18,
    ]
    private static let limit: Int128 = Int128(1) << 120

    public init(_ text: String) throws(ParseError) {
        guard !text.isEmpty else { throw .empty }
        var s = Substring(text)
        var negative = false
        if s.first == "+" || s.first == "-" {
            negative = s.first == "-"
            s = s.dropFirst()
        }
        let numEnd = s.firstIndex(where: { !($0.isASCII && ($0.isNumber || $0 == ".")) }) ?? s.endIndex
        let number = s[s.startIndex..<numEnd]
        let suffix = String(s[numEnd...])
        guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1 else { throw .invalid(text) }
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        let intPart = String(parts[0])
        let fracPart = parts.count > 1 ? String(parts[1]) : ""
        guard intPart.count + fracPart.count <= 30 else { throw .invalid(text) }
        // mantissa as integer, with `scale` decimal digits after the point
        guard let mantissa = Int128((intPart.isEmpty ? "0" : intPart) + fracPart) else { throw .invalid(text) }
        var exp10 = -fracPart.count
        var exp2 = 0
        if let b = Self.binary[suffix] {
            exp2 = b
        } else if let d = Self.decimal[suffix] {
            exp10 += d
        } else if suffix.first == "e" || suffix.first == "E", let e = Int(suffix.dropFirst()), abs(e) <= 30 {
            exp10 += e
        } else {
            throw .invalid(text)
        }
        // nanos = mantissa * 2^exp2 * 10^(exp10 + 9), rounding up any remainder
        var v = mantissa
        if exp2 > 0 { v <<= exp2 }
        let e = exp10 + 9
        if e >= 0 {
            for _ in 0..<e {
                guard v < Self.limit else { throw .invalid(text) }
                v *= 10
            }
        } else {
            var divisor: Int128 = 1
            for _ in 0..<(-e) { divisor *= 10 }
            let (q, r) = v.quotientAndRemainder(dividingBy: divisor)
            v = q + (r > 0 ? 1 : 0)
        }
        guard v < Self.limit else { throw .invalid(text) }
        nanos = negative ? -v : v
        self.text = text
    }

    public init(milli: Int64) {
        nanos = Int128(milli) * 1_000_000
        text = milli % 1000 == 0 ? "\(milli / 1000)" : "\(milli)m"
    }

    public init(integer: Int64) {
        nanos = Int128(integer) * 1_000_000_000
        text = "\(integer)"
    }

    /// The value rounded up to a whole unit (bytes, cores, pods).
    public var value: Int64 {
        let (q, r) = nanos.quotientAndRemainder(dividingBy: 1_000_000_000)
        return Int64(clamping: q + (r > 0 ? 1 : 0))
    }

    /// The value in thousandths, rounded up (millicores).
    public var milliValue: Int64 {
        let (q, r) = nanos.quotientAndRemainder(dividingBy: 1_000_000)
        return Int64(clamping: q + (r > 0 ? 1 : 0))
    }

    public var isInteger: Bool { nanos % 1_000_000_000 == 0 }

    public var description: String { text }

    public static func < (a: Quantity, b: Quantity) -> Bool { a.nanos < b.nanos }
    public static func == (a: Quantity, b: Quantity) -> Bool { a.nanos == b.nanos }
    public func hash(into h: inout Hasher) { h.combine(nanos) }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            try self.init(s)
        } else if let i = try? c.decode(Int64.self) {
            self.init(integer: i)
        } else {
            let d = try c.decode(Double.self)
            try self.init("\(d)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }
}

/// `IntOrString` as Kubernetes uses it for ports and rolling-update budgets.
public enum IntOrString: Codable, Sendable, Hashable, CustomStringConvertible {
    case int(Int32)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int32.self) { self = .int(i) } else { self = .string(try c.decode(String.self)) }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let i): try c.encode(i)
        case .string(let s): try c.encode(s)
        }
    }
    public var description: String {
        switch self {
        case .int(let i): return "\(i)"
        case .string(let s): return s
        }
    }

    /// Resolves a value such as "25%" against a total, rounding up or down as asked.
    public func scaled(total: Int, roundUp: Bool) -> Int? {
        switch self {
        case .int(let i): return Int(i)
        case .string(let s):
            guard s.hasSuffix("%"), let p = Int(s.dropLast()) else { return Int(s) }
            let num = p * total
            return roundUp ? (num + 99) / 100 : num / 100
        }
    }
}
