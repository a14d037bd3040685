/// Derives OpenAPI v3 schemas from `Decodable` models by decoding them with a probing
/// decoder that records every key and type the synthesized initialisers ask for. The API
/// server publishes these as `/openapi/v3`, which `kubectl explain` and kubectl's field
/// validation read.
public enum SchemaProbe {
    /// Schemas by definition name, plus the root definition's name.
    public static func schemas<T: Decodable>(for type: T.Type, naming: @escaping (String) -> String) -> (root: String, schemas: JSONObject) {
        let ctx = ProbeContext(naming: naming)
        let root = ctx.schema(of: T.self)
        _ = root
        return (naming(String(describing: T.self)), ctx.schemas)
    }
}

/// Types that describe their own schema instead of being probed.
public protocol SchemaDescribing {
    static var openAPISchema: JSONValue { get }
}

extension Quantity: SchemaDescribing {
    public static var openAPISchema: JSONValue {
        ["type": "string", "x-kubernetes-int-or-string": true,
         "description": "Quantity is a fixed-point representation of a number, such as \"100m\", \"1Gi\" or \"2\"."]
    }
}

extension IntOrString: SchemaDescribing {
    public static var openAPISchema: JSONValue {
        ["type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": true,
         "description": "IntOrString is a type that can hold an int32 or a string."]
    }
}

extension JSONValue: SchemaDescribing {
    public static var openAPISchema: JSONValue { ["type": "object", "x-kubernetes-preserve-unknown-fields": true] }
}

private protocol _DictProbe {
    static var valueType: any Decodable.Type { get }
}
extension Dictionary: _DictProbe where Key == String, Value: Decodable {
    static var valueType: any Decodable.Type { Value.self }
}

private protocol _ArrayProbe {
    static var elementType: any Decodable.Type { get }
}
extension Array: _ArrayProbe where Element: Decodable {
    static var elementType: any Decodable.Type { Element.self }
}

private protocol _OptionalProbe {
    static var wrappedType: any Decodable.Type { get }
}
extension Optional: _OptionalProbe where Wrapped: Decodable {
    static var wrappedType: any Decodable.Type { Wrapped.self }
}

private final class ProbeContext {
    struct Result {
        var inline: JSONValue
        var ref: String?
    }
    var schemas: JSONObject = [:]
    var inProgress: Set<String> = []
    let naming: (String) -> String
    init(naming: @escaping (String) -> String) { self.naming = naming }

    func schema(of t: any Decodable.Type) -> Result {
        if let d = t as? any SchemaDescribing.Type { return Result(inline: d.openAPISchema) }
        if t == String.self { return Result(inline: ["type": "string"]) }
        if t == Bool.self { return Result(inline: ["type": "boolean"]) }
        if t == Int32.self || t == Int.self || t == UInt16.self { return Result(inline: ["type": "integer", "format": "int32"]) }
        if t == Int64.self { return Result(inline: ["type": "integer", "format": "int64"]) }
        if t == Double.self || t == Float.self { return Result(inline: ["type": "number", "format": "double"]) }
        if let o = t as? any _OptionalProbe.Type { return schema(of: o.wrappedType) }
        if let a = t as? any _ArrayProbe.Type {
            let e = schema(of: a.elementType)
            return Result(inline: ["type": "array", "items": e.ref.map { ["allOf": [["$ref": .string($0)]], "default": [:]] } ?? e.inline])
        }
        if let d = t as? any _DictProbe.Type {
            let e = schema(of: d.valueType)
            return Result(inline: ["type": "object", "additionalProperties": e.ref.map { ["allOf": [["$ref": .string($0)]]] } ?? e.inline])
        }
        let name = naming(String(describing: t))
        let ref = "#/components/schemas/\(name)"
        if schemas[name] != nil || inProgress.contains(name) { return Result(inline: [:], ref: ref) }
        inProgress.insert(name)
        let rec = Recorder()
        _ = try? t.init(from: ProbeDecoder(ctx: self, rec: rec))
        var props: JSONObject = [:]
        for (k, s) in rec.props {
            props[k] = s.ref.map { ["allOf": [["$ref": .string($0)]], "default": [:], "description": .string(Self.describe(k))] }
                ?? s.inline.merging(["description": .string(Self.describe(k))])
        }
        var schema: JSONValue = ["type": "object", "properties": .object(props),
                                 "description": .string("\(String(describing: t)) as served by swiftlet.")]
        if !rec.required.isEmpty { schema["required"] = .array(rec.required.sorted().map(JSONValue.string)) }
        schemas[name] = schema
        inProgress.remove(name)
        return Result(inline: [:], ref: ref)
    }

