package import Foundation

/// Runs one plugin executable: env + stdin in, stdout out, bounded by a timeout (Foundation's
/// `Process`, i.e. posix_spawn; no fork in Swift).
package struct PluginExec: Sendable {
    /// Programs put in front of the plugin, e.g. `["/usr/sbin/ip", "netns", "exec", "<ns>"]` in tests.
    package var prefix: [String]
    package var timeout: TimeInterval

    package init(prefix: [String] = [], timeout: TimeInterval = 60) {
        self.prefix = prefix
        self.timeout = timeout
    }

    package struct Output: Sendable {
        package var status: Int32
        package var stdout: Data
        package var stderr: Data
    }

    package func run(_ path: String, env: [String: String], stdin: Data) throws -> Output {
        let p = Process()
        let argv = prefix + [path]
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CNI_") }
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        let outBox = DataBox(), errBox = DataBox()
        do { try p.run() } catch {
            throw CNIError(.ioFailure, "cannot run plugin \(path)", details: "\(error)")
        }
        // Blocking reads on worker threads, not readabilityHandler: dispatch sources on pipes
        // that close under them crash libdispatch's event loop on Linux.
        let readers = DispatchGroup()
        let outRead = out.fileHandleForReading, errRead = err.fileHandleForReading
        DispatchQueue.global().async(group: readers) { outBox.append(outRead.readDataToEndOfFile()) }
        DispatchQueue.global().async(group: readers) { errBox.append(errRead.readDataToEndOfFile()) }
        try? inp.fileHandleForWriting.write(contentsOf: stdin)
        try? inp.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while p.isRunning {
            if Date() > deadline {
                timedOut = true
                kill(p.processIdentifier, SIGKILL)
                break
            }
            usleep(2000)
        }
        p.waitUntilExit()
        // a plugin's stray child could hold the pipes open: do not wait for it forever
        _ = readers.wait(timeout: .now() + 5)
        if timedOut {
            throw CNIError(.tryAgainLater, "plugin \(path) timed out after \(Int(timeout))s and was killed",
                           details: String(decoding: errBox.data, as: UTF8.self))
        }
        return Output(status: p.terminationStatus, stdout: outBox.data, stderr: errBox.data)
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

final class DataBox: @unchecked Sendable {
    private var d = Data()
    private let lock = NSLock()
    func append(_ x: Data) { lock.lock(); d.append(x); lock.unlock() }
    var data: Data { lock.lock(); defer { lock.unlock() }; return d }
}
