import Foundation
import Glibc
package import KubeAPI
import Runtime

/// Facts about the machine for the Node object: capacity, addresses, nodeInfo, and the
/// measurements behind the pressure conditions.
package enum MachineInfo {
    static func read(_ path: String) -> String {
        (FileContents.string(atPath: path) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A /proc/meminfo field in bytes.
    package static func meminfo(_ key: String) -> Int64? {
        for line in read("/proc/meminfo").split(separator: "\n") where line.hasPrefix(key + ":") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, let kb = Int64(parts[1]) { return kb * 1024 }
        }
        return nil
    }

    /// Total and available bytes of the filesystem holding `path`.
    package static func disk(_ path: String) -> (total: Int64, available: Int64) {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return (0, 0) }
        return (Int64(s.f_blocks) * Int64(s.f_frsize), Int64(s.f_bavail) * Int64(s.f_frsize))
    }

    package static func capacity(maxPods: Int, rootDir: String) -> ResourceList {
        let memKi = (meminfo("MemTotal") ?? 0) / 1024
        return [
            "cpu": Quantity(integer: Int64(ProcessInfo.processInfo.activeProcessorCount)),
            "memory": (try? Quantity("\(memKi)Ki")) ?? Quantity(integer: memKi * 1024),
            "pods": Quantity(integer: Int64(maxPods)),
            "ephemeral-storage": (try? Quantity("\(disk(rootDir).total / 1024)Ki")) ?? Quantity(integer: 0),
        ]
    }

    package static var architecture: String {
        var u = utsname()
        uname(&u)
        let m = withUnsafeBytes(of: u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        switch m {
        case "x86_64": return "amd64"
        case "aarch64": return "arm64"
        default: return m
        }
    }

    package static var kernelVersion: String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    package static var osImage: String {
        for line in read("/etc/os-release").split(separator: "\n") where line.hasPrefix("PRETTY_NAME=") {
            return String(line.dropFirst(12)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        return "Linux"
    }

    package static func nodeInfo(runtimeVersion: String) -> NodeSystemInfo {
        var i = NodeSystemInfo()
        i.machineID = read("/etc/machine-id")
        i.systemUUID = read("/sys/class/dmi/id/product_uuid")
        if i.systemUUID.isEmpty { i.systemUUID = i.machineID }
        i.bootID = read("/proc/sys/kernel/random/boot_id")
        i.kernelVersion = kernelVersion
        i.osImage = osImage
        i.containerRuntimeVersion = runtimeVersion
        i.kubeletVersion = kubeletVersion
        i.kubeProxyVersion = ""
        i.operatingSystem = "linux"
        i.architecture = architecture
        return i
    }

    /// The Kubernetes version the agent speaks.
    package static let kubeletVersion = "v1.35.0"

    /// The first non-loopback IPv4 address of this network namespace.
    package static func firstIPv4() -> String? {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0 else { return nil }
        defer { freeifaddrs(head) }
        var p = head
        while let cur = p {
            defer { p = cur.pointee.ifa_next }
            guard let a = cur.pointee.ifa_addr, a.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            let name = String(validatingCString: cur.pointee.ifa_name) ?? ""
            if name == "lo" || name.hasPrefix("cni") || name.hasPrefix("veth") { continue }
            var buf = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            let sin = UnsafeRawPointer(a).assumingMemoryBound(to: sockaddr_in.self)
            var addr = sin.pointee.sin_addr
            inet_ntop(AF_INET, &addr, &buf, socklen_t(buf.count))
            return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return nil
    }

    /// Processes running vs. the kernel's pid limit.
    package static func pidUsage() -> (used: Int, max: Int) {
        let max = Int(read("/proc/sys/kernel/pid_max")) ?? 32768
        let used = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { Int($0) != nil }.count
        return (used, max)
    }
}