    static func describe(_ key: String) -> String {
        switch key {
        case "apiVersion": return "APIVersion defines the versioned schema of this representation of an object."
        case "kind": return "Kind is a string value representing the REST resource this object represents."
        case "metadata": return "Standard object's metadata."
        case "spec": return "Specification of the desired behavior of the object."
        case "status": return "Most recently observed status of the object. Read-only."
        default: return ""
        }
    }
}

private final class Recorder {
    var props: [(String, ProbeContext.Result)] = []
    var required: Set<String> = []
    /// Keys the initialiser checked for null first: optionals of primitive types.
    var optional: Set<String> = []
}

private struct ProbeDecoder: Decoder {
    let ctx: ProbeContext
    let rec: Recorder
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(ProbeKeyed<Key>(ctx: ctx, rec: rec))
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { ProbeUnkeyed() }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { ProbeSingle() }
}

private struct ProbeStop: Error {}

private struct ProbeKeyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let ctx: ProbeContext
    let rec: Recorder
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { [] }
    func contains(_ key: Key) -> Bool { true }
    func decodeNil(forKey key: Key) throws -> Bool {
        rec.optional.insert(key.stringValue)
        return false
    }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        if T.self == UnknownFields.self { return UnknownFields() as! T }
        rec.props.append((key.stringValue, ctx.schema(of: T.self)))
        if !rec.optional.contains(key.stringValue) { rec.required.insert(key.stringValue) }
        // a placeholder instance lets the synthesized initialiser go on to the next key
        return try T(from: DummyDecoder())
    }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        if T.self == UnknownFields.self { return nil }
        rec.props.append((key.stringValue, ctx.schema(of: T.self)))
        return nil
    }
    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        throw ProbeStop()
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { throw ProbeStop() }
    func superDecoder() throws -> any Decoder { throw ProbeStop() }
    func superDecoder(forKey key: Key) throws -> any Decoder { throw ProbeStop() }
}

private struct ProbeUnkeyed: UnkeyedDecodingContainer {
    var codingPath: [any CodingKey] { [] }
    var count: Int? { 0 }
    var isAtEnd: Bool { true }
    var currentIndex: Int { 0 }
    mutating func decodeNil() throws -> Bool { true }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { throw ProbeStop() }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> { throw ProbeStop() }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { throw ProbeStop() }
    mutating func superDecoder() throws -> any Decoder { throw ProbeStop() }
}

private struct ProbeSingle: SingleValueDecodingContainer {
    var codingPath: [any CodingKey] { [] }
    func decodeNil() -> Bool { true }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { throw ProbeStop() }
}

/// Produces placeholder values of any `Decodable` type: zero, empty, nil.
struct DummyDecoder: Decoder {
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(DummyKeyed<Key>())
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer { ProbeUnkeyed() }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { DummySingle() }
}

private struct DummyKeyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { [] }
    func contains(_ key: Key) -> Bool { false }
    func decodeNil(forKey key: Key) throws -> Bool { true }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        if T.self == UnknownFields.self { return UnknownFields() as! T }
        return try T(from: DummyDecoder())
    }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? { nil }
    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        KeyedDecodingContainer(DummyKeyed<NestedKey>())
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { ProbeUnkeyed() }
    func superDecoder() throws -> any Decoder { DummyDecoder() }
    func superDecoder(forKey key: Key) throws -> any Decoder { DummyDecoder() }
}

private struct DummySingle: SingleValueDecodingContainer {
    var codingPath: [any CodingKey] { [] }
    func decodeNil() -> Bool { false }
    func decode(_ type: Bool.Type) throws -> Bool { false }
    func decode(_ type: String.Type) throws -> String { "0" }
    func decode(_ type: Double.Type) throws -> Double { 0 }
    func decode(_ type: Float.Type) throws -> Float { 0 }
    func decode(_ type: Int.Type) throws -> Int { 0 }
    func decode(_ type: Int8.Type) throws -> Int8 { 0 }
    func decode(_ type: Int16.Type) throws -> Int16 { 0 }
    func decode(_ type: Int32.Type) throws -> Int32 { 0 }
    func decode(_ type: Int64.Type) throws -> Int64 { 0 }
    func decode(_ type: UInt.Type) throws -> UInt { 0 }
    func decode(_ type: UInt8.Type) throws -> UInt8 { 0 }
    func decode(_ type: UInt16.Type) throws -> UInt16 { 0 }
    func decode(_ type: UInt32.Type) throws -> UInt32 { 0 }
    func decode(_ type: UInt64.Type) throws -> UInt64 { 0 }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if T.self == JSONValue.self { return JSONValue.null as! T }
        return try T(from: DummyDecoder())
    }
}
