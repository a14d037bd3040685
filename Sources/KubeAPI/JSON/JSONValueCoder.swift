/// Fields of an object that its Swift type does not declare. Declare it as the **last** stored
/// property (`public var unknownFields: UnknownFields?`) of a type decoded with
/// `JSONValueDecoder`: the decoder hands it every key that the synthesized initialiser did
/// not ask for, and `JSONValueEncoder` writes them back. So a client that reads, changes and
/// writes an object never drops fields that a newer server or another client added.
public struct UnknownFields: Codable, Sendable, Hashable {
    public var fields: JSONObject
    public init(_ fields: JSONObject = [:]) { self.fields = fields }
    // With other coders (Foundation's), there is nothing to capture.
    public init(from decoder: any Decoder) throws { fields = [:] }
    public func encode(to encoder: any Encoder) throws {}
}

public struct JSONValueDecodingError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Decodes `Decodable` types from a `JSONValue`.
public struct JSONValueDecoder: Sendable {
    public init() {}
    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try T(from: _JVDecoder(value: value, parent: nil, key: nil, collector: nil))
    }

    /// Decodes and also returns the paths of fields the type does not declare
    /// (`spec.containers[0].foo`), for `fieldValidation=Strict|Warn`.
    public func decodeReportingUnknown<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> (T, [String]) {
        let c = UnknownFieldCollector()
        let v = try T(from: _JVDecoder(value: value, parent: nil, key: nil, collector: c))
        return (v, c.paths)
    }
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try decode(type, from: try JSONParser.parse(bytes))
    }
}

/// Encodes `Encodable` types to a `JSONValue`. Nil optionals are omitted, as `omitempty` would.
public struct JSONValueEncoder: Sendable {
    public init() {}
    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        let enc = _JVEncoder(parent: nil, key: nil)
        try value.encode(to: enc)
        return enc.value ?? .null
    }
}

private func pathString(_ path: [any CodingKey]) -> String {
    var s = ""
    for k in path {
        if let i = k.intValue { s += "[\(i)]" } else { s += s.isEmpty ? k.stringValue : ".\(k.stringValue)" }
    }
    return s
}

private struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String
    init(_ i: Int) {
        intValue = i
        stringValue = "\(i)"
    }
    init?(intValue: Int) { self.init(intValue) }
    init?(stringValue: String) { return nil }
}

private struct NameKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

// MARK: - Decoder

/// A value being decoded or encoded, linked to its parent: under a key, or at an array index
/// (`index >= 0`). The root has no parent.
private protocol PathNode: AnyObject {
    var parent: Self? { get }
    var key: (any CodingKey)? { get }
    var index: Int { get }
}

extension PathNode {
    /// The keys from the root down to this value, built only when asked for.
    var codingPath: [any CodingKey] {
        var keys: [any CodingKey] = []
        var node: Self? = self
        while let n = node, n.parent != nil {
            if let k = n.key { keys.append(k) } else if n.index >= 0 { keys.append(IndexKey(n.index)) }
            node = n.parent
        }
        return keys.reversed()
    }
}

private final class UnknownFieldCollector {
    var paths: [String] = []
}

/// One value being decoded. A class, so that handing it to `T.init(from:)` as `any Decoder`
/// costs one allocation (a struct this size would be boxed as well), and so that the coding
/// path is a chain of parents, built into an array only when an error or a caller asks for it.
/// A pod decode made thousands of `codingPath + [key]` copies before.
private final class _JVDecoder: Decoder, PathNode {
    let value: JSONValue
    let parent: _JVDecoder?
    /// The key under the parent: a `CodingKey`, or an array index (`index >= 0`).
    let key: (any CodingKey)?
    let index: Int
    let collector: UnknownFieldCollector?
    /// Which of the object's members the type asked for and found, one bit per member
    /// (see `_KeyedDec.unknown`): a list of names made a map of n keys cost n² compares. The
    /// first 64 members' bits need no allocation (objects that size are nearly all of them).
    private var firstWord: UInt64 = 0
    private var moreWords: [UInt64] = []
    private(set) var consumedCount = 0

    func consume(_ i: Int) {
        let bit = UInt64(1) << UInt64(i & 63)
        if i < 64 {
            guard firstWord & bit == 0 else { return }
            firstWord |= bit
        } else {
            let w = (i >> 6) - 1
            if w >= moreWords.count { moreWords.append(contentsOf: repeatElement(0, count: w - moreWords.count + 1)) }
            guard moreWords[w] & bit == 0 else { return }
            moreWords[w] |= bit
        }
        consumedCount += 1
    }

