import Foundation
import KubeAPI

/// Drains a Terminating namespace: deletes every namespaced object in it (pods with grace 0
/// only once they are unbound or finished; bound pods get their graceful deletion and the
/// node confirms), then removes the `kubernetes` finalizer and the namespace itself, as
/// kube-controller-manager's namespace controller does.
extension APIServer {
    func finalizeNamespace(_ name: String) async {
        let nsInfo = registry.lookup(group: "", version: "v1", resource: "namespaces")!
        for attempt in 0..<600 {
            var remaining = 0
            for r in registry.all() where r.namespaced && r.verbs.contains("delete") {
                let items = store.list(prefix: r.prefix(namespace: name)).items
                for kv in items {
                    remaining += 1
                    guard let o = try? JSONParser.parse(kv.value), let n = o.value(at: ["metadata", "name"])?.stringValue else { continue }
                    if o.value(at: ["metadata", "deletionTimestamp"]) != nil { continue }
                    _ = try? await delete(r, namespace: name, name: n, options: DeleteOptions())
                }
            }
            if remaining == 0 { break }
            if attempt == 599 { logger.warning("namespace \(name): content still present, giving up for now") }
            try? await Task.sleep(for: .milliseconds(attempt < 20 ? 50 : 500))
        }
        let key = nsInfo.key(namespace: nil, name: name)
        if let kv = store.get(key), let o = try? JSONParser.parse(kv.value), o.value(at: ["metadata", "deletionTimestamp"]) != nil {
            do {
                let gone = try await store.write(.delete(key: key, expected: kv.modRevision))
                _ = gone
            } catch {
                logger.warning("namespace \(name): final delete failed: \(error)")
            }
        }
    }
}
