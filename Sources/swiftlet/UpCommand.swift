import ArgumentParser
import Foundation
import KubeAPI
import Logging
import MiniControlPlane
import NodeAgent
import ProxyNFT
import ServiceLifecycle

/// `swiftlet up`: a whole one-node cluster in one process — API server (embedded SQLite),
/// scheduler, controller manager, node agent and service proxy — like `k3s server`.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run a one-node cluster in one process: server, scheduler, controllers, node agent and service proxy.")

    @OptionGroup var server: ServerFlags
    @Option(help: "Name of this node.") var nodeName: String = ProcessInfo.processInfo.hostName.lowercased()
    @Option(help: "Agent state directory.") var rootDir: String = "/var/lib/swiftlet/agent"
    @Option(help: "Directory for container logs.") var podLogsDir: String = "/var/log/pods"
    @Option(help: "Pod CIDR of this node.") var podCidr: String = "10.244.0.0/24"
    @Option(help: "IP address of the node (default: the first non-loopback IPv4).") var nodeIp: String?
    @Option(help: "Prefix of every cgroup the runtime creates.") var cgroupRoot: String = "swiftlet"
    @Option(help: "Port of the kubelet API.") var kubeletPort: Int = 10250
    @Option(help: "Maximum number of pods.") var maxPods: Int = 110
    @Flag(help: "Do not run the service proxy.") var disableProxy = false
    @OptionGroup var proxy: ProxyFlags

    func validate() throws {
        guard IPv4CIDR(podCidr) != nil else { throw ValidationError("--pod-cidr \(podCidr) is not an IPv4 CIDR such as 10.244.0.0/24") }
    }

    func run() async throws {
        var logger = Logger(label: "swiftlet.up")
        logger.logLevel = Logger.Level(rawValue: server.logLevel) ?? .info
        var config = server.runnerConfig(logger: logger)
        let kubeconfig = server.kubeconfigOut ?? server.dataDir + "/kubeconfig"
        config.kubeconfigOut = kubeconfig
        var agent = AgentConfig(serverURL: "", nodeName: nodeName)
        agent.rootDir = rootDir
        agent.podLogsDir = podLogsDir
        agent.podCIDR = podCidr
        agent.nodeIP = nodeIp
        agent.cgroupRoot = cgroupRoot
        agent.kubeletPort = kubeletPort
        agent.maxPods = maxPods
        let agentConfig = agent
        let nodeName = self.nodeName
        let log = logger
        config.components.append(.init(name: "agent") { client in
            var c = agentConfig
            c.serverURL = client.baseURL
            do {
                try await NodeAgent(config: c, logger: log).run()
            } catch {
                log.critical("node agent stopped: \(error)")
            }
        })
        if !disableProxy {
            let flags = proxy
            config.components.append(.init(name: "proxy") { client in
                do {
                    await (try flags.makeProxy(client: client, nodeName: nodeName, logger: log)).run()
                } catch {
                    log.critical("service proxy did not start: \(error)")
                }
            })
        }
        config.components.append(.init(name: "announce") { client in
            // Say how to use the cluster once its node has registered.
            for _ in 0..<600 where !Task.isCancelled {
                if (try? await client.get(Node.self, name: nodeName)) != nil {
                    print("""
                        swiftlet is up: node \(nodeName) registered with the API server at \(client.baseURL).
                          export KUBECONFIG=\(kubeconfig)
                          kubectl get nodes
                        """)
                    fflush(nil)
                    return
                }
                try? await Task.sleep(for: .milliseconds(200))
            }
        })
        try await ServerRunner.run(config, logger: logger)
    }
}
