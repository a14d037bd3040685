import Synchronization

/// What a `Decodable` model accepts, compiled once by probing its synthesized initialiser, so
/// a `JSONValue` can be checked against the model without building the typed value.
///
/// `check` answers what `JSONValueDecoder.decodeReportingUnknown` answers (the same first
/// error, with the same path and wording; the same unknown-field paths) at a fraction of the
/// cost: the API server checks every write this way. A type whose initialiser the probe
/// cannot follow is checked by the decoder itself, so nothing is ever accepted that the
/// decoder refuses.
public final class TypeShape: @unchecked Sendable {
    enum Kind {
        case string, bool, double
        /// An integer that must fit `min...max`; `name` as the decoder words it ("int32").
        case integer(name: String, min: Int64, max: Int64)
        case quantity, intOrString, any
        case array(TypeShape)
        case map(TypeShape)
        case object(ObjectFields, captureUnknown: Bool)
        case decoded(any Decodable.Type)
        case unresolved
    }

    struct Field {
        let key: String
        let shape: TypeShape
        let required: Bool
    }

    /// A model's fields in declaration order (the decoder's order, which decides the first
    /// error), with the index of each key and the positions of the required ones: an object is
    /// checked by the keys it has, not by every field its model declares.
    struct ObjectFields {
        let fields: [Field]
        let index: [String: Int]
        let required: [Int]

        init(_ fields: [Field]) {
            self.fields = fields
            index = Dictionary(fields.enumerated().map { ($0.element.key, $0.offset) }, uniquingKeysWith: { first, _ in first })
            required = fields.indices.filter { fields[$0].required }
        }
    }

    // Written only while `Builder` compiles the shape, read-only once `of` returns it.
    fileprivate(set) var kind: Kind = .unresolved
    private init() {}

    /// The shape of `type`, compiled on first use and cached for the process.
    public static func of<T: Decodable>(_ type: T.Type) -> TypeShape {
        cache.withLock { c in
            if let s = c[ObjectIdentifier(type)] { return s }
            let s = Builder().shape(of: type)
            c[ObjectIdentifier(type)] = s
            return s
        }
    }

    private static let cache = Mutex<[ObjectIdentifier: TypeShape]>([:])

    /// Checks `value`; returns the paths of fields that the model does not declare
    /// (`spec.containers[0].foo`) where it captures them, throws where decoding would throw.
    /// With `old`, only what differs from it: an object's field (declared or not) or an array's
    /// element equal to the one at the same place in `old` is taken as checked when `old` was
    /// written. For a patched object, whose unchanged parts are the stored object's (mostly
    /// the same storage, so equal at once).
    public func check(_ value: JSONValue, unchangedFrom old: JSONValue? = nil) throws -> [String] {
        var path: [PathItem] = []
        var unknown: [String] = []
        try check(value, old, &path, &unknown)
        return unknown
    }

    enum PathItem {
        case key(String)
        case index(Int)
        /// A key of a `[String: T]`: the decoder's coding key for it has an int value
        /// when the key reads as an integer, and such keys print as `[80]`.
        case mapKey(String)
    }

    static func pathString(_ path: [PathItem]) -> String {
        var s = ""
        for p in path {
            switch p {
            case .index(let i): s += "[\(i)]"
            case .mapKey(let k) where Int(k) != nil: s += "[\(k)]"
            case .key(let k), .mapKey(let k): s += s.isEmpty ? k : ".\(k)"
            }
        }
        return s
    }

    private func mismatch(_ v: JSONValue, _ expected: String, _ path: [PathItem]) -> JSONValueDecodingError {
        JSONValueDecodingError(path: Self.pathString(path), message: "cannot unmarshal \(v.typeName) into a value of type \(expected)")
    }

