/// One key's value at a revision, as etcd returns it.
public struct KeyValue: Sendable {
    public var key: String
    public var value: [UInt8]
    public var createRevision: Int64
    public var modRevision: Int64
}

public enum StoreEventType: Sendable {
    case added, modified, deleted
}

/// A change at a revision. For deletes, `value` is the last value before deletion.
public struct StoreEvent: Sendable {
    public var type: StoreEventType
    public var kv: KeyValue
    /// The value before a modification, so watchers can tell objects entering or leaving a selector.
    public var prevValue: [UInt8]? = nil
    public var revision: Int64 { kv.modRevision }
}

public enum StoreError: Error, Sendable, Equatable {
    case keyExists(String)
    case notFound(String)
    /// The key's current modRevision differs from the one the caller expected.
    case conflict(key: String, current: Int64)
    /// The revision asked for was compacted away.
    case compacted(requested: Int64, compacted: Int64)
    case io(String)
}

/// A change the caller makes to a key inside one transaction. The closure receives the
/// revision the write will get, so the value can embed it as `resourceVersion`.
public enum StoreWrite: Sendable {
    /// Fails with `keyExists` when the key is present.
    case create(key: String, value: @Sendable (Int64) throws -> [UInt8])
    /// Fails with `notFound` or, if `expected` is set and differs, `conflict`.
    case update(key: String, expected: Int64?, value: @Sendable (Int64) throws -> [UInt8])
    /// Fails with `notFound` or `conflict` the same way.
    case delete(key: String, expected: Int64?)

    var key: String {
        switch self {
        case .create(let k, _), .update(let k, _, _), .delete(let k, _): return k
        }
    }
}

/// etcd-shaped storage: keys such as `/registry/pods/<ns>/<name>`, one global revision that
/// increases with every write (the resourceVersion), watch from a revision, compaction.
public protocol Store: Sendable {
    /// The newest revision written.
    func currentRevision() async -> Int64
    /// The oldest revision that can still be watched from.
    func compactedRevision() async -> Int64
    /// Reads answer from the durable state on the caller's thread, without waiting for writes
    /// in progress (as kube-apiserver's watch cache answers them).
    func get(_ key: String) -> KeyValue?
    /// Keys under `prefix` in key order, with the revision the list reflects.
    func list(prefix: String) -> (items: [KeyValue], revision: Int64)
    /// Counts keys under `prefix`.
    func count(prefix: String) -> Int
    /// Applies one write durably; returns the resulting key-value (the previous one for deletes).
    func write(_ op: StoreWrite) async throws -> KeyValue
    /// The same write for callers that are not tasks (an event loop answering a request):
    /// `completion` runs once the write is durable or has failed, on the store's own context,
    /// so it must only hand the result on.
    func submit(_ op: StoreWrite, completion: @escaping @Sendable (Result<KeyValue, any Error>) -> Void)
    /// Events for keys under `prefix` with revision > `after`, then live ones, until the
    /// stream is cancelled. Throws `compacted` when `after` is older than the compaction point.
    /// Events come in revision order, in batches (as etcd's watch responses carry several):
    /// the replayed history in one, then those of each commit together, so a watcher wakes
    /// once per commit, not once per write.
    func watch(prefix: String, after: Int64) async throws -> AsyncStream<[StoreEvent]>
    /// Forgets history older than `revision`.
    func compact(_ revision: Int64) async throws
}
