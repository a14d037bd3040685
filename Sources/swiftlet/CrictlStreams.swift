import ArgumentParser
import Foundation
import Glibc
import Runtime

/// The local side of `crictl exec -it` / `crictl attach`: the user's terminal in raw mode
/// while a session runs (restored on every exit path), its size sent now and on SIGWINCH, and
/// stdin read on a thread of its own.
final class LocalTerminal: @unchecked Sendable {
    private var saved = termios()
    private var raw = false
    private var winch: (any DispatchSourceSignal)?

    /// Puts stdin's terminal in raw mode when `tty` and stdin is a terminal, and sends its size
    /// (see `sendsSize`) now and on every change.
    init(tty: Bool, onResize: @escaping @Sendable (UInt16, UInt16) -> Void) {
        guard tty, isatty(0) == 1 else { return }
        if tcgetattr(0, &saved) == 0 {
            var t = saved
            cfmakeraw(&t)
            raw = tcsetattr(0, TCSANOW, &t) == 0
        }
        signal(SIGWINCH, SIG_IGN)
        let src = DispatchSource.makeSignalSource(signal: SIGWINCH)
        src.setEventHandler { if let s = LocalTerminal.size() { onResize(s.0, s.1) } }
        src.resume()
        winch = src
        if let s = LocalTerminal.size() { onResize(s.0, s.1) }
    }

    /// Whether a terminal made with `tty` sends a size at once.
    static func sendsSize(tty: Bool) -> Bool { tty && isatty(0) == 1 && size() != nil }

    static func size() -> (UInt16, UInt16)? {
        var ws = winsize()
        guard ioctl(0, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0 else { return nil }
        return (ws.ws_col, ws.ws_row)
    }

    func restore() {
        winch?.cancel()
        if raw { tcsetattr(0, TCSANOW, &saved) }
        raw = false
    }

    /// Calls `chunk` with what arrives on `handle`, then `end` at its end, on a thread of its own.
    static func pump(_ handle: FileHandle, _ chunk: @escaping @Sendable (Data) -> Void, end: @escaping @Sendable () -> Void) {
        Thread {
            while true {
                let d = handle.availableData
                if d.isEmpty { break }
                chunk(d)
            }
            end()
        }.start()
    }
}

/// Runs an async call from a plain thread and waits for it.
func blocking(_ body: @escaping @Sendable () async -> Void) {
    let done = DispatchSemaphore(value: 0)
    Task {
        await body()
        done.signal()
    }
    done.wait()
}

extension Crictl {
    /// Interactive exec: stdin (with -i), a terminal (with -t), the exit code as ours.
    static func interactiveExec(_ runtime: LinuxRuntime, id: String, cmd: [String], stdin: Bool, tty: Bool) async throws {
        let session = try await runtime.exec(id, cmd: cmd, tty: tty, sizeFollows: LocalTerminal.sendsSize(tty: tty))
        let term = LocalTerminal(tty: tty) { session.resize(width: $0, height: $1) }
        defer { term.restore() }
        if stdin {
            LocalTerminal.pump(FileHandle.standardInput, { try? session.stdin.write(contentsOf: $0) }, end: { try? session.stdin.close() })
        } else {
            try? session.stdin.close()
        }
        // Both outputs are copied to their ends before we exit, so no last line is lost.
        let copied = DispatchGroup()
        for (from, to) in [(session.stdout, FileHandle.standardOutput), (session.stderr, FileHandle.standardError)] {
            copied.enter()
            LocalTerminal.pump(from, { to.write($0) }, end: { copied.leave() })
        }
        let code = await session.wait()
        await withCheckedContinuation { cont in copied.notify(queue: .global()) { cont.resume() } }
        term.restore()
        if code != 0 { throw ExitCode(code) }
    }

    struct Attach: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Attach to a running container's stdio.")
        @OptionGroup var options: Options
        @Flag(name: .shortAndLong, help: "Keep stdin open and send it to the container.") var interactive = false
        @Flag(name: .shortAndLong, help: "The container runs on a terminal: put ours in raw mode.") var tty = false
        @Argument var id: String
        func run() async throws {
            let session = try await options.runtime().attach(id, stdin: interactive)
            let term = LocalTerminal(tty: tty) { w, h in blocking { try? await session.resize(width: w, height: h) } }
            defer { term.restore() }
            if interactive {
                LocalTerminal.pump(FileHandle.standardInput, { d in blocking { try? await session.write(d) } },
                                   end: { blocking { try? await session.closeStdin() } })
            }
            for await (stream, data) in session.output {
                (stream == .stdout ? FileHandle.standardOutput : FileHandle.standardError).write(data)
            }
        }
    }
}
