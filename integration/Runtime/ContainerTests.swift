import Foundation
import Glibc
import Testing
@testable import Runtime

/// Runs `body` with a fresh harness and checks that closing it leaves nothing behind.
func withHarness(_ body: (Harness) async throws -> Void) async throws {
    let h = try await Harness()
    do { try await body(h) } catch {
        await h.close()
        throw error
    }
    let left = await h.close()
    #expect(left.isEmpty, "left behind: \(left)")
}

@Suite(.serialized, .enabled(if: isRoot, "needs root: namespaces, mounts, cgroups"))
struct ContainerTests {
    @Test func logsArriveInCRIFormat() async throws {
        try await withHarness { h in
            let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("logs"))
            let id = try await h.runtime.createContainer(sandboxID: sb, h.container("c", "echo out1; echo err1 >&2; printf 'a b  '"))
            try await h.runtime.startContainer(id)
            let s = try await h.waitExited(id)
            #expect(s.logPath == h.logRoot + "/default_logs_uid-logs/c/0.log")
            let lines = h.log(s).split(separator: "\n").map(String.init)
            #expect(lines.count == 3, "\(lines)")
            let re = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z (stdout|stderr) (P|F) (.*)$/
            for l in lines { #expect(l.wholeMatch(of: re) != nil, "bad CRI line: \(l)") }
            #expect(lines.contains { $0.hasSuffix(" stdout F out1") })
            #expect(lines.contains { $0.hasSuffix(" stderr F err1") })
            #expect(lines.contains { $0.hasSuffix(" stdout F a b  ") })
            #expect(s.exitCode == 0 && s.reason == "Completed")
        }
    }

    @Test func logRotationAndReopen() async throws {
        try await withHarness { h in
            let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("rot"))
            let id = try await h.runtime.createContainer(sandboxID: sb, h.container("c", """
                echo before; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo after
                """))
            try await h.runtime.startContainer(id)
            let path = try await h.runtime.containerStatus(id).logPath
            for _ in 0..<100 where !((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains("before") {
                try await Task.sleep(nanoseconds: 20_000_000)
            }
            let rotated = try ContainerLogManager.rotate(path, maxFiles: 2, now: Date())
            try await h.runtime.reopenContainerLog(id)
            try await Task.sleep(nanoseconds: 100_000_000)
            _ = try await h.runtime.execSync(id, cmd: ["touch", "/tmp/go"], timeout: 10)
            let s = try await h.waitExited(id)
            #expect(try String(contentsOfFile: rotated, encoding: .utf8).contains("stdout F before"))
            #expect(h.log(s).contains("stdout F after") && !h.log(s).contains("before"))
        }
    }

    @Test func exitCodesAndReasons() async throws {
        try await withHarness { h in
            let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("exit"))
            let failing = try await h.runtime.createContainer(sandboxID: sb, h.container("fail", "exit 7"))
            try await h.runtime.startContainer(failing)
            let s = try await h.waitExited(failing)
            #expect(s.exitCode == 7 && s.reason == "Error")
            #expect(s.startedAt != nil && s.finishedAt != nil && s.finishedAt! >= s.startedAt!)

            var bad = h.container("missing", "")
            bad.command = ["/nonexistent/binary"]
            let missing = try await h.runtime.createContainer(sandboxID: sb, bad)
            let err = await #expect(throws: RuntimeError.self) { try await h.runtime.startContainer(missing) }
            #expect(err?.message.contains("exec /nonexistent/binary: No such file or directory") == true, "\(String(describing: err))")
            let ms = try await h.runtime.containerStatus(missing)
            #expect(ms.state == .exited && ms.reason == "ContainerCannotRun" && ms.exitCode == 128)
        }
    }

