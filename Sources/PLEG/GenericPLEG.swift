import Foundation
import Glibc
package import Runtime

/// The pod lifecycle event generator: compares what the runtime reports with what it reported
/// last time ("relist") and emits the differences. Relists run when the runtime's state
/// directory changes (inotify on the shims' state files: a container's death is seen within
/// milliseconds) and periodically as a safety net; the time of the last completed relist is
/// the PLEG's health.
package actor GenericPLEG {
    private struct Record: Equatable {
        var podUID: String
        var state: String
    }

    private let runtime: any ContainerRuntime
    private let relistPeriod: Duration
    private let watcher: StateDirWatcher?
    private var previous: [String: Record] = [:]
    private var continuation: AsyncStream<PodLifecycleEvent>.Continuation
    /// Events for the pod workers, in the order the relists found them.
    package nonisolated let events: AsyncStream<PodLifecycleEvent>
    package private(set) var lastRelist: ContinuousClock.Instant?
    package private(set) var relists = 0

    /// `stateRoot`: the runtime's state root (`LinuxRuntime.config.root`) to watch; nil relists only periodically.
    package init(runtime: any ContainerRuntime, stateRoot: String?, relistPeriod: Duration = .seconds(1)) {
        self.runtime = runtime
        self.relistPeriod = relistPeriod
        self.watcher = stateRoot.flatMap { StateDirWatcher(root: $0) }
        (events, continuation) = AsyncStream.makeStream(of: PodLifecycleEvent.self, bufferingPolicy: .unbounded)
    }

    /// Healthy when a relist completed within `threshold` (the kubelet uses 3 minutes).
    package func healthy(threshold: Duration = .seconds(180)) -> (Bool, String) {
        guard let last = lastRelist else { return (true, "") }
        let age = ContinuousClock.now - last
        if age > threshold {
            return (false, "PLEG is not healthy: pleg was last seen active \(Int(age.components.seconds))s ago; threshold is \(Int(threshold.components.seconds))s")
        }
        return (true, "")
    }

    /// Runs until cancelled: relists on state-directory changes and every `relistPeriod`.
    package func run() async {
        let wakeups = watcher?.start()
        await withTaskGroup(of: Void.self) { group in
            if let wakeups {
                group.addTask { [weak self] in
                    for await _ in wakeups {
                        guard let self else { return }
                        await self.relist()
                        // Coalesce bursts (many pods starting): at most ~20 relists a second.
                        try? await Task.sleep(for: .milliseconds(50))
                    }
                }
            }
            group.addTask { [weak self, relistPeriod] in
                while !Task.isCancelled {
                    guard let self else { return }
                    await self.relist()
                    try? await Task.sleep(for: relistPeriod)
                }
            }
            await group.waitForAll()
        }
        watcher?.stop()
        continuation.finish()
    }

    /// One relist: emits an event for every container or sandbox whose state changed.
    package func relist() async {
        guard let containers = try? await runtime.listContainers(sandboxID: nil),
            let sandboxes = try? await runtime.listPodSandbox()
        else { return }
        var current: [String: Record] = [:]
        for c in containers {
            current[c.id] = Record(podUID: c.labels[podUIDLabel] ?? "", state: c.state.rawValue)
        }
        for s in sandboxes {
            current[s.id] = Record(podUID: s.config.labels[podUIDLabel] ?? s.config.uid,
                                   state: s.state == .ready ? ContainerState.running.rawValue : ContainerState.exited.rawValue)
        }
        for (id, now) in current.sorted(by: { $0.key < $1.key }) {
            let before = previous[id]
            guard before != now else { continue }
            if let e = Self.event(id: id, before: before?.state, now: now.state, podUID: now.podUID) { continuation.yield(e) }
        }
        for (id, old) in previous where current[id] == nil {
            continuation.yield(PodLifecycleEvent(podUID: old.podUID, type: .containerRemoved, id: id))
        }
        previous = current
        watcher?.watchNew(containers.map(\.id), sandboxes.map(\.id))
        lastRelist = .now
        relists += 1
    }

    static func event(id: String, before: String?, now: String, podUID: String) -> PodLifecycleEvent? {
        let running = ContainerState.running.rawValue, exited = ContainerState.exited.rawValue
        switch (before, now) {
        case (_, running): return PodLifecycleEvent(podUID: podUID, type: .containerStarted, id: id)
        case (_, exited): return PodLifecycleEvent(podUID: podUID, type: .containerDied, id: id)
        default: return PodLifecycleEvent(podUID: podUID, type: .containerChanged, id: id)
        }
    }
}

/// inotify on the runtime's state root: `containers/`, `sandboxes/` and each container's and
/// sandbox's shim state directory (the shim renames its state file into place on start and exit).
final class StateDirWatcher: @unchecked Sendable {
    private let root: String
    private let fd: Int32
    private let lock = NSLock()
    private var watched: Set<String> = []
    private var stopped = false
    private var thread: Thread?

    init?(root: String) {
        self.root = root
        fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        if fd < 0 { return nil }
        for d in ["containers", "sandboxes"] { add(root + "/" + d) }
    }

    private func add(_ path: String) {
        let mask = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_CLOSE_WRITE)
        if inotify_add_watch(fd, path, mask) >= 0 { watched.insert(path) }
    }

    /// Adds watches for state directories not yet watched.
    func watchNew(_ containers: [String], _ sandboxes: [String]) {
        lock.withLock {
            for id in containers where !watched.contains(root + "/containers/\(id)/state") { add(root + "/containers/\(id)/state") }
            for id in sandboxes where !watched.contains(root + "/sandboxes/\(id)/pause") { add(root + "/sandboxes/\(id)/pause") }
            // Forget directories that are gone (the kernel dropped their watches).
            watched = watched.filter { FileManager.default.fileExists(atPath: $0) }
        }
    }

    /// A stream that yields (coalesced) whenever something under the root changed.
    func start() -> AsyncStream<Void> {
        let (stream, cont) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let t = Thread { [self] in
            var buf = [UInt8](repeating: 0, count: 64 * 1024)
            while !lock.withLock({ stopped }) {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let r = poll(&p, 1, 250)
                if r <= 0 { continue }
                let n = read(fd, &buf, buf.count)
                if n > 0, Self.relevant(buf, count: n) { cont.yield(()) }
            }
            cont.finish()
        }
        t.name = "pleg-inotify"
        thread = t
        t.start()
        return stream
    }

    /// Whether a batch of inotify events holds one that is not about a temp file (the shim
    /// writes `state.tmp` and then renames it: only the rename means the state changed).
    static func relevant(_ buf: [UInt8], count: Int) -> Bool {
        var off = 0
        let header = MemoryLayout<inotify_event>.size
        while off + header <= count {
            let len = buf.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: off + 12, as: UInt32.self)) }
            let nameBytes = buf[(off + header)..<min(off + header + len, count)].prefix { $0 != 0 }
            let name = String(decoding: nameBytes, as: UTF8.self)
            if !name.hasSuffix(".tmp") { return true }
            off += header + len
        }
        return false
    }

    func stop() {
        lock.withLock { stopped = true }
    }

    deinit { close(fd) }
}
