@testable import CNI
import Foundation
import Glibc
import Testing

/// `PluginExec` with `/bin/sh -c <script>` as the "plugin" (the plugin path becomes `$0`).
private func sh(_ script: String, timeout: TimeInterval = 10) -> PluginExec {
    PluginExec(prefix: ["/bin/sh", "-c", script], timeout: timeout)
}

@Suite struct PluginExecTests {
    @Test func stdinEnvExitStatusAndStderr() async throws {
        let out = try await sh(#"cat; echo "cmd=$CNI_COMMAND arg0=$0"; echo oops >&2; exit 3"#)
            .runOffPool("/opt/cni/bin/bridge", env: ["CNI_COMMAND": "ADD"], stdin: Data(#"{"a":1}"#.utf8))
        #expect(out.status == 3)
        #expect(String(decoding: out.stdout, as: UTF8.self) == "{\"a\":1}cmd=ADD arg0=/opt/cni/bin/bridge\n")
        #expect(String(decoding: out.stderr, as: UTF8.self) == "oops\n")
    }

    /// More than a pipe holds in both directions at once: stdin is written while stdout is read.
    @Test func largeInputAndOutputDoNotDeadlock() throws {
        let big = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 % 251) })
        let out = try sh("cat").run("x", env: [:], stdin: big)
        #expect(out.status == 0)
        #expect(out.stdout == big)
    }

    @Test func aPluginPastItsTimeoutIsKilledAndNamed() throws {
        let start = Date()
        #expect {
            _ = try sh("echo started; exec sleep 30", timeout: 0.5).run("/opt/cni/bin/slow", env: [:], stdin: Data())
        } throws: { e in
            guard let e = e as? CNIError else { return false }
            return e.code == CNIError.Code.tryAgainLater.rawValue && e.msg.contains("/opt/cni/bin/slow timed out")
        }
        #expect(Date().timeIntervalSince(start) < 5)
    }

    /// A plugin that exits while a background child of it still holds stdout: its output and
    /// status come back once the grace period ends, not when the child does.
    @Test func aStrayChildHoldingStdoutDoesNotHoldTheCall() throws {
        let start = Date()
        let out = try sh("sleep 30 & echo $!; exit 0", timeout: 20).run("x", env: [:], stdin: Data())
        let elapsed = Date().timeIntervalSince(start)
        if let child = Int32(String(decoding: out.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) {
            kill(child, SIGKILL)
        }
        #expect(out.status == 0)
        #expect(elapsed > 4 && elapsed < 10)
    }

    @Test func aMissingExecutableIsAnIOFailure() {
        #expect {
            _ = try PluginExec().run("/nonexistent/plugin", env: [:], stdin: Data())
        } throws: { e in
            (e as? CNIError)?.code == CNIError.Code.ioFailure.rawValue && (e as? CNIError)?.msg.contains("/nonexistent/plugin") == true
        }
    }
}

/// Our multi-call binary's plugins run inside the runtime's process: `builtin` names the
/// binary, and a plugin path that resolves to it never becomes a process. The stand-in here
/// is a script that says it was executed and fails, so an exec cannot pass for the plugin.
@Suite struct BuiltinPluginTests {
    let dir = NSTemporaryDirectory() + "cni-builtin-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    func lab() throws -> (bin: String, builtin: String) {
        let bin = dir + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        let builtin = dir + "/swiftlet-cni"
        try "#!/bin/sh\necho EXECUTED; exit 1\n".write(toFile: builtin, atomically: true, encoding: .utf8)
        chmod(builtin, 0o755)
        for p in ["host-local", "bridge", "nosuch"] { try FileManager.default.createSymbolicLink(atPath: bin + "/" + p, withDestinationPath: builtin) }
        return (bin, builtin)
    }

    func hostLocal(_ data: String, version: String = "1.0.0") -> Data {
        Data(#"{"cniVersion":"\#(version)","name":"tiny","type":"bridge","ipam":{"type":"host-local","dataDir":"\#(data)","ranges":[[{"subnet":"10.244.9.0/30"}]]}}"#.utf8)
    }

    @Test func aPluginOfTheBuiltinBinaryRunsInProcess() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (bin, builtin) = try lab()
        let env = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "one", "CNI_IFNAME": "eth0", "CNI_NETNS": "/x", "CNI_PATH": bin]
        let out = try PluginExec(builtin: builtin).run(bin + "/host-local", env: env, stdin: hostLocal(dir + "/data"))
        #expect(out.status == 0, "\(String(decoding: out.stdout, as: UTF8.self))")
        #expect(try CNIResult.decode(out.stdout).ips?.first?.address == "10.244.9.2/30")
        #expect(HostLocalStore(dataDir: dir + "/data", network: "tiny").find(id: "one", ifname: "eth0") == [IPv4("10.244.9.2")!])

        // The name it is invoked by picks the plugin, as with the binary.
        let unknown = try PluginExec(builtin: builtin).run(bin + "/nosuch", env: env, stdin: hostLocal(dir + "/data"))
        #expect(unknown.status == 1)
        #expect(CNIError.parse(unknown.stdout)?.msg == #"unknown plugin "nosuch""#)
    }

    /// bridge delegates to host-local through CNI_PATH: that is the builtin binary too, so it
    /// runs in process as well (STATUS: host-local's store must be usable).
    @Test func ipamDelegationStaysInProcess() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (bin, builtin) = try lab()
        let env = ["CNI_COMMAND": "STATUS", "CNI_PATH": bin]
        let out = try PluginExec(builtin: builtin).run(bin + "/bridge", env: env, stdin: hostLocal(dir + "/data", version: "1.1.0"))
        #expect(out.status == 0, "\(String(decoding: out.stdout, as: UTF8.self))")
        #expect(!String(decoding: out.stdout, as: UTF8.self).contains("EXECUTED"))
    }

    /// Without `builtin`, in another network namespace, or behind a prefix, the path is executed.
    @Test func otherwiseThePluginIsExecuted() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (bin, builtin) = try lab()
        let env = ["CNI_COMMAND": "VERSION"]
        for exec in [PluginExec(), PluginExec(netns: "/proc/self/ns/net", builtin: builtin), PluginExec(builtin: bin + "/nosuch-file")] {
            let out = try exec.run(bin + "/host-local", env: env, stdin: Data())
            #expect(out.status == 1 && String(decoding: out.stdout, as: UTF8.self) == "EXECUTED\n")
        }
        let inProcess = try PluginExec(builtin: builtin).run(bin + "/host-local", env: env, stdin: Data())
        #expect(inProcess.status == 0 && String(decoding: inProcess.stdout, as: UTF8.self).contains("supportedVersions"))
    }
}
