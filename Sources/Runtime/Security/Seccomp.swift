import CSeccomp
package import Foundation
import Glibc

/// Which seccomp profile a container runs under (CRI SecurityProfile).
package enum SeccompProfile: Codable, Sendable, Equatable {
    case unconfined
    case runtimeDefault
    /// An OCI/Docker JSON profile on the node.
    case localhost(String)
}

/// A seccomp policy in OCI form, compiled to classic BPF with libseccomp.
package struct SeccompPolicy: Sendable, Equatable {
    package struct Arg: Sendable, Equatable {
        package var index: UInt32
        package var value: UInt64
        package var valueTwo: UInt64
        package var op: String
    }

    package struct Rule: Sendable, Equatable {
        package var names: [String]
        package var action: String
        package var args: [Arg]
        package var errnoRet: UInt32?
    }

    package var defaultAction: String
    package var defaultErrnoRet: UInt32?
    package var rules: [Rule]

    /// containerd's default profile (contrib/seccomp), for the given capability numbers.
    package static func runtimeDefault(capabilities: [Int]) -> SeccompPolicy {
        var rules = [Rule(names: defaultAllowed + ["arch_prctl", "modify_ldt"], action: "SCMP_ACT_ALLOW", args: [])]
        for persona: UInt64 in [0, 0x0008, 0xffff_ffff] {
            rules.append(Rule(names: ["personality"], action: "SCMP_ACT_ALLOW",
                              args: [Arg(index: 0, value: persona, valueTwo: 0, op: "SCMP_CMP_EQ")]))
        }
        let caps = Set(capabilities.map { Capabilities.names[$0] })
        let byCap: [(String, [String])] = [
            ("DAC_READ_SEARCH", ["open_by_handle_at"]),
            ("SYS_ADMIN", ["bpf", "clone", "fanotify_init", "lookup_dcookie", "mount", "name_to_handle_at",
                           "perf_event_open", "setdomainname", "sethostname", "setns", "umount", "umount2", "unshare"]),
            ("SYS_BOOT", ["reboot"]), ("SYS_CHROOT", ["chroot"]),
            ("SYS_MODULE", ["delete_module", "init_module", "finit_module", "query_module"]),
            ("SYS_PACCT", ["acct"]), ("SYS_PTRACE", ["kcmp", "process_vm_readv", "process_vm_writev", "ptrace"]),
            ("SYS_RAWIO", ["iopl", "ioperm"]), ("SYS_TIME", ["settimeofday", "stime", "adjtimex"]),
            ("SYS_TTY_CONFIG", ["vhangup"]),
        ]
        for (cap, names) in byCap where caps.contains(cap) {
            rules.append(Rule(names: names, action: "SCMP_ACT_ALLOW", args: []))
        }
        if !caps.contains("SYS_ADMIN") {
            // clone without any namespace flag (CLONE_NEWNS|UTS|IPC|USER|PID|NET|CGROUP)
            rules.append(Rule(names: ["clone"], action: "SCMP_ACT_ALLOW",
                              args: [Arg(index: 0, value: 0x7E02_0000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ")]))
        }
        return SeccompPolicy(defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: nil, rules: rules)
    }

    /// Parses an OCI / Docker seccomp JSON profile; errors name what is wrong.
    package static func parse(json data: Data, source: String) throws -> SeccompPolicy {
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw RuntimeError(.invalidArgument, "seccomp profile \(source): not a JSON object")
        }
        guard let def = obj["defaultAction"] as? String else {
            throw RuntimeError(.invalidArgument, "seccomp profile \(source): missing defaultAction")
        }
        try checkAction(def, source)
        var rules: [Rule] = []
        for (i, item) in ((obj["syscalls"] as? [[String: Any]]) ?? []).enumerated() {
            var names = item["names"] as? [String] ?? []
            if let n = item["name"] as? String { names.append(n) }
            guard let action = item["action"] as? String, !names.isEmpty else {
                throw RuntimeError(.invalidArgument, "seccomp profile \(source): syscalls[\(i)] needs names and action")
            }
            try checkAction(action, source)
            var args: [Arg] = []
            for a in (item["args"] as? [[String: Any]]) ?? [] {
                guard let idx = (a["index"] as? NSNumber)?.uint32Value, let op = a["op"] as? String,
                    compareOp(op) != nil
                else {
                    throw RuntimeError(.invalidArgument, "seccomp profile \(source): syscalls[\(i)] has a bad arg")
                }
                args.append(Arg(index: idx, value: (a["value"] as? NSNumber)?.uint64Value ?? 0,
                                valueTwo: (a["valueTwo"] as? NSNumber)?.uint64Value ?? 0, op: op))
            }
            rules.append(Rule(names: names, action: action, args: args,
                              errnoRet: (item["errnoRet"] as? NSNumber)?.uint32Value))
        }
        return SeccompPolicy(defaultAction: def, defaultErrnoRet: (obj["defaultErrnoRet"] as? NSNumber)?.uint32Value,
                             rules: rules)
    }

    static func checkAction(_ a: String, _ source: String) throws {
        if action(a, errno: nil) == nil { throw RuntimeError(.invalidArgument, "seccomp profile \(source): unknown action \(a)") }
    }

    static func action(_ name: String, errno: UInt32?) -> UInt32? {
        switch name {
        case "SCMP_ACT_ALLOW": return 0x7fff_0000
        case "SCMP_ACT_ERRNO": return 0x0005_0000 | ((errno ?? UInt32(EPERM)) & 0xffff)
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return 0
        case "SCMP_ACT_KILL_PROCESS": return 0x8000_0000
        case "SCMP_ACT_TRAP": return 0x0003_0000
        case "SCMP_ACT_LOG": return 0x7ffc_0000
        case "SCMP_ACT_TRACE": return 0x7ff0_0000 | ((errno ?? UInt32(EPERM)) & 0xffff)
        default: return nil
        }
    }

    static func compareOp(_ op: String) -> scmp_compare? {
        switch op {
        case "SCMP_CMP_NE": return SCMP_CMP_NE
        case "SCMP_CMP_LT": return SCMP_CMP_LT
        case "SCMP_CMP_LE": return SCMP_CMP_LE
        case "SCMP_CMP_EQ": return SCMP_CMP_EQ
        case "SCMP_CMP_GE": return SCMP_CMP_GE
        case "SCMP_CMP_GT": return SCMP_CMP_GT
        case "SCMP_CMP_MASKED_EQ": return SCMP_CMP_MASKED_EQ
        default: return nil
        }
    }

    /// Compiles to raw `struct sock_filter` bytes, for x86_64 (+ x86, x32 like containerd).
    package func compile() throws -> [UInt8] {
        guard let ctx = seccomp_init(Self.action(defaultAction, errno: defaultErrnoRet)!) else {
            throw RuntimeError(.invalidArgument, "seccomp_init failed")
        }
        defer { seccomp_release(ctx) }
        _ = seccomp_arch_add(ctx, Self.AUDIT_ARCH_I386_VALUE)
        _ = seccomp_arch_add(ctx, Self.AUDIT_ARCH_X32_VALUE)
        for rule in rules {
            let act = Self.action(rule.action, errno: rule.errnoRet)!
            for name in rule.names {
                let nr = seccomp_syscall_resolve_name(name)
                if nr == __NR_SCMP_ERROR { continue }  // not a syscall on this architecture
                var cmps = rule.args.map {
                    scmp_arg_cmp(arg: $0.index, op: Self.compareOp($0.op)!, datum_a: $0.value, datum_b: $0.valueTwo)
                }
                let rc = seccomp_rule_add_array(ctx, act, nr, UInt32(cmps.count), &cmps)
                if rc != 0 && rc != -EEXIST && rc != -EACCES {
                    throw RuntimeError(.invalidArgument, "seccomp rule for \(name): \(String(cString: strerror(-rc)))")
                }
            }
        }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw RuntimeError.sys("pipe", "seccomp export") }
        // The filter is at most a few KiB: fits the pipe buffer.
        let rc = seccomp_export_bpf(ctx, fds[1])
        close(fds[1])
        defer { close(fds[0]) }
        if rc != 0 { throw RuntimeError(.invalidArgument, "seccomp_export_bpf: \(String(cString: strerror(-rc)))") }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fds[0], &buf, buf.count)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    // AUDIT_ARCH_* (linux/audit.h): EM_386 | LE, EM_X86_64 | 64BIT | LE with the x32 marker is
    // SCMP_ARCH_X32 in libseccomp's numbering.
    static let AUDIT_ARCH_I386_VALUE: UInt32 = 0x4000_0003
    static let AUDIT_ARCH_X32_VALUE: UInt32 = 0x4000_003e

    /// containerd's unconditional allow list.
    package static let defaultAllowed = """
        accept accept4 access alarm bind brk capget capset chdir chmod chown chown32 clock_getres \
        clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64 close connect \
        copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait \
        epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 \
        fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 \
        fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs \
        fstatfs64 fsync ftruncate ftruncate64 futex futex_time64 futimesat getcpu getcwd getdents getdents64 \
        getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid \
        getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit \
        get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid gettimeofday getuid \
        getuid32 getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl \
        io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc \
        kill lchown lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek \
        lsetxattr lstat lstat64 madvise memfd_create mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall \
        mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend \
        mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap \
        nanosleep newfstatat _newselect open openat openat2 pause pipe pipe2 poll ppoll ppoll_time64 prctl \
        pread64 preadv prlimit64 pselect6 pselect6_time64 pwrite64 pwritev read readahead readlink readlinkat \
        readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat \
        renameat2 restart_syscall rmdir rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn \
        rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr \
        sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval \
        sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler \
        sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 \
        sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 \
        setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid \
        setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32 \
        setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socket \
        socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range \
        syncfs sysinfo syslog tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime \
        timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 \
        timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat \
        utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
        """.split(separator: " ").map(String.init)
}
