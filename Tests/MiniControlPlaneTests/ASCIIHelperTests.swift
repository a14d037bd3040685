import Testing
@testable import MiniControlPlane

@Suite struct ASCIIHelperTests {
    @Test func containsBytesFindsSubstrings() {
        let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        #expect(accept.containsBytes("as=Table"))
        #expect(accept.containsBytes("application/json"))
        #expect(accept.containsBytes("json") && accept.containsBytes(""))
        #expect(!accept.containsBytes("as=Tablet"))
        #expect(!accept.containsBytes("protobuf"))
        #expect("aab".containsBytes("ab"), "a partial match right before the real one")
        #expect(!"a".containsBytes("ab"))
        #expect("x;as=Table".dropFirst(2).containsBytes("as=T"), "on a substring")
    }

    @Test func trimmingBlanksTrimsOnlySpacesAndTabs() {
        #expect(" \tapplication/json \t".trimmingBlanks() == "application/json")
        #expect("application/json".trimmingBlanks() == "application/json")
        #expect("   ".trimmingBlanks() == "")
        #expect(" a b ".trimmingBlanks() == "a b")
        #expect("\na\n".trimmingBlanks() == "\na\n")
    }
}
