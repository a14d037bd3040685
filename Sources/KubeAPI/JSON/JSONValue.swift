/// A JSON document as the API server sees it: every Kubernetes object is stored and
/// manipulated in this form, so fields the server does not know survive every round trip.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// Integers are kept exact (resourceVersion, generation, replicas); only values with a
    /// fraction or exponent become `.double`.
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    public static let emptyObject = JSONValue.object([:])
}

extension JSONValue {
    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d == d.rounded() && abs(d) < 9e15: return Int64(d)
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// A short name of the JSON type, used in error messages the way Go's decoder words them.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "bool"
        case .int, .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    public subscript(key: String) -> JSONValue? {
        get { objectValue?[key] }
        set { withValue(at: key) { $0 = newValue } }
    }

    /// Changes the value at `key` (nil: absent) in place, without copying it out of this
    /// object first: the way to edit a nested object or array.
    /// A non-object becomes an object only if `body` leaves a value.
    public mutating func withValue<R>(at key: String, _ body: (inout JSONValue?) throws -> R) rethrows -> R {
        guard case .object(var o) = self else {
            var v: JSONValue? = nil
            let r = try body(&v)
            if let v { self = .object([key: v]) }
            return r
        }
        // `o` shares its storage with `self` until `self` lets go: without this, every change
        // would copy the whole dictionary.
        self = .null
        defer { self = .object(o) }
        return try body(&o[key])
    }

    /// Changes every element of an array in place (nothing for other values).
    public mutating func withElements(_ body: (inout JSONValue) throws -> Void) rethrows {
        guard case .array(var a) = self else { return }
        self = .null
        defer { self = .array(a) }
        for i in a.indices { try body(&a[i]) }
    }

    /// Reads a value at a dotted path of object keys (`metadata.name`).
    public func value(at path: [String]) -> JSONValue? {
        var cur: JSONValue = self
        for k in path {
            guard let next = cur[k] else { return nil }
            cur = next
        }
        return cur
    }

    public func value(at dotted: String) -> JSONValue? {
        value(at: dotted.split(separator: ".").map(String.init))
    }

    /// Writes a value at a path, creating intermediate objects; `nil` removes the key.
    public mutating func setValue(_ value: JSONValue?, at path: [String]) {
        setValue(value, at: path[...])
    }

    /// Works in place (`withValue`): nothing on the path is copied.
    private mutating func setValue(_ value: JSONValue?, at path: ArraySlice<String>) {
        guard let first = path.first else {
            if let value { self = value }
            return
        }
        if path.count == 1 {
            self[first] = value
            return
        }
        withValue(at: first) { child in
            if child?.objectValue == nil { child = .emptyObject }
            child!.setValue(value, at: path.dropFirst())
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements))
    }
    public init(nilLiteral: ()) { self = .null }
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension JSONValue {
    /// This object with `other`'s keys set on it (non-objects are returned unchanged).
    public func merging(_ other: JSONObject) -> JSONValue {
        guard case .object(var o) = self else { return self }
        o.merge(other) { _, new in new }
        return .object(o)
    }
}
