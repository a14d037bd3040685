import KubeAPI
import Foundation
import GRDB
import Synchronization
import Testing
@testable import MiniControlPlane

@Suite struct SQLiteStoreTests {
    /// A database path in a fresh directory that is removed when the suite instance goes.
    final class TempDir: @unchecked Sendable {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sl-store-\(UUID().uuidString)")
        init() { try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(at: url) }
    }
    let temp = TempDir()
    func tempDB() -> String { temp.url.appendingPathComponent("state-\(UUID().uuidString.prefix(6)).db").path }

    /// Reads are served from the in-memory copy under a lock, not on the store's actor: a get
    /// or list made while the actor prepares a commit (here: a value closure that will not
    /// return before the read is done, for at most 5 s) answers at once, with the state
    /// before that commit.
    @Test func readsDoNotWaitForTheWriter() async throws {
        let s = try SQLiteStore(path: ":memory:")
        _ = try await s.write(.create(key: "/registry/pods/ns/a") { _ in Array("a".utf8) })
        struct Flags { var closureRunning = false, readDone = false, sawRead = false }
        final class Box: Sendable { let m = Mutex(Flags()) }
        let box = Box()
        let reader = Thread {
            let deadline = Date().addingTimeInterval(5)
            while !box.m.withLock({ $0.closureRunning }) && Date() < deadline { usleep(1000) }
            let a = s.get("/registry/pods/ns/a"), b = s.get("/registry/pods/ns/b")
            let listed = s.list(prefix: "/registry/pods/")
            let ok = a?.value == Array("a".utf8) && b == nil && listed.items.map(\.key) == ["/registry/pods/ns/a"] && listed.revision == 1
                && s.count(prefix: "/registry/pods/") == 1
            box.m.withLock { $0.readDone = ok }
        }
        reader.start()
        _ = try await s.write(.create(key: "/registry/pods/ns/b") { _ in
            box.m.withLock { $0.closureRunning = true }
            let deadline = Date().addingTimeInterval(5)
            while !box.m.withLock({ $0.readDone }) && Date() < deadline { usleep(1000) }
            box.m.withLock { $0.sawRead = $0.readDone }
            return Array("b".utf8)
        })
        #expect(box.m.withLock { $0.sawRead }, "the reads did not answer while the actor was busy (or saw the wrong state)")
        #expect(s.get("/registry/pods/ns/b")?.modRevision == 2)
    }

    /// `submit` serves callers that are not tasks (an event loop): writes submitted from a
    /// plain thread commit together in order, each completion runs once, after the write is
    /// readable, with its own outcome.
    @Test func submittedWritesCompleteInOrderWithTheirOwnOutcome() async throws {
        let s = try SQLiteStore(path: ":memory:")
        final class Outcomes: Sendable { let m = Mutex<[Int: Result<Int64, StoreError>]>([:]) }
        let outcomes = Outcomes()
        let submitter = Thread {
            for i in 0..<20 {
                // the 10th creates a key the 5th already made: it alone fails
                let key = "/registry/pods/ns/p\(i == 10 ? 5 : i)"
                s.submit(.create(key: key) { rev in Array("\(rev)".utf8) }) { outcome in
                    let visible = s.get(key) != nil
                    outcomes.m.withLock { o in
                        precondition(o[i] == nil, "completion \(i) ran twice")
                        o[i] = outcome.map { kv in visible ? kv.modRevision : -1 }.mapError { $0 as? StoreError ?? .io("\($0)") }
                    }
                }
            }
        }
        submitter.start()
        // a bound only: with the whole suite running, the store's flush may wait for a thread
        let deadline = ContinuousClock.now + .seconds(30)
        while outcomes.m.withLock({ $0.count }) < 20 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let got = outcomes.m.withLock { $0 }
        #expect(got[10] == .failure(.keyExists("/registry/pods/ns/p5")))
        let revisions = (0..<20).filter { $0 != 10 }.compactMap { try? got[$0]?.get() }
        #expect(revisions == Array(1...19))
    }

