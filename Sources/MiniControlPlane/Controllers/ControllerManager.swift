import Foundation
public import KubeAPI
public import Logging

/// One informer per kind, shared by every controller of a controller manager, as client-go's
/// SharedInformerFactory does: a kind is listed and watched once however many controllers use it.
public final class SharedInformers: @unchecked Sendable {
    public let client: APIClient
    private let lock = NSLock()
    private var informers: [ObjectIdentifier: any Sendable] = [:]
    private var runners: [@Sendable () async -> Void] = []
    private var syncers: [@Sendable () async -> Void] = []
    private var reporters: [@Sendable () async -> (synced: Bool, error: String?)] = []

    public init(client: APIClient) { self.client = client }

    public func informer<T: KubeObject>(_ type: T.Type) -> Informer<T> {
        lock.withLock {
            if let i = informers[ObjectIdentifier(T.self)] as? Informer<T> { return i }
            let i = Informer<T>(client: client, stripManagedFields: true)
            informers[ObjectIdentifier(T.self)] = i
            runners.append { await i.run() }
            syncers.append { await i.waitForSync() }
            reporters.append { (await i.hasSynced, await i.lastError) }
            return i
        }
    }

    /// Runs every informer created so far until the task is cancelled.
    public func run() async {
        let rs = lock.withLock { runners }
        await withTaskGroup(of: Void.self) { g in
            for r in rs { g.addTask { await r() } }
        }
    }

    public func waitForSync() async {
        let ss = lock.withLock { syncers }
        for s in ss { await s() }
    }

    /// Why informers have not synced yet (their last errors), for logs.
    public func unsynced() async -> [String] {
        var out: [String] = []
        for r in lock.withLock({ reporters }) {
            let (synced, error) = await r()
            if !synced { out.append(error ?? "listing") }
        }
        return out
    }
}

/// A controller: registers its informer handlers, then `run` works its queue of
/// `namespace/name` keys with `sync`.
protocol Controller: Sendable {
    static var name: String { get }
    var ctx: ControllerContext { get }
    var queue: WorkQueue<String> { get }
    /// Adds the informer handlers; called before the informers start.
    func register() async
    func sync(_ key: String) async throws
    func run(workers: Int) async
}

extension Controller {
    func run(workers: Int) async {
        await runWorkers(queue, workers: workers, name: Self.name, logger: ctx.logger) { key in
            try await self.sync(key)
        }
    }
}

public struct ControllerManagerOptions: Sendable {
    /// Controller names; `*` means all, `-name` disables one (as kube-controller-manager's --controllers).
    public var controllers: [String] = ["*"]
    public var workers = 5
    public var nodeMonitorGracePeriod: Duration = .seconds(40)
    public var nodeMonitorPeriod: Duration = .seconds(5)
    public init() {}

    public func enabled(_ name: String) -> Bool {
        if controllers.contains("-" + name) { return false }
        return controllers.contains("*") || controllers.contains(name)
    }
}

/// kube-controller-manager: the controllers, each a level-triggered loop over a work queue fed
/// by shared informers.
public struct ControllerManager: Sendable {
    public static let allControllers = [
        ReplicaSetController.name, DeploymentController.name, StatefulSetController.name, DaemonSetController.name,
        JobController.name, EndpointsController.name, EndpointSliceController.name, NodeLifecycleController.name,
        GarbageCollector.name, ServiceAccountController.name,
    ]

    public let client: APIClient
    public let options: ControllerManagerOptions
    public let logger: Logger
    public let identity: String

    public init(client: APIClient, options: ControllerManagerOptions = .init(), identity: String,
                logger: Logger = Logger(label: "swiftlet.controller-manager"))
    {
        self.client = client
        self.options = options
        self.identity = identity
        self.logger = logger
    }

