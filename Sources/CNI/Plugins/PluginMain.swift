package import FoundationEssentials
import Glibc

/// What a plugin gets from the runtime: the command, env and network configuration.
package struct PluginContext {
    package var command: String
    package var containerID: String
    package var netns: String
    package var ifname: String
    package var args: String
    package var path: [String]
    package var conf: [String: Any]
    package var stdin: Data
    package var env: [String: String]
    package var cniVersion: String
    /// The multi-call binary this code belongs to (`/proc/self/exe` in swiftlet-cni, the
    /// swiftlet-cni path when a runtime runs the plugin in its own process): an IPAM plugin that
    /// resolves to it runs without a process.
    package var builtin: String = PluginMain.thisExecutable

    package var prevResult: CNIResult? {
        guard let p = conf["prevResult"], let d = try? CNIJSON.data(p) else { return nil }
        return try? CNIResult.decode(d)
    }

    /// Runs the IPAM plugin named in `conf.ipam.type` with our env and stdin (as the reference plugins do).
    @discardableResult
    package func delegateIPAM(_ command: String) throws -> CNIResult? {
        guard let ipam = conf["ipam"] as? [String: Any], let type = ipam["type"] as? String else {
            throw CNIError(.invalidConfig, "network configuration has no ipam.type", details: "set \"ipam\": {\"type\": \"host-local\", ...}")
        }
        let exe = try PluginExec.find(type, in: path)
        var e = env
        e["CNI_COMMAND"] = command
        if let impl = PluginMain.impl(type), PluginMain.sameFile(exe, builtin) {
            // CNI_PATH's IPAM plugin is this very binary: the same code runs without a process,
            // on the same configuration, and fails with the error it would have printed.
            var ctx = self
            ctx.command = command
            ctx.env = e
            do {
                return try PluginMain.dispatch(impl, ctx)
            } catch {
                throw PluginMain.cniError(error, plugin: type)
            }
        }
        let out = try PluginExec().run(exe, env: e, stdin: stdin)
        guard out.status == 0 else {
            throw CNIError.parse(out.stdout) ?? CNIError(.ioFailure, "IPAM plugin \(type) failed", details: String(decoding: out.stdout + out.stderr, as: UTF8.self))
        }
        return command == "ADD" ? try CNIResult.decode(out.stdout) : nil
    }
}

/// A plugin of the multi-call binary.
package protocol CNIPluginImpl {
    func add(_ ctx: PluginContext) throws -> CNIResult
    func del(_ ctx: PluginContext) throws
    func check(_ ctx: PluginContext) throws
    func gc(_ ctx: PluginContext) throws
    func status(_ ctx: PluginContext) throws
}

extension CNIPluginImpl {
    package func gc(_ ctx: PluginContext) throws {}
    package func status(_ ctx: PluginContext) throws {}
}

