import Testing
@testable import KubeAPI

@Suite struct JSONTests {
    @Test func parsesAndWritesRoundTrip() throws {
        let text = #"{"a":[1,-2,3.5,true,false,null],"b":{"c":"x\"y\\z\n\u00e9\ud83d\ude00"},"n":9007199254740993}"#
        let v = try JSONParser.parse(text)
        #expect(v["n"] == .int(9_007_199_254_740_993))  // exact beyond double precision
        #expect(v.value(at: "b.c")?.stringValue == "x\"y\\z\né😀")
        let again = try JSONParser.parse(JSONWriter.string(v))
        #expect(again == v)
    }

    /// Integers read digit by digit up to 18 digits, through Int64's parser beyond; too large
    /// for Int64 they become doubles; nested objects keep their own members.
    @Test func parsesNumbersAtTheEdgesAndNestedMembers() throws {
        let v = try JSONParser.parse(#"[0,-0,7,-7,123456789012345678,-123456789012345678,9223372036854775807,-9223372036854775808,9223372036854775808,1e2,-0.5]"#)
        #expect(v.arrayValue == [.int(0), .int(0), .int(7), .int(-7), .int(123_456_789_012_345_678), .int(-123_456_789_012_345_678),
                                 .int(.max), .int(.min), .double(9_223_372_036_854_775_808), .double(100), .double(-0.5)])
        let o = try JSONParser.parse(#"{"a":{"b":{"c":1},"d":2},"e":{"f":3},"g":4,"a2":{}}"#)
        #expect(o == ["a": ["b": ["c": 1], "d": 2], "e": ["f": 3], "g": 4, "a2": .emptyObject])
    }

    @Test func writesCompactSortedBytes() {
        let v: JSONValue = ["z": [.int(0), .int(-7), .int(.max), .int(.min), .int(1_000_000)], "a": [.bool(true), .bool(false), .null, .double(2.5)],
                            "m": .string("plain"), "e": .string("q\"b\\n\nt\tc\u{01}é")]
        #expect(JSONWriter.string(v) == #"{"a":[true,false,null,2.5],"e":"q\"b\\n\nt\tc\u0001é","m":"plain","z":[0,-7,9223372036854775807,-9223372036854775808,1000000]}"#)
        // empty and one-key objects, nested; keys sorted by their UTF-8 bytes at every level
        let nested: JSONValue = ["b": ["x": .emptyObject], "a": .emptyObject, "B": ["y": ["k2": 2, "k10": 10, "k1": 1]]]
        #expect(JSONWriter.string(nested) == #"{"B":{"y":{"k1":1,"k10":10,"k2":2}},"a":{},"b":{"x":{}}}"#)
    }

    @Test(arguments: ["{", "[1,]", "{\"a\" 1}", "tru", "01x", "\"abc", "{\"a\":1}x", "[1 2]"])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func errorNamesTheOffset() {
        do {
            _ = try JSONParser.parse("{\"a\": x}")
            Issue.record("should not parse")
        } catch {
            #expect(error.offset == 6)
            #expect(error.description.contains("invalid character 'x'"))
        }
    }

    @Test func setValueCreatesIntermediateObjects() {
        var v: JSONValue = [:]
        v.setValue("1", at: ["metadata", "labels", "app"])
        #expect(v.value(at: "metadata.labels.app") == "1")
        v.setValue(nil, at: ["metadata", "labels", "app"])
        #expect(v.value(at: "metadata.labels")?.objectValue?.isEmpty == true)
    }
}

@Suite struct TypedCodingTests {
    @Test func unknownFieldsSurviveReadModifyWrite() throws {
        let wire: JSONValue = [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": ["name": "p", "futureMeta": "keep-me"],
            "spec": ["containers": [["name": "c", "image": "busybox", "newContainerField": ["x": 1]]],
                     "brandNewSpecField": true],
            "topLevelExtra": [1, 2],
        ]
        var pod = try JSONValueDecoder().decode(Pod.self, from: wire)
        pod.spec?.containers[0].image = "busybox:2"
        let out = try JSONValueEncoder().encode(pod)
        #expect(out.value(at: "metadata.futureMeta") == "keep-me")
        #expect(out.value(at: "spec.brandNewSpecField") == true)
        #expect(out["topLevelExtra"] == [1, 2])
        #expect(out.value(at: ["spec", "containers"])?.arrayValue?[0]["newContainerField"] == ["x": 1])
        #expect(out.value(at: ["spec", "containers"])?.arrayValue?[0]["image"] == "busybox:2")
    }

