import ArgumentParser
import KubeAPI
import Logging

@main
enum Main {
    static func main() async {
        LoggingSystem.bootstrap { StderrLogHandler(label: $0) }
        await Swiftlet.main()
    }
}

struct Swiftlet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftlet",
        abstract: "A Kubernetes node agent and compact control plane.",
        version: "0.1.0",
        subcommands: [UpCommand.self, ServerCommand.self, ControllerManagerCommand.self, SchedulerCommand.self, AgentCommand.self, ProxyCommand.self, Crictl.self]
    )
}
