import FoundationEssentials
import Glibc

/// A plugin's failure as the invoker reports it: which plugin, which command, and its `{code, msg, details}`.
package struct PluginError: Error, CustomStringConvertible, Sendable {
    package var plugin: String
    package var command: String
    package var error: CNIError
    package var stderr: String
    package var description: String {
        "CNI \(command) with plugin \(plugin) failed: code \(error.code): \(error.msg)" + (error.details.isEmpty ? "" : " (\(error.details))")
            + (stderr.isEmpty ? "" : "; stderr: \(stderr)")
    }
}

/// Runs a network configuration list's plugin chain the way libcni does (CNI 1.1.0), with a result cache
/// under `<cacheDir>/results/<net>-<containerID>-<ifname>` so DEL, CHECK and GC have what ADD returned.
package struct CNIInvoker: NetworkPlugin {
    package var config: NetworkConfigList
    package var binDirs: [String]
    package var cacheDir: String
    package var exec: PluginExec

    package init(config: NetworkConfigList, binDirs: [String] = ["/opt/cni/bin"], cacheDir: String = "/var/lib/cni",
                 exec: PluginExec = PluginExec())
    {
        self.config = config
        self.binDirs = binDirs
        self.cacheDir = cacheDir
        self.exec = exec
    }

    // MARK: cache

    struct CacheEntry: Codable {
        var kind = "cniCacheV1"
        var containerId: String
        var ifName: String
        var networkName: String
        var netns: String
        var config: Data
        var result: CNIResult?
    }

    func cachePath(_ a: Attachment) -> String { "\(cacheDir)/results/\(config.name)-\(a.containerID)-\(a.ifName)" }

    func writeCache(_ a: Attachment, _ r: CNIResult?) throws {
        let e = CacheEntry(containerId: a.containerID, ifName: a.ifName, networkName: config.name, netns: a.netns, config: config.bytes, result: r)
        try NetworkConfigList.write(try JSONEncoder().encode(e), to: cachePath(a), mode: 0o600, durable: false)
    }

    func readCache(_ a: Attachment) -> CacheEntry? {
        guard let d = FileManager.default.contents(atPath: cachePath(a)) else { return nil }
        return try? JSONDecoder().decode(CacheEntry.self, from: d)
    }

    /// The cached result of ADD, if any.
    package func cachedResult(_ a: Attachment) -> CNIResult? { readCache(a)?.result }

    /// Attachments of this network with a cache entry.
    package func cachedAttachments() -> [Attachment] {
        let dir = cacheDir + "/results"
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).compactMap { f in
            guard f.hasPrefix(config.name + "-"), let d = FileManager.default.contents(atPath: dir + "/" + f),
                  let e = try? JSONDecoder().decode(CacheEntry.self, from: d), e.networkName == config.name else { return nil }
            return Attachment(containerID: e.containerId, ifName: e.ifName, netns: e.netns)
        }
    }

    // MARK: invocation

    func invoke(_ plugin: [String: Any], command: String, attachment: Attachment?, prev: CNIResult?,
                portMappings: [HostPortMapping] = [], args: [String: String] = [:], extra: [String: Any] = [:],
                list: NetworkConfigList? = nil) async throws -> Data
    {
        let list = list ?? config
        let type = plugin["type"] as? String ?? ""
        var conf = plugin
        conf["name"] = list.name
        conf["cniVersion"] = list.cniVersion
        if let prev { conf["prevResult"] = prev.converted(to: list.cniVersion).jsonObject() }
        if let caps = plugin["capabilities"] as? [String: Any], caps["portMappings"] as? Bool == true, !portMappings.isEmpty {
            conf["runtimeConfig"] = ["portMappings": portMappings.map {
                ["hostPort": $0.hostPort, "containerPort": $0.containerPort, "protocol": $0.protocol, "hostIP": $0.hostIP] as [String: Any]
            }]
        }
        for (k, v) in extra { conf[k] = v }
        let stdin = try CNIJSON.data(conf)
        var env = ["CNI_COMMAND": command, "CNI_PATH": binDirs.joined(separator: ":")]
        if let a = attachment {
            env["CNI_CONTAINERID"] = a.containerID
            env["CNI_IFNAME"] = a.ifName
            env["CNI_NETNS"] = a.netns
        }
        if !args.isEmpty { env["CNI_ARGS"] = args.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ";") }
        let exe = try PluginExec.find(type, in: binDirs)
        let out = try await exec.runOffPool(exe, env: env, stdin: stdin)
        guard out.status == 0 else {
            let err = CNIError.parse(out.stdout)
                ?? CNIError(.ioFailure, "plugin exited with status \(out.status) without a CNI error", details: String(decoding: out.stdout, as: UTF8.self))
            throw PluginError(plugin: type, command: command, error: err, stderr: String(decoding: out.stderr, as: UTF8.self))
        }
        return out.stdout
    }

    package func setUp(_ a: Attachment, portMappings: [HostPortMapping], args: [String: String]) async throws -> CNIResult {
        var prev: CNIResult?
        do {
            for p in config.plugins {
                let out = try await invoke(p, command: "ADD", attachment: a, prev: prev, portMappings: portMappings, args: args)
                prev = try CNIResult.decode(out)
            }
        } catch {
            // Leave nothing behind: a failed ADD is undone with DEL over the whole chain.
            try? await tearDownChain(a, prev: prev, list: config)
            throw error
        }
        guard let result = prev else { throw CNIError(.invalidConfig, "network \(config.name) produced no result") }
        try writeCache(a, result)
        return result
    }

    package func tearDown(_ a: Attachment) async throws {
        let cached = readCache(a)
        let list = cached.flatMap { try? NetworkConfigList(bytes: $0.config) } ?? config
        try await tearDownChain(a, prev: cached?.result, list: list)
        unlink(cachePath(a))
    }

    func tearDownChain(_ a: Attachment, prev: CNIResult?, list: NetworkConfigList) async throws {
        var first: (any Error)?
        for p in list.plugins.reversed() {
            do { _ = try await invoke(p, command: "DEL", attachment: a, prev: prev, list: list) } catch { first = first ?? error }
        }
        if let first { throw first }
    }

    package func check(_ a: Attachment) async throws {
        guard CNISpec.compare(config.cniVersion, "0.4.0") >= 0, !config.disableCheck else { return }
        guard let cached = readCache(a), let result = cached.result else {
            throw CNIError(.containerUnknown, "no cached result for \(a.containerID)/\(a.ifName) on network \(config.name)",
                           details: "CHECK needs a prior ADD through this invoker (cache \(cachePath(a)))")
        }
        for p in config.plugins { _ = try await invoke(p, command: "CHECK", attachment: a, prev: result) }
    }

    package func status() async throws {
        guard CNISpec.compare(config.cniVersion, "1.1.0") >= 0 else { return }
        for p in config.plugins { _ = try await invoke(p, command: "STATUS", attachment: nil, prev: nil) }
    }

    package func gc(keeping keep: Set<Attachment>) async throws {
        let keepKeys = Set(keep.map { $0.containerID + "/" + $0.ifName })
        var first: (any Error)?
        for a in cachedAttachments() where !keepKeys.contains(a.containerID + "/" + a.ifName) {
            do { try await tearDown(a) } catch { first = first ?? error }
        }
        if CNISpec.compare(config.cniVersion, "1.1.0") >= 0 {
            let valid: [[String: Any]] = keep.map { ["containerID": $0.containerID, "ifname": $0.ifName] }
            for p in config.plugins {
                do { _ = try await invoke(p, command: "GC", attachment: nil, prev: nil, extra: ["cni.dev/valid-attachments": valid]) } catch { first = first ?? error }
            }
        }
        if let first { throw first }
    }
}
