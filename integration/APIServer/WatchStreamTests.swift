import Foundation
import KubeAPI
import TestSupport
import Testing

/// Watch streams write many events per chunk (a commit's worth, or up to 256 KiB of a
/// list's initial events): every event must still arrive once, whole, and in order.
@Suite(.serialized, .enabled(if: TestPaths.hasKubectl, "kubectl 1.35 is not installed: run scripts/setup.sh"))
struct WatchStreamTests {
    static let count = 300
    static let filler = String(repeating: "x", count: 1500)  // 300 objects ≈ 500 KiB: several chunks

    static func configMap(_ i: Int) -> JSONValue {
        ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string("cm-\(i)")],
         "data": ["i": .string(String(i)), "filler": .string(filler)]]
    }

    /// Names and resourceVersions of the first `n` ADDED events of `stream`.
    static func added(_ stream: AsyncThrowingStream<RawWatchEvent, any Error>, _ n: Int) async throws -> [(String, Int64)] {
        var out: [(String, Int64)] = []
        for try await ev in stream where ev.type == "ADDED" {
            #expect(ev.object.value(at: "data.filler")?.stringValue == filler, "event cut or merged: \(ev.type)")
            out.append((ev.object.value(at: "metadata.name")?.stringValue ?? "",
                        Int64(ev.object.value(at: "metadata.resourceVersion")?.stringValue ?? "") ?? -1))
            if out.count == n { break }
        }
        return out
    }

    @Test func concurrentWritesAndALargeInitialListArriveWholeOnceAndInOrder() async throws {
        let h = try ServerHarness(name: "watch-batch")
        let client = APIClient(baseURL: h.baseURL)
        let start = try await client.request(.GET, "/api/v1/namespaces/default/configmaps?limit=1")
        let rv = start.value(at: "metadata.resourceVersion")?.stringValue ?? "0"
        let live = try await client.watch(ConfigMap.self, namespace: "default", resourceVersion: rv, timeoutSeconds: 120)
        // 32 writers at once: commits of many writes, so the watch gets batches
        try await withThrowingTaskGroup(of: Void.self) { g in
            for w in 0..<32 {
                g.addTask {
                    for i in stride(from: w, to: Self.count, by: 32) {
                        _ = try await client.request(.POST, "/api/v1/namespaces/default/configmaps", body: Self.configMap(i))
                    }
                }
            }
            try await g.waitForAll()
        }
        let seen = try await Self.added(live, Self.count)
        #expect(seen.count == Self.count)
        #expect(Set(seen.map(\.0)).count == Self.count, "an event came twice or not at all")
        #expect(zip(seen, seen.dropFirst()).allSatisfy { $0.1 < $1.1 }, "events out of revision order")

        // resourceVersion=0: the current list as ADDED events, then live events
        let initial = try await client.watch(ConfigMap.self, namespace: "default", resourceVersion: "0", timeoutSeconds: 120)
        let listed = try await Self.added(initial, Self.count)
        #expect(Set(listed.map(\.0)) == Set((0..<Self.count).map { "cm-\($0)" }))
        withExtendedLifetime(h) {}  // the server runs until here
    }

    @Test func aSelectorWatchSeesObjectsEnterChangeAndLeaveTheSelection() async throws {
        let h = try ServerHarness(name: "watch-selector")
        let client = APIClient(baseURL: h.baseURL)
        let base = "/api/v1/namespaces/default/configmaps"
        let start = try await client.request(.GET, base + "?limit=1")
        let rv = start.value(at: "metadata.resourceVersion")?.stringValue ?? "0"
        let stream = try await client.watch(ConfigMap.self, namespace: "default", resourceVersion: rv, labelSelector: "app=a",
                                            timeoutSeconds: 60)
        func patch(_ name: String, _ body: JSONValue) async throws -> JSONValue {
            try await client.request(.PATCH, base + "/" + name, body: body, contentType: "application/merge-patch+json")
        }
        var expected: [(String, String, String?)] = []  // type, resourceVersion, data.v
        func rvOf(_ o: JSONValue) -> String { o.value(at: "metadata.resourceVersion")?.stringValue ?? "" }
        let made = try await client.request(.POST, base, body: ["apiVersion": "v1", "kind": "ConfigMap",
            "metadata": ["name": "x", "labels": ["app": "a"]], "data": ["v": "1"]])
        expected.append(("ADDED", rvOf(made), "1"))
        let changed = try await patch("x", ["data": ["v": "2"]])
        expected.append(("MODIFIED", rvOf(changed), "2"))
        let left = try await patch("x", ["metadata": ["labels": ["app": "b"]], "data": ["v": "3"]])
        // leaving the selection: the last state the watcher saw, at the revision of the change
        expected.append(("DELETED", rvOf(left), "2"))
        _ = try await client.request(.POST, base, body: ["apiVersion": "v1", "kind": "ConfigMap",
            "metadata": ["name": "other", "labels": ["app": "b"]]])  // never selected: no event
        let back = try await patch("x", ["metadata": ["labels": ["app": "a"]]])
        expected.append(("ADDED", rvOf(back), "3"))
        _ = try await client.request(.DELETE, base + "/x")
        var seen: [(String, String, String?)] = []
        for try await ev in stream where ev.type != "BOOKMARK" {
            seen.append((ev.type, rvOf(ev.object), ev.object.value(at: "data.v")?.stringValue))
            #expect(ev.object.value(at: "metadata.name")?.stringValue == "x")
            if seen.count == expected.count + 1 { break }
        }
        #expect(seen.dropLast().map { "\($0.0) \($0.1) \($0.2 ?? "-")" } == expected.map { "\($0.0) \($0.1) \($0.2 ?? "-")" })
        #expect(seen.last?.0 == "DELETED")
        withExtendedLifetime(h) {}
    }
}