    @Test func cgroupLimitsAreWrittenAndOOMKills() async throws {
        try await withHarness { h in
            var sbc = h.sandboxConfig("cg")
            // the pod cgroup's own limits, as the agent computes them for the whole pod
            sbc.resources = LinuxResources(cpuShares: 614, cpuQuota: 60_000, cpuPeriod: 100_000, memoryLimitBytes: 48 << 20)
            let sb = try await h.runtime.runPodSandbox(sbc)
            // it eats memory only when the test says so (a file appears), after the checks below
            var c = h.container("hog", "while [ ! -e /tmp/go ]; do sleep 0.1; done; a=$(yes | head -c 200000000); echo survived")
            c.resources = LinuxResources(cpuShares: 512, cpuQuota: 50_000, cpuPeriod: 100_000,
                                         memoryLimitBytes: 32 << 20, pidsLimit: 64)
            let id = try await h.runtime.createContainer(sandboxID: sb, c)
            try await h.runtime.startContainer(id)
            let pid = try await h.runtime.containerStatus(id).pid
            let base = "/sys/fs/cgroup"
            let path = "\(h.cgroupRoot)/kubepods/besteffort/pod-uid-cg/\(id)"
            func read(_ f: String) -> String {
                ((try? String(contentsOfFile: "\(base)/\(f)", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            }
            #expect(read("memory/\(path)/memory.limit_in_bytes") == String(32 << 20))
            #expect(read("cpu/\(path)/cpu.shares") == "512")
            #expect(read("cpu/\(path)/cpu.cfs_quota_us") == "50000")
            #expect(read("pids/\(path)/pids.max") == "64")
            let podPath = "\(h.cgroupRoot)/kubepods/besteffort/pod-uid-cg"
            #expect(read("memory/\(podPath)/memory.limit_in_bytes") == String(48 << 20))
            #expect(read("cpu/\(podPath)/cpu.shares") == "614")
            #expect(read("cpu/\(podPath)/cpu.cfs_quota_us") == "60000")
            func member() -> Bool { read("memory/\(path)/cgroup.procs").split(separator: "\n").contains(Substring(String(pid))) }
            for _ in 0..<100 where !member() { try await Task.sleep(for: .milliseconds(100)) }
            #expect(member(), "pid \(pid), cgroup.procs: \(read("memory/\(path)/cgroup.procs"))")
            let stats = try await h.runtime.containerStats(id)
            #expect(stats.memoryWorkingSetBytes > 0)
            _ = try await h.runtime.execSync(id, cmd: ["touch", "/tmp/go"], timeout: 10)
            let s = try await h.waitExited(id, seconds: 30)
            #expect(s.reason == "OOMKilled" && s.exitCode == 137, "\(s.reason) \(s.exitCode) \(h.log(s))")
        }
    }

    @Test func securityDefaults() async throws {
        let hostname = ProcessInfo.processInfo.hostName
        try await withHarness { h in
            let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("sec"))
            var c = h.container("c", """
                grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status
                mount -t tmpfs none /tmp && echo MOUNTED
                echo x > /tmp/m.ko; insmod /tmp/m.ko || echo INSMOD-FAILED
                hostname hacked || echo HOSTNAME-FAILED
                adjtimex > /dev/null && echo ADJTIMEX-OK || echo ADJTIMEX-BLOCKED
                [ -n "$(head -c 20 /proc/timer_list)" ] && echo TIMERLIST-VISIBLE
                echo 1 > /proc/sys/vm/drop_caches || echo PROCSYS-RO
                """)
            c.security.noNewPrivs = true
            let id = try await h.runtime.createContainer(sandboxID: sb, c)
            try await h.runtime.startContainer(id)
            let log = h.log(try await h.waitExited(id))
            #expect(log.contains("CapEff:\t00000000a80425fb"), "\(log)")
            #expect(log.contains("Seccomp:\t2") && log.contains("NoNewPrivs:\t1"))
            #expect(!log.contains("MOUNTED") && log.contains("INSMOD-FAILED") && log.contains("HOSTNAME-FAILED"))
            #expect(log.contains("ADJTIMEX-BLOCKED") && !log.contains("TIMERLIST-VISIBLE") && log.contains("PROCSYS-RO"), "\(log)")
            #expect(ProcessInfo.processInfo.hostName == hostname)

            // The same query-only adjtimex needs no capability: only the seccomp profile blocks it.
            var u = h.container("unconfined", "adjtimex > /dev/null && echo ADJTIMEX-OK; grep Seccomp: /proc/self/status")
            u.security.seccomp = .unconfined
            let uid = try await h.runtime.createContainer(sandboxID: sb, u)
            try await h.runtime.startContainer(uid)
            let ulog = h.log(try await h.waitExited(uid))
            #expect(ulog.contains("ADJTIMEX-OK") && ulog.contains("Seccomp:\t0"), "\(ulog)")

            // A Localhost profile: allow everything but mkdir/mkdirat.
            let profile = h.root + "/no-mkdir.json"
            try #"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"}]}"#
                .write(toFile: profile, atomically: true, encoding: .utf8)
            var l = h.container("localhost", "mkdir /tmp/d || echo MKDIR-DENIED; touch /tmp/f && echo TOUCH-OK")
            l.security.seccomp = .localhost(profile)
            let lid = try await h.runtime.createContainer(sandboxID: sb, l)
            try await h.runtime.startContainer(lid)
            let llog = h.log(try await h.waitExited(lid))
            #expect(llog.contains("MKDIR-DENIED") && llog.contains("TOUCH-OK"), "\(llog)")
        }
    }

    @Test func usersReadOnlyRootAndMounts() async throws {
        try await withHarness { h in
            let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("users"))
            let hostDir = h.root + "/hostpath"
            try FileManager.default.createDirectory(atPath: hostDir, withIntermediateDirectories: true)
            try "from-host".write(toFile: hostDir + "/f", atomically: true, encoding: .utf8)
            var c = h.container("c", "id; cat /data/f; touch /x || echo ROOT-RO; touch /data/g || echo DATA-RO; cat /etc/hostname")
            c.security.runAsUsername = "app"
            c.security.supplementalGroups = [5000]
            c.security.readonlyRootfs = true
            c.mounts = [MountSpec(containerPath: "/data", hostPath: hostDir, readonly: true)]
            let id = try await h.runtime.createContainer(sandboxID: sb, c)
            try await h.runtime.startContainer(id)
            let log = h.log(try await h.waitExited(id))
            #expect(log.contains("uid=1000(app) gid=1000(app) groups=1000(app),5000"), "\(log)")
            #expect(log.contains("from-host") && log.contains("ROOT-RO") && log.contains("DATA-RO") && log.contains("F users"))
        }
    }

    @Test func execSyncAndInteractiveExec() async throws {
        try await withHarness { h in
            let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("exec"))
            let id = try await h.runtime.createContainer(sandboxID: sb, h.container("c", "echo in-container > /tmp/marker; exec sleep 1000"))
            try await h.runtime.startContainer(id)
            var r = try await h.runtime.execSync(id, cmd: ["cat", "/tmp/marker"], timeout: 10)
            for _ in 0..<50 where r.exitCode != 0 {
                try await Task.sleep(nanoseconds: 50_000_000)
                r = try await h.runtime.execSync(id, cmd: ["cat", "/tmp/marker"], timeout: 10)
            }
            #expect(String(decoding: r.stdout, as: UTF8.self) == "in-container\n" && r.exitCode == 0)
            let e = try await h.runtime.execSync(id, cmd: ["sh", "-c", "echo oops >&2; exit 3"], timeout: 10)
            #expect(e.exitCode == 3 && String(decoding: e.stderr, as: UTF8.self) == "oops\n")
            let missing = try await h.runtime.execSync(id, cmd: ["/no/such"], timeout: 10)
            #expect(missing.exitCode == 126 && String(decoding: missing.stderr, as: UTF8.self).contains("/no/such"))
            await #expect(throws: RuntimeError.self) { try await h.runtime.execSync(id, cmd: ["sleep", "30"], timeout: 1) }

            let session = try await h.runtime.exec(id, cmd: ["sh", "-c", "read line; echo got:$line"], tty: false)
            session.stdin.write(Data("hello\n".utf8))
            try session.stdin.close()
            let out = session.stdout.readDataToEndOfFile()
            #expect(await session.wait() == 0)
            #expect(String(decoding: out, as: UTF8.self) == "got:hello\n")
        }
    }

