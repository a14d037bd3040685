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
