@testable import CNI
import Foundation
import TestSupport

/// One test "node": a lab with host netns `node` (10.250.0.2/24 on lab0), a CNI_PATH dir with our
/// multi-call binary under the plugin names, private IPAM data and result cache dirs.
final class CNINode: @unchecked Sendable {
    let lab: NetnsLab
    let node: String
    let dir: String
    let ourBin: String
    static let nodeIP = "10.250.0.2"
    static let referenceBin = "/usr/lib/cni"

    static var available: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: TestPaths.binary("swiftlet-cni"))
            && FileManager.default.isExecutableFile(atPath: "/bin/busybox")
    }

    init(_ lab: NetnsLab) throws {
        self.lab = lab
        node = try lab.addHost("node", address: Self.nodeIP + "/24")
        dir = NSTemporaryDirectory() + lab.prefix
        ourBin = dir + "/bin"
        try FileManager.default.createDirectory(atPath: ourBin, withIntermediateDirectories: true)
        for p in PluginMain.plugins {
            try FileManager.default.createSymbolicLink(atPath: ourBin + "/" + p, withDestinationPath: TestPaths.binary("swiftlet-cni"))
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    var dataDir: String { dir + "/networks" }

    /// The conflist used everywhere: bridge + host-local (+ portmap), for `subnet`. The default
    /// route comes from `isDefaultGateway`; listing it in IPAM's routes too makes the reference
    /// bridge fail with "route … file exists", as it does on Kubernetes nodes.
    func conflist(name: String = "podnet", subnet: String = "10.244.1.0/24", version: String = "1.0.0",
                  portmap: Bool = true, ipMasq: Bool = true) throws -> NetworkConfigList
    {
        var plugins: [[String: Any]] = [[
            "type": "bridge", "bridge": "cni0", "isGateway": true, "isDefaultGateway": true, "ipMasq": ipMasq,
            "hairpinMode": true,
            "ipam": ["type": "host-local", "dataDir": dataDir, "ranges": [[["subnet": subnet]]]],
        ]]
        if portmap { plugins.append(["type": "portmap", "capabilities": ["portMappings": true]]) }
        let obj: [String: Any] = ["cniVersion": version, "name": name, "plugins": plugins]
        return try NetworkConfigList(bytes: JSONSerialization.data(withJSONObject: obj))
    }

    /// An invoker whose plugins start inside the node netns, as an agent running there starts
    /// them (the invoker's thread enters the netns to spawn; no `ip netns exec` in between).
    func invoker(_ list: NetworkConfigList, reference: Bool = false) -> CNIInvoker {
        CNIInvoker(config: list, binDirs: [reference ? Self.referenceBin : ourBin], cacheDir: dir + "/cache",
                   exec: PluginExec(timeout: 30, netns: NetnsLab.path(node)))
    }

    /// A new pod namespace and its attachment.
    func pod(_ name: String) throws -> Attachment {
        let ns = try lab.addNamespace(name)
        return Attachment(containerID: lab.prefix + "-" + name, ifName: "eth0", netns: NetnsLab.path(ns))
    }

    func ns(_ a: Attachment) -> String { (a.netns as NSString).lastPathComponent }

    static func ip(_ r: CNIResult) -> String {
        String(r.ips?.first?.address.split(separator: "/").first ?? "")
    }

    /// The node's link names ("veth1234" without its "@if2" peer suffix), sorted. Names only: a
    /// bridge's operstate moves from UNKNOWN to UP on its own once a port starts forwarding.
    func nodeLinks() throws -> [String] {
        try lab.run(in: node, [NetnsLab.ip, "-br", "link"]).stdout.split(separator: "\n").compactMap { line in
            line.split(separator: " ").first.map { String($0.split(separator: "@")[0]) }
        }.sorted()
    }
}
