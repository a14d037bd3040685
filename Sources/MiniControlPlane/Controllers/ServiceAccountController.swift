import Foundation
import KubeAPI
import Logging

/// Keeps a `default` ServiceAccount in every active namespace (recreated if deleted).
public struct ServiceAccountController: Controller {
    public static let name = "serviceaccount"
    let ctx: ControllerContext
    let namespaces: Informer<Namespace>
    let accounts: Informer<ServiceAccount>
    let queue = WorkQueue<String>()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        namespaces = ctx.informers.informer(Namespace.self)
        accounts = ctx.informers.informer(ServiceAccount.self)
    }

    func register() async {
        let queue = self.queue
        await namespaces.addHandler { e in
            if case .added(let n) = e { await queue.add(n.name) }
            if case .updated(_, let n) = e { await queue.add(n.name) }
        }
        await accounts.addHandler { e in
            if case .deleted(let sa) = e, sa.name == "default" { await queue.add(sa.metadata.namespace ?? "") }
        }
    }

    func sync(_ ns: String) async throws {
        guard let n = await namespaces.get(namespace: nil, name: ns), n.metadata.deletionTimestamp == nil else { return }
        if await accounts.get(namespace: ns, name: "default") != nil { return }
        do {
            _ = try await ctx.client.create(ServiceAccount(metadata: ObjectMeta(name: "default", namespace: ns)))
        } catch where isAlreadyExists(error) {
        } catch let s as Status where s.code == 403 || s.code == 404 {
            // the namespace is terminating or gone
        }
    }
}