    private func check(_ v: JSONValue, _ old: JSONValue?, _ path: inout [PathItem], _ unknown: inout [String]) throws {
        switch kind {
        case .any:
            return
        case .string:
            guard case .string = v else { throw mismatch(v, "string", path) }
        case .bool:
            guard case .bool = v else { throw mismatch(v, "bool", path) }
        case .double:
            guard v.doubleValue != nil else { throw mismatch(v, "float64", path) }
        case .integer(let name, let lo, let hi):
            guard let i = v.intValue, i >= lo, i <= hi else { throw mismatch(v, name, path) }
        case .quantity:
            // as `Quantity.init(from:)`: a string, else an integer, else a float
            switch v {
            case .string(let s): _ = try Quantity(s)
            case _ where v.intValue != nil: return
            case _ where v.doubleValue != nil: _ = try Quantity("\(v.doubleValue!)")
            default: throw mismatch(v, "float64", path)
            }
        case .intOrString:
            if let i = v.intValue, Int32(exactly: i) != nil { return }
            guard case .string = v else { throw mismatch(v, "string", path) }
        case .array(let element):
            guard case .array(let a) = v else { throw mismatch(v, "array", path) }
            let was = old?.arrayValue
            for (i, e) in a.enumerated() {
                let before = was.flatMap { i < $0.count ? $0[i] : nil }
                if before == e { continue }
                path.append(.index(i))
                try element.check(e, before, &path, &unknown)
                path.removeLast()
            }
        case .map(let value):
            guard case .object(let o) = v else { throw mismatch(v, "object", path) }
            if case .any = value.kind { return }
            for k in o.keys.sorted() {
                let before = old?[k]
                if before == o[k] { continue }
                path.append(.mapKey(k))
                try value.check(o[k]!, before, &path, &unknown)
                path.removeLast()
            }
        case .object(let model, let captureUnknown):
            guard case .object(let o) = v else { throw mismatch(v, "object", path) }
            let fields = model.fields
            // The keys present, in declaration order; missing required fields interleaved so
            // the first problem in that order is the one reported, as the decoder would.
            var present: [(index: Int, value: JSONValue)] = []
            present.reserveCapacity(o.count)
            var undeclared: [String] = []
            let was = old?.objectValue
            for (k, fv) in o {
                if let i = model.index[k] { present.append((i, fv)) } else if captureUnknown, was?[k] != fv { undeclared.append(k) }
            }
            present.sort { $0.index < $1.index }
            func missing(_ i: Int) -> JSONValueDecodingError {
                path.append(.key(fields[i].key))
                defer { path.removeLast() }
                return JSONValueDecodingError(path: Self.pathString(path), message: "required field is missing")
            }
            var nextRequired = 0
            for (i, fv) in present {
                while nextRequired < model.required.count, model.required[nextRequired] < i { throw missing(model.required[nextRequired]) }
                if nextRequired < model.required.count, model.required[nextRequired] == i { nextRequired += 1 }
                if fv.isNull, !fields[i].required { continue }
                let before = was?[fields[i].key]
                if before == fv { continue }
                path.append(.key(fields[i].key))
                defer { path.removeLast() }
                try fields[i].shape.check(fv, before, &path, &unknown)
            }
            if nextRequired < model.required.count { throw missing(model.required[nextRequired]) }
            for k in undeclared.sorted() {
                path.append(.key(k))
                unknown.append(Self.pathString(path))
                path.removeLast()
            }
        case .decoded(let t):
            let prefix = Self.pathString(path)
            func join(_ p: String) -> String { prefix.isEmpty ? p : p.isEmpty ? prefix : p.hasPrefix("[") ? prefix + p : prefix + "." + p }
            do {
                let (_, u) = try JSONValueDecoder().decodeReportingUnknown(t, from: v)
                unknown += u.map(join)
            } catch let e as JSONValueDecodingError {
                throw JSONValueDecodingError(path: join(e.path), message: e.message)
            }
        case .unresolved:
            preconditionFailure("TypeShape used before it was compiled")
        }
    }

    // MARK: compiling

    private final class Builder {
        var byType: [ObjectIdentifier: TypeShape] = [:]

        func shape(of t: any Decodable.Type) -> TypeShape {
            if let s = byType[ObjectIdentifier(t)] { return s }
            let s = TypeShape()
            byType[ObjectIdentifier(t)] = s  // before recursing: models refer to themselves
            s.kind = kind(of: t)
            return s
        }

