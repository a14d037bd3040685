import Foundation

/// A parsed label selector (`app=web,tier in (fe,be),!canary`), matched like Kubernetes does.
public struct LabelSelectorExpr: Sendable, Hashable, CustomStringConvertible {
    public enum Op: Sendable, Hashable {
        case equals, notEquals, `in`, notIn, exists, doesNotExist, gt, lt
    }
    public struct Requirement: Sendable, Hashable {
        public var key: String
        public var op: Op
        public var values: [String]
    }
    public var requirements: [Requirement]

    public static let everything = LabelSelectorExpr(requirements: [])
    public var isEmpty: Bool { requirements.isEmpty }

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(requirements: [Requirement]) { self.requirements = requirements }

    /// Parses the string form used in `?labelSelector=`.
    public init(parsing text: String) throws {
        var reqs: [Requirement] = []
        var s = Substring(text)
        func skipSpaces() { while s.first == " " { s = s.dropFirst() } }
        func readKey() -> String {
            skipSpaces()
            let end = s.firstIndex(where: { " =!,()<>".contains($0) }) ?? s.endIndex
            defer { s = s[end...] }
            return String(s[..<end])
        }
        skipSpaces()
        while !s.isEmpty {
            skipSpaces()
            var negate = false
            if s.first == "!" {
                negate = true
                s = s.dropFirst()
            }
            let key = readKey()
            guard !key.isEmpty else { throw ParseError(description: "unable to parse requirement: found '\(s.first.map(String.init) ?? "")', expected: identifier") }
            try Self.validateKey(key)
            skipSpaces()
            if negate {
                reqs.append(Requirement(key: key, op: .doesNotExist, values: []))
            } else if s.isEmpty || s.first == "," {
                reqs.append(Requirement(key: key, op: .exists, values: []))
            } else if s.hasPrefix("==") || s.hasPrefix("!=") || s.first == "=" || s.first == ">" || s.first == "<" {
                let op: Op
                if s.hasPrefix("==") {
                    op = .equals
                    s = s.dropFirst(2)
                } else if s.hasPrefix("!=") {
                    op = .notEquals
                    s = s.dropFirst(2)
                } else if s.first == "=" {
                    op = .equals
                    s = s.dropFirst()
                } else if s.first == ">" {
                    op = .gt
                    s = s.dropFirst()
                } else {
                    op = .lt
                    s = s.dropFirst()
                }
                skipSpaces()
                let end = s.firstIndex(where: { $0 == "," || $0 == " " }) ?? s.endIndex
                let value = String(s[..<end])
                s = s[end...]
                if op == .gt || op == .lt, Int64(value) == nil {
                    throw ParseError(description: "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer")
                }
                try Self.validateValue(value)
                reqs.append(Requirement(key: key, op: op, values: [value]))
            } else {
                let word = readKey()
                let op: Op
                switch word {
                case "in": op = .in
                case "notin": op = .notIn
                default: throw ParseError(description: "unable to parse requirement: found '\(word)', expected: in, notin, =, ==, !=, gt, lt")
                }
                skipSpaces()
                guard s.first == "(" else { throw ParseError(description: "unable to parse requirement: found '\(s.first.map(String.init) ?? "")', expected: '('") }
                s = s.dropFirst()
                guard let close = s.firstIndex(of: ")") else { throw ParseError(description: "unable to parse requirement: found '', expected: ')'") }
                let values = s[..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                for v in values { try Self.validateValue(v) }
                s = s[s.index(after: close)...]
                reqs.append(Requirement(key: key, op: op, values: values))
            }
            skipSpaces()
            if s.first == "," { s = s.dropFirst() } else if !s.isEmpty {
                throw ParseError(description: "found '\(s.first!)', expected: ',' or 'end of string'")
            }
        }
        requirements = reqs
    }

    /// From the structured form in objects (`spec.selector`).
    public init(_ selector: LabelSelector) throws {
        var reqs: [Requirement] = []
        for (k, v) in (selector.matchLabels ?? [:]).sorted(by: { $0.key < $1.key }) {
            reqs.append(Requirement(key: k, op: .equals, values: [v]))
        }
        for e in selector.matchExpressions ?? [] {
            let op: Op
            switch e.operator {
            case "In": op = .in
            case "NotIn": op = .notIn
            case "Exists": op = .exists
            case "DoesNotExist": op = .doesNotExist
            default: throw ParseError(description: "\"\(e.operator)\" is not a valid label selector operator")
            }
            reqs.append(Requirement(key: e.key, op: op, values: e.values ?? []))
        }
        requirements = reqs
    }

    public static func validateKey(_ key: String) throws {
        guard isValidKey(key) else {
            throw ParseError(description: "invalid label key \"\(key)\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")
        }
    }

    public static func validateValue(_ v: String) throws {
        guard isValidValue(v) else {
            throw ParseError(description: "invalid label value: \"\(v)\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")
        }
    }

    /// A qualified name as Kubernetes' `IsQualifiedName` reads it: an optional DNS-1123
    /// subdomain prefix and '/', then a name of 1–63 characters matching
    /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`. On the bytes (ASCII only, as there).
    public static func isValidKey(_ key: String) -> Bool { keyProblem(key) == nil }

    /// Which part of a label key breaks `IsQualifiedName`, if any (upstream words its error by part).
    public enum KeyPart: Sendable { case prefix, name }

    public static func keyProblem(_ key: String) -> KeyPart? {
        var k = key
        return k.withUTF8 { u in
            guard let slash = u.firstIndex(of: UInt8(ascii: "/")) else { return isLabelName(u[...]) ? nil : .name }
            let prefix = u[..<slash], name = u[(slash + 1)...]
            if !isDNS1123Subdomain(prefix) { return .prefix }
            return !name.contains(UInt8(ascii: "/")) && isLabelName(name) ? nil : .name
        }
    }

    /// Empty, or 1–63 characters matching `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
    public static func isValidValue(_ v: String) -> Bool {
        var s = v
        return s.withUTF8 { u in u.isEmpty || isLabelName(u[...]) }
    }

    private static func isAlnum(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }

    private static func isLabelName(_ u: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        guard let first = u.first, let last = u.last, u.count <= 63, isAlnum(first), isAlnum(last) else { return false }
        return u.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    /// At most 253 characters: dot-separated labels of lowercase letters, digits and '-',
    /// each starting and ending with a letter or digit.
    private static func isDNS1123Subdomain(_ u: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        guard !u.isEmpty, u.count <= 253 else { return false }
        var labelStart = true
        var previous: UInt8 = 0
        for c in u {
            let lowerAlnum = (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
            if c == UInt8(ascii: ".") {
                if labelStart || previous == UInt8(ascii: "-") { return false }
                labelStart = true
            } else if c == UInt8(ascii: "-") {
                if labelStart { return false }
            } else if lowerAlnum {
                labelStart = false
            } else {
                return false
            }
            previous = c
        }
        return !labelStart && previous != UInt8(ascii: "-")
    }

    public func matches(_ labels: [String: String]) -> Bool {
        for r in requirements {
            let v = labels[r.key]
            switch r.op {
            case .equals, .in: guard let v, r.values.contains(v) else { return false }
            case .notEquals, .notIn: if let v, r.values.contains(v) { return false }
            case .exists: if v == nil { return false }
            case .doesNotExist: if v != nil { return false }
            case .gt: guard let v, let a = Int64(v), let b = Int64(r.values[0]), a > b else { return false }
            case .lt: guard let v, let a = Int64(v), let b = Int64(r.values[0]), a < b else { return false }
            }
        }
        return true
    }

    public var description: String {
        requirements.map { r in
            switch r.op {
            case .equals: return "\(r.key)=\(r.values[0])"
            case .notEquals: return "\(r.key)!=\(r.values[0])"
            case .in: return "\(r.key) in (\(r.values.joined(separator: ",")))"
            case .notIn: return "\(r.key) notin (\(r.values.joined(separator: ",")))"
            case .exists: return r.key
            case .doesNotExist: return "!\(r.key)"
            case .gt: return "\(r.key)>\(r.values[0])"
            case .lt: return "\(r.key)<\(r.values[0])"
            }
        }.joined(separator: ",")
    }
}

/// A parsed field selector (`spec.nodeName=n1,status.phase!=Failed`).
public struct FieldSelectorExpr: Sendable, Hashable {
    public struct Requirement: Sendable, Hashable {
        public var field: String
        public var equals: Bool
        public var value: String
    }
    public var requirements: [Requirement]
    public var isEmpty: Bool { requirements.isEmpty }

    public init(parsing text: String) throws {
        var reqs: [Requirement] = []
        for part in text.split(separator: ",") where !part.isEmpty {
            let p = String(part)
            if let r = p.range(of: "!=") {
                reqs.append(Requirement(field: String(p[..<r.lowerBound]), equals: false, value: String(p[r.upperBound...])))
            } else if let r = p.range(of: "==") {
                reqs.append(Requirement(field: String(p[..<r.lowerBound]), equals: true, value: String(p[r.upperBound...])))
            } else if let r = p.range(of: "=") {
                reqs.append(Requirement(field: String(p[..<r.lowerBound]), equals: true, value: String(p[r.upperBound...])))
            } else {
                throw LabelSelectorExpr.ParseError(description: "invalid selector: '\(p)'; can't understand '\(p)'")
            }
        }
        requirements = reqs
    }

    public func matches(_ fields: [String: String]) -> Bool {
        for r in requirements {
            let v = fields[r.field] ?? ""
            if (v == r.value) != r.equals { return false }
        }
        return true
    }
}
