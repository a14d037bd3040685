import FoundationEssentials
import Glibc

/// One pod's attachment to the network: what CNI calls (containerID, ifname) + its netns path.
package struct Attachment: Hashable, Sendable {
    package var containerID: String
    package var ifName: String
    package var netns: String
    package init(containerID: String, ifName: String = "eth0", netns: String) {
        self.containerID = containerID
        self.ifName = ifName
        self.netns = netns
    }
}

/// A host port the runtime asks for (`runtimeConfig.portMappings`).
package struct HostPortMapping: Hashable, Sendable, Codable {
    package var hostPort: Int
    package var containerPort: Int
    package var `protocol`: String
    package var hostIP: String
    package init(hostPort: Int, containerPort: Int, protocol: String = "tcp", hostIP: String = "") {
        self.hostPort = hostPort
        self.containerPort = containerPort
        self.protocol = `protocol`
        self.hostIP = hostIP
    }
}

/// What the node agent needs from pod networking; the real one is `CNIInvoker`, tests use a fake.
package protocol NetworkPlugin: Sendable {
    /// Attaches the pod (CNI ADD over the whole chain); returns the final result.
    func setUp(_ attachment: Attachment, portMappings: [HostPortMapping], args: [String: String]) async throws -> CNIResult
    /// Detaches the pod (CNI DEL, reverse order); succeeds when it is already gone.
    func tearDown(_ attachment: Attachment) async throws
    /// Verifies the attachment still matches its cached result (CNI CHECK).
    func check(_ attachment: Attachment) async throws
    /// Whether the network is ready for new pods (CNI STATUS).
    func status() async throws
    /// Removes every attachment not in `keep` (cached attachments get DEL, then CNI GC).
    func gc(keeping keep: Set<Attachment>) async throws
}

extension NetworkPlugin {
    package func setUp(_ attachment: Attachment) async throws -> CNIResult {
        try await setUp(attachment, portMappings: [], args: [:])
    }
}

/// An in-memory `NetworkPlugin` for node-agent tests.
package actor FakeNetworkPlugin: NetworkPlugin {
    package private(set) var attached: [Attachment: CNIResult] = [:]
    private var next: UInt32 = 2
    package var failSetUp: CNIError?
    package init() {}

    package func setFailure(_ e: CNIError?) { failSetUp = e }

    package func setUp(_ a: Attachment, portMappings: [HostPortMapping], args: [String: String]) async throws -> CNIResult {
        if let failSetUp { throw failSetUp }
        if let r = attached[a] { return r }
        let ip = IPv4(IPv4("10.244.0.0")!.value + next)
        next += 1
        let r = CNIResult(cniVersion: CNISpec.version, interfaces: [.init(name: a.ifName, sandbox: a.netns)],
                          ips: [.init(address: "\(ip)/24", gateway: "10.244.0.1", interface: 0)])
        attached[a] = r
        return r
    }
    package func tearDown(_ a: Attachment) async throws { attached[a] = nil }
    package func check(_ a: Attachment) async throws {
        guard attached[a] != nil else { throw CNIError(.checkFailed, "no attachment for \(a.containerID)") }
    }
    package func status() async throws {}
    package func gc(keeping keep: Set<Attachment>) async throws {
        attached = attached.filter { keep.contains($0.key) }
    }
}
