/// A JSON object: its members in one array, sorted by key (String order, which is byte order for
/// the ASCII keys Kubernetes uses), each key once.
///
/// Not `[String: JSONValue]`: an API object is a tree of small objects (a pod has ~60), and a
/// dictionary hashes every key on each insert and lookup (SipHash, with its own seeding), sorts
/// its keys again on every write to give the same bytes for the same object, and grows by
/// rehashing. Here a lookup is a binary search over a handful of keys, writing walks the array in
/// order, equality and hashing compare members in order, and a parsed object is sorted once.
/// The API follows Dictionary's, so code reads the same either way.
public struct JSONObject: Sendable, Hashable {
    public typealias Element = (key: String, value: JSONValue)

    @usableFromInline
    struct Member: Sendable, Hashable {
        @usableFromInline var key: String
        @usableFromInline var value: JSONValue
        @inlinable init(_ key: String, _ value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    @usableFromInline var members: [Member]

    @inlinable public init() { members = [] }

    /// From pairs in any order; for a repeated key the last pair wins (as a JSON decoder does).
    public init<S: Sequence>(_ pairs: S) where S.Element == (String, JSONValue) {
        var m: [Member] = []
        m.reserveCapacity(pairs.underestimatedCount)
        for (k, v) in pairs { m.append(Member(k, v)) }
        self.init(unsorted: m)
    }

    public init(_ dictionary: [String: JSONValue]) {
        self.init(unsorted: dictionary.map { Member($0.key, $0.value) })
    }

    /// Sorts `m` by key, stably, and keeps the last member of each run of equal keys.
    @usableFromInline
    init(unsorted m: [Member]) {
        var m = m
        if m.count > 1 {
            if m.count <= 24 {
                // insertion sort: stable, and next to free for the few keys of most objects,
                // which often arrive sorted already
                m.withUnsafeMutableBufferPointer { b in
                    for i in 1..<b.count where b[i].key < b[i - 1].key {
                        let x = b[i]
                        var j = i
                        while j > 0, x.key < b[j - 1].key {
                            b[j] = b[j - 1]
                            j -= 1
                        }
                        b[j] = x
                    }
                }
            } else {
                let indexed = m.enumerated().sorted { $0.element.key < $1.element.key || ($0.element.key == $1.element.key && $0.offset < $1.offset) }
                m = indexed.map(\.element)
            }
            // a repeated key: the last one wins
            var w = 0
            for r in 0..<m.count {
                if w > 0, m[w - 1].key == m[r].key {
                    m[w - 1] = m[r]
                } else {
                    if w != r { m[w] = m[r] }
                    w += 1
                }
            }
            if w < m.count { m.removeSubrange(w...) }
        }
        members = m
    }

    /// The position of `key`, or where it would go.
    @inlinable
    func find(_ key: String) -> (index: Int, found: Bool) {
        var lo = 0, hi = members.count
        while lo < hi {
            let mid = (lo &+ hi) >> 1
            let k = members[mid].key
            if k == key { return (mid, true) }
            if k < key { lo = mid &+ 1 } else { hi = mid }
        }
        return (lo, false)
    }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }

    @inlinable
    public subscript(key: String) -> JSONValue? {
        get {
            let (i, found) = find(key)
            // not `found ? … : nil`: JSONValue is ExpressibleByNilLiteral, so that nil is `.null`
            guard found else { return Optional.none }
            return members[i].value
        }
        set {
            let (i, found) = find(key)
            switch (found, newValue) {
            case (true, let v?): members[i].value = v
            case (true, nil): members.remove(at: i)
            case (false, let v?): members.insert(Member(key, v), at: i)
            case (false, nil): break
            }
        }
        _modify {
            let (i, found) = find(key)
            if found {
                // Moved out while `body` changes it, so the value's own storage is not copied.
                var v: JSONValue? = members[i].value
                members[i].value = .null
                defer {
                    if let v { members[i].value = v } else { members.remove(at: i) }
                }
                yield &v
            } else {
                var v: JSONValue? = nil
                defer { if let v { members.insert(Member(key, v), at: i) } }
                yield &v
            }
        }
    }

    public var keys: LazyMapSequence<JSONObject, String> { lazy.map(\.key) }
    public var values: LazyMapSequence<JSONObject, JSONValue> { lazy.map(\.value) }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        let (i, found) = find(key)
        guard found else { return nil }
        return members.remove(at: i).value
    }

    /// Each value transformed, as a dictionary (as Dictionary's `mapValues`).
    public func mapValues<T>(_ transform: (JSONValue) throws -> T) rethrows -> [String: T] {
        var d = [String: T](minimumCapacity: members.count)
        for m in members { d[m.key] = try transform(m.value) }
        return d
    }

    /// The values `transform` keeps, as a dictionary (`compactMapValues(\.stringValue)` for labels).
    public func compactMapValues<T>(_ transform: (JSONValue) throws -> T?) rethrows -> [String: T] {
        var d = [String: T](minimumCapacity: members.count)
        for m in members { if let v = try transform(m.value) { d[m.key] = v } }
        return d
    }

    public mutating func reserveCapacity(_ n: Int) { members.reserveCapacity(n) }

    /// The members for which `isIncluded` holds, as an object (as Dictionary's `filter`).
    public func filter(_ isIncluded: (Element) throws -> Bool) rethrows -> JSONObject {
        var o = JSONObject()
        o.members = try members.filter { try isIncluded(($0.key, $0.value)) }
        return o
    }

    /// Sets every member of `other` on this object; for a key in both, `combine` decides.
    public mutating func merge(_ other: JSONObject, uniquingKeysWith combine: (JSONValue, JSONValue) throws -> JSONValue) rethrows {
        for m in other.members {
            let (i, found) = find(m.key)
            if found { members[i].value = try combine(members[i].value, m.value) } else { members.insert(m, at: i) }
        }
    }
}

extension JSONObject: RandomAccessCollection {
    public typealias Index = Int
    public var startIndex: Int { 0 }
    public var endIndex: Int { members.count }
    public subscript(position: Int) -> Element { (members[position].key, members[position].value) }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}

extension JSONObject: Codable {
    public init(from decoder: any Decoder) throws {
        self.init(try [String: JSONValue](from: decoder))
    }
    public func encode(to encoder: any Encoder) throws {
        try mapValues { $0 }.encode(to: encoder)
    }
}
