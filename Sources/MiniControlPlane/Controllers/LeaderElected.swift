import Foundation
public import KubeAPI
public import Logging

/// Runs a control-plane component the way upstream does on every control-plane node: either
/// directly, or only while holding its Lease in kube-system (kube-controller-manager,
/// kube-scheduler). A component that loses its lease is cancelled at once.
public enum LeaderElected {
    public struct Options: Sendable {
        public var enabled = true
        public var leaseDuration: Duration = .seconds(15)
        public var renewDeadline: Duration = .seconds(10)
        public var retryPeriod: Duration = .seconds(2)
        public var identity: String = LeaderElected.defaultIdentity()
        public init() {}
    }

    /// `<hostname>_<random uuid>`, as client-go's default identity.
    public static func defaultIdentity() -> String {
        (ProcessInfo.processInfo.hostName) + "_" + UUID().uuidString.lowercased()
    }

    public static func run(lease: String, client: APIClient, options: Options, logger: Logger,
                           _ body: @escaping @Sendable () async -> Void) async
    {
        guard options.enabled else {
            await body()
            return
        }
        let config = LeaderElectionConfig(name: lease, identity: options.identity, leaseDuration: options.leaseDuration,
                                          renewDeadline: options.renewDeadline, retryPeriod: options.retryPeriod)
        let elector = LeaderElector(client: client, config: config, logger: logger)
        logger.info("attempting to acquire leader lease kube-system/\(lease)", metadata: ["identity": "\(options.identity)"])
        await elector.run(body)
    }
}
