import Synchronization

/// Hands out ClusterIPs from the service CIDR and NodePorts from their range, detecting
/// conflicts. Rebuilt from the stored Services at start. A lock, not an actor: a Service
/// write allocates on the request's own thread, without a hop.
public final class ServiceAllocators: Sendable {
    public let serviceCIDR: String
    private let base: UInt32
    private let size: UInt32
    public let nodePortRange: ClosedRange<Int>

    private struct Used {
        var ips: Set<UInt32> = []
        var ports: Set<Int> = []
        var nextIP: UInt32 = 10
        var nextPort: Int
    }

    private let used: Mutex<Used>

    public enum AllocationError: Error, Sendable, Equatable {
        case ipAllocated(String)
        case ipOutOfRange(String)
        case ipInvalid(String)
        case ipRangeFull
        case portAllocated(Int)
        case portOutOfRange(Int)
        case portRangeFull
    }

    public init(serviceCIDR: String = "10.96.0.0/12", nodePortRange: ClosedRange<Int> = 30000...32767) {
        self.serviceCIDR = serviceCIDR
        let parts = serviceCIDR.split(separator: "/")
        let bits = UInt32(parts.count == 2 ? Int(parts[1]) ?? 12 : 12)
        base = Self.parseIPv4(String(parts[0])) ?? 0x0A60_0000
        size = bits >= 32 ? 1 : (UInt32(1) << (32 - bits))
        self.nodePortRange = nodePortRange
        used = Mutex(Used(nextPort: nodePortRange.lowerBound))
    }

    public static func parseIPv4(_ s: String) -> UInt32? {
        let p = s.split(separator: ".", omittingEmptySubsequences: false)
        guard p.count == 4 else { return nil }
        var v: UInt32 = 0
        for x in p {
            guard let n = UInt32(x), n <= 255, !x.isEmpty else { return nil }
            v = v << 8 | n
        }
        return v
    }

    public static func format(_ v: UInt32) -> String {
        "\(v >> 24).\((v >> 16) & 255).\((v >> 8) & 255).\(v & 255)"
    }

    /// The first usable address: the `kubernetes` Service's ClusterIP.
    public var firstIP: String { Self.format(base + 1) }

    public func allocateIP(_ requested: String?) throws(AllocationError) -> String {
        let (base, size) = (self.base, self.size)
        return try used.withLock { (u: inout Used) throws(AllocationError) -> String in
            if let requested, !requested.isEmpty {
                guard let v = Self.parseIPv4(requested) else { throw .ipInvalid(requested) }
                guard v > base, v < base + size - 1 else { throw .ipOutOfRange(requested) }
                guard u.ips.insert(v).inserted else { throw .ipAllocated(requested) }
                return requested
            }
            for _ in 0..<(size - 2) {
                let candidate = base + 1 + (u.nextIP % (size - 2))
                u.nextIP &+= 1
                if u.ips.insert(candidate).inserted { return Self.format(candidate) }
            }
            throw .ipRangeFull
        }
    }

    public func releaseIP(_ ip: String) {
        if let v = Self.parseIPv4(ip) { _ = used.withLock { $0.ips.remove(v) } }
    }

    public func allocatePort(_ requested: Int?) throws(AllocationError) -> Int {
        let range = nodePortRange
        return try used.withLock { (u: inout Used) throws(AllocationError) -> Int in
            if let requested, requested != 0 {
                guard range.contains(requested) else { throw .portOutOfRange(requested) }
                guard u.ports.insert(requested).inserted else { throw .portAllocated(requested) }
                return requested
            }
            for _ in 0..<range.count {
                let p = u.nextPort
                u.nextPort = p >= range.upperBound ? range.lowerBound : p + 1
                if u.ports.insert(p).inserted { return p }
            }
            throw .portRangeFull
        }
    }

    public func releasePort(_ p: Int) { _ = used.withLock { $0.ports.remove(p) } }

    /// Marks what stored Services already hold, without conflict checks.
    public func markUsed(ips: [String], ports: [Int]) {
        used.withLock { u in
            for ip in ips { if let v = Self.parseIPv4(ip) { u.ips.insert(v) } }
            for p in ports { u.ports.insert(p) }
        }
    }
}