        func kind(of t: any Decodable.Type) -> Kind {
            if t == JSONValue.self { return .any }
            if t == Quantity.self { return .quantity }
            if t == IntOrString.self { return .intOrString }
            if t == String.self { return .string }
            if t == Bool.self { return .bool }
            if t == Double.self || t == Float.self { return .double }
            if t == Int.self || t == Int64.self { return .integer(name: t == Int.self ? "int" : "int64", min: .min, max: .max) }
            if t == Int32.self { return .integer(name: "int32", min: Int64(Int32.min), max: Int64(Int32.max)) }
            if t == UInt16.self { return .integer(name: "uint16", min: 0, max: Int64(UInt16.max)) }
            if t == Int16.self { return .integer(name: "int16", min: Int64(Int16.min), max: Int64(Int16.max)) }
            if t == UInt8.self { return .integer(name: "uint8", min: 0, max: Int64(UInt8.max)) }
            if t == UInt32.self { return .integer(name: "uint32", min: 0, max: Int64(UInt32.max)) }
            if let a = t as? any _ShapeArray.Type { return .array(shape(of: a.shapeElement)) }
            if let d = t as? any _ShapeDict.Type { return .map(shape(of: d.shapeValue)) }
            if t is any _ShapeOptional.Type || t is any SchemaDescribing.Type { return .decoded(t) }
            // a struct: follow its initialiser's requests
            let rec = ShapeRecorder()
            do { _ = try t.init(from: ShapeProbeDecoder(rec: rec)) } catch { return .decoded(t) }
            if rec.followed == false { return .decoded(t) }
            let fields = rec.fields.map { Field(key: $0.key, shape: shape(of: $0.type), required: $0.required) }
            return .object(ObjectFields(fields), captureUnknown: rec.captureUnknown)
        }
    }
}

private protocol _ShapeArray { static var shapeElement: any Decodable.Type { get } }
extension Array: _ShapeArray where Element: Decodable { static var shapeElement: any Decodable.Type { Element.self } }
private protocol _ShapeDict { static var shapeValue: any Decodable.Type { get } }
extension Dictionary: _ShapeDict where Key == String, Value: Decodable { static var shapeValue: any Decodable.Type { Value.self } }
private protocol _ShapeOptional {}
extension Optional: _ShapeOptional {}

private final class ShapeRecorder {
    var fields: [(key: String, type: any Decodable.Type, required: Bool)] = []
    var nilChecked: Set<String> = []
    var captureUnknown = false
    /// False when the initialiser asked for something the probe cannot describe as fields
    /// (a single value, an array, a nested container): that type is checked by decoding.
    var followed = true
}

private struct ShapeProbeDecoder: Decoder {
    let rec: ShapeRecorder
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(ShapeProbeKeyed<Key>(rec: rec))
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        rec.followed = false
        throw ShapeProbeStop()
    }
    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        rec.followed = false
        throw ShapeProbeStop()
    }
}

private struct ShapeProbeStop: Error {}

private struct ShapeProbeKeyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let rec: ShapeRecorder
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { [] }
    func contains(_ key: Key) -> Bool { true }
    func decodeNil(forKey key: Key) throws -> Bool {
        rec.nilChecked.insert(key.stringValue)
        return false
    }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        if T.self == UnknownFields.self {
            rec.captureUnknown = true
            return UnknownFields() as! T
        }
        rec.fields.append((key.stringValue, T.self, !rec.nilChecked.contains(key.stringValue)))
        return try T(from: DummyDecoder())
    }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        if T.self == UnknownFields.self {
            rec.captureUnknown = true
            return nil
        }
        rec.fields.append((key.stringValue, T.self, false))
        return nil
    }
    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        rec.followed = false
        throw ShapeProbeStop()
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        rec.followed = false
        throw ShapeProbeStop()
    }
    func superDecoder() throws -> any Decoder {
        rec.followed = false
        throw ShapeProbeStop()
    }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        rec.followed = false
        throw ShapeProbeStop()
    }
}
