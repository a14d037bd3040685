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

    private static let limit: Int128 = Int128(1) << 120

    public init(_ text: String) throws(ParseError) {
        guard !text.isEmpty else { throw .empty }
        var t = text
        // On the bytes: quantities are parsed for every container of every pod written (the
        // Character-based version, with its dictionaries of suffixes, was ~3 % of a create).
        guard let v = t.withUTF8({ Self.nanos(of: $0) }) else { throw .invalid(text) }
        nanos = v
        self.text = text
    }

    /// The value of a non-empty quantity in nano-units, or nil when it does not match
    /// `^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$` as Kubernetes reads it (at most one '.',
    /// at most 30 digits, a known suffix or a decimal exponent of at most ±30).
    private static func nanos(of u: UnsafeBufferPointer<UInt8>) -> Int128? {
        let n = u.count
        var i = 0
        var negative = false
        if u[0] == UInt8(ascii: "+") || u[0] == UInt8(ascii: "-") {
            negative = u[0] == UInt8(ascii: "-")
            i = 1
        }
        // the number: digits and at most one '.', as one integer mantissa
        var mantissa: Int128 = 0
        var digits = 0, fracDigits = 0, dots = 0, numberLength = 0
        while i < n {
            let c = u[i]
            if c == UInt8(ascii: ".") {
                dots += 1
            } else if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                digits += 1
                if digits > 30 { return nil }
                mantissa = mantissa * 10 + Int128(c - UInt8(ascii: "0"))
                if dots > 0 { fracDigits += 1 }
            } else {
                break
            }
            numberLength += 1
            i += 1
        }
        guard numberLength > 0, dots <= 1, digits > 0 else { return nil }
        // the suffix: binary (Ki…Ei), decimal (n…E), or an exponent (e3, E-2)
        var exp10 = -fracDigits
        var exp2 = 0
        let rest = n - i
        func at(_ k: Int) -> UInt8 { u[i + k] }
        if rest == 0 {
            // no suffix: units
        } else if rest == 2, at(1) == UInt8(ascii: "i"), let b = binaryShift(at(0)) {
            exp2 = b
        } else if rest == 1, let d = decimalExponent(at(0)) {
            exp10 += d
        } else if at(0) == UInt8(ascii: "e") || at(0) == UInt8(ascii: "E") {
            // as Int(_:) reads the rest: an optional sign, then one or more digits
            var k = 1
            var expNegative = false
            if k < rest, at(k) == UInt8(ascii: "+") || at(k) == UInt8(ascii: "-") {
                expNegative = at(k) == UInt8(ascii: "-")
                k += 1
            }
            guard k < rest else { return nil }
            var e = 0
            while k < rest {
                let c = at(k)
                guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return nil }
                if e <= 30 { e = e * 10 + Int(c - UInt8(ascii: "0")) }
                k += 1
            }
            guard e <= 30 else { return nil }
            exp10 += expNegative ? -e : e
        } else {
            return nil
        }
        // nanos = mantissa * 2^exp2 * 10^(exp10 + 9), rounding up any remainder
        var v = mantissa
        if exp2 > 0 { v <<= exp2 }
        let e = exp10 + 9
        if e >= 0 {
            for _ in 0..<e {
                guard v < limit else { return nil }
                v *= 10
            }
        } else {
            var divisor: Int128 = 1
            for _ in 0..<(-e) { divisor *= 10 }
            let (q, r) = v.quotientAndRemainder(dividingBy: divisor)
            v = q + (r > 0 ? 1 : 0)
        }
        guard v < limit else { return nil }
        return negative ? -v : v
    }

    private static func binaryShift(_ c: UInt8) -> Int? {
        switch c {
        case UInt8(ascii: "K"): 10
        case UInt8(ascii: "M"): 20
        case UInt8(ascii: "G"): 30
        case UInt8(ascii: "T"): 40
        case UInt8(ascii: "P"): 50
        case UInt8(ascii: "E"): 60
        default: nil
        }
    }

    private static func decimalExponent(_ c: UInt8) -> Int? {
        switch c {
        case UInt8(ascii: "n"): -9
        case UInt8(ascii: "u"): -6
        case UInt8(ascii: "m"): -3
        case UInt8(ascii: "k"): 3
        case UInt8(ascii: "M"): 6
        case UInt8(ascii: "G"): 9
        case UInt8(ascii: "T"): 12
        case UInt8(ascii: "P"): 15
        case UInt8(ascii: "E"): 18
        default: nil
        }
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