    /// Runs the enabled controllers until the task is cancelled.
    public func run() async {
        let informers = SharedInformers(client: client)
        let ctx = ControllerContext(client: client, informers: informers, logger: logger, options: options)
        var controllers: [any Controller] = []
        if options.enabled(ReplicaSetController.name) { controllers.append(ReplicaSetController(ctx)) }
        if options.enabled(DeploymentController.name) { controllers.append(DeploymentController(ctx)) }
        if options.enabled(StatefulSetController.name) { controllers.append(StatefulSetController(ctx)) }
        if options.enabled(DaemonSetController.name) { controllers.append(DaemonSetController(ctx)) }
        if options.enabled(JobController.name) { controllers.append(JobController(ctx)) }
        if options.enabled(EndpointsController.name) { controllers.append(EndpointsController(ctx)) }
        if options.enabled(EndpointSliceController.name) { controllers.append(EndpointSliceController(ctx)) }
        if options.enabled(NodeLifecycleController.name) { controllers.append(NodeLifecycleController(ctx)) }
        if options.enabled(GarbageCollector.name) { controllers.append(GarbageCollector(ctx)) }
        if options.enabled(ServiceAccountController.name) { controllers.append(ServiceAccountController(ctx)) }
        for c in controllers { await c.register() }
        logger.info("starting controllers: \(controllers.map { type(of: $0).name }.joined(separator: ", "))")
        let workers = options.workers
        let all = controllers
        await withTaskGroup(of: Void.self) { g in
            g.addTask { await informers.run() }
            let log = logger
            let watchdog = Task {
                try await Task.sleep(for: .seconds(10))
                let waiting = await informers.unsynced()
                if !waiting.isEmpty { log.warning("controller informers not synced after 10s: \(waiting.joined(separator: "; "))") }
            }
            defer { watchdog.cancel() }
            g.addTask {
                await informers.waitForSync()
                await withTaskGroup(of: Void.self) { cg in
                    for c in all { cg.addTask { await c.run(workers: workers) } }
                }
            }
            await g.next()
            g.cancelAll()
        }
        await ctx.shutdownRecorders()
    }
}

/// What every controller is built from.
public struct ControllerContext: Sendable {
    public let client: APIClient
    public let informers: SharedInformers
    public let logger: Logger
    public let options: ControllerManagerOptions
    private let recorders = RecorderSet()

    init(client: APIClient, informers: SharedInformers, logger: Logger, options: ControllerManagerOptions) {
        self.client = client
        self.informers = informers
        self.logger = logger
        self.options = options
    }

    /// An event recorder for one controller, named as upstream's (`deployment-controller`, …),
    /// which is what `kubectl get events -o wide` shows as the source.
    func makeRecorder(_ component: String) -> EventRecorder { recorders.make(client: client, component: component) }

    /// Writes every queued event, then stops the recorders.
    func shutdownRecorders() async {
        for r in recorders.all() { await r.shutdown() }
    }
}

final class RecorderSet: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [EventRecorder] = []
    func make(client: APIClient, component: String) -> EventRecorder {
        let r = EventRecorder(client: client, component: component)
        lock.withLock { items.append(r) }
        return r
    }
    func all() -> [EventRecorder] { lock.withLock { items } }
}

/// Works `queue` with `workers` concurrent loops until the task is cancelled. A failed sync is
/// retried with the queue's per-key backoff; a successful one forgets the key's failures.
func runWorkers(_ queue: WorkQueue<String>, workers: Int, name: String, logger: Logger,
                sync: @escaping @Sendable (String) async throws -> Void) async
{
    await withTaskCancellationHandler {
        await withTaskGroup(of: Void.self) { g in
            for _ in 0..<max(1, workers) {
                g.addTask {
                    while let key = await queue.get() {
                        do {
                            try await sync(key)
                            await queue.forget(key)
                        } catch {
                            if !Task.isCancelled {
                                logger.debug("\(name): sync \(key) failed, retrying: \(error)")
                                await queue.addRateLimited(key)
                            }
                        }
                        await queue.done(key)
                    }
                }
            }
        }
    } onCancel: {
        Task { await queue.shutDown() }
    }
}

/// `namespace/name`, the work queue key of a namespaced object.
func queueKey<T: KubeObject>(_ o: T) -> String { (o.metadata.namespace ?? "") + "/" + o.name }

/// The queue key of the `kind` object that controls `p`, if one does.
func controllerKey(of p: Pod, kind: String) -> String? {
    guard let ref = p.metadata.controllerRef, ref.kind == kind else { return nil }
    return (p.metadata.namespace ?? "") + "/" + ref.name
}

func splitKey(_ key: String) -> (namespace: String, name: String) {
    guard let i = key.firstIndex(of: "/") else { return ("", key) }
    return (String(key[..<i]), String(key[key.index(after: i)...]))
}

func isNotFound(_ error: any Error) -> Bool { (error as? Status)?.code == 404 }
func isConflict(_ error: any Error) -> Bool { (error as? Status)?.code == 409 && (error as? Status)?.reason == "Conflict" }
func isAlreadyExists(_ error: any Error) -> Bool { (error as? Status)?.reason == "AlreadyExists" }
