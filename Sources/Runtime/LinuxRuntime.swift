import Foundation
import Glibc

/// The real runtime: pause sandboxes and containers run by per-container shims, state on disk
/// (so a restarted agent adopts what it left behind), cgroups through a `CgroupManager`.
package actor LinuxRuntime: ContainerRuntime {
    package nonisolated let config: RuntimeConfig
    package nonisolated let images: ImageStore
    private nonisolated let cgroups: any CgroupManager
    private nonisolated var sys: any Syscalls { config.syscalls }
    /// Decoded records by id: a record does not change once the sandbox or container exists,
    /// and listing N containers would otherwise decode N JSON files on every call.
    private var sandboxRecords: [String: SandboxRecord] = [:]
    private var containerRecords: [String: ContainerRecord] = [:]
    /// The owner of each cached record (sandbox → pod UID, container → sandbox): listing one
    /// pod's sandboxes or one sandbox's containers compares these, not copies of every record.
    private var podOfSandbox: [String: String] = [:]
    private var sandboxOfContainer: [String: String] = [:]

    /// The entries of `sandboxes/` and `containers/` as last read, sorted, with the directory's
    /// identity at the time: a listing reads the directory again only when that changed (each
    /// entry is a directory, so one made or removed by another process on the same root, such
    /// as `swiftlet crictl`, changes the link count and mtime). Every sandbox and container
    /// made or removed here drops the listing too (`cacheSandbox`, `cacheContainer`), so this
    /// runtime's own changes never wait on timestamp granularity.
    private var listings: [String: (dir: FileIdentity, names: [String])] = [:]

    /// Caches (or, with nil, forgets) a sandbox's record together with its owner.
    private func cacheSandbox(_ id: String, _ r: SandboxRecord?) {
        sandboxRecords[id] = r
        podOfSandbox[id] = r?.config.uid
        listings["sandboxes"] = nil
    }

    /// Caches (or, with nil, forgets) a container's record together with its owner.
    private func cacheContainer(_ id: String, _ r: ContainerRecord?) {
        containerRecords[id] = r
        sandboxOfContainer[id] = r?.sandboxID
        listings["containers"] = nil
    }
    /// Parsed shim state files by path, with the identity of the file they were read from: a
    /// shim replaces its state file by rename, so an unchanged inode, mtime and size means an
    /// unchanged state, and a relist of N containers costs N stats instead of N reads.
    private var shimStates: [String: (file: FileIdentity, state: ShimState)] = [:]

    package init(config: RuntimeConfig) throws {
        self.config = config
        self.cgroups = config.cgroupManager()
        for d in ["sandboxes", "containers", "netns"] { try config.syscalls.mkdirAll(config.root + "/" + d) }
        // a sandbox's or container's directory is a tree of its own (see markTopDirectory)
        for d in ["sandboxes", "containers"] { config.syscalls.markTopDirectory(config.root + "/" + d) }
        self.images = try ImageStore(root: config.root + "/images")
    }

    // MARK: paths and records

    private nonisolated func sandboxDir(_ id: String) -> String { config.root + "/sandboxes/" + id }
    private nonisolated func containerDir(_ id: String) -> String { config.root + "/containers/" + id }

    private func loadSandbox(_ id: String) throws -> SandboxRecord {
        if let r = sandboxRecords[id] { return r }
        guard let d = FileContents.data(atPath: sandboxDir(id) + "/sandbox.json"),
            let r = try? JSONDecoder().decode(SandboxRecord.self, from: d)
        else { throw RuntimeError(.notFound, "pod sandbox \(id) not found") }
        cacheSandbox(id, r)
        return r
    }

    private func loadContainer(_ id: String) throws -> ContainerRecord {
        if let r = containerRecords[id] { return r }
        guard let d = FileContents.data(atPath: containerDir(id) + "/container.json"),
            let r = try? JSONDecoder().decode(ContainerRecord.self, from: d)
        else { throw RuntimeError(.notFound, "container \(id) not found") }
        cacheContainer(id, r)
        return r
    }

    private func ids(_ kind: String) -> [String] {
        let sandboxes = kind == "sandboxes"
        let path = config.root + "/" + kind
        var names: [String] = []
        // the identity first, then the entries: a change in between is seen at the next call
        if let dir = FileIdentity(path: path) {
            if let cached = listings[kind], cached.dir == dir {
                names = cached.names
            } else {
                names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
                listings[kind] = (dir, names)
            }
        }
        return names.filter {
            // a cached record was read whole from its directory; others must have one on disk
            (sandboxes ? podOfSandbox[$0] != nil : sandboxOfContainer[$0] != nil)
                || FileManager.default.fileExists(atPath: "\(path)/\($0)/" + (sandboxes ? "sandbox.json" : "container.json"))
        }
    }

    /// The shim's state at `path`, parsed again only when the file was replaced; nil when absent.
    private func shimState(_ path: String) -> ShimState? {
        guard let file = FileIdentity(path: path) else {
            shimStates[path] = nil
            return nil
        }
        if let cached = shimStates[path], cached.file == file { return cached.state }
        guard let state = ShimState(path: path) else { return nil }
        shimStates[path] = (file, state)
        return state
    }

    private func cgroupPath(_ parts: String...) -> String {
        ([config.cgroupRoot] + parts).filter { !$0.isEmpty }.joined(separator: "/")
    }

    // MARK: sandboxes

    package func runPodSandbox(_ c: PodSandboxConfig) async throws -> String {
        guard !c.name.isEmpty, !c.namespace.isEmpty, !c.uid.isEmpty else {
            throw RuntimeError(.invalidArgument, "pod sandbox needs name, namespace and uid")
        }
        if c.cgroupParent.contains("..") { throw RuntimeError(.invalidArgument, "cgroup parent \(c.cgroupParent) escapes the root") }
        try c.resources?.validate()
        let id = newID()
        let dir = sandboxDir(id)
        let podCgroup = cgroupPath(c.cgroupParent)
        let createdPod = !sys.exists(config.cgroupfs + "/memory/" + podCgroup) && !sys.exists(config.cgroupfs + "/" + podCgroup)
        // The record is written once, before anything it names exists, so a restarted agent
        // finds and can remove whatever a crash half made. It never changes: pause's pid is in
        // its shim's state file, and the netns bind mount is at the path the record names.
        let ns = c.hostNetwork ? nil : config.root + "/netns/" + id
        let record = SandboxRecord(id: id, config: c, createdAt: Date(), pid: 0, netnsPath: ns, podCgroup: podCgroup,
                                   sandboxCgroup: podCgroup + "/" + id, createdPodCgroup: createdPod)
        let sys = self.sys, cgroups = self.cgroups
        do {
            let hostname = c.hostNetwork ? ProcessInfo.processInfo.hostName : (c.hostname.isEmpty ? c.name : c.hostname)
            try await offActor { [record] in
                try sys.mkdirAll(dir + "/pause")
                try writeFileAtomically(dir + "/sandbox.json", try JSONEncoder().encode(record))
                try writeFileAtomically(dir + "/hostname", Data((hostname + "\n").utf8), durable: false)
                try writeFileAtomically(dir + "/hosts", Data("""
                    127.0.0.1\tlocalhost
                    ::1\tlocalhost ip6-localhost ip6-loopback
                    fe00::0\tip6-localnet
                    ff00::0\tip6-mcastprefix
                    ff02::1\tip6-allnodes
                    ff02::2\tip6-allrouters

                    """.utf8), durable: false)
                var resolv = ""
                if c.dnsServers.isEmpty && c.dnsSearches.isEmpty {
                    resolv = FileContents.string(atPath: "/etc/resolv.conf") ?? ""
                } else {
                    resolv += c.dnsServers.map { "nameserver \($0)\n" }.joined()
                    if !c.dnsSearches.isEmpty { resolv += "search " + c.dnsSearches.joined(separator: " ") + "\n" }
                    if !c.dnsOptions.isEmpty { resolv += "options " + c.dnsOptions.joined(separator: " ") + "\n" }
                }
                try writeFileAtomically(dir + "/resolv.conf", Data(resolv.utf8), durable: false)
                try cgroups.create(record.podCgroup, resources: c.resources ?? LinuxResources())
                try cgroups.create(record.sandboxCgroup, resources: LinuxResources())
                try cgroups.allowDevices(record.sandboxCgroup, rules: [])
                if !c.logDirectory.isEmpty { try sys.mkdirAll(c.logDirectory) }
            }

            var shim = ShimConfig()
            shim.add("state_dir", dir + "/pause")
            for f in cgroups.procsFiles(record.sandboxCgroup) { shim.add("cgroup", f) }
            if !c.hostPID { shim.add("unshare", "pid") }
            if !c.hostNetwork {
                shim.add("unshare", "net")
                shim.add("unshare", "uts")
                shim.add("loopback_up", "1")
                shim.add("hostname", hostname)
            }
            if !c.hostIPC { shim.add("unshare", "ipc") }
            shim.add("unshare", "mnt")
            shim.add("oom_score_adj", "-998")
            shim.add("setsid", "1")
            for cap in Capabilities.names.indices { shim.add("cap", String(cap)) }
            shim.add("arg", config.pausePath)
            let pid = try await startShim(shim, dir: dir + "/pause", what: "pod sandbox \(c.namespace)/\(c.name)")
            if let ns {
                try await offActor {
                    try sys.writeFile(ns, "")  // the mount point of the netns bind mount, made where it will stay
                    try sys.mount(source: "/proc/\(pid)/ns/net", target: ns, fstype: nil, flags: UInt(MS_BIND), data: nil)
                }
            }
            cacheSandbox(id, record)
            return id
        } catch {
            await cleanupSandbox(record)
            throw error
        }
    }

    /// Best-effort teardown of everything a sandbox may have: used on failure and on removal.
    private func cleanupSandbox(_ r: SandboxRecord) async {
        if let s = shimState(sandboxDir(r.id) + "/pause/state"), s.running {
            sys.kill(s.pid, SIGKILL)
            _ = await waitFinished(sandboxDir(r.id) + "/pause/state", seconds: 5)
        }
        let ns = config.root + "/netns/" + r.id
        try? sys.unmount(ns, detach: true)
        unlink(ns)
        try? cgroups.killAndDestroy(r.sandboxCgroup, syscalls: sys)
        if r.createdPodCgroup && cgroups.pids(r.podCgroup).isEmpty {
            let others = ids("sandboxes").filter { $0 != r.id }.compactMap { try? loadSandbox($0) }
            if !others.contains(where: { $0.podCgroup == r.podCgroup }) { try? cgroups.destroy(r.podCgroup) }
        }
        cacheSandbox(r.id, nil)
        shimStates[sandboxDir(r.id) + "/pause/state"] = nil
        try? FileManager.default.removeItem(atPath: sandboxDir(r.id))
    }

    package func stopPodSandbox(_ id: String) async throws {
        let r = try loadSandbox(id)
        for c in try await listContainers(sandboxID: id) where c.state == .running {
            try await stopContainer(c.id, timeout: 0)
        }
        if let s = shimState(sandboxDir(id) + "/pause/state"), s.running {
            sys.kill(s.pid, SIGKILL)
            if !(await waitFinished(sandboxDir(id) + "/pause/state", seconds: 10)) {
                throw RuntimeError(.timeout, "pause of pod sandbox \(id) (pid \(s.pid)) did not exit")
            }
        }
        for p in cgroups.pids(r.sandboxCgroup) { sys.kill(p, SIGKILL) }
        if let ns = r.netnsPath {
            try sys.unmount(ns, detach: true)
        }
    }

    package func removePodSandbox(_ id: String) async throws {
        guard let r = try? loadSandbox(id) else { return }
        for c in try await listContainers(sandboxID: id) { try await removeContainer(c.id) }
        await cleanupSandbox(r)
        if FileManager.default.fileExists(atPath: sandboxDir(id)) {
            throw RuntimeError(.invalidState, "pod sandbox \(id): state directory could not be removed")
        }
    }

    package func podSandboxStatus(_ id: String) async throws -> PodSandboxStatus {
        let r = try loadSandbox(id)
        let s = shimState(sandboxDir(id) + "/pause/state")
        return PodSandboxStatus(id: id, config: r.config, state: s?.running == true ? .ready : .notReady,
                                createdAt: r.createdAt, pid: s?.pid ?? r.pid, netnsPath: r.netnsPath)
    }

    package func listPodSandbox() async throws -> [PodSandboxStatus] {
        var out: [PodSandboxStatus] = []
        for id in ids("sandboxes") { if let s = try? await podSandboxStatus(id) { out.append(s) } }
        return out
    }

    package func listPodSandbox(podUID: String) async throws -> [PodSandboxStatus] {
        var out: [PodSandboxStatus] = []
        // by the (cached) record first: other pods' pause state files are not read
        for id in ids("sandboxes") where (podOfSandbox[id] ?? (try? loadSandbox(id))?.config.uid) == podUID {
            if let s = try? await podSandboxStatus(id) { out.append(s) }
        }
        return out
    }

    // MARK: containers

    package func createContainer(sandboxID: String, _ c: ContainerConfig) async throws -> String {
        let sb = try loadSandbox(sandboxID)
        guard shimState(sandboxDir(sandboxID) + "/pause/state")?.running == true else {
            throw RuntimeError(.invalidState, "pod sandbox \(sandboxID) is not ready")
        }
        guard !c.name.isEmpty else { throw RuntimeError(.invalidArgument, "container needs a name") }
        guard let image = try await images.imageStatus(c.image) else {
            throw RuntimeError(.notFound, "image \"\(c.image)\" not found: pull or load it first")
        }
        try c.resources.validate()
        let sec = c.security
        let caps = try Capabilities.effective(add: sec.addCapabilities, drop: sec.dropCapabilities,
                                              privileged: sec.privileged)
        var layers: [String] = []
        for l in image.layers { layers.append(await images.layerPath(l)) }
        let id = newID()
        // The rest reads and writes files and cgroups only: off the actor.
        cacheContainer(id, try await offActor { [self, layers] in
            try self.makeContainer(id: id, sandbox: sb, c, image: image, layers: layers, capabilities: caps)
        })
        return id
    }

    /// createContainer's blocking part: the container's directory, seccomp program, cgroup and
    /// record, from the sandbox and the image; removes what it made when it fails. Returns the
    /// record it wrote.
    private nonisolated func makeContainer(id: String, sandbox sb: SandboxRecord, _ c: ContainerConfig, image: ImageInfo,
                                           layers: [String], capabilities caps: [Int]) throws -> ContainerRecord {
        let sandboxID = sb.id
        let sec = c.security
        // Process: entrypoint/cmd as the kubelet combines them.
        var argv = c.command.isEmpty ? image.entrypoint : c.command
        argv += (c.command.isEmpty && c.args.isEmpty) ? image.cmd : c.args
        guard !argv.isEmpty else { throw RuntimeError(.invalidArgument, "container \(c.name): no command and the image has none") }
        var env = image.env
        for kv in c.envs {
            env.removeAll { $0.hasPrefix(kv.key + "=") }
            env.append(kv.key + "=" + kv.value)
        }
        if !env.contains(where: { $0.hasPrefix("HOSTNAME=") }) {
            env.append("HOSTNAME=" + (FileContents.string(atPath: sandboxDir(sandboxID) + "/hostname")?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
        }
        let (uid, gid) = try resolveUser(sec: sec, image: image, layers: layers, name: c.name)
        if sec.runAsNonRoot && uid == 0 {
            throw RuntimeError(.invalidArgument,
                               "container \(c.name) has runAsNonRoot and image \(c.image) will run as root (uid 0)")
        }
        let policy: SeccompPolicy?
        switch sec.privileged ? .unconfined : sec.seccomp {
        case .unconfined: policy = nil
        case .runtimeDefault: policy = .runtimeDefault(capabilities: caps)
        case .localhost(let path):
            guard let data = FileContents.data(atPath: path) else {
                throw RuntimeError(.notFound, "seccomp profile \(path) not found")
            }
            policy = try SeccompPolicy.parse(json: data, source: path)
        }
        let bpf = try policy?.compile()
        for m in c.mounts where !m.containerPath.hasPrefix("/") || m.containerPath.contains("..") {
            throw RuntimeError(.invalidArgument, "mount target \(m.containerPath) must be an absolute path without ..")
        }
        for m in c.mounts where !FileManager.default.fileExists(atPath: m.hostPath) {
            throw RuntimeError(.notFound, "mount source \(m.hostPath) for \(m.containerPath) does not exist")
        }
        var deviceRules: [String] = []
        for d in c.devices {
            var st = stat()
            guard stat(d.hostPath, &st) == 0, (st.st_mode & S_IFMT) == S_IFCHR || (st.st_mode & S_IFMT) == S_IFBLK else {
                throw RuntimeError(.invalidArgument, "device \(d.hostPath) is not a character or block device")
            }
            let kind = (st.st_mode & S_IFMT) == S_IFCHR ? "c" : "b"
            let dev = UInt64(st.st_rdev)
            let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
            let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
            deviceRules.append("\(kind) \(major):\(minor) \(d.permissions.isEmpty ? "rwm" : d.permissions)")
        }

        let dir = containerDir(id)
        let cg = sb.podCgroup + "/" + id
        let logPath = (sb.config.logDirectory.isEmpty || c.logPath.isEmpty) ? "" : sb.config.logDirectory + "/" + c.logPath
        do {
            for d in ["upper", "work", "merged", "state"] { try sys.mkdirAll(dir + "/" + d) }
            var seccompFile: String?
            if let bpf {
                seccompFile = dir + "/seccomp.bpf"
                try writeFileAtomically(seccompFile!, Data(bpf), durable: false)
            }
            try cgroups.create(cg, resources: c.resources)
            try cgroups.allowDevices(cg, rules: deviceRules)
            if !logPath.isEmpty { try sys.mkdirAll((logPath as NSString).deletingLastPathComponent) }
            let spec = ProcessSpec(
                args: argv, env: env, cwd: c.workingDir.isEmpty ? (image.workingDir.isEmpty ? "/" : image.workingDir) : c.workingDir,
                uid: uid, gid: gid, groups: [gid] + sec.supplementalGroups.filter { $0 != gid }, capabilities: caps, seccompFile: seccompFile,
                noNewPrivs: sec.noNewPrivs, maskedPaths: sec.maskedPaths ?? (sec.privileged ? [] : DefaultPaths.masked),
                readonlyPaths: sec.readonlyPaths ?? (sec.privileged ? [] : DefaultPaths.readonly))
            let record = ContainerRecord(id: id, sandboxID: sandboxID, config: c, imageID: image.id,
                                         imageRef: image.repoTags.first ?? image.id, layers: layers, createdAt: Date(),
                                         cgroup: cg, logPath: logPath, process: spec)
            try writeFileAtomically(dir + "/container.json", try JSONEncoder().encode(record))
            return record
        } catch {
            try? cgroups.destroy(cg)
            try? FileManager.default.removeItem(atPath: dir)
            throw error
        }
    }

    /// uid/gid from the security context or the image's USER, resolved against the image's /etc/passwd.
    private nonisolated func resolveUser(sec: SecurityContext, image: ImageInfo, layers: [String], name: String) throws -> (UInt32, UInt32) {
        var user = sec.runAsUsername ?? (sec.runAsUser.map(String.init) ?? image.user)
        var group: String?
        if let colon = user.firstIndex(of: ":") {
            group = String(user[user.index(after: colon)...])
            user = String(user[..<colon])
        }
        var uid: UInt32 = 0, gid: UInt32 = 0
        if user.isEmpty {
        } else if let n = UInt32(user) {
            uid = n
            gid = passwd(layers).first { $0.2 == n }?.3 ?? 0
        } else {
            guard let e = passwd(layers).first(where: { $0.0 == user }) else {
                throw RuntimeError(.invalidArgument, "container \(name): user \"\(user)\" not found in the image's /etc/passwd")
            }
            uid = e.2
            gid = e.3
        }
        if let g = group, let n = UInt32(g) { gid = n }
        if let g = sec.runAsGroup { gid = g }
        return (uid, gid)
    }

    private nonisolated func passwd(_ layers: [String]) -> [(String, String, UInt32, UInt32)] {
        for l in layers.reversed() {
            guard let text = FileContents.string(atPath: l + "/etc/passwd") else { continue }
            return text.split(separator: "\n").compactMap { line in
                let f = line.split(separator: ":", omittingEmptySubsequences: false)
                guard f.count >= 4, let u = UInt32(f[2]), let g = UInt32(f[3]) else { return nil }
                return (String(f[0]), String(f[1]), u, g)
            }
        }
        return []
    }

    package func startContainer(_ id: String) async throws {
        let r = try loadContainer(id)
        let sb = try loadSandbox(r.sandboxID)
        let dir = containerDir(id)
        if FileManager.default.fileExists(atPath: dir + "/state/state") {
            throw RuntimeError(.invalidState, "container \(id) was already started")
        }
        guard let pause = shimState(sandboxDir(sb.id) + "/pause/state"), pause.running else {
            throw RuntimeError(.invalidState, "pod sandbox \(sb.id) is not ready")
        }
        var shim = ShimConfig()
        shim.add("state_dir", dir + "/state")
        if !r.logPath.isEmpty { shim.add("log_path", r.logPath) }
        for f in cgroups.procsFiles(r.cgroup) { shim.add("cgroup", f) }
        shim.add("oom_file", cgroups.oomEventsFile(r.cgroup))
        try addProcess(&shim, r, joining: pause.pid, sandbox: sb.config, newMountNamespace: true)
        shim.add("rootfs", dir + "/merged")
        shim.add("overlay_lower", r.layers.reversed().joined(separator: ":"))
        shim.add("overlay_upper", dir + "/upper")
        shim.add("overlay_work", dir + "/work")
        if r.config.security.readonlyRootfs { shim.add("readonly_rootfs", "1") }
        if r.config.security.privileged { shim.add("sys_rw", "1") }
        let overridden = Set(r.config.mounts.map(\.containerPath))
        for f in ["hosts", "hostname", "resolv.conf"] where !overridden.contains("/etc/" + f) {
            shim.add("mount", "\(sandboxDir(sb.id))/\(f)\t/etc/\(f)\t\(r.config.security.readonlyRootfs ? "ro" : "rw")")
        }
        for m in r.config.mounts {
            let prop = m.propagation == .bidirectional ? "rshared" : m.propagation == .hostToContainer ? "rslave" : "rprivate"
            shim.add("mount", "\(m.hostPath)\t\(m.containerPath)\t\(m.readonly ? "ro" : "rw"),\(prop)")
        }
        for d in r.config.devices { shim.add("mount", "\(d.hostPath)\t\(d.containerPath)\trw") }
        for p in r.process.maskedPaths { shim.add("masked", p) }
        for p in r.process.readonlyPaths { shim.add("readonly", p) }
        if let adj = r.config.resources.oomScoreAdj { shim.add("oom_score_adj", String(adj)) }
        shim.add("attach", "1")
        if r.config.tty { shim.add("tty", "1") }
        if r.config.stdin { shim.add("stdin", "1") }
        if r.config.stdinOnce { shim.add("stdin_once", "1") }
        _ = try await startShim(shim, dir: dir + "/state", what: "container \(r.config.name)")
    }

    /// Namespaces (fixed order: user, pid, uts, ipc, net, cgroup, mnt), identity and the command.
    private func addProcess(_ shim: inout ShimConfig, _ r: ContainerRecord, joining pid: Int32, sandbox: PodSandboxConfig,
                            newMountNamespace: Bool, cmd: [String]? = nil) throws {
        if newMountNamespace {
            if !sandbox.hostPID {
                if sandbox.shareProcessNamespace { shim.add("setns", "pid\t/proc/\(pid)/ns/pid") } else { shim.add("unshare", "pid") }
            }
            if !sandbox.hostNetwork { shim.add("setns", "uts\t/proc/\(pid)/ns/uts") }
            if !sandbox.hostIPC { shim.add("setns", "ipc\t/proc/\(pid)/ns/ipc") }
            if !sandbox.hostNetwork { shim.add("setns", "net\t/proc/\(pid)/ns/net") }
            shim.add("unshare", "mnt")
        } else {
            for ns in ["pid", "uts", "ipc", "net", "mnt"] { shim.add("setns", "\(ns)\t/proc/\(pid)/ns/\(ns)") }
        }
        let p = r.process
        for a in cmd ?? p.args { shim.add("arg", a) }
        for e in p.env { shim.add("env", e) }
        shim.add("cwd", p.cwd)
        shim.add("uid", String(p.uid))
        shim.add("gid", String(p.gid))
        for g in p.groups { shim.add("group", String(g)) }
        for c in p.capabilities { shim.add("cap", String(c)) }
        if let s = p.seccompFile { shim.add("seccomp", s) }
        if p.noNewPrivs { shim.add("no_new_privs", "1") }
    }

    /// Writes the config, runs `swiftlet-shim run`, returns the process pid or the shim's error.
    private func startShim(_ shim: ShimConfig, dir: String, what: String) async throws -> Int32 {
        let cfg = dir + "/shim.conf"
        try writeFileAtomically(cfg, Data(shim.text.utf8), durable: false)
        let out = try await Spawn.run(config.shimPath, ["run", cfg], timeout: 60)
        let text = String(decoding: out.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard out.status == 0, text.hasPrefix("ok "), let pid = Int32(text.dropFirst(3)) else {
            var msg = String(decoding: out.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if msg.hasPrefix("err ") { msg.removeFirst(4) }
            throw RuntimeError(.startFailed, "\(what): \(msg.isEmpty ? "shim exited \(out.status)" : msg)")
        }
        return pid
    }

    package func stopContainer(_ id: String, timeout: Int) async throws {
        let r = try loadContainer(id)
        let statePath = containerDir(id) + "/state/state"
        guard let s = shimState(statePath), s.running else { return }
        if timeout > 0 {
            sys.kill(s.pid, SIGTERM)
            if await waitFinished(statePath, seconds: Double(timeout)) { return }
        }
        sys.kill(s.pid, SIGKILL)
        for p in cgroups.pids(r.cgroup) { sys.kill(p, SIGKILL) }
        if !(await waitFinished(statePath, seconds: 10)) {
            throw RuntimeError(.timeout, "container \(id) (pid \(s.pid)) did not exit after SIGKILL")
        }
    }

    private func waitFinished(_ statePath: String, seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            if let s = shimState(statePath), !s.running { return true }
            try? await Task.sleep(nanoseconds: 20_000_000)
        } while Date() < deadline
        return false
    }

    package func removeContainer(_ id: String) async throws {
        guard let r = try? loadContainer(id) else { return }
        try await stopContainer(id, timeout: 0)
        try cgroups.killAndDestroy(r.cgroup, syscalls: sys)
        cacheContainer(id, nil)
        shimStates[containerDir(id) + "/state/state"] = nil
        try FileManager.default.removeItem(atPath: containerDir(id))
    }

    package func containerStatus(_ id: String) async throws -> ContainerStatus {
        let r = try loadContainer(id)
        let s = shimState(containerDir(id) + "/state/state")
        var state = ContainerState.created, reason = "", message = "", code: Int32 = 0
        if let s {
            if s.running {
                state = .running
            } else {
                state = .exited
                code = s.finishedAt == nil ? 255 : s.exitCode
                if let rs = s.reason {
                    reason = rs
                } else if s.oomKilled {
                    reason = "OOMKilled"
                } else if s.finishedAt == nil {
                    reason = "Unknown"
                    message = "the shim died before recording an exit status"
                } else {
                    reason = code == 0 ? "Completed" : "Error"
                }
                message = s.message ?? message
            }
        }
        return ContainerStatus(
            id: id, sandboxID: r.sandboxID, name: r.config.name, attempt: r.config.attempt, image: r.config.image,
            imageRef: r.imageID, state: state, createdAt: r.createdAt, startedAt: s?.startedAt, finishedAt: s?.finishedAt,
            exitCode: code, reason: reason, message: message, logPath: r.logPath, pid: s?.pid ?? 0,
            labels: r.config.labels, annotations: r.config.annotations)
    }

    package func listContainers(sandboxID: String? = nil) async throws -> [ContainerStatus] {
        var out: [ContainerStatus] = []
        for id in ids("containers") {
            // by the (cached) record first: other sandboxes' state files are not read
            if let sandboxID, (sandboxOfContainer[id] ?? (try? loadContainer(id))?.sandboxID) != sandboxID { continue }
            if let s = try? await containerStatus(id) { out.append(s) }
        }
        return out
    }

    package func containerStats(_ id: String) async throws -> ContainerStats {
        let r = try loadContainer(id)
        guard let s = cgroups.stats(r.cgroup) else { throw RuntimeError(.notFound, "no cgroup stats for container \(id)") }
        return ContainerStats(id: id, cpuUsageNanos: s.cpuUsageNanos, memoryWorkingSetBytes: s.memoryWorkingSetBytes)
    }

    private func execConfig(_ id: String, cmd: [String], tty: Bool = false, sizeFollows: Bool = false) throws -> String {
        guard !cmd.isEmpty else { throw RuntimeError(.invalidArgument, "exec needs a command") }
        let r = try loadContainer(id)
        let sb = try loadSandbox(r.sandboxID)
        guard let s = shimState(containerDir(id) + "/state/state"), s.running else {
            throw RuntimeError(.invalidState, "container \(id) is not running")
        }
        var shim = ShimConfig()
        for f in cgroups.procsFiles(r.cgroup) { shim.add("cgroup", f) }
        try addProcess(&shim, r, joining: s.pid, sandbox: sb.config, newMountNamespace: false, cmd: cmd)
        if tty {
            shim.add("tty", "1")
            shim.add("control_fd", "3")
            if sizeFollows { shim.add("await_size", "1") }
        }
        let path = containerDir(id) + "/exec-\(newID()).conf"
        try writeFileAtomically(path, Data(shim.text.utf8), durable: false)
        return path
    }

    package func execSync(_ id: String, cmd: [String], timeout: Int) async throws -> ExecResult {
        let cfg = try execConfig(id, cmd: cmd)
        defer { unlink(cfg) }
        let out = try await Spawn.run(config.shimPath, ["exec", cfg], timeout: Double(timeout))
        if out.timedOut {
            throw RuntimeError(.timeout, "exec \(cmd.joined(separator: " ")) in container \(id) timed out after \(timeout)s")
        }
        return ExecResult(stdout: out.stdout, stderr: out.stderr, exitCode: out.status)
    }

    package func exec(_ id: String, cmd: [String], tty: Bool, sizeFollows: Bool) async throws -> ExecSession {
        let cfg = try execConfig(id, cmd: cmd, tty: tty, sizeFollows: sizeFollows)
        do { return try ExecSession(shim: config.shimPath, config: cfg, tty: tty) } catch {
            unlink(cfg)
            throw error
        }
    }

    package func attach(_ id: String, stdin: Bool) async throws -> AttachSession {
        _ = try loadContainer(id)
        let dir = containerDir(id) + "/state"
        guard let s = shimState(dir + "/state"), s.running else {
            throw RuntimeError(.invalidState, "container \(id) is not running")
        }
        return try AttachSession(stateDir: dir, stdin: stdin)
    }

    package func reopenContainerLog(_ id: String) async throws {
        _ = try loadContainer(id)
        guard let s = shimState(containerDir(id) + "/state/state"), s.running else {
            throw RuntimeError(.invalidState, "container \(id) is not running")
        }
        sys.kill(s.shimPid, SIGUSR1)
    }
}
