package import FoundationEssentials
import CShim
import Glibc

/// Runs one plugin executable: env + stdin in, stdout out, bounded by a timeout. posix_spawn
/// (no fork in Swift), pipes read with poll(2) on this thread, and the exit seen on a pidfd:
/// not Foundation's `Process`, whose exit detection was polled every 2 ms here and which
/// sometimes misses a child's exit (swift-corelibs-foundation#4795).
package struct PluginExec: Sendable {
    /// Programs put in front of the plugin, e.g. `["/usr/sbin/ip", "netns", "exec", "<ns>"]`.
    package var prefix: [String]
    package var timeout: TimeInterval
    /// The network namespace (a path such as `/run/netns/<name>`) the plugin is started in, when
    /// not ours: the spawning thread enters it for the spawn only.
    package var netns: String?
    /// Our multi-call plugin binary (swiftlet-cni). A plugin path that resolves to it runs in
    /// this process, on the calling thread: the same code on the same env and stdin, with the
    /// stdout and exit status the process would have had, but without an exec and a Swift
    /// runtime start per plugin (about half the CPU of a bridge ADD). Only in our own network
    /// namespace (`netns` nil) and without a `prefix`; any other plugin is executed.
    package var builtin: String?

    package init(prefix: [String] = [], timeout: TimeInterval = 60, netns: String? = nil, builtin: String? = nil) {
        self.prefix = prefix
        self.timeout = timeout
        self.netns = netns
        self.builtin = builtin
    }

    package struct Output: Sendable {
        package var status: Int32
        package var stdout: Data
        package var stderr: Data
    }

    /// `run` on a thread of its own: a plugin call blocks for tens of milliseconds, and the
    /// cooperative pool has one thread per core (an agent starting pods on two cores would
    /// otherwise stop serving everything else while two plugins run).
    package func runOffPool(_ path: String, env: [String: String], stdin: Data) async throws -> Output {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Output, any Error>) in
            let job = Unmanaged.passRetained(OffPoolJob { c.resume(with: Result { try self.run(path, env: env, stdin: stdin) }) })
            var attr = pthread_attr_t()
            pthread_attr_init(&attr)
            pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
            pthread_attr_setstacksize(&attr, 1 << 20)
            var tid = pthread_t()
            let rc = pthread_create(&tid, &attr, { arg in
                let job = Unmanaged<OffPoolJob>.fromOpaque(arg!).takeRetainedValue()
                job.body()
                return nil
            }, job.toOpaque())
            pthread_attr_destroy(&attr)
            if rc != 0 {
                job.release()
                c.resume(throwing: CNIError(.ioFailure, "cannot run plugin \(path)", details: "pthread_create: \(String(cString: strerror(rc)))"))
            }
        }
    }

    package func run(_ path: String, env: [String: String], stdin: Data) throws -> Output {
        if let builtin, prefix.isEmpty, netns == nil, PluginMain.sameFile(path, builtin) {
            // The multi-call binary picks its plugin by the name it is invoked by.
            let name = String(path.split(separator: "/").last ?? "")
            let (stdout, status) = PluginMain.run(plugin: name, env: env, stdin: stdin, builtin: builtin)
            return Output(status: status, stdout: stdout, stderr: Data())
        }
        let argv = prefix + [path]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CNI_") }
        for (k, v) in env { environment[k] = v }
        var fds: [Int32] = [-1, -1]
        var pipes: [(read: Int32, write: Int32)] = []
        defer { for var p in pipes { closeFD(&p.read); closeFD(&p.write) } }
        for _ in 0..<3 {
            guard swl_pipe_cloexec(&fds) == 0 else {
                throw CNIError(.ioFailure, "cannot run plugin \(path)", details: "pipe: \(String(cString: strerror(errno)))")
            }
            pipes.append((fds[0], fds[1]))
        }
        let cargv = argv.map { strdup($0) } + [nil]
        let cenv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        let pid = swl_cni_spawn(netns, argv[0], cargv, cenv, pipes[0].read, pipes[1].write, pipes[2].write)
        cargv.forEach { free($0) }
        cenv.forEach { free($0) }
        guard pid > 0 else {
            throw CNIError(.ioFailure, "cannot run plugin \(path)", details: String(cString: strerror(-pid)))
        }
        // The child holds its ends now; ours go, so EOF on stdout/stderr means it (and any
        // child of it) closed them.
        closeFD(&pipes[0].read)
        closeFD(&pipes[1].write)
        closeFD(&pipes[2].write)
        var io = PluginIO(stdin: stdin, input: pipes[0].write, output: pipes[1].read, errors: pipes[2].read,
                          pidfd: swl_cni_pidfd_open(pid))
        pipes[0].write = -1
        pipes[1].read = -1
        pipes[2].read = -1
        defer { io.close() }
        let timedOut = !io.pump(until: Date().addingTimeInterval(timeout))
        if timedOut { kill(pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if timedOut {
            throw CNIError(.tryAgainLater, "plugin \(path) timed out after \(Int(timeout))s and was killed",
                           details: String(decoding: io.stderr, as: UTF8.self))
        }
        let signaled = status & 0x7f
        return Output(status: signaled == 0 ? (status >> 8) & 0xff : 128 + signaled, stdout: io.stdout, stderr: io.stderr)
    }

    /// Finds `type` in the `CNI_PATH` directories.
    package static func find(_ type: String, in dirs: [String]) throws -> String {
        guard !type.isEmpty, !type.contains("/") else {
            throw CNIError(.invalidConfig, "invalid plugin type \"\(type)\"")
        }
        for d in dirs where FileManager.default.isExecutableFile(atPath: d + "/" + type) { return d + "/" + type }
        throw CNIError(.invalidConfig, "failed to find plugin \"\(type)\" in CNI_PATH \(dirs.joined(separator: ":"))",
                       details: "install the plugin there or fix the \"type\" in the network configuration")
    }
}

/// What a plugin thread runs (a class, to cross pthread_create as one pointer).
private final class OffPoolJob: @unchecked Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// A running plugin's pipes and exit, driven by poll(2) on the calling thread.
private struct PluginIO {
    var stdin: Data
    var written = 0
    var input: Int32
    var output: Int32
    var errors: Int32
    var pidfd: Int32
    var stdout = Data()
    var stderr = Data()
    var exited = false

    init(stdin: Data, input: Int32, output: Int32, errors: Int32, pidfd: Int32) {
        self.stdin = stdin
        self.input = input
        self.output = output
        self.errors = errors
        self.pidfd = pidfd
        _ = fcntl(input, F_SETFL, fcntl(input, F_GETFL) | O_NONBLOCK)
        if stdin.isEmpty { closeFD(&self.input) }
    }

    mutating func close() {
        closeFD(&input)
        closeFD(&output)
        closeFD(&errors)
        closeFD(&pidfd)
    }

    /// Feeds stdin and collects stdout and stderr until both reach EOF, or until `deadline`
    /// (false). Once the plugin has exited, a stray child of it that keeps the pipes open is
    /// waited for five seconds at most.
    mutating func pump(until deadline: Date) -> Bool {
        var buf = [UInt8](repeating: 0, count: 65536)
        var deadline = deadline
        while output >= 0 || errors >= 0 {
            var set: [pollfd] = []
            if input >= 0 { set.append(pollfd(fd: input, events: Int16(POLLOUT), revents: 0)) }
            if output >= 0 { set.append(pollfd(fd: output, events: Int16(POLLIN), revents: 0)) }
            if errors >= 0 { set.append(pollfd(fd: errors, events: Int16(POLLIN), revents: 0)) }
            if pidfd >= 0 && !exited { set.append(pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)) }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return exited }
            // without a pidfd (kernels before 5.3) only EOF ends the wait
            let n = poll(&set, nfds_t(set.count), Int32(min(left * 1000, 1000).rounded(.up)))
            if n < 0 && errno != EINTR { return false }
            guard n > 0 else { continue }
            for p in set where p.revents != 0 {
                if p.fd == input {
                    if p.revents & Int16(POLLOUT) != 0 {
                        let w = stdin.withUnsafeBytes { Glibc.write(input, $0.baseAddress! + written, $0.count - written) }
                        if w > 0 { written += w }
                        if (w < 0 && errno != EAGAIN && errno != EINTR) || written == stdin.count { closeFD(&input) }
                    } else {
                        closeFD(&input) // POLLERR: the plugin closed its stdin
                    }
                } else if p.fd == pidfd {
                    exited = true
                    deadline = min(deadline, Date().addingTimeInterval(5))
                } else {
                    let r = read(p.fd, &buf, buf.count)
                    if r > 0 {
                        if p.fd == output { stdout.append(buf, count: r) } else { stderr.append(buf, count: r) }
                    } else if r == 0 || (errno != EAGAIN && errno != EINTR) {
                        if p.fd == output { closeFD(&output) } else { closeFD(&errors) }
                    }
                }
            }
        }
        return true
    }
}

private func closeFD(_ fd: inout Int32) {
    if fd >= 0 { Glibc.close(fd) }
    fd = -1
}