    /// One commit's events reach a watcher as one batch: writes queued together while the
    /// store is busy commit together and are published together.
    @Test func aCommitsEventsArriveTogether() async throws {
        let s = try SQLiteStore(path: ":memory:")
        _ = try await s.write(.create(key: "/registry/pods/ns/first") { _ in [] })
        let stream = try await s.watch(prefix: "/registry/pods/", after: 1)
        // the first write holds the flush until the other nine are queued behind it
        final class Gate: Sendable { let open = Mutex(false), running = Mutex(false) }
        let gate = Gate()
        async let first = s.write(.create(key: "/registry/pods/ns/a") { _ in
            gate.running.withLock { $0 = true }
            let deadline = Date().addingTimeInterval(30)
            while !gate.open.withLock({ $0 }) && Date() < deadline { usleep(1000) }
            return []
        })
        let deadline = ContinuousClock.now + .seconds(30)
        while !gate.running.withLock({ $0 }) && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
        for i in 0..<9 { s.submit(.create(key: "/registry/pods/ns/b\(i)") { _ in [] }) { _ in } }
        s.submit(.create(key: "/registry/other/x") { _ in [] }) { _ in }
        gate.open.withLock { $0 = true }
        _ = try await first
        var batches: [[Int64]] = []
        for await batch in stream {
            batches.append(batch.map(\.revision))
            if batches.joined().count == 10 { break }
        }
        // the held write alone, then the nine together; the key outside the prefix is not sent
        #expect(batches == [[2], Array(3...11)])
    }

