import CShim
import Foundation

/// Allocations on disk, laid out like the reference host-local:
/// `<dataDir>/<network>/<ip>` holds `<containerID>\r\n<ifname>`, `last_reserved_ip.<set>`, and `lock`.
package struct HostLocalStore: Sendable {
    package let dir: String

    package init(dataDir: String, network: String) {
        dir = dataDir + "/" + network
    }

    /// Runs `body` holding the network's exclusive lock (flock on `<dir>/lock`).
    @discardableResult
    package func withLock<T>(_ body: () throws -> T) throws -> T {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw CNIError(.ioFailure, "cannot create IPAM data dir \(dir)", details: "\(error)")
        }
        let fd = open(dir + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CNIError(.ioFailure, "cannot open \(dir)/lock", details: String(cString: strerror(errno))) }
        defer { close(fd) } // closing releases the flock
        let rc = swl_cni_flock_ex(fd)
        guard rc == 0 else { throw CNIError(.ioFailure, "cannot lock \(dir)/lock", details: String(cString: strerror(-rc))) }
        return try body()
    }

    /// Every allocated address.
    package func allocated() -> [IPv4: String] {
        var out: [IPv4: String] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            guard let ip = IPv4(name) else { continue }
            out[ip] = (try? String(contentsOfFile: dir + "/" + name, encoding: .utf8)) ?? ""
        }
        return out
    }

    static func owner(_ id: String, _ ifname: String) -> String { id + "\r\n" + ifname }

    /// Addresses held by this attachment.
    package func find(id: String, ifname: String) -> [IPv4] {
        let key = Self.owner(id, ifname)
        return allocated().filter { $0.value.trimmingCharacters(in: .whitespacesAndNewlines) == key.trimmingCharacters(in: .whitespacesAndNewlines) }.map(\.key).sorted()
    }

    /// Claims `ip` for the attachment; false when someone else holds it.
    package func reserve(_ ip: IPv4, id: String, ifname: String) throws -> Bool {
        let path = dir + "/" + ip.description
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            if errno == EEXIST { return false }
            throw CNIError(.ioFailure, "cannot write allocation \(path)", details: String(cString: strerror(errno)))
        }
        let bytes = Array(Self.owner(id, ifname).utf8)
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        guard n == bytes.count else {
            unlink(path)
            throw CNIError(.ioFailure, "short write to \(path)")
        }
        return true
    }

    package func lastReserved(set: Int) -> IPv4? {
        guard let s = try? String(contentsOfFile: dir + "/last_reserved_ip.\(set)", encoding: .utf8) else { return nil }
        return IPv4(s.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    package func setLastReserved(_ ip: IPv4, set: Int) {
        let path = dir + "/last_reserved_ip.\(set)"
        try? Data(ip.description.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Releases the attachment's addresses; returns them.
    @discardableResult
    package func release(id: String, ifname: String) -> [IPv4] {
        let ips = find(id: id, ifname: ifname)
        for ip in ips { unlink(dir + "/" + ip.description) }
        return ips
    }

    /// Releases every allocation whose owner is not in `valid` (`containerID\r\nifname` keys).
    @discardableResult
    package func gc(valid: Set<String>) -> [IPv4] {
        var removed: [IPv4] = []
        for (ip, owner) in allocated() where !valid.contains(owner.trimmingCharacters(in: .whitespacesAndNewlines)) {
            unlink(dir + "/" + ip.description)
            removed.append(ip)
        }
        return removed.sorted()
    }
}
