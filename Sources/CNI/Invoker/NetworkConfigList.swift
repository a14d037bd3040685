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

    /// Writes `data` to `path` through a temporary file and a rename, so a reader never sees a
    /// partial file; the directory is made only when it is missing. `durable` adds the fsyncs of
    /// the file and its directory: the conflist needs them, a result cache does not (a machine
    /// crash takes the network namespaces it describes with it, and libcni does not sync it
    /// either). Foundation's atomic write with a `createDirectory` per call was ~2 % of the
    /// agent's CPU in a 100-pod burst.
    package static func write(_ data: Data, to path: String, mode: UInt32 = 0o644, durable: Bool = true) throws {
        let tmp = path + ".tmp.\(getpid())"
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        var fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        if fd < 0 && errno == ENOENT {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode))
        }
        guard fd >= 0 else { throw CNIError(.ioFailure, "cannot write \(path): open \(tmp): \(String(cString: strerror(errno)))") }
        let failure: String? = data.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return "write: \(String(cString: strerror(errno)))" }
                off += n
            }
            if durable && fsync(fd) != 0 { return "fsync: \(String(cString: strerror(errno)))" }
            return nil
        }
        close(fd)
        if let failure {
            unlink(tmp)
            throw CNIError(.ioFailure, "cannot write \(path): \(failure)")
        }
        guard rename(tmp, path) == 0 else {
            let why = String(cString: strerror(errno))
            unlink(tmp)
            throw CNIError(.ioFailure, "cannot write \(path): rename: \(why)")
        }
        guard durable else { return }
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}