    @Test func revisionsIncreaseAndConflictsAreDetected() async throws {
        let s = try SQLiteStore(path: ":memory:")
        let a = try await s.write(.create(key: "/registry/pods/ns/a") { rev in Array("a\(rev)".utf8) })
        #expect(a.modRevision == 1 && a.createRevision == 1)
        #expect(String(decoding: a.value, as: UTF8.self) == "a1")
        await #expect(throws: StoreError.keyExists("/registry/pods/ns/a")) {
            _ = try await s.write(.create(key: "/registry/pods/ns/a") { _ in [] })
        }
        let b = try await s.write(.update(key: "/registry/pods/ns/a", expected: 1) { _ in Array("b".utf8) })
        #expect(b.modRevision == 2 && b.createRevision == 1)
        await #expect(throws: StoreError.conflict(key: "/registry/pods/ns/a", current: 2)) {
            _ = try await s.write(.update(key: "/registry/pods/ns/a", expected: 1) { _ in [] })
        }
        _ = try await s.write(.delete(key: "/registry/pods/ns/a", expected: 2))
        #expect(s.get("/registry/pods/ns/a") == nil)
        #expect(await s.currentRevision() == 3)
    }

    @Test func concurrentWritesGetDistinctRevisions() async throws {
        let s = try SQLiteStore(path: tempDB())
        try await withThrowingTaskGroup(of: Int64.self) { g in
            for i in 0..<200 {
                g.addTask { try await s.write(.create(key: "/registry/configmaps/ns/c\(i)") { _ in [1] }).modRevision }
            }
            var revs = Set<Int64>()
            for try await r in g { revs.insert(r) }
            #expect(revs.count == 200)
            #expect(revs == Set(1...200))
        }
        #expect(s.count(prefix: "/registry/configmaps/") == 200)
    }

    @Test func watchReplaysHistoryThenLiveWithoutGaps() async throws {
        let s = try SQLiteStore(path: ":memory:")
        for i in 0..<5 { _ = try await s.write(.create(key: "/registry/pods/ns/p\(i)") { _ in [UInt8(i)] }) }
        let stream = try await s.watch(prefix: "/registry/pods/ns/", after: 2)
        for i in 5..<8 { _ = try await s.write(.create(key: "/registry/pods/ns/p\(i)") { _ in [UInt8(i)] }) }
        #expect(await firstEvents(stream, 5).map(\.revision) == [3, 4, 5, 6, 7])
    }

    @Test func compactionMakesOldRevisionsGone() async throws {
        let s = try SQLiteStore(path: ":memory:")
        for i in 0..<10 { _ = try await s.write(.create(key: "/registry/pods/ns/p\(i)") { _ in [] }) }
        try await s.compact(6)
        await #expect(throws: StoreError.compacted(requested: 3, compacted: 6)) {
            _ = try await s.watch(prefix: "/registry/pods/", after: 3)
        }
        _ = try await s.watch(prefix: "/registry/pods/", after: 6)
    }

    @Test func everyAcknowledgedWriteSurvivesReopen() async throws {
        let path = tempDB()
        do {
            let s = try SQLiteStore(path: path)
            for i in 0..<50 { _ = try await s.write(.create(key: "/registry/pods/ns/p\(i)") { rev in Array("\(rev)".utf8) }) }
            _ = try await s.write(.delete(key: "/registry/pods/ns/p0", expected: nil))
        }
        let s2 = try SQLiteStore(path: path)
        #expect(await s2.currentRevision() == 51)
        #expect(s2.count(prefix: "/registry/pods/") == 49)
        // history survives too: a watcher can resume from before the restart
        let stream = try await s2.watch(prefix: "/registry/pods/", after: 49)
        #expect(await firstEvents(stream, 2).map(\.type) == [.added, .deleted])
    }

    /// Values live once, in the log: compaction must keep each key's current value and drop the
    /// rest, and a reopened store must see the same keys, values and revision.
    @Test func compactionKeepsCurrentValuesAcrossReopen() async throws {
        let path = tempDB()
        do {
            let s = try SQLiteStore(path: path)
            for i in 0..<4 { _ = try await s.write(.create(key: "/registry/pods/ns/p\(i)") { rev in Array("v\(rev)".utf8) }) }  // 1-4
            _ = try await s.write(.update(key: "/registry/pods/ns/p1", expected: nil) { rev in Array("v\(rev)".utf8) })  // 5
            _ = try await s.write(.delete(key: "/registry/pods/ns/p2", expected: nil))  // 6
            _ = try await s.write(.update(key: "/registry/pods/ns/p3", expected: nil) { rev in Array("v\(rev)".utf8) })  // 7
            _ = try await s.write(.delete(key: "/registry/pods/ns/p3", expected: nil))  // 8: newest row, compacted below
            try await s.compact(8)
        }
        let s2 = try SQLiteStore(path: path)
        #expect(await s2.currentRevision() == 8)
        #expect(await s2.compactedRevision() == 8)
        let values = s2.list(prefix: "/registry/pods/").items.map { "\($0.key)=\(String(decoding: $0.value, as: UTF8.self))@\($0.createRevision)/\($0.modRevision)" }
        #expect(values == ["/registry/pods/ns/p0=v1@1/1", "/registry/pods/ns/p1=v5@2/5"])
        // the next write continues the revisions, and a watch from the compaction point replays nothing old
        let stream = try await s2.watch(prefix: "/registry/pods/", after: 8)
        _ = try await s2.write(.create(key: "/registry/pods/ns/p9") { _ in [] })
        let next = await firstEvents(stream, 1)
        #expect(next.map(\.revision) == [9] && next.first?.type == .added)
    }

    /// A data directory written before values were kept only in the log (a `kv` table with a
    /// copy of each value) opens with every key, including those whose log rows were compacted.
    @Test func opensStoresOfTheEarlierLayout() async throws {
        let path = tempDB()
        do {
            let q = try DatabaseQueue(path: path)
            try await q.write { db in
                try db.execute(sql: """
                    CREATE TABLE kv (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL, create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL);
                    CREATE TABLE log (rev INTEGER PRIMARY KEY NOT NULL, key TEXT NOT NULL, type INTEGER NOT NULL, value BLOB NOT NULL, create_rev INTEGER NOT NULL);
                    CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
                    INSERT INTO kv VALUES ('/registry/pods/ns/a', x'6131', 1, 1), ('/registry/pods/ns/b', x'6233', 2, 3);
                    INSERT INTO log VALUES (3, '/registry/pods/ns/b', 1, x'6233', 2), (4, '/registry/pods/ns/c', 2, x'63', 4);
                    INSERT INTO meta VALUES ('revision', 4), ('compacted', 2);
                    """)
            }
        }
        let s = try SQLiteStore(path: path)
        #expect(await s.currentRevision() == 4)
        let values = s.list(prefix: "/registry/pods/").items.map { "\($0.key)=\(String(decoding: $0.value, as: UTF8.self))@\($0.createRevision)/\($0.modRevision)" }
        #expect(values == ["/registry/pods/ns/a=a1@1/1", "/registry/pods/ns/b=b3@2/3"])
        let stream = try await s.watch(prefix: "/registry/pods/", after: 2)
        #expect(await firstEvents(stream, 2).map(\.revision) == [3, 4])
    }

    @Test func bucketsByResource() {
        #expect(SQLiteStore.bucket(of: "/registry/pods/ns/a") == "/registry/pods/")
        #expect(SQLiteStore.bucket(of: "/registry/example.com/widgets/ns/w") == "/registry/example.com/widgets/")
        #expect(SQLiteStore.bucket(of: "/registry/example.com/widgets/w") == "/registry/example.com/widgets/")
        #expect(SQLiteStore.bucket(of: "/registry/namespaces/a.b") == "/registry/namespaces/")
        #expect(SQLiteStore.bucket(of: "/registry/example.com/x") == "/registry/example.com/")
        #expect(SQLiteStore.bucket(of: "/registry/pods") == "/registry/pods")
    }
}

