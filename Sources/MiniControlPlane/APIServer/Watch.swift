import Foundation
import Hummingbird
import KubeAPI
import NIOCore
import ServiceLifecycle
import Synchronization

/// Watch streams: newline-delimited `{"type","object"}` events with resourceVersion semantics,
/// bookmarks, `sendInitialEvents`, selectors (objects leaving a selector are sent as DELETED),
/// and 410 Gone as an ERROR event when the revision was compacted.
enum Watch {
    enum Item: Sendable {
        case event(String, JSONValue)
        /// An event whose object bytes go out as stored (no selector or table needs them parsed).
        case raw(String, [UInt8], Int64)
        case bookmark
        case end
    }

    static func table(_ r: ResourceInfo, _ items: [JSONValue], resourceVersion: String, includeObject: String?,
                      columns: Bool = true) -> JSONValue
    {
        let now = Date()
        let cols: [JSONValue] = columns ? Tables.columns(for: r).compactMap { try? JSONValueEncoder().encode($0) } : []
        let rows: [JSONValue] = items.map { o in
            var row: JSONValue = ["cells": .array(Tables.cells(for: r, o, now: now))]
            switch includeObject ?? "Metadata" {
            case "None": break
            case "Object": row["object"] = o
            default:
                row["object"] = ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                 "metadata": o["metadata"] ?? .emptyObject]
            }
            return row
        }
        return ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": ["resourceVersion": .string(resourceVersion)],
                "columnDefinitions": .array(cols), "rows": .array(rows)]
    }

    static func serve(api: APIServer, _ r: ResourceInfo, namespace: String?, query q: APIHTTPResponder.Query, table: Bool)
        async throws -> Response
    {
        let ls = try q.labelSelector()
        let fs = try q.fieldSelector(for: r)
        let rvParam = q["resourceVersion"] ?? ""
        let sendInitial = q["sendInitialEvents"] == "true" || rvParam.isEmpty || rvParam == "0"
        let explicitInitial = q["sendInitialEvents"] == "true"
        let bookmarks = q.bool("allowWatchBookmarks")
        // kube-apiserver bounds every watch (min-request-timeout 1800 s, randomised up to 2×),
        // so streams whose client vanished without a write to notice are reclaimed.
        let timeout = q["timeoutSeconds"].flatMap { Int($0) } ?? Int.random(in: 1800...3600)
        let includeObject = q["includeObject"]
        let prefix = r.prefix(namespace: namespace)

        var initial: [JSONValue] = []
        var startRev: Int64
        var goneStatus: Status? = nil
        if sendInitial && !(rvParam != "" && rvParam != "0" && !explicitInitial) {
            let res = try await api.list(r, namespace: namespace, labelSelector: ls, fieldSelector: fs, limit: nil, continueToken: nil)
            initial = res.items
            startRev = Int64(res.resourceVersion) ?? 0
        } else {
            guard let v = Int64(rvParam) else { throw APIError.badRequest("invalid resource version: \(rvParam)") }
            startRev = v
        }
        let storeStream: AsyncStream<[StoreEvent]>?
        do {
            storeStream = try await api.store.watch(prefix: prefix, after: startRev)
        } catch StoreError.compacted(let req, let comp) {
            storeStream = nil
            goneStatus = APIError.gone("too old resource version: \(req) (\(comp))")
        }
        let (goneFinal, initialFinal, startFinal) = (goneStatus, initial, startRev)
        let contentType = table ? "application/json;as=Table;v=v1;g=meta.k8s.io" : "application/json"
        let bookmarkInterval = api.bookmarkInterval
        let store = api.store
        let gv = r.groupVersion
        let kind = r.kind
        let body = ResponseBody { writer in
            if let goneStatus = goneFinal {
                let s = (try? JSONValueEncoder().encode(goneStatus)) ?? .null
                var line = JSONWriter.bytes(["type": "ERROR", "object": s])
                line.append(0x0a)
                try await writer.write(ByteBuffer(bytes: line))
                try await writer.finish(nil)
                return
            }
            var sentColumns = false
            func encode(_ type: String, _ obj: JSONValue, into out: inout [UInt8]) {
                var o = obj
                if table, type != "BOOKMARK", type != "ERROR" {
                    o = Watch.table(r, [obj], resourceVersion: obj.value(at: ["metadata", "resourceVersion"])?.stringValue ?? "",
                                    includeObject: includeObject, columns: !sentColumns)
                    sentColumns = true
                }
                JSONWriter.write(["type": .string(type), "object": o], into: &out)
                out.append(0x0a)
            }
            // Events go out in chunks of up to `chunkBytes`: one write per chunk, not per event.
            let chunkBytes = 256 * 1024
            /// Writes `out` and empties it once it holds `atLeast` bytes (by default, any).
            func flush(_ out: inout [UInt8], atLeast: Int = 1) async throws {
                guard !out.isEmpty, out.count >= atLeast else { return }
                try await writer.write(ByteBuffer(bytes: out))
                out.removeAll(keepingCapacity: true)
            }
            var out: [UInt8] = []
            for o in initialFinal {
                encode("ADDED", o, into: &out)
                try await flush(&out, atLeast: chunkBytes)
            }
            var lastRev = startFinal
            if explicitInitial {
                encode("BOOKMARK", ["kind": .string(kind), "apiVersion": .string(gv),
                    "metadata": ["resourceVersion": .string(String(startFinal)), "annotations": ["k8s.io/initial-events-end": "true"]]],
                    into: &out)
            }
            try await flush(&out)
            let cont = WatchQueue()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    guard let storeStream else { return }
                    let passThrough = ls.isEmpty && fs.isEmpty && !table
                    // a commit's events go to the writer together, so it wakes once for them
                    for await batch in storeStream {
                        var items: [Item] = []
                        items.reserveCapacity(batch.count)
                        for ev in batch {
                            if passThrough, ev.type != .deleted {
                                items.append(.raw(ev.type == .added ? "ADDED" : "MODIFIED", ev.kv.value, ev.revision))
                                continue
                            }
                            guard let obj = try? JSONParser.parse(ev.kv.value) else { continue }
                            let nowMatch = APIServer.matches(r, obj, ls, fs)
                            // The object as stored is sent as stored: parsed only to be matched.
                            func current(_ type: String) -> Item { table ? .event(type, obj) : .raw(type, ev.kv.value, ev.revision) }
                            switch ev.type {
                            case .added: if nowMatch { items.append(current("ADDED")) }
                            case .deleted:
                                if nowMatch {
                                    items.append(.event("DELETED", APIServer.versioned(obj, ev.revision)))
                                }
                            case .modified:
                                let prev = ev.prevValue.flatMap { try? JSONParser.parse($0) }
                                let wasMatch = prev.map { APIServer.matches(r, $0, ls, fs) } ?? true
                                if nowMatch && wasMatch { items.append(current("MODIFIED")) } else if nowMatch {
                                    items.append(current("ADDED"))
                                } else if wasMatch, let prev {
                                    // as kube-apiserver's cacher: the last state the watcher was
                                    // shown, at the revision of the change that took it away
                                    items.append(.event("DELETED", APIServer.versioned(prev, ev.revision)))
                                }
                            }
                        }
                        cont.yield(contentsOf: items)
                    }
                    cont.yield(.end)
                }
                if bookmarks {
                    group.addTask {
                        while !Task.isCancelled {
                            try await Task.sleep(for: bookmarkInterval)
                            cont.yield(.bookmark)
                        }
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(max(1, timeout)))
                    cont.yield(.end)
                }
                group.addTask {
                    // end the stream when the server shuts down, so SIGTERM is not held up
                    await withGracefulShutdownHandler {
                        try? await Task.sleep(for: .seconds(86400 * 365))
                    } onGracefulShutdown: {
                        cont.yield(.end)
                    }
                }
                defer {
                    group.cancelAll()
                    cont.finish()
                }
                // Everything queued while the last batch was being written goes out together:
                // one write for a commit's worth of events instead of one per event.
                while true {
                    let batch = await cont.next()
                    var ended = false
                    batchLoop: for item in batch {
                        switch item {
                        case .event(let type, let obj):
                            if let rv = obj.value(at: ["metadata", "resourceVersion"])?.stringValue, let v = Int64(rv) {
                                lastRev = max(lastRev, v)
                            }
                            encode(type, obj, into: &out)
                        case .raw(let type, let bytes, let rev):
                            lastRev = max(lastRev, rev)
                            out.append(contentsOf: "{\"object\":".utf8)
                            out.append(contentsOf: bytes)
                            out.append(contentsOf: ",\"type\":\"\(type)\"}\n".utf8)
                        case .bookmark:
                            let rev = max(lastRev, await store.currentRevision())
                            encode("BOOKMARK", ["kind": .string(kind), "apiVersion": .string(gv),
                                                "metadata": ["resourceVersion": .string(String(rev))]], into: &out)
                        case .end:
                            ended = true
                            break batchLoop
                        }
                        try await flush(&out, atLeast: chunkBytes)
                    }
                    try await flush(&out)
                    if ended { return }
                }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: contentType, .cacheControl: "no-cache, private"], body: body)
    }
}

