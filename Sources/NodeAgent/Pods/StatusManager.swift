import Foundation
package import KubeAPI

/// The writes the pod workers make to the API (a fake in tests).
package protocol PodAPI: Sendable {
    /// Replaces the pod's status (merge patch on `pods/status`).
    func patchStatus(namespace: String, name: String, status: PodStatus) async throws
    /// Deletes the pod object with grace period 0 once everything of it is gone from the node.
    func deletePod(namespace: String, name: String, uid: String) async throws
    /// Creates a mirror pod (static pods).
    func createPod(_ pod: Pod) async throws -> Pod
}

package struct APIPodAPI: PodAPI {
    package var client: APIClient
    package init(client: APIClient) { self.client = client }

    package func patchStatus(namespace: String, name: String, status: PodStatus) async throws {
        let body: JSONValue = ["status": try JSONValueEncoder().encode(status)]
        _ = try await client.mergePatch(Pod.self, namespace: namespace, name: name, patch: body, subresource: "status")
    }

    package func deletePod(namespace: String, name: String, uid: String) async throws {
        do {
            try await client.delete(Pod.self, namespace: namespace, name: name, gracePeriodSeconds: 0)
        } catch let s as Status where s.code == 404 {}
    }

    package func createPod(_ pod: Pod) async throws -> Pod { try await client.create(pod, fieldManager: "kubelet") }
}

/// Posts pod status only when it changed since the last successful post (the kubelet's status
/// manager); remembers what it posted per pod UID.
package actor StatusManager {
    private let api: any PodAPI
    private var posted: [String: PodStatus] = [:]
    package private(set) var patches = 0

    package init(api: any PodAPI) { self.api = api }

    package func lastPosted(_ uid: String) -> PodStatus? { posted[uid] }

    /// Posts `status` for `pod` unless it equals the last status posted (or the pod's own).
    @discardableResult
    package func set(_ pod: Pod, _ status: PodStatus) async -> Bool {
        let uid = pod.uid
        if posted[uid] == status { return false }
        if posted[uid] == nil, Self.same(pod.status, status) {
            posted[uid] = status
            return false
        }
        do {
            try await api.patchStatus(namespace: pod.namespace ?? "default", name: pod.name, status: status)
            posted[uid] = status
            patches += 1
            return true
        } catch {
            return false
        }
    }

    static func same(_ a: PodStatus?, _ b: PodStatus) -> Bool {
        guard var a else { return false }
        a.unknownFields = nil
        a.nominatedNodeName = nil
        return a == b
    }

    package func forget(_ uid: String) { posted[uid] = nil }
}