@Suite struct PatchTests {
    @Test func mergePatchDeletesWithNull() {
        let out = Patch.mergePatch(["a": 1, "b": ["c": 2, "d": 3]], ["b": ["c": nil, "e": 4], "f": "x"])
        #expect(out == ["a": 1, "b": ["d": 3, "e": 4], "f": "x"])
    }

    @Test func jsonPatchOperations() throws {
        let doc: JSONValue = ["a": [1, 2], "b": "x"]
        let out = try Patch.jsonPatch(doc, [
            ["op": "add", "path": "/a/1", "value": 9], ["op": "replace", "path": "/b", "value": "y"],
            ["op": "remove", "path": "/a/0"], ["op": "test", "path": "/b", "value": "y"],
            ["op": "copy", "from": "/b", "path": "/c"],
        ])
        #expect(out == ["a": [9, 2], "b": "y", "c": "y"])
        #expect(throws: PatchError.self) { try Patch.jsonPatch(doc, [["op": "test", "path": "/b", "value": "nope"]]) }
        #expect(throws: PatchError.self) { try Patch.jsonPatch(doc, [["op": "remove", "path": "/zz"]]) }
    }

    @Test func strategicMergeMergesContainersByName() throws {
        let live: JSONValue = ["spec": ["containers": [["name": "a", "image": "1"], ["name": "b", "image": "1"]],
                                        "finalizers": ["x"]]]
        let patch: JSONValue = ["spec": ["containers": [["name": "b", "image": "2"], ["name": "c", "image": "3"]],
                                         "$setElementOrder/containers": [["name": "c"], ["name": "a"], ["name": "b"]],
                                         "finalizers": ["y"]]]
        let out = try Patch.strategicMerge(live, patch)
        let cs = out.value(at: ["spec", "containers"])?.arrayValue ?? []
        #expect(cs.map { $0["name"]?.stringValue ?? "" } == ["c", "a", "b"])
        #expect(cs[2]["image"] == "2")
        #expect(out.value(at: ["spec", "finalizers"]) == ["x", "y"])
        #expect(out.value(at: ["spec"])?["$setElementOrder/containers"] == nil)
    }

    @Test func strategicMergeDeleteDirective() throws {
        let live: JSONValue = ["env": [["name": "A", "value": "1"], ["name": "B", "value": "2"]]]
        let out = try Patch.strategicMerge(live, ["env": [["name": "A", "$patch": "delete"]]])
        #expect(out["env"] == [["name": "B", "value": "2"]])
    }

    @Test func applyRemovesFieldsTheManagerDropped() throws {
        let first: JSONValue = ["metadata": ["labels": ["a": "1", "b": "2"]], "data": ["k": "v", "old": "x"]]
        let live = try Patch.apply(live: [:], config: first, previous: nil, others: [])
        let second: JSONValue = ["metadata": ["labels": ["a": "1"]], "data": ["k": "v2"]]
        let out = try Patch.apply(live: live, config: second, previous: Patch.fieldsV1(first), others: [])
        #expect(out == ["metadata": ["labels": ["a": "1"]], "data": ["k": "v2"]])
    }
}

