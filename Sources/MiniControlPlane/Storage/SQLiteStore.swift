import Foundation
import GRDB
import Synchronization

/// The default `Store`: SQLite through GRDB in WAL mode with `synchronous=FULL`, so every
/// acknowledged write survives SIGKILL and power loss.
///
/// Writes are group-committed: requests that arrive while a transaction is being written
/// queue up and go together in the next one, each with its own revision. Reads are served
/// from an in-memory copy of the key space (the "watch cache" of the Kubernetes API server),
/// which is only updated after the transaction is durable. Watch history is the `log`
/// table, mirrored in memory back to the compaction point.
///
/// `get`, `list` and `count` read that copy under a lock, on the caller's thread: every
/// create (its namespace) and every patch (the object) reads once before it writes, and a
/// hop onto the actor and back cost more than the read.
public actor SQLiteStore: Store {
    private struct Entry {
        var value: [UInt8]
        var createRevision: Int64
        var modRevision: Int64
    }

    private struct Pending {
        var op: StoreWrite
        var completion: @Sendable (Result<KeyValue, any Error>) -> Void
    }

    /// Writes waiting for the next transaction, and whether a flush is running to take them.
    private struct Queue {
        var pending: [Pending] = []
        var flushing = false
    }

    private struct Watcher {
        var prefix: String
        var continuation: AsyncStream<[StoreEvent]>.Continuation
    }

    private let db: DatabaseQueue
    /// What reads see: the durable key space and its revision, changed together.
    private struct View {
        /// Buckets by resource prefix (`/registry/pods/`) so lists only scan their own kind.
        var buckets: [String: [String: Entry]] = [:]
        var revision: Int64 = 0
    }

    private let view = Mutex(View())
    /// The newest durable revision.
    private nonisolated var revision: Int64 { view.withLock { $0.revision } }
    private var compacted: Int64 = 0
    private var history: [StoreEvent] = []
    private nonisolated let queue = Mutex(Queue())
    private var watchers: [UUID: Watcher] = [:]
    /// History kept in memory and on disk, in revisions, before automatic compaction.
    private let historyLimit: Int

    /// Opens (or creates) the database at `path`; `":memory:"` gives a throwaway store.
    public init(path: String, historyLimit: Int = 100_000) throws {
        var config = Configuration()
        config.prepareDatabase { db in
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA journal_mode = WAL")
            }
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        if path == ":memory:" {
            db = try DatabaseQueue(configuration: config)
        } else {
            db = try DatabaseQueue(path: path, configuration: config)
        }
        self.historyLimit = historyLimit
        try db.write { db in try Self.prepareSchema(db) }
        var loaded: [String: [String: Entry]] = [:]
        var rev: Int64 = 0
        var comp: Int64 = 0
        var hist: [StoreEvent] = []
        try db.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT c.key, l.value, c.create_rev, c.mod_rev FROM current c JOIN log l ON l.rev = c.mod_rev
                """)
            while let row = try rows.next() {
                let key: String = row[0]
                let data: Data = row[1]
                let e = Entry(value: [UInt8](data), createRevision: row[2], modRevision: row[3])
                loaded[Self.bucket(of: key), default: [:]][key] = e
                rev = max(rev, e.modRevision)
            }
            if let r = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE name = 'revision'") { rev = max(rev, r) }
            comp = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE name = 'compacted'") ?? 0
            rev = max(rev, comp)
            // rows at or below the compaction point are kept only as current values, not history
            let logRows = try Row.fetchCursor(db, sql: "SELECT rev, key, type, value, create_rev FROM log WHERE rev > ? ORDER BY rev",
                                              arguments: [comp])
            while let row = try logRows.next() {
                let t: Int = row[2]
                let data: Data = row[3]
                let kv = KeyValue(key: row[1], value: [UInt8](data), createRevision: row[4], modRevision: row[0])
                hist.append(StoreEvent(type: t == 0 ? .added : t == 1 ? .modified : .deleted, kv: kv))
                rev = max(rev, kv.modRevision)
            }
        }
        view.withLock { $0 = View(buckets: loaded, revision: rev) }
        compacted = comp
        history = hist
    }

    /// The layout: every value is written once, as a row of `log` (rev, key, type, value,
    /// create_rev); `current` maps each live key to the revision holding its value. History is
    /// the log above the compaction point; compaction deletes log rows at or below it except
    /// those that are still some key's current value. The revision is the newest log row or the
    /// compaction point, so a commit writes nothing but its log rows and `current` entries.
    ///
    /// Stores made before this layout kept a copy of each value in a `kv` table; they are
    /// moved over in one transaction (values whose log row was compacted away go back into the
    /// log under their own revision).
    static func prepareSchema(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE IF NOT EXISTS log (rev INTEGER PRIMARY KEY NOT NULL, key TEXT NOT NULL,
                  type INTEGER NOT NULL, value BLOB NOT NULL, create_rev INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS current (key TEXT PRIMARY KEY NOT NULL, create_rev INTEGER NOT NULL,
                  mod_rev INTEGER NOT NULL) WITHOUT ROWID;
                """)
        guard try db.tableExists("kv") else { return }
        try db.execute(
            sql: """
                INSERT OR IGNORE INTO log (rev, key, type, value, create_rev)
                  SELECT mod_rev, key, CASE WHEN mod_rev = create_rev THEN 0 ELSE 1 END, value, create_rev FROM kv;
                INSERT OR REPLACE INTO current (key, create_rev, mod_rev) SELECT key, create_rev, mod_rev FROM kv;
                DROP TABLE kv;
                """)
    }

    static func bucket(of key: String) -> String {
        // "/registry/pods/ns/name" → "/registry/pods/"; CRDs: "/registry/<group>/<plural>/…".
        // On the UTF-8 view: with Foundation imported, `String.contains(".")` is CFStringFind.
        let u = key.utf8
        var slashes = 0, dotted = false
        var third: String.Index?
        var idx = u.startIndex
        while idx < u.endIndex {
            let c = u[idx]
            if c == UInt8(ascii: "/") {
                slashes += 1
                if slashes == 3 && !dotted || slashes == 4 { return String(key[...idx]) }
                if slashes == 3 { third = idx }
            } else if c == UInt8(ascii: "."), slashes == 2 {
                dotted = true  // group-qualified: one more segment
            }
            idx = u.index(after: idx)
        }
        return third.map { String(key[...$0]) } ?? key
    }

    public func currentRevision() -> Int64 { revision }
    public func compactedRevision() -> Int64 { compacted }

    private nonisolated func entry(_ key: String) -> Entry? {
        let b = Self.bucket(of: key)
        return view.withLock { $0.buckets[b]?[key] }
    }

    public nonisolated func get(_ key: String) -> KeyValue? {
        guard let e = entry(key) else { return nil }
        return KeyValue(key: key, value: e.value, createRevision: e.createRevision, modRevision: e.modRevision)
    }

    /// The buckets that can hold keys under `prefix`, copied out (a reference each) to be walked
    /// outside the lock, and the revision they reflect.
    private nonisolated func buckets(under prefix: String) -> (buckets: [[String: Entry]], revision: Int64) {
        view.withLock { v in (v.buckets.filter { b, _ in b.hasPrefix(prefix) || prefix.hasPrefix(b) }.map(\.value), v.revision) }
    }

    public nonisolated func list(prefix: String) -> (items: [KeyValue], revision: Int64) {
        let (matching, rev) = buckets(under: prefix)
        var out: [KeyValue] = []
        for entries in matching {
            for (k, e) in entries where k.hasPrefix(prefix) {
                out.append(KeyValue(key: k, value: e.value, createRevision: e.createRevision, modRevision: e.modRevision))
            }
        }
        out.sort { $0.key < $1.key }
        return (out, rev)
    }

    public nonisolated func count(prefix: String) -> Int {
        var n = 0
        for entries in buckets(under: prefix).buckets {
            n += entries.keys.lazy.filter { $0.hasPrefix(prefix) }.count
        }
        return n
    }

    public nonisolated func write(_ op: StoreWrite) async throws -> KeyValue {
        try await withCheckedThrowingContinuation { cont in
            submit(op) { cont.resume(with: $0) }
        }
    }

    public nonisolated func submit(_ op: StoreWrite, completion: @escaping @Sendable (Result<KeyValue, any Error>) -> Void) {
        let start = queue.withLock { q in
            q.pending.append(Pending(op: op, completion: completion))
            defer { q.flushing = true }
            return !q.flushing
        }
        if start { Task { await self.flushLoop() } }
    }

    /// The writes queued so far; none left ends the flush (under the same lock, so a write
    /// queued just after starts the next one).
    private nonisolated func takeBatch() -> [Pending] {
        queue.withLock { q in
            defer { q.pending = [] }
            if q.pending.isEmpty { q.flushing = false }
            return q.pending
        }
    }

    private enum RowOp: Sendable {
        case put(key: String, value: Data, createRev: Int64, modRev: Int64, type: Int)
        case delete(key: String, prev: Data, createRev: Int64, rev: Int64)
    }

    private func flushLoop() async {
        while true {
            let batch = takeBatch()
            if batch.isEmpty { return }
            var staged: [String: Entry?] = [:]
            var rows: [RowOp] = []
            var results: [Result<StoreEvent, any Error>] = []
            var rev = revision
            for p in batch {
                let key = p.op.key
                let current: Entry? = staged[key] ?? entry(key)
                do {
                    switch p.op {
                    case .create(_, let make):
                        if current != nil { throw StoreError.keyExists(key) }
                        let value = try make(rev + 1)
                        rev += 1
                        let e = Entry(value: value, createRevision: rev, modRevision: rev)
                        staged[key] = .some(e)
                        rows.append(.put(key: key, value: Data(value), createRev: rev, modRev: rev, type: 0))
                        results.append(.success(StoreEvent(type: .added, kv: KeyValue(key: key, value: value, createRevision: rev, modRevision: rev))))
                    case .update(_, let expected, let make):
                        guard let cur = current else { throw StoreError.notFound(key) }
                        if let expected, expected != cur.modRevision {
                            throw StoreError.conflict(key: key, current: cur.modRevision)
                        }
                        let value = try make(rev + 1)
                        rev += 1
                        let e = Entry(value: value, createRevision: cur.createRevision, modRevision: rev)
                        staged[key] = .some(e)
                        rows.append(.put(key: key, value: Data(value), createRev: cur.createRevision, modRev: rev, type: 1))
                        results.append(.success(StoreEvent(type: .modified, kv: KeyValue(key: key, value: value, createRevision: cur.createRevision, modRevision: rev), prevValue: cur.value)))
                    case .delete(_, let expected):
                        guard let cur = current else { throw StoreError.notFound(key) }
                        if let expected, expected != cur.modRevision {
                            throw StoreError.conflict(key: key, current: cur.modRevision)
                        }
                        rev += 1
                        staged[key] = .some(nil)
                        rows.append(.delete(key: key, prev: Data(cur.value), createRev: cur.createRevision, rev: rev))
                        results.append(.success(StoreEvent(type: .deleted, kv: KeyValue(key: key, value: cur.value, createRevision: cur.createRevision, modRevision: rev))))
                    }
                } catch {
                    results.append(.failure(error))
                }
            }
            let finalRev = rev
            let toWrite = rows
            do {
                if !toWrite.isEmpty {
                    try await db.write { db in
                        for r in toWrite {
                            switch r {
                            case .put(let key, let value, let createRev, let modRev, let type):
                                try db.cachedStatement(sql: "INSERT OR REPLACE INTO current (key, create_rev, mod_rev) VALUES (?, ?, ?)")
                                    .execute(arguments: [key, createRev, modRev])
                                try db.cachedStatement(sql: "INSERT INTO log (rev, key, type, value, create_rev) VALUES (?, ?, ?, ?, ?)")
                                    .execute(arguments: [modRev, key, type, value, createRev])
                            case .delete(let key, let prev, let createRev, let rev):
                                try db.cachedStatement(sql: "DELETE FROM current WHERE key = ?").execute(arguments: [key])
                                try db.cachedStatement(sql: "INSERT INTO log (rev, key, type, value, create_rev) VALUES (?, ?, 2, ?, ?)")
                                    .execute(arguments: [rev, key, prev, createRev])
                            }
                        }
                    }
                }
            } catch {
                for p in batch { p.completion(.failure(StoreError.io("\(error)"))) }
                continue
            }
            // Durable: publish to memory, history and watchers, in revision order (with no
            // suspension in between, so a watch registered on the actor sees no gap).
            view.withLock { v in
                v.revision = finalRev
                for (key, e) in staged {
                    let b = Self.bucket(of: key)
                    if let e { v.buckets[b, default: [:]][key] = e } else { v.buckets[b]?[key] = nil }
                }
            }
            var events: [StoreEvent] = []
            events.reserveCapacity(results.count)
            for case .success(let ev) in results { events.append(ev) }
            history.append(contentsOf: events)
            publish(events)
            for (p, r) in zip(batch, results) { p.completion(r.map(\.kv)) }
            if history.count > historyLimit + historyLimit / 4 {
                let target = history[history.count - historyLimit].revision
                try? await compact(target)
            }
        }
    }

    /// One commit's events to each watcher whose prefix they fall under, in one batch.
    private func publish(_ events: [StoreEvent]) {
        guard !events.isEmpty else { return }
        for (_, w) in watchers {
            let mine = events.filter { $0.kv.key.hasPrefix(w.prefix) }
            if !mine.isEmpty { w.continuation.yield(mine) }
        }
    }

    public func watch(prefix: String, after: Int64) throws -> AsyncStream<[StoreEvent]> {
        if after < compacted {
            throw StoreError.compacted(requested: after, compacted: compacted)
        }
        let id = UUID()
        let (stream, cont) = AsyncStream<[StoreEvent]>.makeStream(bufferingPolicy: .unbounded)
        // Replay history after `after`, then register: no await in between, so no gap.
        if after < revision {
            let replay = history[firstIndex(after: after)...].filter { $0.kv.key.hasPrefix(prefix) }
            if !replay.isEmpty { cont.yield(replay) }
        }
        watchers[id] = Watcher(prefix: prefix, continuation: cont)
        cont.onTermination = { [weak self] _ in
            Task { await self?.removeWatcher(id) }
        }
        return stream
    }

    private func firstIndex(after rev: Int64) -> Int {
        var lo = 0
        var hi = history.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if history[mid].revision <= rev { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    private func removeWatcher(_ id: UUID) { watchers[id] = nil }

    public var watcherCount: Int { watchers.count }

    public func compact(_ rev: Int64) async throws {
        guard rev > compacted else { return }
        let target = min(rev, revision)
        try await db.write { db in
            try db.execute(
                sql: """
                    DELETE FROM log WHERE rev <= ?
                      AND NOT EXISTS (SELECT 1 FROM current c WHERE c.key = log.key AND c.mod_rev = log.rev)
                    """,
                arguments: [target])
            try db.execute(sql: "INSERT OR REPLACE INTO meta (name, value) VALUES ('compacted', ?)", arguments: [target])
        }
        compacted = target
        history.removeFirst(firstIndex(after: target))
    }
}
