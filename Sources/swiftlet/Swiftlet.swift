import ArgumentParser

@main
struct Swiftlet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftlet",
        abstract: "A Kubernetes node agent and compact control plane.",
        version: "0.1.0",
        subcommands: [ServerCommand.self, ControllerManagerCommand.self, SchedulerCommand.self, AgentCommand.self, Crictl.self]
    )
}
