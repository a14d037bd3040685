/// Linux capability names, indexed by number (linux/capability.h).
package enum Capabilities {
    package static let names = [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
    ]

    /// containerd's default set (the 14 capabilities of oci.WithDefaultSpec).
    package static let containerdDefault = [
        "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP", "SETPCAP",
        "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
    ]

    /// The number of `name` ("NET_ADMIN", "CAP_NET_ADMIN", any case).
    package static func number(_ name: String) throws -> Int {
        var n = name.uppercased()
        if n.hasPrefix("CAP_") { n.removeFirst(4) }
        guard let i = names.firstIndex(of: n) else {
            throw RuntimeError(.invalidArgument, "unknown capability \"\(name)\"")
        }
        return i
    }

    /// Default set + add − drop ("ALL" allowed in both), or every capability when privileged.
    package static func effective(add: [String], drop: [String], privileged: Bool) throws -> [Int] {
        if privileged { return Array(names.indices) }
        let addAll = add.contains { $0.uppercased() == "ALL" }, dropAll = drop.contains { $0.uppercased() == "ALL" }
        var set = Set(try containerdDefault.map(number))
        if addAll { set = Set(names.indices) }
        if dropAll { set = [] }
        for a in add where a.uppercased() != "ALL" { set.insert(try number(a)) }
        for d in drop where d.uppercased() != "ALL" { set.remove(try number(d)) }
        return set.sorted()
    }
}
