public import KubeAPI
public import Logging

/// Runs a scheduler, alone or under leader election (Lease `kube-system/kube-scheduler` by
/// default): each term as leader gets a fresh `Scheduler` whose cache is rebuilt from the
/// informers, and losing the lease cancels it at once. Used by `swiftlet scheduler` and
/// in-process by `swiftlet server`.
public enum SchedulerRunner {
    public static func defaultLeaderElection(identity: String) -> LeaderElectionConfig {
        LeaderElectionConfig(namespace: "kube-system", name: "kube-scheduler", identity: identity)
    }

    /// Runs until the task is cancelled.
    public static func run(client: APIClient, options: SchedulerOptions, leaderElection: LeaderElectionConfig?,
                           logger: Logger = Logger(label: "swiftlet.scheduler")) async
    {
        guard let le = leaderElection else {
            await Scheduler(client: client, options: options).run()
            return
        }
        var opts = options
        if opts.identity == nil { opts.identity = le.identity }
        let frozen = opts
        let elector = LeaderElector(client: client, config: le, logger: logger)
        await elector.run {
            logger.info("leading: starting the scheduler as \(le.identity)")
            await Scheduler(client: client, options: frozen).run()
        }
    }
}
