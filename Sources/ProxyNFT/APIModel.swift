package import KubeAPI

/// Service and EndpointSlice objects → the proxy's model, with kube-proxy's reading of them
/// (`pkg/proxy/service.go`, `endpointslicecache.go`). Pure functions: tested without a server.
package enum APIModel {
    /// The label that ties an EndpointSlice to its Service.
    package static let serviceNameLabel = "kubernetes.io/service-name"
    /// kube-proxy's default ClientIP affinity timeout (3 hours).
    package static let defaultAffinityTimeout: UInt32 = 10_800

    /// The service ports to program for `service`. Empty for what kube-proxy ignores:
    /// ExternalName services, headless services (`clusterIP: None`) and services with no IPv4
    /// cluster IP (this table is family `ip`).
    package static func servicePorts(_ service: Service) -> [ServicePortInfo] {
        guard let spec = service.spec, spec.type != "ExternalName" else { return [] }
        let ips = (spec.clusterIPs ?? spec.clusterIP.map { [$0] } ?? []).compactMap(IPv4Address.init)
        guard !ips.isEmpty else { return [] }
        let exposesNodePorts = spec.type == "NodePort" || spec.type == "LoadBalancer"
        var external = (spec.externalIPs ?? []).compactMap(IPv4Address.init)
        // LoadBalancer ingress IPs are reached like external IPs.
        for ingress in service.status?["loadBalancer"]?["ingress"]?.arrayValue ?? [] {
            if let ip = ingress["ip"]?.stringValue.flatMap(IPv4Address.init), !external.contains(ip) { external.append(ip) }
        }
        var affinity: UInt32? = nil
        if spec.sessionAffinity == "ClientIP" {
            let t = spec.sessionAffinityConfig?["clientIP"]?["timeoutSeconds"]?.intValue
            affinity = t.map { UInt32(clamping: max(1, $0)) } ?? defaultAffinityTimeout
        }
        return (spec.ports ?? []).compactMap { p in
            guard let proto = l4Protocol(p.protocol), (1...65535).contains(p.port) else { return nil }
            let nodePort = exposesNodePorts ? p.nodePort.flatMap { (1...65535).contains($0) ? UInt16($0) : nil } : nil
            return ServicePortInfo(
                name: ServicePortName(namespace: service.metadata.namespace ?? "default", name: service.metadata.name ?? "",
                                      port: p.name ?? "", proto: proto),
                clusterIPs: ips, port: UInt16(p.port), nodePort: nodePort, externalIPs: external,
                sessionAffinityTimeout: affinity,
                externalTrafficPolicy: spec.externalTrafficPolicy == "Local" ? .local : .cluster,
                internalTrafficPolicy: spec.internalTrafficPolicy == "Local" ? .local : .cluster)
        }
    }

    /// `TCP` (also the default), `UDP`, `SCTP`; nil for anything else.
    package static func l4Protocol(_ text: String?) -> L4Protocol? {
        switch text ?? "TCP" {
        case "TCP": .tcp
        case "UDP": .udp
        case "SCTP": .sctp
        default: nil
        }
    }

    /// The service a slice belongs to, as `namespace/name`; nil without the label.
    package static func serviceKey(of slice: EndpointSlice) -> String? {
        guard let name = slice.metadata.labels?[serviceNameLabel], !name.isEmpty else { return nil }
        return (slice.metadata.namespace ?? "default") + "/" + name
    }

    /// Endpoints per service port, merged over all IPv4 slices of one service. An endpoint is
    /// its first address; `ready` and `serving` default to true and `terminating` to false when
    /// unset, as the API documents; an address listed by two slices counts once (the first, in
    /// slice-name order).
    package static func endpoints(namespace: String, service: String, slices: [EndpointSlice], nodeName: String)
        -> [ServicePortName: [EndpointInfo]]
    {
        var out: [ServicePortName: [EndpointInfo]] = [:]
        var seen: [ServicePortName: Set<EndpointInfo.Key>] = [:]
        for slice in slices.sorted(by: { ($0.metadata.name ?? "") < ($1.metadata.name ?? "") }) where slice.addressType == "IPv4" {
            for port in slice.ports ?? [] {
                guard let proto = l4Protocol(port.protocol), (1...65535).contains(port.port) else { continue }
                let name = ServicePortName(namespace: namespace, name: service, port: port.name ?? "", proto: proto)
                for ep in slice.endpoints ?? [] {
                    guard let first = ep.addresses.first, let ip = IPv4Address(first) else { continue }
                    let info = EndpointInfo(
                        ip: ip, port: UInt16(port.port), ready: ep.conditions?.ready ?? true,
                        serving: ep.conditions?.serving ?? true, terminating: ep.conditions?.terminating ?? false,
                        nodeName: ep.nodeName, isLocal: ep.nodeName == nodeName)
                    if seen[name, default: []].insert(info.key).inserted { out[name, default: []].append(info) }
                }
            }
        }
        return out
    }
}

extension EndpointInfo {
    /// Identity of an endpoint regardless of its conditions.
    package struct Key: Hashable, Sendable {
        var ip: IPv4Address
        var port: UInt16
    }

    package var key: Key { Key(ip: ip, port: port) }
}