    @Test func reportsUnknownFieldPaths() throws {
        let wire: JSONValue = ["metadata": ["name": "d"], "spec": ["containers": [["name": "c", "bogus": 1]], "typo": 2]]
        let (_, unknown) = try JSONValueDecoder().decodeReportingUnknown(Pod.self, from: wire)
        #expect(unknown.sorted() == ["spec.containers[0].bogus", "spec.typo"])
    }

    /// Known and unknown fields spread past the first 64 members of one object (the decoder
    /// marks the members it read in a bitset, a word per 64), and a map of thousands of keys.
    @Test func unknownFieldsAmongManyMembersAndLargeMaps() throws {
        var meta: [(String, JSONValue)] = [("name", "p"), ("namespace", "ns")]
        // the unknown a000…a149 sort first, so the known name, namespace and uid are members 150–152
        for i in 0..<150 { meta.append((String(format: "a%03d", i), .int(Int64(i)))) }
        meta.append(("uid", "u-1"))
        let wire: JSONValue = ["metadata": .object(JSONObject(meta)), "spec": ["containers": []]]
        let (pod, unknown) = try JSONValueDecoder().decodeReportingUnknown(Pod.self, from: wire)
        #expect(pod.metadata.name == "p" && pod.metadata.namespace == "ns" && pod.metadata.uid == "u-1")
        #expect(unknown == (0..<150).map { String(format: "metadata.a%03d", $0) })
        let out = try JSONValueEncoder().encode(pod)
        #expect(out["metadata"]?.objectValue?.count == 153, "every unknown member is kept for the write back")

        var data: [String: String] = [:]
        for i in 0..<5000 { data["key-\(i)"] = "v\(i)" }
        let cm = ConfigMap(metadata: ObjectMeta(name: "big"), data: data)
        let back = try JSONValueDecoder().decode(ConfigMap.self, from: JSONParser.parse(JSONWriter.bytes(JSONValueEncoder().encode(cm))))
        #expect(back.data == data)
    }

    @Test func typeErrorsNameTheField() {
        let wire: JSONValue = ["metadata": ["name": "d"], "spec": ["replicas": "three", "selector": [:], "template": [:]]]
        #expect {
            _ = try JSONValueDecoder().decode(Deployment.self, from: wire)
        } throws: { error in
            (error as? JSONValueDecodingError)?.path == "spec.replicas"
        }
    }

    @Test func nilOptionalsAreOmitted() throws {
        let out = try JSONValueEncoder().encode(ObjectMeta(name: "x"))
        #expect(out == ["name": "x"])
    }
}

@Suite struct QuantityTests {
    static let cases: [(String, Int128)] = [
        ("100m", 100_000_000), ("1", 1_000_000_000), ("1Ki", 1_024_000_000_000),
        ("1.5", 1_500_000_000), ("1e3", 1_000_000_000_000), ("2Gi", 2_147_483_648_000_000_000),
        ("0.1m", 100_000), ("1n", 1), ("-5m", -5_000_000), ("500M", 500_000_000_000_000_000),
        ("5.", 5_000_000_000), (".5", 500_000_000), ("+1", 1_000_000_000), ("1E", 1_000_000_000_000_000_000_000_000_000),
        ("1E3", 1_000_000_000_000), ("1e-3", 1_000_000), ("1e+3", 1_000_000_000_000), ("1e0003", 1_000_000_000_000),
        ("1Ei", Int128(1) << 60 * 1_000_000_000), ("1u", 1_000), ("0.5n", 1), ("1.5Ki", 1_536_000_000_000),
        ("123456789012345678901234567890n", 123_456_789_012_345_678_901_234_567_890), ("-0", 0),
    ]
    @Test(arguments: cases)
    func parsesExactly(_ text: String, _ nanos: Int128) throws {
        #expect(try Quantity(text).nanos == nanos)
    }

    @Test func comparesAcrossUnits() throws {
        #expect(try Quantity("1000m") == Quantity("1"))
        #expect(try Quantity("1Ki") == Quantity("1024"))
        #expect(try Quantity("1Gi") > Quantity("1G"))
        #expect(try Quantity("250m").milliValue == 250)
        #expect(try Quantity("1.1").value == 2)  // rounds up, as Kubernetes' Value()
    }

