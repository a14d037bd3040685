import ArgumentParser
import Foundation
import KubeAPI
import Logging
import MiniControlPlane

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the control plane: API server (embedded SQLite) and, in-process, the scheduler and the controller manager.")

    @OptionGroup var flags: ServerFlags

    func run() async throws {
        var logger = Logger(label: "swiftlet.server")
        logger.logLevel = Logger.Level(rawValue: flags.logLevel) ?? .info
        try await ServerRunner.run(flags.runnerConfig(logger: logger), logger: logger)
    }
}

/// The control plane's flags, shared by `server` and `up`.
struct ServerFlags: ParsableArguments {
    @Option(help: "Directory for the state database.")
    var dataDir: String = "/var/lib/swiftlet/server"

    @Option(help: "Address to listen on.")
    var bindAddress: String = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port: Int = 6443

    @Option(help: "Write a kubeconfig for kubectl to this path once listening.")
    var kubeconfigOut: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Flag(help: "Do not run the controller manager in this process.")
    var disableControllerManager = false

    @Flag(help: "Do not run the scheduler in this process.")
    var disableScheduler = false

    @Option(help: "Controllers to run: '*' for all, 'name' to enable, '-name' to disable (comma-separated).")
    var controllers: String = "*"

    @Option(help: "How long without a node heartbeat before the node is marked unreachable (Go duration).")
    var nodeMonitorGracePeriod: String = "40s"

    @OptionGroup var election: LeaderElectionFlags

    func validate() throws {
        try validateControllerFlags(controllers: controllers, nodeMonitorGracePeriod: nodeMonitorGracePeriod)
    }

    /// The server with the in-process scheduler and controller manager these flags ask for.
    func runnerConfig(logger: Logger) -> ServerRunner.Config {
        var config = ServerRunner.Config(dataDir: dataDir)
        config.bindAddress = bindAddress
        config.port = port
        config.kubeconfigOut = kubeconfigOut
        var election = self.election.options
        // a restarted server keeps its identity, so it takes its own leases back at once
        if self.election.identity == nil { election.identity = ProcessInfo.processInfo.hostName + "_server_" + String(UInt32(truncatingIfNeeded: dataDir.hashValueStable), radix: 16) }
        if !disableControllerManager {
            var opts = ControllerManagerOptions()
            opts.controllers = controllers.split(separator: ",").map { String($0.trimmingCharacters(in: .whitespaces)) }
            opts.nodeMonitorGracePeriod = GoDuration.parse(nodeMonitorGracePeriod) ?? .seconds(40)
            let log = logger
            let el = election
            let cmOpts = opts
            config.components.append(.init(name: "controller-manager") { client in
                let cm = ControllerManager(client: client, options: cmOpts, identity: el.identity, logger: log)
                await LeaderElected.run(lease: "kube-controller-manager", client: client, options: el, logger: log) { await cm.run() }
            })
        }
        if !disableScheduler {
            let el = election
            var sopts = SchedulerOptions()
            sopts.identity = el.identity
            sopts.logger = logger
            let frozen = sopts
            let log = logger
            config.components.append(.init(name: "scheduler") { client in
                let le = el.enabled ? LeaderElectionConfig(name: "kube-scheduler", identity: el.identity, leaseDuration: el.leaseDuration,
                                                           renewDeadline: el.renewDeadline, retryPeriod: el.retryPeriod) : nil
                await SchedulerRunner.run(client: client, options: frozen, leaderElection: le, logger: log)
            })
        }
        return config
    }
}

extension String {
    /// FNV-1a of the UTF-8 bytes: stable across runs, unlike `hashValue`.
    var hashValueStable: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h
    }
}
