import ArgumentParser
import KubeAPI
import Logging
import NodeAgent
import ProxyNFT
import ServiceLifecycle

/// `swiftlet agent`: the node agent (kubelet) registered against a server.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the node agent: register the node and run the pods bound to it.")

    @Option(help: "API server URL.") var server: String
    @Option(help: "Name of this node.") var nodeName: String
    @Option(help: "Agent state directory.") var rootDir: String = "/var/lib/swiftlet/agent"
    @Option(help: "Directory for container logs.") var podLogsDir: String = "/var/log/pods"
    @Option(help: "Pod CIDR of this node (default bridge network when no CNI config is found).") var podCidr: String?
    @Option(help: "IP address of the node (default: the first non-loopback IPv4).") var nodeIp: String?
    @Option(help: "Prefix of every cgroup the runtime creates.") var cgroupRoot: String = "swiftlet"
    @Option(help: "Maximum number of pods.") var maxPods: Int = 110
    @Option(help: "CNI network configuration directory.") var cniConfDir: String?
    @Option(help: "CNI plugin directory (default: the bundled plugins).") var cniBinDir: String?
    @Option(help: "Taints to register the node with: key=value:Effect, comma separated.") var registerWithTaints: String?
    @Option(help: "Labels to register the node with: key=value, comma separated.") var nodeLabels: String?
    @Option(help: "Directory of static pod manifests.") var podManifestPath: String?
    @Option(help: "Port of the kubelet API.") var kubeletPort: Int = 10250
    @Option(help: "Address of the kubelet API.") var kubeletAddress: String = "0.0.0.0"
    @Option(help: "Seconds between node status posts when nothing changes.") var nodeStatusReportFrequency: Int = 300
    @Option(help: "On SIGTERM, stop pods gracefully within this many seconds (0: leave them running for the next agent).")
    var shutdownGracePeriod: Int = 0
    @Option(help: "Seconds an image pull may take before it fails with ErrImagePull.")
    var imagePullDeadline: Int = 60
    @Option(help: "Rotate a container's log file when it exceeds this many bytes.")
    var containerLogMaxSize: Int = 10 * 1024 * 1024
    @Option(help: "Log files kept per container, the live one included.")
    var containerLogMaxFiles: Int = 5
    @Option(help: "Seconds between checks of container log sizes.")
    var containerLogMonitorInterval: Int = 10
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"
    @Flag(help: "Do not run the service proxy in this process.") var disableProxy = false
    @OptionGroup var proxy: ProxyFlags

    static func taints(_ s: String?) throws -> [Taint] {
        guard let s, !s.isEmpty else { return [] }
        return try s.split(separator: ",").map { item in
            let parts = item.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { throw ValidationError("taint \(item) must be key[=value]:Effect") }
            let kv = parts[0].split(separator: "=", maxSplits: 1)
            return Taint(key: String(kv[0]), value: kv.count > 1 ? String(kv[1]) : nil, effect: String(parts[1]))
        }
    }

    static func labels(_ s: String?) throws -> [String: String] {
        var out: [String: String] = [:]
        for item in (s ?? "").split(separator: ",") {
            let kv = item.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { throw ValidationError("label \(item) must be key=value") }
            out[String(kv[0])] = String(kv[1])
        }
        return out
    }

    func run() async throws {
        MemoryTrimmer.configureSmallFootprint()
        var logger = Logger(label: "swiftlet.agent")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        var c = AgentConfig(serverURL: server, nodeName: nodeName)
        c.rootDir = rootDir
        c.podLogsDir = podLogsDir
        c.podCIDR = podCidr
        c.nodeIP = nodeIp
        c.cgroupRoot = cgroupRoot
        c.maxPods = maxPods
        c.cniConfDir = cniConfDir
        c.cniBinDir = cniBinDir
        c.registerWithTaints = try Self.taints(registerWithTaints)
        c.nodeLabels = try Self.labels(nodeLabels)
        c.podManifestPath = podManifestPath
        c.kubeletPort = kubeletPort
        c.kubeletAddress = kubeletAddress
        c.nodeStatusReportFrequency = .seconds(nodeStatusReportFrequency)
        c.shutdownGracePeriod = .seconds(shutdownGracePeriod)
        c.imagePullProgressDeadline = .seconds(imagePullDeadline)
        c.containerLogMaxSize = UInt64(max(containerLogMaxSize, 1024))
        c.containerLogMaxFiles = max(containerLogMaxFiles, 2)
        c.containerLogMonitorInterval = .seconds(max(containerLogMonitorInterval, 1))
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: NodeAgent(config: c, logger: logger))]
        if !disableProxy {
            var plog = Logger(label: "swiftlet.proxy")
            plog.logLevel = logger.logLevel
            services.append(.init(service: ProxyLifecycle(proxy: try proxy.makeProxy(client: APIClient(baseURL: server), nodeName: nodeName,
                                                                                     logger: plog))))
        }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The service proxy as a service of the agent's group: it stops on graceful shutdown.
struct ProxyLifecycle: ServiceLifecycle.Service {
    let proxy: ServiceProxy
    func run() async throws {
        await cancelWhenGracefulShutdown { await proxy.run() }
    }
}
