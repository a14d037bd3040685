import Foundation
package import KubeAPI

/// Writes core/v1 Events from the node: names `<object>.<hex nanos>`, source kubelet/<node>;
/// a repeat of the same (object, reason, message) within 10 min bumps `count` and
/// `lastTimestamp` instead of creating a new Event. Writes happen in order on one task and
/// never block the caller.
package final class APIEventSink: EventSink, @unchecked Sendable {
    private struct Pending: Sendable {
        var ref: ObjectReference
        var type: String
        var reason: String
        var message: String
        var at: Date
    }

    private let client: APIClient
    private let host: String
    private let continuation: AsyncStream<Pending>.Continuation
    private let writer: Task<Void, Never>

    package init(client: APIClient, host: String) {
        self.client = client
        self.host = host
        let (stream, cont) = AsyncStream.makeStream(of: Pending.self, bufferingPolicy: .bufferingNewest(1000))
        continuation = cont
        writer = Task { [client, host] in
            var seen: [String: (name: String, namespace: String, count: Int32, first: String, at: Date)] = [:]
            for await p in stream {
                let ns = p.ref.namespace ?? "default"
                let key = [p.ref.uid ?? "", p.ref.fieldPath ?? "", p.type, p.reason, p.message].joined(separator: "\u{1}")
                let now = Timestamps.format(p.at)
                if let s = seen[key], p.at.timeIntervalSince(s.at) < 600 {
                    let patch: JSONValue = ["count": .int(Int64(s.count + 1)), "lastTimestamp": .string(now)]
                    if (try? await client.mergePatch(Event.self, namespace: s.namespace, name: s.name, patch: patch)) != nil {
                        seen[key] = (s.name, s.namespace, s.count + 1, s.first, p.at)
                        continue
                    }
                }
                let nanos = UInt64(p.at.timeIntervalSince1970 * 1e9) &+ UInt64.random(in: 0..<1000)
                let name = "\(p.ref.name ?? "node").\(String(nanos, radix: 16))"
                var e = Event(metadata: ObjectMeta(name: name, namespace: ns), involvedObject: p.ref)
                e.reason = p.reason
                e.message = p.message
                e.type = p.type
                e.source = EventSource(component: "kubelet", host: host)
                e.firstTimestamp = now
                e.lastTimestamp = now
                e.count = 1
                e.reportingComponent = "kubelet"
                e.reportingInstance = host
                if (try? await client.create(e)) != nil {
                    seen[key] = (name, ns, 1, now, p.at)
                    if seen.count > 4096 { seen = seen.filter { p.at.timeIntervalSince($0.value.at) < 600 } }
                }
            }
        }
    }

    package func event(_ ref: ObjectReference, type: String, reason: String, message: String) {
        var r = ref
        if r.kind == "Node" { r.namespace = "default" }
        continuation.yield(Pending(ref: r, type: type, reason: reason, message: message, at: Date()))
    }

    /// Lets queued events be written (bounded), then stops.
    package func shutdown() async {
        continuation.finish()
        await writer.value
    }
}
