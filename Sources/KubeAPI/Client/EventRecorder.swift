import Foundation

/// Records core/v1 Events the way client-go's recorder does: the event is named
/// `<object>.<hex nanoseconds>`, lives in the object's namespace (`default` for cluster-scoped
/// objects), and a repeat of the same (object, type, reason, message) within the cache bumps
/// `count` and `lastTimestamp` of the existing Event instead of creating another.
/// `event(...)` never blocks: events are written in order by one background task.
public final class EventRecorder: Sendable {
    public static let normal = "Normal"
    public static let warning = "Warning"

    private struct Pending: Sendable {
        var ref: ObjectReference
        var type: String
        var reason: String
        var message: String
        var at: Date
    }

    private let continuation: AsyncStream<Pending>.Continuation
    private let writer: Task<Void, Never>
    public let component: String
    public let host: String?

    public init(client: APIClient, component: String, host: String? = nil) {
        self.component = component
        self.host = host
        let (stream, cont) = AsyncStream<Pending>.makeStream(bufferingPolicy: .bufferingNewest(4096))
        self.continuation = cont
        let sink = EventSink(client: client, component: component, host: host)
        self.writer = Task {
            for await p in stream {
                await sink.write(ref: p.ref, type: p.type, reason: p.reason, message: p.message, at: p.at)
            }
        }
    }

    deinit { continuation.finish() }

    public func event(_ ref: ObjectReference, type: String = EventRecorder.normal, reason: String, message: String) {
        continuation.yield(Pending(ref: ref, type: type, reason: reason, message: message, at: Date()))
    }

    public func event<T: KubeObject>(_ object: T, type: String = EventRecorder.normal, reason: String, message: String,
                                     fieldPath: String? = nil)
    {
        var ref = ObjectReference.to(object)
        ref.fieldPath = fieldPath
        event(ref, type: type, reason: reason, message: message)
    }

    /// Writes everything queued so far, then stops taking events.
    public func shutdown() async {
        continuation.finish()
        await writer.value
    }
}

extension ObjectReference {
    /// A reference to `object` (kind, apiVersion, namespace, name, uid, resourceVersion).
    public static func to<T: KubeObject>(_ object: T) -> ObjectReference {
        var r = ObjectReference(kind: T.kind, namespace: object.metadata.namespace, name: object.name,
                                uid: object.metadata.uid, apiVersion: T.apiVersion)
        r.resourceVersion = object.metadata.resourceVersion
        return r
    }
}

/// The writing half: an actor owning the aggregation cache.
actor EventSink {
    let client: APIClient
    let component: String
    let host: String?
    private var seen: [String: (namespace: String, name: String, count: Int32, first: String)] = [:]
    private var order: [String] = []
    static let cacheSize = 4096

    init(client: APIClient, component: String, host: String?) {
        self.client = client
        self.component = component
        self.host = host
    }

    func write(ref: ObjectReference, type: String, reason: String, message: String, at: Date) async {
        let ns = (ref.namespace?.isEmpty == false ? ref.namespace! : "default")
        let key = [ref.kind ?? "", ns, ref.name ?? "", ref.uid ?? "", ref.fieldPath ?? "", type, reason, message].joined(separator: "\u{1}")
        let now = KubeTime.format(at)
        if let prev = seen[key] {
            let count = prev.count + 1
            let patch: JSONValue = .object(["count": .int(Int64(count)), "lastTimestamp": .string(now)])
            if (try? await client.send(.PATCH, client.path(Event.self, namespace: prev.namespace, name: prev.name), body: patch,
                                       contentType: "application/merge-patch+json")) != nil
            {
                seen[key] = (prev.namespace, prev.name, count, prev.first)
                return
            }
            seen[key] = nil  // the old event is gone (expired or deleted): create a new one
        }
        let nanos = UInt64(at.timeIntervalSince1970 * 1e9)
        var e = Event(metadata: ObjectMeta(name: "\(ref.name ?? "unknown").\(String(nanos, radix: 16))", namespace: ns),
                      involvedObject: ref)
        e.reason = reason
        e.message = message
        e.type = type
        e.source = EventSource(component: component, host: host)
        e.firstTimestamp = now
        e.lastTimestamp = now
        e.count = 1
        e.reportingComponent = component
        e.reportingInstance = host ?? ""
        // the server's echo of the event is not needed: decoding it cost as much as encoding it
        guard let body = try? JSONValueEncoder().encode(e),
              (try? await client.send(.POST, client.path(Event.self, namespace: ns), body: body)) != nil else { return }
        seen[key] = (ns, e.name, 1, now)
        order.append(key)
        if order.count > Self.cacheSize {
            seen[order.removeFirst()] = nil
        }
    }
}
