import CShim
import Foundation
@testable import ProxyNFT

let isRoot = getuid() == 0

/// Runs a program and returns its exit status and standard output.
@discardableResult
func run(_ path: String, _ args: [String]) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = FileHandle.nullDevice
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A network namespace made by the test (`sl-nft-<pid>-<n>`); all nftables work of the kernel
/// tests happens inside it. `remove()` runs from a `defer`.
final class TestNetns {
    nonisolated(unsafe) private static var counter = 0
    private static let lock = NSLock()
    let name: String

    init() throws {
        let n = Self.lock.withLock { Self.counter += 1; return Self.counter }
        name = "sl-nft-\(getpid())-\(n)"
        let r = try run("/usr/sbin/ip", ["netns", "add", name])
        guard r.status == 0 else { throw NFTError(.socket, "ip netns add \(name) failed") }
    }

    /// A backend whose netlink socket lives in this namespace.
    func backend() throws -> NetlinkNFTables {
        let fd = swl_netlink_socket_in_netns("/run/netns/\(name)", 12 /* NETLINK_NETFILTER */)
        guard fd >= 0 else { throw NFTError(.socket, errno: errno, "socket in netns \(name)") }
        return try NetlinkNFTables(fileDescriptor: fd)
    }

    /// `nft <args>` inside the namespace.
    @discardableResult
    func nft(_ args: String...) throws -> (status: Int32, output: String) {
        try run("/usr/sbin/ip", ["netns", "exec", name, "nft"] + args)
    }

    /// Our table as `nft -j` JSON objects (empty when the table is missing).
    func listJSON(table: String = ProxyNFTNames.table) throws -> [[String: Any]] {
        let r = try nft("-j", "list", "table", "ip", table)
        guard r.status == 0, let data = r.output.data(using: .utf8),
              let root = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let items = root["nftables"] as? [[String: Any]] else { return [] }
        return items
    }

    /// Chain name → handles of its rules, and chain name → chain handle.
    func handles() throws -> (rules: [String: [Int]], chains: [String: Int]) {
        var rules: [String: [Int]] = [:]
        var chains: [String: Int] = [:]
        for item in try listJSON() {
            if let c = item["chain"] as? [String: Any], let name = c["name"] as? String {
                chains[name] = c["handle"] as? Int
                rules[name, default: []] += []
            }
            if let r = item["rule"] as? [String: Any], let chain = r["chain"] as? String, let h = r["handle"] as? Int {
                rules[chain, default: []].append(h)
            }
        }
        return (rules, chains)
    }

    /// `nft list table` text split into chain name → rule lines.
    func chainRules() throws -> [String: [String]] {
        let text = try nft("list", "table", "ip", ProxyNFTNames.table).output
        var out: [String: [String]] = [:]
        var current: String? = nil
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("chain ") {
                current = String(line.dropFirst(6).dropLast(2))
                out[current!] = []
            } else if line == "}" {
                current = nil
            } else if let c = current, !line.hasPrefix("type ") {
                out[c]!.append(line)
            }
        }
        return out
    }

    func remove() { _ = try? run("/usr/sbin/ip", ["netns", "delete", name]) }
}