    @Test(arguments: ["", "abc", "1.2.3", "1Zi", "m", "--1", "1e999", "1ki", "1e31", "1e-31", "e", "1e", "1e+", "+", ".", "..",
                      "1234567890123456789012345678901", "\u{FF11}", "1 ", " 1", "1i", "1Kii", "1e3m", "1e 3", "1\u{301}"])
    func rejectsInvalid(_ text: String) {
        #expect(throws: Quantity.ParseError.self) { try Quantity(text) }
    }
}

@Suite struct LabelSyntaxTests {
    @Test(arguments: ["app", "example.com/app", "a.b-c_d", "A1", "k8s.io/Name_1", String(repeating: "a", count: 63),
                      String(repeating: "a", count: 253) + "/x"])
    func validKeys(_ k: String) { #expect(LabelSelectorExpr.isValidKey(k)) }

    @Test(arguments: ["", "-a", "a-", "_a", "Example.com/app", "a/b/c", "/a", "a/", String(repeating: "a", count: 64), "\u{E4}",
                      "a b", "ex..com/a", "-ex.com/a", "ex-.com/a", String(repeating: "a", count: 254) + "/x"])
    func invalidKeys(_ k: String) {
        #expect(!LabelSelectorExpr.isValidKey(k))
        #expect(throws: LabelSelectorExpr.ParseError.self) { try LabelSelectorExpr.validateKey(k) }
    }

    @Test(arguments: ["", "v1.2_3-x", "A", String(repeating: "z", count: 63)])
    func validValues(_ v: String) { #expect(LabelSelectorExpr.isValidValue(v)) }

    @Test(arguments: ["-x", "x-", ".x", String(repeating: "z", count: 64), "\u{E9}", "a/b", "a b"])
    func invalidValues(_ v: String) { #expect(!LabelSelectorExpr.isValidValue(v)) }
}

@Suite struct SelectorTests {
    @Test func labelSelectorGrammar() throws {
        let s = try LabelSelectorExpr(parsing: "app=web, tier in (fe,be),!canary,env!=prod,version")
        #expect(s.matches(["app": "web", "tier": "fe", "version": "1"]))
        #expect(!s.matches(["app": "web", "tier": "fe", "version": "1", "canary": "y"]))
        #expect(!s.matches(["app": "web", "tier": "db", "version": "1"]))
        #expect(!s.matches(["app": "web", "tier": "fe", "env": "prod", "version": "1"]))
        #expect(!s.matches(["app": "web", "tier": "fe"]))
    }

    @Test func structuredSelector() throws {
        var ls = LabelSelector(matchLabels: ["app": "x"])
        ls.matchExpressions = [LabelSelectorRequirement(key: "t", operator: "NotIn", values: ["a"])]
        let e = try LabelSelectorExpr(ls)
        #expect(e.matches(["app": "x", "t": "b"]))
        #expect(!e.matches(["app": "x", "t": "a"]))
    }

    @Test(arguments: ["app in a", "=x", "a b", "app=(x"])
    func rejectsBadSelectors(_ s: String) {
        #expect(throws: (any Error).self) { try LabelSelectorExpr(parsing: s) }
    }

    @Test func fieldSelectors() throws {
        let f = try FieldSelectorExpr(parsing: "spec.nodeName=n1,status.phase!=Failed")
        #expect(f.matches(["spec.nodeName": "n1", "status.phase": "Running"]))
        #expect(!f.matches(["spec.nodeName": "n1", "status.phase": "Failed"]))
        #expect(!f.matches(["spec.nodeName": "n2"]))
    }
}

@Suite struct TableTypeTests {
    @Test func decodesServerTables() throws {
        let wire = try JSONParser.parse(#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"7"},"columnDefinitions":[{"name":"Name","type":"string","format":"name","description":"","priority":0}],"rows":[{"cells":["a"],"object":{"kind":"PartialObjectMetadata"}}]}"#)
        let t = try JSONValueDecoder().decode(Table.self, from: wire)
        #expect(t.columnDefinitions.map(\.name) == ["Name"])
        #expect(t.rows.first?.cells == ["a"])
        #expect(t.metadata?.resourceVersion == "7")
    }
}
