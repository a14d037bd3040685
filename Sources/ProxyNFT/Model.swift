/// The proxy's input model, kube-proxy style: one `ServicePortInfo` per (Service, port) and the
/// endpoints that back it. The API side converts Service and EndpointSlice objects into these;
/// nothing here depends on the API types.

/// An IPv4 address in host order (`value` 0x0a600001 is 10.96.0.1).
package struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    package var value: UInt32

    package init(_ value: UInt32) { self.value = value }

    /// Parses dotted-quad text; nil for anything else.
    package init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, let octet = UInt32(part), octet <= 255 else { return nil }
            v = v << 8 | octet
        }
        value = v
    }

    /// Network byte order, as nftables compares it.
    package var bytes: [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    package var description: String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }

    package static func < (lhs: Self, rhs: Self) -> Bool { lhs.value < rhs.value }
}

/// An IPv4 prefix such as the cluster CIDR 10.244.0.0/16.
package struct IPv4CIDR: Hashable, Sendable, CustomStringConvertible {
    package var address: IPv4Address
    package var prefixLength: Int

    package init(_ address: IPv4Address, prefixLength: Int) {
        self.prefixLength = max(0, min(32, prefixLength))
        self.address = IPv4Address(address.value & Self.mask(self.prefixLength))
    }

    package init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let ip = IPv4Address(String(parts[0])), let len = Int(parts[1]), (0...32).contains(len)
        else { return nil }
        self.init(ip, prefixLength: len)
    }

    package var mask: UInt32 { Self.mask(prefixLength) }

    static func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : UInt32.max << UInt32(32 - length) }

    package func contains(_ ip: IPv4Address) -> Bool { ip.value & mask == address.value }

    package var description: String { "\(address)/\(prefixLength)" }
}

/// Layer-4 protocol of a service port.
package enum L4Protocol: String, Hashable, Sendable, Comparable, CaseIterable {
    case tcp, udp, sctp

    /// IANA protocol number (`meta l4proto`).
    package var number: UInt8 {
        switch self {
        case .tcp: 6
        case .udp: 17
        case .sctp: 132
        }
    }

    package static func < (lhs: Self, rhs: Self) -> Bool { lhs.number < rhs.number }
}

/// `externalTrafficPolicy` / `internalTrafficPolicy`.
package enum TrafficPolicy: String, Hashable, Sendable {
    case cluster = "Cluster"
    case local = "Local"
}

/// Identifies one port of one Service: kube-proxy's `ServicePortName`.
package struct ServicePortName: Hashable, Sendable, Comparable, CustomStringConvertible {
    package var namespace: String
    package var name: String
    /// The port's name (empty for an unnamed single port).
    package var port: String
    package var proto: L4Protocol

    package init(namespace: String, name: String, port: String = "", proto: L4Protocol = .tcp) {
        self.namespace = namespace
        self.name = name
        self.port = port
        self.proto = proto
    }

    /// `ns/name:port/proto`; the input to the chain-name hash.
    package var description: String { "\(namespace)/\(name):\(port)/\(proto.rawValue)" }

    package static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.namespace, lhs.name, lhs.port, lhs.proto) < (rhs.namespace, rhs.name, rhs.port, rhs.proto)
    }
}

/// One port of a Service, as the proxy needs it.
package struct ServicePortInfo: Hashable, Sendable {
    package var name: ServicePortName
    /// IPv4 cluster IPs (the table is `ip` family; IPv6 addresses are not carried).
    package var clusterIPs: [IPv4Address]
    package var port: UInt16
    package var nodePort: UInt16?
    package var externalIPs: [IPv4Address]
    /// ClientIP session affinity timeout in seconds; nil for `sessionAffinity: None`.
    package var sessionAffinityTimeout: UInt32?
    package var externalTrafficPolicy: TrafficPolicy
    package var internalTrafficPolicy: TrafficPolicy

    package init(
        name: ServicePortName,
        clusterIPs: [IPv4Address],
        port: UInt16,
        nodePort: UInt16? = nil,
        externalIPs: [IPv4Address] = [],
        sessionAffinityTimeout: UInt32? = nil,
        externalTrafficPolicy: TrafficPolicy = .cluster,
        internalTrafficPolicy: TrafficPolicy = .cluster
    ) {
        self.name = name
        self.clusterIPs = clusterIPs
        self.port = port
        self.nodePort = nodePort
        self.externalIPs = externalIPs
        self.sessionAffinityTimeout = sessionAffinityTimeout
        self.externalTrafficPolicy = externalTrafficPolicy
        self.internalTrafficPolicy = internalTrafficPolicy
    }

    /// Whether traffic arrives from outside the cluster (NodePort or external IPs).
    package var hasExternal: Bool { nodePort != nil || !externalIPs.isEmpty }
}

/// One endpoint (address and target port) of a service port, from an EndpointSlice.
package struct EndpointInfo: Hashable, Sendable, Comparable {
    package var ip: IPv4Address
    package var port: UInt16
    package var ready: Bool
    package var serving: Bool
    package var terminating: Bool
    package var nodeName: String?
    /// Whether the endpoint runs on this node (`nodeName` equals ours).
    package var isLocal: Bool

    package init(
        ip: IPv4Address, port: UInt16, ready: Bool = true, serving: Bool? = nil, terminating: Bool = false,
        nodeName: String? = nil, isLocal: Bool = false
    ) {
        self.ip = ip
        self.port = port
        self.ready = ready
        self.serving = serving ?? ready
        self.terminating = terminating
        self.nodeName = nodeName
        self.isLocal = isLocal
    }

    package static func < (lhs: Self, rhs: Self) -> Bool { (lhs.ip, lhs.port) < (rhs.ip, rhs.port) }

    /// `ip:port`.
    package var address: String { "\(ip):\(port)" }
}

/// Node-wide proxy settings.
package struct ProxyConfig: Hashable, Sendable {
    /// The table we own (family `ip`).
    package var tableName: String
    /// Pod CIDR of the cluster: traffic to a ClusterIP from outside it gets masqueraded.
    /// nil: no such marking (kube-proxy without `--cluster-cidr`).
    package var clusterCIDR: IPv4CIDR?
    /// The packet-mark bit that asks for masquerade (kube-proxy's `--masquerade-bit`, 14).
    package var masqueradeBit: Int

    package init(tableName: String = ProxyNFTNames.table, clusterCIDR: IPv4CIDR? = nil, masqueradeBit: Int = 14) {
        self.tableName = tableName
        self.clusterCIDR = clusterCIDR
        self.masqueradeBit = masqueradeBit
    }

    package var masqueradeMark: UInt32 { UInt32(1) << UInt32(masqueradeBit) }
}