    func isConsumed(_ i: Int) -> Bool {
        let bit = UInt64(1) << UInt64(i & 63)
        if i < 64 { return firstWord & bit != 0 }
        let w = (i >> 6) - 1
        return w < moreWords.count && moreWords[w] & bit != 0
    }

    init(value: JSONValue, parent: _JVDecoder?, key: (any CodingKey)?, index: Int = -1, collector: UnknownFieldCollector?) {
        self.value = value
        self.parent = parent
        self.key = key
        self.index = index
        self.collector = collector
    }

    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func mismatch(_ expected: String) -> JSONValueDecodingError {
        JSONValueDecodingError(
            path: pathString(codingPath),
            message: "cannot unmarshal \(value.typeName) into a value of type \(expected)")
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let o) = value else { throw mismatch("object") }
        return KeyedDecodingContainer(_KeyedDec<Key>(object: o, decoder: self))
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let a) = value else { throw mismatch("array") }
        return _UnkeyedDec(array: a, decoder: self)
    }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { _SingleDec(decoder: self) }
}

private struct _KeyedDec<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: JSONObject
    let decoder: _JVDecoder

    var codingPath: [any CodingKey] { decoder.codingPath }
    var allKeys: [Key] { object.keys.compactMap { Key(stringValue: $0) } }
    func contains(_ key: Key) -> Bool { object[key.stringValue] != nil }

    /// Looks a key up and remembers it when present: only keys the object has are recorded
    /// (a PodSpec declares 30 fields and has a handful), so the unknown ones are what is left.
    private func lookup(_ key: Key) -> JSONValue? {
        let (i, found) = object.find(key.stringValue)
        guard found else { return nil }
        decoder.consume(i)
        return object.members[i].value
    }

    private func path(_ key: Key) -> String { pathString(codingPath + [key]) }

    private func child(_ key: Key) throws -> _JVDecoder {
        guard let v = lookup(key) else {
            throw JSONValueDecodingError(path: path(key), message: "required field is missing")
        }
        return _JVDecoder(value: v, parent: decoder, key: key, collector: decoder.collector)
    }

    func decodeNil(forKey key: Key) throws -> Bool { lookup(key)?.isNull ?? true }

    // Scalars are read straight from the object: going through a child decoder and a single
    // value container for every string and integer of a Pod cost most of a decode.
    private func scalar<T>(_ key: Key, _ expected: @autoclosure () -> String, _ read: (JSONValue) -> T?) throws -> T {
        guard let v = lookup(key) else {
            throw JSONValueDecodingError(path: path(key), message: "required field is missing")
        }
        guard let x = read(v) else { throw mismatch(key, v, expected()) }
        return x
    }

    private func scalarIfPresent<T>(_ key: Key, _ expected: @autoclosure () -> String, _ read: (JSONValue) -> T?) throws -> T? {
        guard let v = lookup(key), !v.isNull else { return nil }
        guard let x = read(v) else { throw mismatch(key, v, expected()) }
        return x
    }

    private func mismatch(_ key: Key, _ v: JSONValue, _ expected: String) -> JSONValueDecodingError {
        JSONValueDecodingError(path: path(key), message: "cannot unmarshal \(v.typeName) into a value of type \(expected)")
    }

    private static func integer<I: FixedWidthInteger>(_ v: JSONValue) -> I? { v.intValue.flatMap { I(exactly: $0) } }

    func decode(_ type: String.Type, forKey key: Key) throws -> String { try scalar(key, "string") { $0.stringValue } }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try scalar(key, "bool") { $0.boolValue } }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try scalar(key, "float64") { $0.doubleValue } }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try scalar(key, "int") { Self.integer($0) } }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try scalar(key, "int32") { Self.integer($0) } }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try scalar(key, "int64") { Self.integer($0) } }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try scalarIfPresent(key, "string") { $0.stringValue } }
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try scalarIfPresent(key, "bool") { $0.boolValue } }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try scalarIfPresent(key, "float64") { $0.doubleValue } }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try scalarIfPresent(key, "int") { Self.integer($0) } }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try scalarIfPresent(key, "int32") { Self.integer($0) } }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try scalarIfPresent(key, "int64") { Self.integer($0) } }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        if T.self == UnknownFields.self { return unknown() as! T }
        if T.self == JSONValue.self {
            guard let v = lookup(key) else { throw JSONValueDecodingError(path: path(key), message: "required field is missing") }
            return v as! T
        }
        return try T(from: try child(key))
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        if T.self == UnknownFields.self {
            let u = unknown()
            return u.fields.isEmpty ? nil : (u as! T)
        }
        guard let v = lookup(key), !v.isNull else { return nil }
        if T.self == JSONValue.self { return (v as! T) }
        return try T(from: _JVDecoder(value: v, parent: decoder, key: key, collector: decoder.collector))
    }

    /// The object's fields that no decode asked for (asked for last, by `unknownFields`).
    private func unknown() -> UnknownFields {
        if decoder.consumedCount == object.count { return UnknownFields() }
        var rest = JSONObject()
        for (i, m) in object.members.enumerated() where !decoder.isConsumed(i) { rest.members.append(m) }  // in order already
        if let collector = decoder.collector {
            for k in rest.keys { collector.paths.append(pathString(codingPath + [NameKey(k)])) }  // sorted already
        }
        return UnknownFields(rest)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    { try child(key).container(keyedBy: type) }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }
    func superDecoder() throws -> any Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
}

