import Foundation
import Testing
@testable import ProxyNFT

/// SCTP services go through the same maps and chains as TCP and UDP, and the kernel takes them.
@Suite(.serialized, .enabled(if: isRoot, "needs root (creates a network namespace and nftables tables in it)"))
struct SCTPKernelTests {
    @Test func sctpServiceReadsBackAsRendered() async throws {
        let ns = try TestNetns()
        defer { ns.remove() }
        let proxier = Proxier(config: ProxyConfig(clusterCIDR: IPv4CIDR("10.244.0.0/16")), backend: try ns.backend())
        // One with the shared chains, one (ClientIP affinity) with chains of its own.
        let plain = ServicePortInfo(name: svcName("plain", proto: .sctp), clusterIPs: [ip("10.96.0.31")], port: 3868, nodePort: 30869)
        let sctp = ServicePortInfo(name: svcName("sig", proto: .sctp), clusterIPs: [ip("10.96.0.30")], port: 3868, nodePort: 30868,
                                   sessionAffinityTimeout: 30)
        for s in [plain, sctp] {
            await proxier.upsertService(s)
            await proxier.setEndpoints(s.name, [EndpointInfo(ip: ip("10.244.1.9"), port: 3869)])
        }
        #expect(try await proxier.sync().full)
        let listed = try ns.chainRules()
        let desired = await proxier.desiredRuleset()
        #expect(Set(listed.keys) == desired.chainNames)
        let sep = ProxyNFTNames.endpointChain(sctp.name, EndpointInfo(ip: ip("10.244.1.9"), port: 3869))
        #expect(listed[sep]?.last == "meta l4proto sctp dnat to 10.244.1.9:3869", "\(listed[sep] ?? [])")
        let text = try ns.nft("list", "table", "ip", ProxyNFTNames.table).output
        #expect(text.contains("10.96.0.30 . sctp . 3868 : goto \(ProxyNFTNames.serviceChain(sctp.name))"), "\(text)")
        #expect(text.contains("sctp . 30868 : goto \(ProxyNFTNames.externalChain(sctp.name))"), "\(text)")
        #expect(text.contains("10.96.0.31 . sctp . 3868 : goto dispatch-cluster-1"), "\(text)")
        #expect(text.contains("10.96.0.31 . sctp . 3868 . 0x00000000 : 10.244.1.9 . 3869"), "\(text)")
        #expect(text.contains("sctp . 30869 . 0x00000000 : 10.244.1.9 . 3869"), "\(text)")
        for f in desired.orderedFragments.dropFirst() where !f.sharedChains.isEmpty {
            for c in f.sharedChains { #expect(listed[c.name] == c.rules.map(\.description)) }
        }
    }
}
