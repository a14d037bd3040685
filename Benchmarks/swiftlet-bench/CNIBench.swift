import ArgumentParser
import CNI
import Foundation
import TestSupport

/// ADD and DEL latency of our bridge + host-local (+ portmap, no port mapped) against the
/// reference plugins (Debian's containernetworking-plugins), driven by the same invoker with the
/// same configuration list, one pod after another, inside a lab of network namespaces (a "node"
/// namespace with no route out; one namespace per pod). Both plugin sets run twice, interleaved
/// (ours, reference, ours, reference), so a change in the machine's load hits both.
struct CNIBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cni",
                                                    abstract: "CNI ADD/DEL latency: swiftlet-cni vs the reference plugins.")

    @Option(help: "Pods per round (two rounds per plugin set).")
    var pods = 100
    @Option(help: "Directory holding swiftlet-cni (default: beside this binary).")
    var ours: String?
    @Option(help: "The reference plugins' directory.")
    var reference = "/usr/lib/cni"

    func run() async throws {
        guard getuid() == 0 else { throw CleanExit.message("cni benchmark: run as root") }
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
        let binary = (ours ?? here) + "/swiftlet-cni"
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw CleanExit.message("no swiftlet-cni at \(binary)") }
        guard FileManager.default.isExecutableFile(atPath: reference + "/bridge") else {
            throw CleanExit.message("no reference plugins in \(reference): scripts/setup.sh installs containernetworking-plugins")
        }
        say("cni benchmark: \(pods) pods per round, 2 rounds each, sequential ADD then DEL, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        var results: [String: (add: [Double], del: [Double])] = [:]
        for round in 0..<2 {
            for (label, dir) in [("swiftlet-cni", nil as String?), ("reference", reference)] {
                let r = try await Self.measure(pods: pods, binary: binary, referenceDir: dir, round: round)
                results[label, default: ([], [])].add += r.add
                results[label, default: ([], [])].del += r.del
            }
        }
        func p(_ xs: [Double], _ q: Double) -> Double {
            let s = xs.sorted()
            return s.isEmpty ? 0 : s[min(s.count - 1, Int((Double(s.count - 1) * q).rounded()))]
        }
        say("plugins            ops   ADD p50 ms   ADD p99 ms   DEL p50 ms   DEL p99 ms")
        for label in ["swiftlet-cni", "reference"] {
            let r = results[label]!
            say(label.padding(toLength: 16, withPad: " ", startingAt: 0)
                + String(format: "%6d %12.1f %12.1f %12.1f %12.1f", r.add.count, p(r.add, 0.5), p(r.add, 0.99), p(r.del, 0.5), p(r.del, 0.99)))
        }
        let o = results["swiftlet-cni"]!, ref = results["reference"]!
        say(String(format: "reference / ours: ADD p50 %.2fx, p99 %.2fx; DEL p50 %.2fx, p99 %.2fx (target: at least 2x)",
                   p(ref.add, 0.5) / p(o.add, 0.5), p(ref.add, 0.99) / p(o.add, 0.99), p(ref.del, 0.5) / p(o.del, 0.5), p(ref.del, 0.99) / p(o.del, 0.99)))
    }

    /// One round on a fresh lab: `pods` ADDs one after another, then their DELs; milliseconds.
    static func measure(pods: Int, binary: String, referenceDir: String?, round: Int) async throws -> (add: [Double], del: [Double]) {
        try await NetnsLab.with(tag: "cnib") { lab in
            let node = try lab.addHost("node", address: "10.250.0.2/24")
            let dir = NSTemporaryDirectory() + lab.prefix
            defer { try? FileManager.default.removeItem(atPath: dir) }
            var binDir = referenceDir ?? ""
            if referenceDir == nil {
                binDir = dir + "/bin"
                try FileManager.default.createDirectory(atPath: binDir, withIntermediateDirectories: true)
                for p in ["bridge", "host-local", "loopback", "portmap"] {
                    try FileManager.default.createSymbolicLink(atPath: binDir + "/" + p, withDestinationPath: binary)
                }
            }
            let conf: [String: Any] = [
                "cniVersion": "1.0.0", "name": "benchnet",
                "plugins": [
                    ["type": "bridge", "bridge": "cni0", "isGateway": true, "isDefaultGateway": true, "ipMasq": true, "hairpinMode": true,
                     "ipam": ["type": "host-local", "dataDir": dir + "/networks", "ranges": [[["subnet": "10.244.0.0/16"]]]]],
                    ["type": "portmap", "capabilities": ["portMappings": true]],
                ],
            ]
            let list = try NetworkConfigList(bytes: JSONSerialization.data(withJSONObject: conf))
            let inv = CNIInvoker(config: list, binDirs: [binDir], cacheDir: dir + "/cache",
                                 exec: PluginExec(timeout: 30, netns: NetnsLab.path(node)))
            let attachments = try (0..<pods).map { i in
                Attachment(containerID: "\(lab.prefix)-r\(round)-p\(i)", netns: NetnsLab.path(try lab.addNamespace("p\(i)")))
            }
            let clock = ContinuousClock()
            func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
            var add: [Double] = [], del: [Double] = []
            for a in attachments { add.append(ms(try await clock.measure { _ = try await inv.setUp(a) })) }
            for a in attachments { del.append(ms(try await clock.measure { try await inv.tearDown(a) })) }
            return (add, del)
        }
    }
}