private struct _UnkeyedDec: UnkeyedDecodingContainer {
    let array: [JSONValue]
    let decoder: _JVDecoder
    var currentIndex = 0
    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { array.count }
    var isAtEnd: Bool { currentIndex >= array.count }

    mutating func next() throws -> _JVDecoder {
        guard !isAtEnd else {
            throw JSONValueDecodingError(path: pathString(codingPath), message: "unexpected end of array")
        }
        defer { currentIndex += 1 }
        return _JVDecoder(value: array[currentIndex], parent: decoder, key: nil, index: currentIndex, collector: decoder.collector)
    }
    mutating func decodeNil() throws -> Bool {
        if !isAtEnd, array[currentIndex].isNull {
            currentIndex += 1
            return true
        }
        return false
    }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self == JSONValue.self, !isAtEnd {
            defer { currentIndex += 1 }
            return array[currentIndex] as! T
        }
        return try T(from: next())
    }
    mutating func decode(_ type: String.Type) throws -> String {
        guard !isAtEnd else { throw JSONValueDecodingError(path: pathString(codingPath), message: "unexpected end of array") }
        guard let s = array[currentIndex].stringValue else {
            throw JSONValueDecodingError(path: pathString(codingPath + [IndexKey(currentIndex)]),
                                         message: "cannot unmarshal \(array[currentIndex].typeName) into a value of type string")
        }
        currentIndex += 1
        return s
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    { try next().container(keyedBy: type) }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

private struct _SingleDec: SingleValueDecodingContainer {
    let decoder: _JVDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }
    var value: JSONValue { decoder.value }

    func decodeNil() -> Bool { value.isNull }
    func decode(_ type: Bool.Type) throws -> Bool {
        guard let b = value.boolValue else { throw decoder.mismatch("bool") }
        return b
    }
    func decode(_ type: String.Type) throws -> String {
        guard let s = value.stringValue else { throw decoder.mismatch("string") }
        return s
    }
    func decode(_ type: Double.Type) throws -> Double {
        guard let d = value.doubleValue else { throw decoder.mismatch("float64") }
        return d
    }
    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
    func integer<I: FixedWidthInteger>(_ t: I.Type) throws -> I {
        guard let i = value.intValue, let v = I(exactly: i) else { throw decoder.mismatch("\(I.self)".lowercased()) }
        return v
    }
    func decode(_ type: Int.Type) throws -> Int { try integer(Int.self) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(Int8.self) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(Int16.self) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(Int32.self) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(Int64.self) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(UInt.self) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(UInt8.self) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(UInt16.self) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(UInt32.self) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(UInt64.self) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self == JSONValue.self { return value as! T }
        return try T(from: decoder)
    }
}

// MARK: - Encoder

/// One value being encoded; like `_JVDecoder`, its coding path is the chain of parents, built
/// only when asked for, and it holds the value its containers write.
private final class _JVEncoder: Encoder, PathNode {
    var value: JSONValue?
    let parent: _JVEncoder?
    let key: (any CodingKey)?
    let index: Int
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(parent: _JVEncoder?, key: (any CodingKey)?, index: Int = -1) {
        self.parent = parent
        self.key = key
        self.index = index
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if value?.objectValue == nil { value = .emptyObject }
        return KeyedEncodingContainer(_KeyedEnc<Key>(encoder: self))
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if value?.arrayValue == nil { value = .array([]) }
        return _UnkeyedEnc(encoder: self)
    }
    func singleValueContainer() -> any SingleValueEncodingContainer { _SingleEnc(encoder: self) }