/// The multi-call entry point: `bridge`, `host-local`, `loopback`, `portmap`.
package enum PluginMain {
    package static let plugins = ["bridge", "host-local", "loopback", "portmap"]
    /// The running executable: swiftlet-cni's own plugins are `builtin` to it.
    static let thisExecutable = "/proc/self/exe"

    /// Whether `path` and `other` (after symlinks) are the same file.
    package static func sameFile(_ path: String, _ other: String) -> Bool {
        var a = stat(), b = stat()
        return stat(path, &a) == 0 && stat(other, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }

    static func impl(_ name: String) -> (any CNIPluginImpl)? {
        switch name {
        case "bridge": BridgePlugin()
        case "host-local": HostLocalPlugin()
        case "loopback": LoopbackPlugin()
        case "portmap": PortmapPlugin()
        default: nil
        }
    }

    /// Runs `plugin` for one invocation; returns what to print on stdout and the exit status.
    /// `builtin` is the multi-call binary whose plugins run in this process (see `PluginContext.builtin`).
    package static func run(plugin: String, env: [String: String], stdin: Data,
                            builtin: String = thisExecutable) -> (stdout: Data, status: Int32)
    {
        var version = CNISpec.version
        do {
            guard let impl = impl(plugin) else {
                throw CNIError(.invalidConfig, "unknown plugin \"\(plugin)\"", details: "swiftlet-cni provides \(plugins.joined(separator: ", "))")
            }
            guard let command = env["CNI_COMMAND"], !command.isEmpty else {
                throw CNIError(.invalidEnvironment, "CNI_COMMAND is not set", details: "set CNI_COMMAND to ADD, DEL, CHECK, STATUS, GC or VERSION")
            }
            var conf: [String: Any] = [:]
            let blank = stdin.allSatisfy(CNIJSON.isSpace)
            if !blank || command != "VERSION" {
                let parsed: Any
                do { parsed = try CNIJSON.parse(stdin) } catch {
                    throw CNIError(.decodeFailure, "cannot decode the network configuration on stdin", details: "\(error)")
                }
                guard let dict = parsed as? [String: Any] else {
                    throw CNIError(.decodeFailure, "cannot decode the network configuration on stdin", details: "stdin must be one JSON object")
                }
                conf = dict
            }
            if let v = conf["cniVersion"] as? String {
                guard CNISpec.isSupported(v) else {
                    throw CNIError(.incompatibleVersion, "incompatible CNI version \(v)",
                                   details: "plugin \(plugin) supports \(CNISpec.supportedVersions.joined(separator: ", "))")
                }
                version = v
            } else if command != "VERSION" {
                throw CNIError(.invalidConfig, "network configuration has no \"cniVersion\"", details: "add e.g. \"cniVersion\": \"1.0.0\"")
            }
            if command == "VERSION" {
                let obj: [String: Any] = ["cniVersion": version, "supportedVersions": CNISpec.supportedVersions]
                return (try CNIJSON.data(obj), 0)
            }
            func need(_ k: String) throws -> String {
                guard let v = env[k], !v.isEmpty else {
                    throw CNIError(.invalidEnvironment, "\(k) is not set", details: "CNI_COMMAND \(command) needs \(k)")
                }
                return v
            }
            let perContainer = ["ADD", "DEL", "CHECK"].contains(command)
            guard perContainer || ["GC", "STATUS"].contains(command) else {
                throw CNIError(.invalidEnvironment, "unknown CNI_COMMAND \(command)", details: "use ADD, DEL, CHECK, STATUS, GC or VERSION")
            }
            if ["GC", "STATUS"].contains(command) && CNISpec.compare(version, "1.1.0") < 0 {
                throw CNIError(.incompatibleVersion, "\(command) needs cniVersion 1.1.0, got \(version)")
            }
            let ctx = PluginContext(
                command: command,
                containerID: perContainer ? try need("CNI_CONTAINERID") : "",
                netns: command == "DEL" ? env["CNI_NETNS"] ?? "" : (perContainer ? try need("CNI_NETNS") : ""),
                ifname: perContainer ? try need("CNI_IFNAME") : "",
                args: env["CNI_ARGS"] ?? "",
                path: (env["CNI_PATH"] ?? "").split(separator: ":").map(String.init),
                conf: conf, stdin: stdin, env: env, cniVersion: version, builtin: builtin)
            return (try dispatch(impl, ctx)?.jsonData() ?? Data(), 0)
        } catch {
            return (cniError(error, plugin: plugin).json(cniVersion: version), 1)
        }
    }

    /// Runs `ctx.command` (ADD, DEL, CHECK, GC or STATUS); ADD's result in `ctx.cniVersion`.
    static func dispatch(_ impl: any CNIPluginImpl, _ ctx: PluginContext) throws -> CNIResult? {
        switch ctx.command {
        case "ADD":
            return try impl.add(ctx).converted(to: ctx.cniVersion)
        case "DEL": try impl.del(ctx)
        case "CHECK":
            guard CNISpec.compare(ctx.cniVersion, "0.4.0") >= 0 else {
                throw CNIError(.incompatibleVersion, "CHECK needs cniVersion 0.4.0 or later, got \(ctx.cniVersion)")
            }
            try impl.check(ctx)
        case "GC": try impl.gc(ctx)
        default: try impl.status(ctx)
        }
        return nil
    }

    /// What a plugin reports for `error`.
    static func cniError(_ error: any Error, plugin: String) -> CNIError {
        switch error {
        case let e as CNIError: e
        case let e as NetlinkError: e.cni
        default: CNIError(.ioFailure, "\(plugin) failed", details: "\(error)")
        }
    }
}
