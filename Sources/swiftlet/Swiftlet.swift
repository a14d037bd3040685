import ArgumentParser

@main
struct Swiftlet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftlet",
        abstract: "A Kubernetes node agent and compact control plane.",
        version: "0.1.0",
        subcommands: [UpCommand.self, ServerCommand.self, ControllerManagerCommand.self, SchedulerCommand.self, AgentCommand.self, ProxyCommand.self, Crictl.self]
    )
}