    /// Encodes a child value; JSONValue and scalars need no encoder of their own.
    func child<T: Encodable>(_ v: T, key: (any CodingKey)?, index: Int = -1) throws -> JSONValue {
        if T.self == JSONValue.self { return v as! JSONValue }
        if T.self == String.self { return .string(v as! String) }
        let e = _JVEncoder(parent: self, key: key, index: index)
        try v.encode(to: e)
        return e.value ?? .emptyObject
    }
}

private struct _KeyedEnc<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: _JVEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    func set(_ k: String, _ v: JSONValue) { encoder.value?[k] = v }
    mutating func encodeNil(forKey key: Key) throws { set(key.stringValue, .null) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(key.stringValue, .string(value)) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(key.stringValue, .bool(value)) }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(key.stringValue, .int(Int64(value))) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(key.stringValue, .int(Int64(value))) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(key.stringValue, .int(value)) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        if T.self == UnknownFields.self {
            for (k, v) in (value as! UnknownFields).fields where encoder.value?[k] == nil { set(k, v) }
            return
        }
        set(key.stringValue, try encoder.child(value, key: key))
    }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { if let value { set(key.stringValue, .string(value)) } }
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { if let value { set(key.stringValue, .bool(value)) } }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { if let value { set(key.stringValue, .int(Int64(value))) } }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { if let value { set(key.stringValue, .int(Int64(value))) } }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { if let value { set(key.stringValue, .int(value)) } }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        guard let value else { return }
        try encode(value, forKey: key)
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        let e = _JVEncoder(parent: encoder, key: key)
        let c = e.container(keyedBy: keyType)
        set(key.stringValue, .emptyObject)
        return c  // nested containers are rare in our types; values written later are not linked back
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        _JVEncoder(parent: encoder, key: key).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder { _JVEncoder(parent: encoder.parent, key: encoder.key, index: encoder.index) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { _JVEncoder(parent: encoder, key: key) }
}

private struct _UnkeyedEnc: UnkeyedEncodingContainer {
    let encoder: _JVEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }
    var count: Int { encoder.value?.arrayValue?.count ?? 0 }

    func append(_ v: JSONValue) {
        // take the array out first, so that appending does not copy it
        var a = encoder.value?.arrayValue ?? []
        encoder.value = nil
        a.append(v)
        encoder.value = .array(a)
    }
    mutating func encodeNil() throws { append(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        append(try encoder.child(value, key: nil, index: count))
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    { _JVEncoder(parent: encoder, key: nil, index: count).container(keyedBy: keyType) }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        _JVEncoder(parent: encoder, key: nil, index: count).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder { _JVEncoder(parent: encoder, key: nil, index: count) }
}

private struct _SingleEnc: SingleValueEncodingContainer {
    let encoder: _JVEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }
    mutating func encodeNil() throws { encoder.value = .null }
    mutating func encode(_ value: Bool) throws { encoder.value = .bool(value) }
    mutating func encode(_ value: String) throws { encoder.value = .string(value) }
    mutating func encode(_ value: Double) throws { encoder.value = .double(value) }
    mutating func encode(_ value: Float) throws { encoder.value = .double(Double(value)) }
    mutating func encode(_ value: Int) throws { encoder.value = .int(Int64(value)) }
    mutating func encode(_ value: Int8) throws { encoder.value = .int(Int64(value)) }
    mutating func encode(_ value: Int16) throws { encoder.value = .int(Int64(value)) }
    mutating func encode(_ value: Int32) throws { encoder.value = .int(Int64(value)) }
    mutating func encode(_ value: Int64) throws { encoder.value = .int(value) }
    mutating func encode(_ value: UInt) throws { encoder.value = .int(Int64(value)) }
    mutating func encode(_ value: UInt8) throws { encoder.value = .int(Int64(value)) }
    mutating func encode(_ value: UInt16) throws { encoder.value = .int(Int64(value)) }
    mutating func encode(_ value: UInt32) throws { encoder.value = .int(Int64(value)) }
    mutating func encode(_ value: UInt64) throws { encoder.value = .int(Int64(clamping: value)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        encoder.value = try encoder.child(value, key: nil)
    }
}

// JSONValue itself is Codable, so typed models can hold free-form parts (CRD schemas, raw extensions).
extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode(JSONObject.self))
        }
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}
