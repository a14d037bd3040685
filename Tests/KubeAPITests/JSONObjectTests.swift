import Testing
@testable import KubeAPI

/// JSONObject keeps its members sorted by key, each key once, and reads like a dictionary.
@Suite struct JSONObjectTests {
    @Test func aRepeatedKeyKeepsItsLastValueAndKeysComeOutSorted() throws {
        let small = try JSONParser.parse(#"{"b":1,"a":2,"b":3}"#)
        #expect(small.objectValue?.count == 2)
        #expect(small["b"] == 3 && small["a"] == 2)
        #expect(JSONWriter.string(small) == #"{"a":2,"b":3}"#)
        // past the insertion sort's size: 40 keys in reverse order, k07 given twice
        let keys = (0..<40).reversed().map { "k" + ($0 < 10 ? "0" : "") + String($0) }
        let doc = "{" + keys.map { "\"\($0)\":\"\($0)\"" }.joined(separator: ",") + #","k07":"last"}"#
        let big = try #require(try JSONParser.parse(doc).objectValue)
        #expect(big.count == 40)
        #expect(Array(big.keys) == keys.sorted())
        #expect(big["k07"] == "last" && big["k39"] == "k39")
    }

    @Test func anAbsentKeyIsNilNotNull() {
        let o: JSONValue = ["present": nil]
        if case .some = o["absent"] { Issue.record("an absent key read as \(String(describing: o["absent"]))") }
        if case .some(.null) = o["present"] {} else { Issue.record("a JSON null must read as .null") }
        #expect(o.objectValue?["absent"] == Optional<JSONValue>.none)
    }

    @Test func equalityAndHashIgnoreTheOrderMembersCameIn() throws {
        let parsed = try JSONParser.parse(#"{"y":{"b":[1,2],"a":null},"x":1}"#)
        let literal: JSONValue = ["x": 1, "y": ["a": nil, "b": [1, 2]]]
        #expect(parsed == literal)
        #expect(parsed.hashValue == literal.hashValue)
        #expect(parsed != ["x": 1, "y": ["a": nil, "b": [2, 1]]])
    }

    @Test func editsInPlaceKeepTheOtherMembers() {
        var v: JSONValue = ["metadata": ["name": "p", "labels": ["a": "1"]], "spec": [:]]
        v.setValue("2", at: ["metadata", "labels", "b"])
        v["spec"] = nil
        v.withValue(at: "metadata") { m in m?["name"] = nil }
        #expect(v == ["metadata": ["labels": ["a": "1", "b": "2"]]])
        var o = JSONObject()
        for k in ["m", "c", "x", "a"] { o[k] = .string(k) }
        #expect(Array(o.keys) == ["a", "c", "m", "x"])
        #expect(o.removeValue(forKey: "c") == "c" && o.removeValue(forKey: "c") == nil)
        o.merge(["a": "A", "z": "z"]) { old, _ in old }
        #expect(JSONWriter.string(.object(o)) == #"{"a":"a","m":"m","x":"x","z":"z"}"#)
    }
}
