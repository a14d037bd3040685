import ArgumentParser
import Foundation
import KubeAPI
import Logging
import ProxyNFT

/// The proxy's flags, shared by `proxy`, `agent` and `up` (kube-proxy's names and defaults).
struct ProxyFlags: ParsableArguments {
    @Option(help: "Pod CIDR of the whole cluster: traffic to a ClusterIP from outside it is masqueraded.")
    var clusterCidr: String?

    @Option(help: "Least time between syncs of the nftables table (Go duration).")
    var minSyncPeriod: String = "1s"

    @Option(help: "Time between periodic syncs that also repair drift (Go duration).")
    var syncPeriod: String = "30s"

    @Option(help: "Bit of the packet mark that asks for SNAT (0-31).")
    var masqueradeBit: Int = 14

    func validate() throws {
        if let c = clusterCidr, IPv4CIDR(c) == nil {
            throw ValidationError("--cluster-cidr \(c) is not an IPv4 CIDR such as 10.244.0.0/16")
        }
        for (flag, value) in [("--min-sync-period", minSyncPeriod), ("--sync-period", syncPeriod)] where GoDuration.parse(value) == nil {
            throw ValidationError("\(flag) \(value) is not a duration such as 1s or 500ms")
        }
        guard (0...31).contains(masqueradeBit) else { throw ValidationError("--masquerade-bit \(masqueradeBit) must be within 0-31") }
    }

    func options(nodeName: String) -> ServiceProxyOptions {
        var o = ServiceProxyOptions(nodeName: nodeName,
                                    config: ProxyConfig(clusterCIDR: clusterCidr.flatMap(IPv4CIDR.init), masqueradeBit: masqueradeBit))
        o.minSyncPeriod = GoDuration.parse(minSyncPeriod) ?? .seconds(1)
        o.syncPeriod = max(GoDuration.parse(syncPeriod) ?? .seconds(30), .milliseconds(100))
        return o
    }

    /// The proxy against `client`, with netlink sockets in this process's network namespace.
    func makeProxy(client: APIClient, nodeName: String, logger: Logger) throws -> ServiceProxy {
        ServiceProxy(client: client, options: options(nodeName: nodeName), backend: try NetlinkNFTables(),
                     conntrack: try? NetlinkConntrack(), logger: logger)
    }
}

/// `swiftlet proxy`: the service proxy alone (kube-proxy's role).
struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Run the service proxy: program Services and EndpointSlices into this node's nftables.")

    @Option(help: "API server URL.") var server: String?
    @Option(help: "Name of this node (endpoints on it are local).") var nodeName: String = ProcessInfo.processInfo.hostName
    @OptionGroup var proxy: ProxyFlags
    @Flag(help: "Remove the proxy's nftables table and exit.") var cleanup = false
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"

    func validate() throws {
        if !cleanup && (server ?? "").isEmpty { throw ValidationError("--server is required (or --cleanup)") }
    }

    func run() async throws {
        if cleanup {
            try Proxier.cleanup(backend: try NetlinkNFTables())
            print("proxy: removed nftables table ip \(ProxyNFTNames.table)")
            return
        }
        var logger = Logger(label: "swiftlet.proxy")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let proxy = try proxy.makeProxy(client: APIClient(baseURL: server!), nodeName: nodeName, logger: logger)
        logger.info("service proxy for node \(nodeName) against \(server!)")
        await runUntilSignal { await proxy.run() }
    }
}
