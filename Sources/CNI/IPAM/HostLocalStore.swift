import CShim
import FoundationEssentials
import Glibc

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

    /// Every allocated address with its owner (`containerID\r\nifname`). Plain open/read and
    /// readdir: a plugin process lives for one call, and Foundation's file and string paths
    /// cost it more (type metadata, bridging) than the reads themselves.
    package func allocated() -> [IPv4: String] {
        var out: [IPv4: String] = [:]
        var buf = [UInt8](repeating: 0, count: 512)
        for ip in allocatedIPs() {
            let fd = open(dir + "/" + ip.description, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue } // released meanwhile
            let n = read(fd, &buf, buf.count)
            close(fd)
            out[ip] = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
        }
        return out
    }

    /// Every allocated address (the directory's entries named like one), without reading them.
    package func allocatedIPs() -> Set<IPv4> {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var out: Set<IPv4> = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let ip = IPv4(name) { out.insert(ip) }
        }
        return out
    }

    static func owner(_ id: String, _ ifname: String) -> String { id + "\r\n" + ifname }

    /// Addresses held by this attachment.
    package func find(id: String, ifname: String) -> [IPv4] {
        let key = Self.trimmed(Self.owner(id, ifname))
        return allocated().filter { Self.trimmed($0.value) == key }.map(\.key).sorted()
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
        // No fsync, as the reference host-local: what an allocation guards (a veth in a netns)
        // does not outlive the machine either, and a file a power loss left empty has no owner,
        // so GC frees it.
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard n == bytes.count else {
            unlink(path)
            throw CNIError(.ioFailure, "short write to \(path)")
        }
        return true
    }

    package func lastReserved(set: Int) -> IPv4? {
        let fd = open(dir + "/last_reserved_ip.\(set)", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 64)
        let n = read(fd, &buf, buf.count)
        return n > 0 ? IPv4(Self.trimmed(String(decoding: buf[0..<n], as: UTF8.self))) : nil
    }

    /// Rewritten in place, as the reference host-local does: a temp file and a rename per
    /// allocation would make and delete an inode each time, and a file left short or empty by
    /// a crash only makes the next search start at the beginning of the range.
    package func setLastReserved(_ ip: IPv4, set: Int) {
        let path = dir + "/last_reserved_ip.\(set)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        let bytes = Array(ip.description.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
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
        for (ip, owner) in allocated() where !valid.contains(Self.trimmed(owner)) {
            unlink(dir + "/" + ip.description)
            removed.append(ip)
        }
        return removed.sorted()
    }

    /// `s` without leading and trailing ASCII whitespace (a CR inside an owner key stays).
    static func trimmed(_ s: String) -> String {
        let b = Array(s.utf8)
        guard let first = b.firstIndex(where: { !CNIJSON.isSpace($0) }), let last = b.lastIndex(where: { !CNIJSON.isSpace($0) }) else { return "" }
        return first == 0 && last == b.count - 1 ? s : String(decoding: b[first...last], as: UTF8.self)
    }
}
