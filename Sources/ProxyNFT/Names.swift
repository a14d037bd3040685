/// Every table, chain, set and map name the proxy uses. The README states the contract.
package enum ProxyNFTNames {
    /// Our one table, family `ip`.
    package static let table = "swiftlet-proxy"

    // Maps and sets.
    /// `ipv4_addr . inet_proto . inet_service : verdict`, cluster and external IPs → service chains.
    package static let serviceIPsMap = "service-ips"
    /// `inet_proto . inet_service : verdict`, node ports → external chains.
    package static let serviceNodePortsMap = "service-nodeports"
    /// `ipv4_addr . inet_proto . inet_service : verdict`, services without usable endpoints → reject/drop.
    package static let noEndpointServicesMap = "no-endpoint-services"
    /// `inet_proto . inet_service : verdict`, node ports without usable endpoints → reject/drop.
    package static let noEndpointNodePortsMap = "no-endpoint-nodeports"
    /// `ipv4_addr . inet_proto . inet_service . mark : ipv4_addr . inet_service`: (service or
    /// external IP, protocol, port, endpoint index) → endpoint, for the shared dispatch chains.
    package static let serviceEndpointsMap = "service-endpoints"
    /// `inet_proto . inet_service . mark : ipv4_addr . inet_service`: (protocol, node port,
    /// endpoint index) → endpoint.
    package static let nodePortEndpointsMap = "nodeport-endpoints"
    /// `ipv4_addr . ipv4_addr`: `ep . ep` for every endpoint of a shared-chain service, so a pod
    /// that reached itself through a service is masqueraded (hairpin).
    package static let hairpinSet = "hairpin-endpoints"

    // Regular chains shared by all services.
    package static let servicesChain = "services"
    package static let serviceEndpointsCheckChain = "service-endpoints-check"
    package static let nodePortEndpointsCheckChain = "nodeport-endpoints-check"
    package static let markForMasqueradeChain = "mark-for-masquerade"
    package static let masqueradingChain = "masquerading"
    package static let rejectChain = "reject-chain"

    /// Chains shared by every service with N endpoints and no per-service rules (the suffix is N):
    /// ClusterIP traffic, external-IP traffic, node-port traffic.
    package static let clusterDispatchChainPrefix = "dispatch-cluster-"
    package static let externalDispatchChainPrefix = "dispatch-external-"
    package static let nodePortDispatchChainPrefix = "dispatch-nodeport-"

    // Per-service prefixes (followed by a 13-character base32 hash).
    /// Cluster-policy chain: all usable endpoints.
    package static let serviceChainPrefix = "svc-"
    /// Local-policy chain: usable endpoints on this node.
    package static let serviceLocalChainPrefix = "svl-"
    /// External-traffic chain (NodePort, external IPs).
    package static let externalChainPrefix = "ext-"
    /// Per-endpoint chain (DNAT).
    package static let endpointChainPrefix = "sep-"
    /// Per-endpoint ClientIP affinity set.
    package static let affinitySetPrefix = "aff-"

    /// The stable short hash used in per-service names: the first 13 base32 characters
    /// (65 bits) of SHA-256, lower case, like kube-proxy's chain names.
    package static func hash(_ text: String) -> String {
        let digest = SHA256.hash(Array(text.utf8))
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(13)
        var bitBuffer: UInt32 = 0
        var bits = 0
        var index = 0
        while out.count < 13 {
            if bits < 5 {
                bitBuffer = bitBuffer << 8 | UInt32(digest[index])
                index += 1
                bits += 8
            }
            out.append(alphabet[Int(bitBuffer >> UInt32(bits - 5) & 31)])
            bits -= 5
        }
        return String(decoding: out, as: UTF8.self)
    }

    package static func serviceChain(_ name: ServicePortName) -> String { serviceChainPrefix + hash(name.description) }
    package static func serviceLocalChain(_ name: ServicePortName) -> String {
        serviceLocalChainPrefix + hash(name.description)
    }
    package static func externalChain(_ name: ServicePortName) -> String { externalChainPrefix + hash(name.description) }
    package static func endpointChain(_ name: ServicePortName, _ endpoint: EndpointInfo) -> String {
        endpointChainPrefix + hash("\(name)__\(endpoint.address)")
    }
    /// The affinity set's name includes the timeout so a changed timeout is a new set.
    package static func affinitySet(_ name: ServicePortName, _ endpoint: EndpointInfo, timeout: UInt32) -> String {
        affinitySetPrefix + hash("\(name)__\(endpoint.address)__\(timeout)")
    }
}

/// A compact SHA-256 (FIPS 180-4) for chain-name hashing.
enum SHA256 {
    private static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
            0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
        )
        // Whole blocks straight from the message, then the padded tail (one or two blocks) from
        // a stack buffer: no copy of the message and no allocation but the result (chain
        // names hash three short strings per service, 10,000 services at a time).
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { tail in
                message.withUnsafeBufferPointer { m in
                    let whole = m.count / 64 * 64
                    var offset = 0
                    while offset < whole {
                        block(UnsafeRawPointer(m.baseAddress! + offset), w, &h)
                        offset += 64
                    }
                    let rest = m.count - whole
                    let tailLength = rest < 56 ? 64 : 128
                    tail.initialize(repeating: 0)
                    for i in 0..<rest { tail[i] = m[whole + i] }
                    tail[rest] = 0x80
                    let bitLength = UInt64(m.count) * 8
                    for i in 0..<8 { tail[tailLength - 1 - i] = UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(i))) }
                    block(UnsafeRawPointer(tail.baseAddress!), w, &h)
                    if tailLength == 128 { block(UnsafeRawPointer(tail.baseAddress! + 64), w, &h) }
                }
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(32)
        for v in [h.0, h.1, h.2, h.3, h.4, h.5, h.6, h.7] {
            out.append(UInt8(v >> 24)); out.append(UInt8(v >> 16 & 0xff)); out.append(UInt8(v >> 8 & 0xff)); out.append(UInt8(v & 0xff))
        }
        return out
    }

    /// One 64-byte block (big-endian words) into the state `h`.
    private static func block(
        _ p: UnsafeRawPointer, _ w: UnsafeMutableBufferPointer<UInt32>,
        _ h: inout (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)
    ) {
        for i in 0..<16 { w[i] = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)) }
        for i in 16..<64 {
            let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
            let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
            w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
        }
        var (a, b, c, d, e, f, g, hh) = h
        k.withUnsafeBufferPointer { k in
            for i in 0..<64 {
                let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                let ch = (e & f) ^ (~e & g)
                let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
                let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                let maj = (a & b) ^ (a & c) ^ (b & c)
                let t2 = s0 &+ maj
                (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
            }
        }
        h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e, h.5 &+ f, h.6 &+ g, h.7 &+ hh)
    }

    private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { x >> n | x << (32 - n) }
}
