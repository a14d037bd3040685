/// An IPv4 address as a host-order integer.
package struct IPv4: Hashable, Comparable, Sendable, CustomStringConvertible {
    package var value: UInt32
    package init(_ value: UInt32) { self.value = value }

    package init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard let b = UInt8(p) else { return nil }
            v = v << 8 | UInt32(b)
        }
        value = v
    }

    package var description: String {
        "\(value >> 24).\((value >> 16) & 255).\((value >> 8) & 255).\(value & 255)"
    }

    /// Network byte order bytes.
    package var bytes: [UInt8] { [UInt8(value >> 24), UInt8((value >> 16) & 255), UInt8((value >> 8) & 255), UInt8(value & 255)] }

    package static func < (a: IPv4, b: IPv4) -> Bool { a.value < b.value }
}

/// An IPv4 address with a prefix length (`10.244.1.5/24`).
package struct IPv4Prefix: Hashable, Sendable, CustomStringConvertible {
    package var address: IPv4
    package var length: Int

    package init(address: IPv4, length: Int) {
        self.address = address
        self.length = length
    }

    package init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let a = IPv4(parts[0]), let l = Int(parts[1]), (0...32).contains(l) else { return nil }
        address = a
        length = l
    }

    package var mask: UInt32 { length == 0 ? 0 : UInt32.max << UInt32(32 - length) }
    package var network: IPv4 { IPv4(address.value & mask) }
    package var broadcast: IPv4 { IPv4(address.value | ~mask) }
    package var masked: IPv4Prefix { IPv4Prefix(address: network, length: length) }
    package func contains(_ ip: IPv4) -> Bool { ip.value & mask == network.value }
    package var description: String { "\(address)/\(length)" }
}