    @Test func containersSurviveAgentRestartAndKeepExitCodes() async throws {
        try await withHarness { h in
            let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("restart"))
            let id = try await h.runtime.createContainer(sandboxID: sb, h.container("c", """
                while [ ! -e /tmp/go ]; do sleep 0.05; done; echo finishing; exit 42
                """))
            try await h.runtime.startContainer(id)
            let pid = try await h.runtime.containerStatus(id).pid
            // The shim is not our child and not in our session: it outlives the agent.
            let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
            let ppid = Int32(stat.split(separator: ")").last!.split(separator: " ")[1])!
            #expect(ppid != getpid() && getsid(ppid) != getsid(0))
            try h.restart()
            let listed = try await h.runtime.listContainers(sandboxID: sb)
            #expect(listed.map(\.id) == [id] && listed[0].state == .running && listed[0].pid == pid)
            _ = try await h.runtime.execSync(id, cmd: ["touch", "/tmp/go"], timeout: 10)
            let s = try await h.waitExited(id)
            #expect(s.exitCode == 42 && s.reason == "Error" && h.log(s).contains("stdout F finishing"))
            try h.restart()
            #expect(try await h.runtime.containerStatus(id).exitCode == 42)
        }
    }

    @Test func removalLeavesNoMountCgroupNetnsOrProcess() async throws {
        let h = try await Harness()
        let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("rm"))
        let id = try await h.runtime.createContainer(sandboxID: sb, h.container("c", "sleep 1000 & exec sleep 1000"))
        try await h.runtime.startContainer(id)
        let st = try await h.runtime.podSandboxStatus(sb)
        let cpid = try await h.runtime.containerStatus(id).pid
        let netns = try #require(st.netnsPath)
        try await h.runtime.stopPodSandbox(sb)
        #expect(try await h.runtime.podSandboxStatus(sb).state == .notReady)
        #expect(try await h.runtime.containerStatus(id).state == .exited)
        try await h.runtime.removePodSandbox(sb)
        let sandboxesLeft = try await h.runtime.listPodSandbox(), containersLeft = try await h.runtime.listContainers(sandboxID: nil)
        #expect(sandboxesLeft.isEmpty && containersLeft.isEmpty)
        #expect(!alive(st.pid) && !alive(cpid))
        #expect(!FileManager.default.fileExists(atPath: netns))
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        // own root only: a bare prefix would also match a parallel harness's "<root>0/…"
        #expect(!mounts.contains(h.root + "/") && !mounts.contains(" " + h.root + " "))
        for c in ["memory", "cpu", "pids"] {
            #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/\(c)/\(h.cgroupRoot)/kubepods/besteffort/pod-uid-rm"))
        }
        let left = await h.close()
        #expect(left.isEmpty, "left behind: \(left)")
    }

    @Test func badInputFailsCleanlyAndNamesTheCause() async throws {
        try await withHarness { h in
            let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("bad"))
            let before = try FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/memory/\(h.cgroupRoot)/kubepods/besteffort/pod-uid-bad").sorted()
            var unknown = h.container("c", "true")
            unknown.image = "localhost/nope:1"
            let e1 = await #expect(throws: RuntimeError.self) { _ = try await h.runtime.createContainer(sandboxID: sb, unknown) }
            #expect(e1?.code == .notFound && e1?.message.contains("localhost/nope:1") == true)

            var user = h.container("c", "true")
            user.security.runAsUsername = "ghost"
            let e2 = await #expect(throws: RuntimeError.self) { _ = try await h.runtime.createContainer(sandboxID: sb, user) }
            #expect(e2?.message.contains("user \"ghost\" not found") == true)

            var root = h.container("c", "true")
            root.security.runAsNonRoot = true
            let e3 = await #expect(throws: RuntimeError.self) { _ = try await h.runtime.createContainer(sandboxID: sb, root) }
            #expect(e3?.message.contains("runAsNonRoot") == true)

            let profile = h.root + "/bad-profile.json"
            try "{ not json".write(toFile: profile, atomically: true, encoding: .utf8)
            var sec = h.container("c", "true")
            sec.security.seccomp = .localhost(profile)
            let e4 = await #expect(throws: RuntimeError.self) { _ = try await h.runtime.createContainer(sandboxID: sb, sec) }
            #expect(e4?.message.contains(profile) == true)

            var mem = h.container("c", "true")
            mem.resources.memoryLimitBytes = 1
            let e5 = await #expect(throws: RuntimeError.self) { _ = try await h.runtime.createContainer(sandboxID: sb, mem) }
            #expect(e5?.message.contains("memory limit 1") == true)

            var cpus = h.container("c", "true")
            cpus.resources.cpusetCpus = "999"
            let e6 = await #expect(throws: RuntimeError.self) { _ = try await h.runtime.createContainer(sandboxID: sb, cpus) }
            #expect(e6?.message.contains("cpuset.cpus") == true, "\(String(describing: e6))")

            let after = try FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/memory/\(h.cgroupRoot)/kubepods/besteffort/pod-uid-bad").sorted()
            #expect(before == after)
            #expect(try await h.runtime.listContainers(sandboxID: sb).isEmpty)
            #expect(try await h.runtime.podSandboxStatus(sb).state == .ready)

            // A sandbox whose pause cannot start leaves no directory, netns, cgroup or process.
            var cfg = Harness.config(root: h.root, cgroupRoot: h.cgroupRoot)
            cfg.pausePath = "/nonexistent/pause"
            let broken = try LinuxRuntime(config: cfg)
            let e7 = await #expect(throws: RuntimeError.self) { _ = try await broken.runPodSandbox(h.sandboxConfig("broken")) }
            #expect(e7?.message.contains("exec /nonexistent/pause: No such file or directory") == true, "\(String(describing: e7))")
            #expect(try await broken.listPodSandbox().map(\.id) == [sb])
            #expect(try FileManager.default.contentsOfDirectory(atPath: h.root + "/state/netns") == [sb])
            #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/\(h.cgroupRoot)/kubepods/besteffort/pod-uid-broken"))
        }
    }
}
