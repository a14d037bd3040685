package import FoundationEssentials
import Glibc

/// A network configuration list (`*.conflist`): name, cniVersion, the plugin chain.
package struct NetworkConfigList: Sendable {
    package var name: String
    package var cniVersion: String
    package var disableCheck: Bool
    /// The raw conflist JSON (plugin objects are passed through untouched).
    package var bytes: Data

    package init(bytes: Data) throws {
        guard let obj = CNIJSON.object(bytes) else {
            throw CNIError(.decodeFailure, "network configuration list is not a JSON object")
        }
        guard let name = obj["name"] as? String, !name.isEmpty else {
            throw CNIError(.invalidConfig, "network configuration list has no \"name\"")
        }
        guard let v = obj["cniVersion"] as? String else {
            throw CNIError(.invalidConfig, "network configuration list \(name) has no \"cniVersion\"")
        }
        guard CNISpec.isSupported(v) else {
            throw CNIError(.incompatibleVersion, "network configuration list \(name) has unsupported cniVersion \(v)",
                           details: "use one of \(CNISpec.supportedVersions.joined(separator: ", "))")
        }
        guard let plugins = obj["plugins"] as? [[String: Any]], !plugins.isEmpty else {
            throw CNIError(.invalidConfig, "network configuration list \(name) has no \"plugins\"")
        }
        for p in plugins where (p["type"] as? String ?? "").isEmpty {
            throw CNIError(.invalidConfig, "a plugin of network \(name) has no \"type\"")
        }
        self.name = name
        cniVersion = v
        disableCheck = obj["disableCheck"] as? Bool ?? false
        self.bytes = bytes
    }

    package var plugins: [[String: Any]] {
        (CNIJSON.object(bytes)?["plugins"] as? [[String: Any]]) ?? []
    }

    /// The first `*.conflist` of `dir` in lexical order.
    package static func load(dir: String = "/etc/cni/net.d") throws -> NetworkConfigList {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".conflist") }.sorted()
        guard let first = names.first else {
            throw CNIError(.invalidConfig, "no network configuration list (*.conflist) in \(dir)")
        }
        guard let data = FileManager.default.contents(atPath: dir + "/" + first) else {
            throw CNIError(.ioFailure, "cannot read \(dir)/\(first)")
        }
        return try NetworkConfigList(bytes: data)
    }

    /// The default node network for `podCIDR`: bridge (cni0, gateway, masquerade) + host-local + portmap.
    package static func defaultBridge(podCIDR: String, name: String = "swiftlet", bridge: String = "cni0",
                                      cniVersion: String = "1.0.0", mtu: Int? = nil, dataDir: String? = nil) throws -> Data
    {
        guard let p = IPv4Prefix(podCIDR)?.masked else {
            throw CNIError(.invalidConfig, "podCIDR \(podCIDR) is not an IPv4 prefix")
        }
        var ipam: [String: Any] = ["type": "host-local", "ranges": [[["subnet": p.description]]], "routes": [["dst": "0.0.0.0/0"]]]
        if let dataDir { ipam["dataDir"] = dataDir }
        var br: [String: Any] = ["type": "bridge", "bridge": bridge, "isGateway": true, "isDefaultGateway": true,
                                 "ipMasq": true, "hairpinMode": true, "ipam": ipam]
        if let mtu { br["mtu"] = mtu }
        let list: [String: Any] = ["cniVersion": cniVersion, "name": name,
                                   "plugins": [br, ["type": "portmap", "capabilities": ["portMappings": true]]]]
        return try CNIJSON.data(list, pretty: true)
    }

    /// Writes `data` to `path` crash-safely (temp, fsync, rename).
    package static func write(_ data: Data, to path: String) throws {
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
