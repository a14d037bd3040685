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
        let sctp = ServicePortInfo(name: svcName("sig", proto: .sctp), clusterIPs: [ip("10.96.0.30")], port: 3868, nodePort: 30868)
        await proxier.upsertService(sctp)
        await proxier.setEndpoints(sctp.name, [EndpointInfo(ip: ip("10.244.1.9"), port: 3869)])
        #expect(try await proxier.sync().full)
        let listed = try ns.chainRules()
        let desired = await proxier.desiredRuleset()
        #expect(Set(listed.keys) == desired.chainNames)
        let sep = ProxyNFTNames.endpointChain(sctp.name, EndpointInfo(ip: ip("10.244.1.9"), port: 3869))
        #expect(listed[sep]?.last == "meta l4proto sctp dnat to 10.244.1.9:3869", "\(listed[sep] ?? [])")
        let text = try ns.nft("list", "table", "ip", ProxyNFTNames.table).output
        #expect(text.contains("10.96.0.30 . sctp . 3868 : goto \(ProxyNFTNames.serviceChain(sctp.name))"), "\(text)")
        #expect(text.contains("sctp . 30868 : goto \(ProxyNFTNames.externalChain(sctp.name))"), "\(text)")
    }
}
