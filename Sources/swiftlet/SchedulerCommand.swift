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

    @Option(name: .customLong("leader-elect"), help: "Compete for the lease so only one instance schedules (true|false).")
    var leaderElect: Bool = true

    @Option(name: .customLong("leader-elect-lease-duration"), help: "How long a lease holder is trusted without renewing (Go duration).")
    var leaseDuration: String = "15s"

    @Option(name: .customLong("leader-elect-renew-deadline"), help: "How long the leader keeps trying to renew before it stops (Go duration).")
    var renewDeadline: String = "10s"

    @Option(name: .customLong("leader-elect-retry-period"), help: "How often candidates try to acquire or renew (Go duration).")
    var retryPeriod: String = "2s"

    @Option(name: [.customLong("lease-name"), .customLong("leader-elect-resource-name")], help: "Name of the Lease.")
    var leaseName: String = "kube-scheduler"

    @Option(name: .customLong("leader-elect-resource-namespace"), help: "Namespace of the Lease.")
    var leaseNamespace: String = "kube-system"

    @Option(help: "This instance's identity in the Lease (default: hostname_<uuid>).")
    var identity: String?

    @Option(help: "Scheduler name: pods with this spec.schedulerName (or none) are scheduled.")
    var schedulerName: String = "default-scheduler"

    @Option(help: "Percentage of nodes to score (0: adaptive, as upstream).")
    var percentageOfNodesToScore: Int = 0

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        for (flag, v) in [("--leader-elect-lease-duration", leaseDuration), ("--leader-elect-renew-deadline", renewDeadline),
                          ("--leader-elect-retry-period", retryPeriod)]
        {
            if GoDuration.parse(v) == nil { throw ValidationError("invalid value \"\(v)\" for \(flag): expected a duration such as 15s") }
        }
    }

    func run() async throws {
        var logger = Logger(label: "swiftlet.scheduler")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let client = SchedulerRunner.makeClient(server: server)
        let id = identity ?? "\(ProcessInfo.processInfo.hostName)_\(UUID().uuidString.lowercased())"
        var options = SchedulerOptions()
        options.schedulerName = schedulerName
        options.percentageOfNodesToScore = percentageOfNodesToScore
        options.identity = id
        options.logger = logger
        var le: LeaderElectionConfig? = nil
        if leaderElect {
            le = LeaderElectionConfig(namespace: leaseNamespace, name: leaseName, identity: id,
                                      leaseDuration: GoDuration.parse(leaseDuration)!, renewDeadline: GoDuration.parse(renewDeadline)!,
                                      retryPeriod: GoDuration.parse(retryPeriod)!)
        }
        logger.info("swiftlet scheduler \(id) against \(server), leader election \(leaderElect ? "on" : "off")")
        let service = SchedulerService(client: client, options: options, leaderElection: le, logger: logger)
        let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        do {
            try await group.run()
        } catch {
            try? await client.http.shutdown()
            throw error
        }
        try await client.http.shutdown()
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
