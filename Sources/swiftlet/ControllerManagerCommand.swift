import ArgumentParser
import Foundation
import KubeAPI
import Logging
import MiniControlPlane

/// Flags shared by the components that elect a leader.
struct LeaderElectionFlags: ParsableArguments {
    @Option(name: .customLong("leader-elect"), help: "Run only while holding the component's Lease in kube-system.")
    var leaderElect: Bool = true

    @Option(name: .customLong("leader-elect-lease-duration"), help: "How long a lease is valid after its last renewal (Go duration).")
    var leaseDuration: String = "15s"

    @Option(name: .customLong("leader-elect-renew-deadline"), help: "How long the leader keeps trying to renew before giving up (Go duration).")
    var renewDeadline: String = "10s"

    @Option(name: .customLong("leader-elect-retry-period"), help: "How often candidates try to acquire or renew (Go duration).")
    var retryPeriod: String = "2s"

    @Option(help: "Identity in the lease (default: <hostname>_<uuid>).")
    var identity: String?

    mutating func validate() throws {
        for (flag, v) in [("--leader-elect-lease-duration", leaseDuration), ("--leader-elect-renew-deadline", renewDeadline),
                          ("--leader-elect-retry-period", retryPeriod)]
        {
            guard let d = GoDuration.parse(v), d > .zero else {
                throw ValidationError("invalid value \"\(v)\" for \(flag): expected a duration such as 15s")
            }
        }
        if GoDuration.parse(renewDeadline)! >= GoDuration.parse(leaseDuration)! {
            throw ValidationError("--leader-elect-renew-deadline (\(renewDeadline)) must be less than --leader-elect-lease-duration (\(leaseDuration))")
        }
    }

    var options: LeaderElected.Options {
        var o = LeaderElected.Options()
        o.enabled = leaderElect
        o.leaseDuration = GoDuration.parse(leaseDuration) ?? .seconds(15)
        o.renewDeadline = GoDuration.parse(renewDeadline) ?? .seconds(10)
        o.retryPeriod = GoDuration.parse(retryPeriod) ?? .seconds(2)
        if let identity { o.identity = identity }
        return o
    }
}

struct ControllerManagerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller-manager",
        abstract: "Run the controllers (ReplicaSet, Deployment, StatefulSet, DaemonSet, Job, endpoints, node lifecycle, garbage collector, service accounts) against an API server.")

    @Option(help: "API server URL, e.g. http://127.0.0.1:6443.")
    var server: String

    @Option(help: "Controllers to run: '*' for all, 'name' to enable, '-name' to disable (comma-separated). Known: \(ControllerManager.allControllers.joined(separator: ", ")).")
    var controllers: String = "*"

    @Option(help: "How long without a node heartbeat before the node is marked unreachable (Go duration).")
    var nodeMonitorGracePeriod: String = "40s"

    @Option(help: "Concurrent syncs per controller.")
    var concurrentSyncs: Int = 5

    @OptionGroup var election: LeaderElectionFlags

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        try validateControllerFlags(controllers: controllers, nodeMonitorGracePeriod: nodeMonitorGracePeriod)
    }

    func run() async throws {
        var logger = Logger(label: "swiftlet.controller-manager")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let client = APIClient(baseURL: server)
        var opts = ControllerManagerOptions()
        opts.controllers = controllers.split(separator: ",").map { String($0.trimmingCharacters(in: .whitespaces)) }
        opts.nodeMonitorGracePeriod = GoDuration.parse(nodeMonitorGracePeriod) ?? .seconds(40)
        opts.workers = concurrentSyncs
        let election = self.election.options
        let log = logger
        let cm = ControllerManager(client: client, options: opts, identity: election.identity, logger: logger)
        await runUntilSignal {
            await LeaderElected.run(lease: "kube-controller-manager", client: client, options: election, logger: log) {
                await cm.run()
            }
        }
    }
}

/// Runs `body` until it returns or SIGTERM/SIGINT arrives (then cancels it and waits).
func runUntilSignal(_ body: @escaping @Sendable () async -> Void) async {
    signal(SIGTERM, SIG_IGN)
    signal(SIGINT, SIG_IGN)
    let signals = AsyncStream<Int32> { cont in
        let sources = [SIGTERM, SIGINT].map { s in
            let src = DispatchSource.makeSignalSource(signal: s)
            src.setEventHandler { cont.yield(s) }
            src.resume()
            return src
        }
        nonisolated(unsafe) let keep = sources
        cont.onTermination = { _ in keep.forEach { $0.cancel() } }
    }
    await withTaskGroup(of: Void.self) { g in
        g.addTask { await body() }
        g.addTask { for await _ in signals { return } }
        await g.next()
        g.cancelAll()
    }
}

/// The checks `controller-manager` and `server` share for `--controllers` and
/// `--node-monitor-grace-period`.
func validateControllerFlags(controllers: String, nodeMonitorGracePeriod: String) throws {
    for c in controllers.split(separator: ",").map({ String($0.trimmingCharacters(in: .whitespaces)) }) {
        let name = c.hasPrefix("-") ? String(c.dropFirst()) : c
        if name != "*" && !ControllerManager.allControllers.contains(name) {
            throw ValidationError("unknown controller \"\(name)\" in --controllers (known: \(ControllerManager.allControllers.joined(separator: ", ")))")
        }
    }
    guard let g = GoDuration.parse(nodeMonitorGracePeriod), g > .zero else {
        throw ValidationError("invalid value \"\(nodeMonitorGracePeriod)\" for --node-monitor-grace-period: expected a duration such as 40s")
    }
}
