import ArgumentParser
import Foundation
import Runtime

/// `swiftlet crictl …`: crictl-style verbs straight on the node's runtime (debugging).
struct Crictl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crictl",
        abstract: "Debug the node's container runtime, crictl style.",
        subcommands: [
            RunP.self, Create.self, Start.self, Ps.self, Pods.self, Exec.self, Logs.self, Stop.self, Rm.self,
            StopP.self, RmP.self, Attach.self, Inspect.self, Images.self, Pull.self, Load.self, Import.self,
        ]
    )

    struct Options: ParsableArguments {
        @Option(help: "Runtime state root.") var root = "/var/lib/swiftlet/runtime"
        @Option(help: "Prefix of the runtime's cgroups.") var cgroupRoot = "swiftlet"

        func runtime() throws -> LinuxRuntime {
            var c = RuntimeConfig(root: root)
            c.cgroupRoot = cgroupRoot
            return try LinuxRuntime(config: c)
        }
    }

    static func read(_ path: String) throws -> Data {
        guard let d = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
        return d
    }

    static func json(_ value: some Encodable) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return String(decoding: try e.encode(value), as: UTF8.self)
    }

    static func short(_ id: String) -> String { String(id.prefix(13)) }

    static func age(_ d: Date?) -> String {
        guard let d else { return "-" }
        let s = Int(Date().timeIntervalSince(d))
        return s < 120 ? "\(s)s" : s < 7200 ? "\(s / 60)m" : "\(s / 3600)h"
    }

    static func pad(_ cols: [String], _ widths: [Int]) -> String {
        zip(cols, widths).map { $0.padding(toLength: max($1, $0.count), withPad: " ", startingAt: 0) }.joined(separator: "  ")
    }

    struct RunP: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "runp", abstract: "Run a pod sandbox from a JSON config.")
        @OptionGroup var options: Options
        @Argument var podConfig: String
        func run() async throws {
            print(try await options.runtime().runPodSandbox(try CRIJSON.podSandboxConfig(try read(podConfig))))
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a container in a pod sandbox.")
        @OptionGroup var options: Options
        @Argument var podID: String
        @Argument var containerConfig: String
        @Argument var podConfig: String?
        func run() async throws {
            print(try await options.runtime().createContainer(sandboxID: podID, try CRIJSON.containerConfig(try read(containerConfig))))
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start created containers.")
        @OptionGroup var options: Options
        @Argument var ids: [String]
        func run() async throws {
            let rt = try options.runtime()
            for id in ids {
                try await rt.startContainer(id)
                print(id)
            }
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop running containers.")
        @OptionGroup var options: Options
        @Option(name: .shortAndLong, help: "Seconds before SIGKILL.") var timeout = 10
        @Argument var ids: [String]
        func run() async throws {
            let rt = try options.runtime()
            for id in ids {
                try await rt.stopContainer(id, timeout: timeout)
                print(id)
            }
        }
    }

    struct Rm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove containers.")
        @OptionGroup var options: Options
        @Argument var ids: [String]
        func run() async throws {
            let rt = try options.runtime()
            for id in ids {
                try await rt.removeContainer(id)
                print(id)
            }
        }
    }

    struct StopP: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "stopp", abstract: "Stop pod sandboxes.")
        @OptionGroup var options: Options
        @Argument var ids: [String]
        func run() async throws {
            let rt = try options.runtime()
            for id in ids {
                try await rt.stopPodSandbox(id)
                print("Stopped sandbox \(id)")
            }
        }
    }

    struct RmP: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rmp", abstract: "Remove pod sandboxes.")
        @OptionGroup var options: Options
        @Flag(name: .shortAndLong, help: "Remove all pod sandboxes (stopping them first).") var all = false
        @Argument var ids: [String] = []
        func validate() throws {
            if all == !ids.isEmpty { throw ValidationError("give sandbox IDs or --all, not both or neither") }
        }
        func run() async throws {
            let rt = try options.runtime()
            for id in all ? try await rt.listPodSandbox().map(\.id) : ids {
                if all { try await rt.stopPodSandbox(id) }
                try await rt.removePodSandbox(id)
                print("Removed sandbox \(id)")
            }
        }
    }

    struct Ps: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List containers.")
        @OptionGroup var options: Options
        @Flag(name: .shortAndLong, help: "Show all containers, not only running ones.") var all = false
        @Option(name: .shortAndLong, help: "Only containers of this pod sandbox.") var pod: String?
        @Flag(name: .shortAndLong, help: "Only ids.") var quiet = false
        func run() async throws {
            let list = try await options.runtime().listContainers(sandboxID: pod).filter { all || $0.state == .running }
            let w = [13, 30, 10, 18, 8, 13]
            if !quiet { print(pad(["CONTAINER", "IMAGE", "CREATED", "STATE", "EXIT", "POD ID", "NAME"], w + [0])) }
            for c in list {
                if quiet { print(c.id); continue }
                print(pad([short(c.id), c.image, age(c.createdAt), c.state.rawValue, c.state == .exited ? "\(c.exitCode)" : "-",
                           short(c.sandboxID), c.name], w + [0]))
            }
        }
    }

    struct Pods: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List pod sandboxes.")
        @OptionGroup var options: Options
        @Flag(name: .shortAndLong, help: "Only ids.") var quiet = false
        func run() async throws {
            let list = try await options.runtime().listPodSandbox()
            let w = [13, 10, 18, 24, 16]
            if !quiet { print(pad(["POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT"], w + [0])) }
            for p in list {
                if quiet { print(p.id); continue }
                print(pad([short(p.id), age(p.createdAt), p.state.rawValue, p.config.name, p.config.namespace,
                           String(p.config.attempt)], w + [0]))
            }
        }
    }

    struct Exec: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run a command in a running container.")
        @OptionGroup var options: Options
        @Option(help: "Seconds before the command is killed (0 = none; sync only).") var timeout = 0
        @Flag(name: .shortAndLong, help: "Run synchronously: collect the output, then print it.") var sync = false
        @Flag(name: .shortAndLong, help: "Keep stdin open and send it to the command.") var interactive = false
        @Flag(name: .shortAndLong, help: "Run the command on a terminal.") var tty = false
        @Argument var id: String
        @Argument(parsing: .captureForPassthrough) var cmd: [String]
        func run() async throws {
            let command = cmd.first == "--" ? Array(cmd.dropFirst()) : cmd
            if interactive || tty {
                try await Crictl.interactiveExec(try options.runtime(), id: id, cmd: command, stdin: interactive, tty: tty)
                return
            }
            let r = try await options.runtime().execSync(id, cmd: command, timeout: timeout)
            FileHandle.standardOutput.write(r.stdout)
            FileHandle.standardError.write(r.stderr)
            if r.exitCode != 0 { throw ExitCode(r.exitCode) }
        }
    }

    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a container's log.")
        @OptionGroup var options: Options
        @Flag(help: "Keep the CRI prefix (time, stream, tag).") var raw = false
        @Argument var id: String
        func run() async throws {
            let s = try await options.runtime().containerStatus(id)
            let text = (try? String(contentsOfFile: s.logPath, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") {
                guard !raw, let l = ContainerLogManager.parse(line) else {
                    print(line)
                    continue
                }
                let out = l.partial ? l.content : l.content + "\n"
                (l.stream == "stderr" ? FileHandle.standardError : FileHandle.standardOutput).write(Data(out.utf8))
            }
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Status of a container or pod sandbox, as JSON.")
        @OptionGroup var options: Options
        @Argument var id: String
        func run() async throws {
            let rt = try options.runtime()
            if let c = try? await rt.containerStatus(id) { print(try json(c)) } else { print(try json(try await rt.podSandboxStatus(id))) }
        }
    }

    struct Images: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List images.")
        @OptionGroup var options: Options
        func run() async throws {
            print(pad(["IMAGE", "IMAGE ID", "SIZE"], [50, 20, 0]))
            for i in try await options.runtime().images.listImages() {
                print(pad([i.repoTags.first ?? "<none>", String(i.id.dropFirst(7).prefix(13)), "\(i.size / 1024)kB"], [50, 20, 0]))
            }
        }
    }

    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pull an image from a registry.")
        @OptionGroup var options: Options
        @Argument var image: String
        func run() async throws { print("Image is up to date for \(try await options.runtime().images.pullImage(image))") }
    }

    struct Load: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import a docker-archive tar or an OCI layout directory.")
        @OptionGroup var options: Options
        @Option(help: "Name for an OCI layout without a ref.name annotation.") var name: String?
        @Argument var path: String
        func run() async throws {
            let store = try options.runtime().images
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
                print("Loaded image: \(try await store.importOCILayout(path, ref: name).repoTags.joined(separator: ", "))")
            } else {
                for i in try await store.importDockerArchive(path) { print("Loaded image: \(i.repoTags.joined(separator: ", "))") }
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an image from a root filesystem tarball, as `docker import` does.")
        @OptionGroup var options: Options
        @Option(help: "Reference of the new image, e.g. localhost/busybox:demo.") var name: String
        @Option(help: "Default command of the image (repeat for each argument).") var cmd: [String] = ["sh"]
        @Argument(help: "A tar of the root filesystem.") var tarball: String
        func run() async throws {
            guard FileManager.default.isReadableFile(atPath: tarball) else { throw ValidationError("cannot read \(tarball)") }
            let info = try await options.runtime().images.importLayers(ref: name, layerTars: [tarball], cmd: cmd)
            print("Imported image: \(info.repoTags.joined(separator: ", "))")
        }
    }
}
