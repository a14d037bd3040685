import Foundation
import Testing
@testable import Runtime

@Suite struct CapabilityTests {
    @Test func containerdDefaultIs14Capabilities() throws {
        let caps = try Capabilities.effective(add: [], drop: [], privileged: false)
        #expect(caps.count == 14)
        #expect(caps.reduce(UInt64(0)) { $0 | (1 << UInt64($1)) } == 0xa804_25fb)
    }

    @Test func addDropAllAndPrivileged() throws {
        #expect(try Capabilities.effective(add: ["CAP_SYS_ADMIN"], drop: ["NET_RAW"], privileged: false)
            .contains(21) == true)
        #expect(try Capabilities.effective(add: [], drop: ["NET_RAW"], privileged: false).contains(13) == false)
        #expect(try Capabilities.effective(add: ["NET_BIND_SERVICE"], drop: ["ALL"], privileged: false) == [10])
        #expect(try Capabilities.effective(add: ["ALL"], drop: [], privileged: false).count == Capabilities.names.count)
        #expect(try Capabilities.effective(add: [], drop: [], privileged: true).count == Capabilities.names.count)
        #expect(throws: RuntimeError.self) { try Capabilities.effective(add: ["CAP_FLY"], drop: [], privileged: false) }
    }
}

@Suite struct SeccompTests {
    @Test func runtimeDefaultCompilesAndDependsOnCapabilities() throws {
        let plain = SeccompPolicy.runtimeDefault(capabilities: try Capabilities.effective(add: [], drop: [], privileged: false))
        #expect(!plain.rules.flatMap(\.names).contains("mount"))
        #expect(plain.rules.contains { $0.names == ["clone"] && $0.args.first?.op == "SCMP_CMP_MASKED_EQ" })
        #expect(plain.defaultAction == "SCMP_ACT_ERRNO")
        let admin = SeccompPolicy.runtimeDefault(capabilities: [21])
        #expect(admin.rules.flatMap(\.names).contains("mount"))
        let bpf = try plain.compile()
        #expect(bpf.count > 100 && bpf.count % 8 == 0)
    }

    @Test func localhostProfileParses() throws {
        let json = """
            {"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
             {"names":["personality"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]}]}
            """
        let p = try SeccompPolicy.parse(json: Data(json.utf8), source: "p.json")
        #expect(p.defaultAction == "SCMP_ACT_ALLOW" && p.rules.count == 2 && p.rules[0].errnoRet == 1)
        #expect(p.rules[1].args == [SeccompPolicy.Arg(index: 0, value: 8, valueTwo: 0, op: "SCMP_CMP_EQ")])
        #expect(try p.compile().count % 8 == 0)
    }

    @Test(arguments: [
        ("{", "not a JSON object"), ("{\"syscalls\":[]}", "missing defaultAction"),
        ("{\"defaultAction\":\"SCMP_ACT_NOPE\"}", "unknown action SCMP_ACT_NOPE"),
        ("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"action\":\"SCMP_ACT_ALLOW\"}]}", "needs names and action"),
    ])
    func badProfilesNameTheProblem(json: String, expected: String) {
        do {
            _ = try SeccompPolicy.parse(json: Data(json.utf8), source: "/x/profile.json")
            Issue.record("parsed \(json)")
        } catch let e as RuntimeError {
            #expect(e.message.contains("/x/profile.json") && e.message.contains(expected), "\(e.message)")
        } catch { Issue.record("\(error)") }
    }
}
