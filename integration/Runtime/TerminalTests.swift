import Foundation
import Glibc
import Testing
@testable import Runtime

/// Everything an attach session printed, gathered by a task of its own.
final class AttachOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var stdout = ""
    private var stderr = ""
    private var ended = false
    private var task: Task<Void, Never>?

    init(_ session: AttachSession) {
        task = Task {
            for await (stream, data) in session.output {
                let s = String(decoding: data, as: UTF8.self)
                lock.withLock { if stream == .stdout { stdout += s } else { stderr += s } }
            }
            lock.withLock { ended = true }
        }
    }

    var text: (stdout: String, stderr: String, ended: Bool) { lock.withLock { (stdout, stderr, ended) } }

    /// Waits (bounded) until `done` holds for what has arrived.
    @discardableResult
    func wait(seconds: Double = 10, _ done: (String, String, Bool) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let t = text
            if done(t.stdout, t.stderr, t.ended) { return true }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        let t = text
        return done(t.stdout, t.stderr, t.ended)
    }
}

/// Reads a pipe to its end on a dispatch thread.
func readToEnd(_ handle: FileHandle) async -> String {
    await withCheckedContinuation { cont in
        DispatchQueue.global().async { cont.resume(returning: String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)) }
    }
}

@Suite(.serialized, .enabled(if: isRoot, "needs root: namespaces, mounts, cgroups"))
struct TerminalTests {
    @Test func containerOnATerminalIsAttachedAndResized() async throws {
        try await withHarness { h in
            let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("tty"))
            var c = h.container("shell", "")
            c.command = ["/bin/sh"]
            c.tty = true
            c.stdin = true
            let id = try await h.runtime.createContainer(sandboxID: sb, c)
            try await h.runtime.startContainer(id)
            let session = try await h.runtime.attach(id, stdin: true)
            let out = AttachOutput(session)
            try await session.resize(width: 100, height: 30)
            try await session.write(Array("tty; stty size; ls /nope; echo done-$((6*7))\n".utf8))
            let seen = await out.wait { o, _, _ in o.contains("done-42") }
            let text = out.text
            #expect(seen, "attach output: \(text)")
            // the container's own devpts, the size we set, stderr on the terminal too
            #expect(text.stdout.contains("/dev/pts/0") && text.stdout.contains("30 100"), "\(text.stdout)")
            #expect(text.stdout.contains("No such file or directory") && text.stderr.isEmpty)
            try await session.write(Array("exit 7\n".utf8))
            #expect(await out.wait { _, _, ended in ended }, "the attach stream ends when the container exits")
            let st = try await h.waitExited(id)
            #expect(st.exitCode == 7 && st.reason == "Error")
            // terminal output is logged as stdout, with the terminal's CR before each LF
            let log = h.log(st)
            #expect(log.contains(" stdout F 30 100\r") && !log.contains(" stderr "), "\(log)")
            await #expect(throws: RuntimeError.self) { try await h.runtime.attach(id, stdin: false) }
        }
    }

    @Test func stdinOnceClosesStdinWhenTheAttachedClientEnds() async throws {
        try await withHarness { h in
            let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("once"))
            var c = h.container("cat", "cat; echo cat-saw-eof")
            c.stdin = true
            c.stdinOnce = true
            let id = try await h.runtime.createContainer(sandboxID: sb, c)
            try await h.runtime.startContainer(id)
            let watcher = try await h.runtime.attach(id, stdin: false)
            let watched = AttachOutput(watcher)
            let writer = try await h.runtime.attach(id, stdin: true)
            let written = AttachOutput(writer)
            try await writer.write(Array("hello\n".utf8))
            #expect(await written.wait { o, _, _ in o == "hello\n" }, "\(written.text)")
            #expect(await watched.wait { o, _, _ in o == "hello\n" }, "every attached client sees the output: \(watched.text)")
            // a client without stdin cannot write
            try await watcher.write(Array("ignored\n".utf8))
            try await writer.closeStdin()
            #expect(await written.wait { o, _, ended in ended && o == "hello\ncat-saw-eof\n" }, "\(written.text)")
            let st = try await h.waitExited(id)
            #expect(st.exitCode == 0 && st.reason == "Completed")
            let log = h.log(st)
            #expect(log.contains(" stdout F hello\n") && log.contains(" stdout F cat-saw-eof\n") && !log.contains("ignored"), "\(log)")
        }
    }

    @Test func stdinStaysOpenAcrossAttachesWithoutStdinOnce() async throws {
        try await withHarness { h in
            let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("reattach"))
            var c = h.container("reader", "while read l; do echo got:$l; done; echo eof")
            c.stdin = true
            let id = try await h.runtime.createContainer(sandboxID: sb, c)
            try await h.runtime.startContainer(id)
            for word in ["one", "two"] {
                let s = try await h.runtime.attach(id, stdin: true)
                let out = AttachOutput(s)
                try await s.write(Array("\(word)\n".utf8))
                #expect(await out.wait { o, _, _ in o.contains("got:\(word)") }, "\(out.text)")
                try await s.closeStdin()
                s.detach()
                #expect(await out.wait { _, _, ended in ended })
            }
            #expect(try await h.runtime.containerStatus(id).state == .running, "stdin stays open without stdinOnce")
            try await h.runtime.stopContainer(id, timeout: 1)
        }
    }

    @Test func execOnATerminalWithResize() async throws {
        try await withHarness { h in
            let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("exectty"))
            let id = try await h.runtime.createContainer(sandboxID: sb, h.container("c", "exec sleep 1000"))
            try await h.runtime.startContainer(id)
            let session = try await h.runtime.exec(id, cmd: ["sh"], tty: true)
            session.resize(width: 80, height: 24)
            let reader = Task { await readToEnd(session.stdout) }
            try session.stdin.write(contentsOf: Array("tty; stty size; ls /nope; exit 3\n".utf8))
            let code = await session.wait()
            let out = await reader.value
            #expect(code == 3)
            #expect(out.contains("/dev/pts/") && out.contains("24 80\r\n") && out.contains("No such file"), "\(out)")
            #expect(await readToEnd(session.stderr).isEmpty)
            // the client's first size reaches the terminal before the process runs, even when
            // it comes after the session has started (kubectl's resize stream). Sent straight
            // away: the shim waits 2 s for it, and a sleep on a cooperative pool that the
            // parallel suites saturate overslept that in CI.
            let late = try await h.runtime.exec(id, cmd: ["sh", "-c", "stty size"], tty: true, sizeFollows: true)
            late.resize(width: 90, height: 20)
            let lateOut = Task { await readToEnd(late.stdout) }, lateErr = Task { await readToEnd(late.stderr) }
            let lateCode = await late.wait()
            let (lo, le) = (await lateOut.value, await lateErr.value)
            #expect(lateCode == 0 && lo == "20 90\r\n", "the size sent before the process ran: \(lateCode) \(lo) \(le)")
            // a client that types or resizes after the process ended gets an error, not SIGPIPE
            late.resize(width: 80, height: 24)
            #expect(throws: (any Error).self) { try late.stdin.write(contentsOf: Array("late\n".utf8)) }
            // without a terminal, stdin is a pipe and stderr stays apart
            let plain = try await h.runtime.exec(id, cmd: ["sh", "-c", "tty; echo err >&2"], tty: false)
            try plain.stdin.close()
            let o = await readToEnd(plain.stdout), e = await readToEnd(plain.stderr)
            #expect(await plain.wait() == 0 && o == "not a tty\n" && e == "err\n", "\(o) \(e)")
        }
    }
}
