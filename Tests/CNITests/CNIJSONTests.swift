@testable import CNI
import Foundation
import Testing

@Suite struct CNIJSONTests {
    @Test func parsesWhatCNIConfigurationsHold() throws {
        let text = #" {"cniVersion":"1.0.0","mtu":1450,"rate":0.5,"big":1e3,"neg":-7,"on":true,"off":false,"none":null,"#
            + #""ranges":[[{"subnet":"10.244.0.0/16"}]],"s":"a\"b\\c\/d\n\t\u00e9\ud83d\ude00"} "#
        let o = try #require(try CNIJSON.parse(Data(text.utf8)) as? [String: Any])
        #expect(o["cniVersion"] as? String == "1.0.0")
        #expect(o["mtu"] as? Int == 1450)
        #expect(o["rate"] as? Double == 0.5)
        #expect(o["big"] as? Double == 1000)
        #expect(o["neg"] as? Int == -7)
        #expect(o["on"] as? Bool == true && o["off"] as? Bool == false)
        #expect(o["none"] is CNIJSON.Null)
        let sub = ((o["ranges"] as? [Any])?.first as? [Any])?.first as? [String: Any]
        #expect(sub?["subnet"] as? String == "10.244.0.0/16")
        #expect(o["s"] as? String == "a\"b\\c/d\n\té😀")
    }

    @Test func writesSortedKeysAndReadsItsOwnOutput() throws {
        let v: [String: Any] = ["b": [1, 2.5, "x\u{1}y\"", true, CNIJSON.null], "a": ["n": -3], "c": [String: Any]()]
        let d = try CNIJSON.data(v)
        #expect(String(decoding: d, as: UTF8.self) == #"{"a":{"n":-3},"b":[1,2.5,"x\u0001y\"",true,null],"c":{}}"#)
        let back = try #require(CNIJSON.object(d))
        #expect(try CNIJSON.data(back) == d)
        // Foundation reads it the same way
        let f = try #require(try JSONSerialization.jsonObject(with: d) as? [String: Any])
        #expect((f["a"] as? [String: Any])?["n"] as? Int == -3)
        let pretty = String(decoding: try CNIJSON.data(["k": [1]], pretty: true), as: UTF8.self)
        #expect(pretty == "{\n  \"k\": [\n    1\n  ]\n}")
    }

    @Test func badInputNamesWhereAndWhy() {
        for (text, reason) in [("{\"a\":1,}", "expected a string key"), ("{\"a\" 1}", "expected ':'"), ("[1 2]", "expected ',' or ']'"),
                               ("\"abc", "unterminated string"), ("01", "leading zero"), ("tru", "unknown literal"),
                               ("{} x", "unexpected data after the value"), ("\"\\ud800\"", "lone surrogate"), ("\"a\nb\"", "control character"),
                               ("", "unexpected end"), (String(repeating: "[", count: 600), "nested too deeply")]
        {
            #expect {
                _ = try CNIJSON.parse(Data(text.utf8))
            } throws: { e in
                "\(e)".contains(reason) && "\(e)".contains("invalid JSON at byte")
            }
        }
        #expect(throws: CNIJSON.Error.self) { _ = try CNIJSON.data(["x": Double.nan]) }
        #expect(throws: CNIJSON.Error.self) { _ = try CNIJSON.data(["x": Date()]) }
    }
}
