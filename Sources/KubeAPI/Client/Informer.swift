import Foundation

/// What a shared informer tells its handlers.
public enum InformerEvent<T: KubeObject>: Sendable {
    case added(T)
    case updated(old: T, new: T)
    case deleted(T)

    /// The object the event is about: its new state for an update.
    public var object: T {
        switch self {
        case .added(let o), .deleted(let o), .updated(_, let o): return o
        }
    }
}

/// Lists, then watches from the list's resourceVersion; when a watch ends it resumes from the
/// last resourceVersion seen (bookmarks included); on 410 Gone it relists and reconciles the
/// cache, emitting the differences. Handlers run in order, one event at a time. A resync
/// period re-delivers every cached object as an update, as client-go's informers do.
public actor Informer<T: KubeObject> {
    public typealias Handler = @Sendable (InformerEvent<T>) async -> Void

    let client: APIClient
    let namespace: String?
    let labelSelector: String?
    let fieldSelector: String?
    let resyncPeriod: Duration?
    let stripManagedFields: Bool
    private var cache: [String: T] = [:]
    private var handlers: [Handler] = []
    private var syncWaiters: [CheckedContinuation<Void, Never>] = []
    public private(set) var hasSynced = false
    public private(set) var lastResourceVersion = ""
    /// Counters for tests and metrics.
    /// The last list/watch failure, for diagnostics.
    public private(set) var lastError: String?
    public private(set) var lists = 0
    public private(set) var watches = 0
    /// Watched objects that did not decode as `T` (skipped; `lastError` says why).
    public private(set) var undecodable = 0

    /// `stripManagedFields` drops `metadata.managedFields` from listed and watched objects before
    /// they are decoded, as kube-scheduler's and kube-controller-manager's informers do: they
    /// never read them, and they are a large part of every object (the API server keeps the
    /// live ones when an update leaves them out).
    public init(client: APIClient, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
                resyncPeriod: Duration? = nil, stripManagedFields: Bool = false)
    {
        self.client = client
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.resyncPeriod = resyncPeriod
        self.stripManagedFields = stripManagedFields
    }

    public func addHandler(_ h: @escaping Handler) { handlers.append(h) }

    public func get(namespace: String?, name: String) -> T? { cache[Self.key(namespace, name)] }
    public func list() -> [T] { cache.keys.sorted().compactMap { cache[$0] } }
    /// Cached objects (in no particular order), optionally only those in `namespace`.
    public func items(namespace: String? = nil) -> [T] {
        guard let namespace else { return Array(cache.values) }
        return cache.values.filter { $0.metadata.namespace == namespace }
    }
    /// Cached objects matching `predicate`, in no particular order.
    public func filter(_ predicate: (T) -> Bool) -> [T] { cache.values.filter(predicate) }
    public var count: Int { cache.count }

    public func waitForSync() async {
        if hasSynced { return }
        await withCheckedContinuation { syncWaiters.append($0) }
    }

    static func key(_ ns: String?, _ name: String) -> String { (ns ?? "") + "/" + name }

    private func emit(_ e: InformerEvent<T>) async {
        for h in handlers { await h(e) }
    }

    /// Runs until the task is cancelled.
    public func run() async {
        var backoff: Duration = .milliseconds(100)
        let resync = resyncPeriod.map { period in
            Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: period)
                    await self?.resyncAll()
                }
            }
        }
        defer { resync?.cancel() }
        var needList = true
        while !Task.isCancelled {
            do {
                if needList {
                    try await relist()
                    needList = false
                }
                try await watchOnce()
                backoff = .milliseconds(100)
            } catch let s as Status where s.code == 410 {
                needList = true
            } catch {
                if Task.isCancelled { return }
                lastError = "\(T.resource): \(error)"
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }

    private func resyncAll() async {
        for o in list() { await emit(.updated(old: o, new: o)) }
    }

    func relist() async throws {
        lists += 1
        var fresh: [String: T] = [:]
        var token: String? = nil
        var rv = ""
        repeat {
            let page = try await client.list(T.self, namespace: namespace, labelSelector: labelSelector,
                                              fieldSelector: fieldSelector, limit: 500, continueToken: token,
                                              dropManagedFields: stripManagedFields)
            for item in page.items { fresh[Self.key(item.metadata.namespace, item.name)] = item }
            token = page.metadata?.continue
            rv = page.metadata?.resourceVersion ?? rv
        } while token != nil && !(token ?? "").isEmpty
        let old = cache
        cache = fresh
        lastResourceVersion = rv
        for (k, o) in old where fresh[k] == nil { await emit(.deleted(o)) }
        for k in fresh.keys.sorted() {
            let n = fresh[k]!
            if let o = old[k] {
                if o.metadata.resourceVersion != n.metadata.resourceVersion { await emit(.updated(old: o, new: n)) }
            } else {
                await emit(.added(n))
            }
        }
        if !hasSynced {
            hasSynced = true
            for w in syncWaiters { w.resume() }
            syncWaiters = []
        }
    }

    func watchOnce() async throws {
        watches += 1
        let stream = try await client.watch(T.self, namespace: namespace, resourceVersion: lastResourceVersion,
                                            labelSelector: labelSelector, fieldSelector: fieldSelector, timeoutSeconds: 300)
        for try await ev in stream {
            if ev.type == "ERROR" {
                if let s = try? JSONValueDecoder().decode(Status.self, from: ev.object) { throw s }
                throw Status(message: "watch error", reason: "Unknown", code: 500)
            }
            if let rv = ev.resourceVersion { lastResourceVersion = rv }
            if ev.type == "BOOKMARK" { continue }
            var raw = ev.object
            if stripManagedFields { raw.setValue(Optional<JSONValue>.none, at: ["metadata", "managedFields"]) }
            let obj: T
            do {
                obj = try JSONValueDecoder().decode(T.self, from: raw)
            } catch {
                // skipped, as client-go's reflector skips what it cannot decode, but not silently
                undecodable += 1
                let name = raw.value(at: ["metadata", "name"])?.stringValue ?? "?"
                lastError = "\(T.resource): \(ev.type) event for \(name) does not decode: \(error)"
                continue
            }
            let k = Self.key(obj.metadata.namespace, obj.name)
            switch ev.type {
            case "ADDED", "MODIFIED":
                let old = cache[k]
                cache[k] = obj
                if let old { await emit(.updated(old: old, new: obj)) } else { await emit(.added(obj)) }
            case "DELETED":
                let old = cache.removeValue(forKey: k)
                await emit(.deleted(old ?? obj))
            default: break
            }
        }
    }
}