/// The items of one watch stream, handed to its writer in batches. Producers (the store's
/// events, the bookmark and timeout timers) push; the writer takes everything queued so far.
/// Cancelling the waiting writer, or `finish`, ends the stream with `.end`.
final class WatchQueue: Sendable {
    private struct State {
        var items: [Watch.Item] = []
        var waiter: CheckedContinuation<[Watch.Item], Never>?
        var finished = false
    }

    private let state = Mutex(State())

    func yield(_ item: Watch.Item) { yield(contentsOf: [item]) }

    /// Queues `items` together: a waiting writer is woken once, with all of them.
    func yield(contentsOf items: [Watch.Item]) {
        guard !items.isEmpty else { return }
        let waiter: CheckedContinuation<[Watch.Item], Never>? = state.withLock { s in
            if s.finished { return nil }
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.items.append(contentsOf: items)
            return nil
        }
        waiter?.resume(returning: items)
    }

    func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<[Watch.Item], Never>? in
            s.finished = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: [.end])
    }

    /// Everything queued, waiting for at least one item; `[.end]` once finished and drained.
    func next() async -> [Watch.Item] {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<[Watch.Item], Never>) in
                let ready: [Watch.Item]? = state.withLock { s in
                    if !s.items.isEmpty {
                        defer { s.items = [] }
                        return s.items
                    }
                    if s.finished { return [.end] }
                    s.waiter = c
                    return nil
                }
                if let ready { c.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }
}