@Suite struct TableTests {
    static let durations: [(Double, String)] = [
        (5, "5s"), (119, "119s"), (125, "2m5s"), (600, "10m"), (10_920, "3h2m"), (180_000, "2d2h"),
        (34_560_000, "400d"), (94_608_000, "3y"),
    ]
    @Test(arguments: durations)
    func humanDurationMatchesGo(_ seconds: Double, _ text: String) {
        #expect(Tables.humanDuration(seconds) == text)
    }

    @Test func podStatusColumn() {
        let pod: JSONValue = [
            "metadata": ["name": "p", "creationTimestamp": "2026-01-01T00:00:00Z"],
            "spec": ["containers": [["name": "a"], ["name": "b"]], "nodeName": "n1"],
            "status": ["phase": "Running", "podIP": "10.244.0.5",
                       "containerStatuses": [
                        ["name": "a", "ready": true, "restartCount": 0, "state": ["running": [:]]],
                        ["name": "b", "ready": false, "restartCount": 3, "state": ["waiting": ["reason": "CrashLoopBackOff"]]],
                       ]],
        ]
        let r = ResourceInfo(group: "", version: "v1", resource: "pods", singular: "pod", kind: "Pod", namespaced: true)
        let cells = Tables.cells(for: r, pod, now: Date(timeIntervalSince1970: 1_767_225_700))
        #expect(cells[0] == "p")
        #expect(cells[1] == "1/2")
        #expect(cells[2] == "CrashLoopBackOff")
        #expect(cells[3] == "3")
        #expect(cells[5] == "10.244.0.5")
        #expect(cells[6] == "n1")
    }
}

@Suite struct AllocatorTests {
    @Test func clusterIPsAreUniqueAndConflictsDetected() throws {
        let a = ServiceAllocators(serviceCIDR: "10.96.0.0/28")
        var seen = Set<String>()
        for _ in 0..<14 { seen.insert(try a.allocateIP(nil)) }
        #expect(seen.count == 14)
        #expect(throws: ServiceAllocators.AllocationError.ipRangeFull) { _ = try a.allocateIP(nil) }
        let b = ServiceAllocators()
        #expect(try b.allocateIP("10.96.0.10") == "10.96.0.10")
        #expect(throws: ServiceAllocators.AllocationError.ipAllocated("10.96.0.10")) { _ = try b.allocateIP("10.96.0.10") }
        #expect(throws: ServiceAllocators.AllocationError.ipOutOfRange("192.0.2.1")) { _ = try b.allocateIP("192.0.2.1") }
        #expect(try b.allocatePort(30080) == 30080)
        #expect(throws: ServiceAllocators.AllocationError.portAllocated(30080)) { _ = try b.allocatePort(30080) }
        #expect(throws: ServiceAllocators.AllocationError.portOutOfRange(80)) { _ = try b.allocatePort(80) }
    }
}

@Suite struct StampTests {
    @Test func stampedSplicesTheRevisionIntoPreEncodedBytes() throws {
        let obj = try JSONParser.parse(Array(#"{"kind":"Pod","metadata":{"name":"a","annotations":{"x":"rv-"},"resourceVersion":"9"},"spec":{"n":1}}"#.utf8))
        for rev: Int64 in [1, 42, 1_234_567_890_123] {
            #expect(try APIServer.stamped(obj)(rev) == JSONWriter.bytes(APIServer.versioned(obj, rev)))
        }
        // an object without metadata still gets one
        let bare = try JSONParser.parse(Array(#"{"kind":"X"}"#.utf8))
        #expect(try JSONParser.parse(APIServer.stamped(bare)(7)).value(at: ["metadata", "resourceVersion"])?.stringValue == "7")
    }
}

/// The first `n` events of a watch, across its batches.
func firstEvents(_ stream: AsyncStream<[StoreEvent]>, _ n: Int) async -> [StoreEvent] {
    var events: [StoreEvent] = []
    for await batch in stream {
        events += batch
        if events.count >= n { break }
    }
    return Array(events.prefix(n))
}
