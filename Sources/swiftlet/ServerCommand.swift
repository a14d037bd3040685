import ArgumentParser
import Logging
import MiniControlPlane

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server",
        abstract: "Run the control plane: API server (embedded SQLite).")

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

    func run() async throws {
        var logger = Logger(label: "swiftlet.server")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        var config = ServerRunner.Config(dataDir: dataDir)
        config.bindAddress = bindAddress
        config.port = port
        config.kubeconfigOut = kubeconfigOut
        try await ServerRunner.run(config, logger: logger)
    }
}
