import ArgumentParser
import Foundation
import KubeAPI
import Logging
import MiniControlPlane
import ServiceLifecycle

/// `swiftlet scheduler --server URL`: the scheduler as its own process, the way upstream runs
/// kube-scheduler on every control-plane node, competing for the `kube-system/kube-scheduler`
/// Lease so only one instance acts.
struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Run the scheduler against an API server (with leader election).")

    @Option(help: "API server URL, e.g. http://127.0.0.1:6443.")
    var server: String

    @Option(name: [.customLong("lease-name"), .customLong("leader-elect-resource-name")], help: "Name of the Lease.")
    var leaseName: String = "kube-scheduler"

    @Option(name: .customLong("leader-elect-resource-namespace"), help: "Namespace of the Lease.")
    var leaseNamespace: String = "kube-system"

    @Option(help: "Scheduler name: pods with this spec.schedulerName (or none) are scheduled.")
    var schedulerName: String = "default-scheduler"

    @Option(help: "Percentage of nodes to score (0: adaptive, as upstream).")
    var percentageOfNodesToScore: Int = 0

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @OptionGroup var election: LeaderElectionFlags

    func run() async throws {
        var logger = Logger(label: "swiftlet.scheduler")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        // its transport opens a connection per request in flight and one per watch; shut down below
        let client = APIClient(baseURL: server)
        let el = election.options
        let id = el.identity
        var options = SchedulerOptions()
        options.schedulerName = schedulerName
        options.percentageOfNodesToScore = percentageOfNodesToScore
        options.identity = id
        options.logger = logger
        var le: LeaderElectionConfig? = nil
        if el.enabled {
            le = LeaderElectionConfig(namespace: leaseNamespace, name: leaseName, identity: id, leaseDuration: el.leaseDuration,
                                      renewDeadline: el.renewDeadline, retryPeriod: el.retryPeriod)
        }
        logger.info("swiftlet scheduler \(id) against \(server), leader election \(el.enabled ? "on" : "off")")
        let service = SchedulerService(client: client, options: options, leaderElection: le, logger: logger)
        let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        do {
            try await group.run()
        } catch {
            client.transport.shutdown()
            throw error
        }
        client.transport.shutdown()
    }
}

struct SchedulerService: ServiceLifecycle.Service {
    let client: APIClient
    let options: SchedulerOptions
    let leaderElection: LeaderElectionConfig?
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await SchedulerRunner.run(client: client, options: options, leaderElection: leaderElection, logger: logger)
        }
    }
}

/// Go's duration syntax as the upstream flags take it: 15s, 500ms, 1m30s, 2h.
enum GoDuration {
    static func parse(_ s: String) -> Duration? {
        var rest = Substring(s)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        if rest == "0" { return .zero }
        while !rest.isEmpty {
            let num = rest.prefix { $0.isNumber || $0 == "." }
            guard let v = Double(num) else { return nil }
            rest = rest.dropFirst(num.count)
            let unit = rest.prefix { $0.isLetter || $0 == "µ" }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1e-9
            case "us", "µs": scale = 1e-6
            case "ms": scale = 1e-3
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            default: return nil
            }
            total += v * scale
        }
        return .nanoseconds(Int64(total * 1e9))
    }
}
