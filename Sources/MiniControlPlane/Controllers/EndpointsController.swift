import Foundation
import KubeAPI
import Logging

/// What both endpoint controllers compute from a Service and its pods.
struct ServiceBackends {
    struct Backend: Hashable {
        var pod: Pod
        var ports: [EndpointPort]
        var ready: Bool
        var terminating: Bool
    }
    var backends: [Backend] = []

    /// Pods selected by `svc` that have an IP and are not finished, with the service's ports
    /// resolved against each pod's container ports (named target ports may differ per pod).
    init(service svc: Service, pods: [Pod]) {
        guard let selector = svc.spec?.selector, !selector.isEmpty else { return }
        let publishNotReady = svc.spec?.publishNotReadyAddresses == true
        for p in pods {
            guard let ip = p.status?.podIP, !ip.isEmpty, p.phase != "Succeeded", p.phase != "Failed" else { continue }
            let labels = p.metadata.labels ?? [:]
            guard selector.allSatisfy({ labels[$0.key] == $0.value }) else { continue }
            var ports: [EndpointPort] = []
            for sp in svc.spec?.ports ?? [] {
                guard let port = Self.resolve(sp, in: p) else { continue }
                ports.append(EndpointPort(name: sp.name, port: port, protocol: sp.protocol ?? "TCP", appProtocol: sp.appProtocol))
            }
            backends.append(Backend(pod: p, ports: ports, ready: publishNotReady || p.isReady, terminating: p.isTerminating))
        }
        backends.sort { ($0.pod.status?.podIP ?? "", $0.pod.name) < ($1.pod.status?.podIP ?? "", $1.pod.name) }
    }

    static func resolve(_ sp: ServicePort, in pod: Pod) -> Int32? {
        switch sp.targetPort {
        case nil: return sp.port
        case .int(let n)?: return n
        case .string(let name)?:
            if let n = Int32(name) { return n }
            for c in pod.spec?.containers ?? [] {
                for cp in c.ports ?? [] where cp.name == name && (cp.protocol ?? "TCP") == (sp.protocol ?? "TCP") {
                    return cp.containerPort
                }
            }
            return nil
        }
    }

    static func address(_ p: Pod, service: Service) -> EndpointAddress {
        var a = EndpointAddress(ip: p.status?.podIP ?? "", nodeName: p.spec?.nodeName,
                                targetRef: ObjectReference(kind: "Pod", namespace: p.metadata.namespace, name: p.name, uid: p.metadata.uid))
        if let h = p.spec?.hostname, !h.isEmpty, p.spec?.subdomain == service.name { a.hostname = h }
        return a
    }
}

/// Shared wiring of the two endpoint controllers: services and pods feed a queue of service keys.
func registerServiceQueue(services: Informer<Service>, pods: Informer<Pod>, queue: WorkQueue<String>) async {
    await services.addHandler { e in
        switch e {
        case .added(let s), .updated(_, let s), .deleted(let s): await queue.add(queueKey(s))
        }
    }
    @Sendable func affected(_ p: Pod) async {
        let labels = p.metadata.labels ?? [:]
        for s in await services.items(namespace: p.metadata.namespace) {
            guard let sel = s.spec?.selector, !sel.isEmpty, sel.allSatisfy({ labels[$0.key] == $0.value }) else { continue }
            await queue.add(queueKey(s))
        }
    }
    await pods.addHandler { e in
        switch e {
        case .added(let p), .deleted(let p): await affected(p)
        case .updated(let old, let new):
            await affected(new)
            if old.metadata.labels != new.metadata.labels { await affected(old) }
        }
    }
}

/// core/v1 Endpoints for every Service with a selector: ready pods in `addresses`, the others in
/// `notReadyAddresses`, terminating pods left out, one subset per distinct port set.
public struct EndpointsController: Controller {
    public static let name = "endpoint"
    let ctx: ControllerContext
    let recorder: EventRecorder
    let services: Informer<Service>
    let pods: Informer<Pod>
    let endpoints: Informer<Endpoints>
    let queue = WorkQueue<String>()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        recorder = ctx.makeRecorder("endpoint-controller")
        services = ctx.informers.informer(Service.self)
        pods = ctx.informers.informer(Pod.self)
        endpoints = ctx.informers.informer(Endpoints.self)
    }

    func register() async {
        await registerServiceQueue(services: services, pods: pods, queue: queue)
    }

    static func subsets(service: Service, pods: [Pod]) -> [EndpointSubset] {
        let b = ServiceBackends(service: service, pods: pods)
        var groups: [[EndpointPort]: EndpointSubset] = [:]
        var order: [[EndpointPort]] = []
        for x in b.backends where !x.terminating {
            let ports = x.ports.sorted { ($0.name ?? "", $0.port) < ($1.name ?? "", $1.port) }
            if (service.spec?.ports ?? []).count > 0 && ports.isEmpty { continue }
            if groups[ports] == nil { groups[ports] = EndpointSubset(ports: ports.isEmpty ? nil : ports); order.append(ports) }
            let a = ServiceBackends.address(x.pod, service: service)
            if x.ready { groups[ports]!.addresses = (groups[ports]!.addresses ?? []) + [a] }
            else { groups[ports]!.notReadyAddresses = (groups[ports]!.notReadyAddresses ?? []) + [a] }
        }
        return order.map { groups[$0]! }
    }

    func sync(_ key: String) async throws {
        let (ns, name) = splitKey(key)
        guard let svc = await services.get(namespace: ns, name: name) else {
            if await endpoints.get(namespace: ns, name: name) != nil {
                do { try await ctx.client.delete(Endpoints.self, namespace: ns, name: name) } catch where isNotFound(error) {}
            }
            return
        }
        guard let sel = svc.spec?.selector, !sel.isEmpty else { return }  // manually managed endpoints
        let subsets = Self.subsets(service: svc, pods: await pods.items(namespace: ns))
        for attempt in 0..<5 {
            do {
                var current: Endpoints? = await endpoints.get(namespace: ns, name: name)
                if attempt > 0 { current = try? await ctx.client.get(Endpoints.self, namespace: ns, name: name) }
                if var ep = current {
                    if ep.subsets ?? [] == subsets && ep.metadata.labels == svc.metadata.labels { return }
                    ep.subsets = subsets.isEmpty ? nil : subsets
                    ep.metadata.labels = svc.metadata.labels
                    _ = try await ctx.client.update(ep)
                } else {
                    var ep = Endpoints(metadata: ObjectMeta(name: name, namespace: ns, labels: svc.metadata.labels))
                    ep.subsets = subsets.isEmpty ? nil : subsets
                    _ = try await ctx.client.create(ep)
                }
                return
            } catch where isConflict(error) || isAlreadyExists(error) {
                continue  // re-read and retry
            } catch {
                recorder.event(svc, type: EventRecorder.warning, reason: "FailedToUpdateEndpoint",
                                   message: "Failed to update endpoint \(ns)/\(name): \(error)")
                throw error
            }
        }
        recorder.event(svc, type: EventRecorder.warning, reason: "FailedToUpdateEndpoint",
                           message: "Failed to update endpoint \(ns)/\(name): the object kept changing (conflicts)")
        throw Status(message: "endpoints \(ns)/\(name): conflicts", reason: "Conflict", code: 409)
    }
}

/// discovery.k8s.io/v1 EndpointSlices for every Service with a selector: each endpoint with
/// ready/serving/terminating conditions (terminating pods stay, not ready), at most 100 per slice,
/// one slice set per distinct port set, owned by the Service.
public struct EndpointSliceController: Controller {
    public static let name = "endpointslice"
    static let managedBy = "endpointslice-controller.k8s.io"
    static let maxPerSlice = 100
    let ctx: ControllerContext
    let recorder: EventRecorder
    let services: Informer<Service>
    let pods: Informer<Pod>
    let slices: Informer<EndpointSlice>
    let queue = WorkQueue<String>()

    public init(_ ctx: ControllerContext) {
        self.ctx = ctx
        recorder = ctx.makeRecorder("endpoint-slice-controller")
        services = ctx.informers.informer(Service.self)
        pods = ctx.informers.informer(Pod.self)
        slices = ctx.informers.informer(EndpointSlice.self)
    }

    func register() async {
        await registerServiceQueue(services: services, pods: pods, queue: queue)
        let queue = self.queue
        await slices.addHandler { e in
            // a slice we manage changed or vanished under us: reconcile its service
            switch e {
            case .deleted(let s), .updated(_, let s), .added(let s):
                if s.metadata.labels?["endpointslice.kubernetes.io/managed-by"] == EndpointSliceController.managedBy,
                   let svc = s.metadata.labels?["kubernetes.io/service-name"]
                {
                    await queue.add((s.metadata.namespace ?? "") + "/" + svc)
                }
            }
        }
    }

    /// The desired slices' contents (ports, endpoints), in a stable order.
    static func desired(service: Service, pods: [Pod]) -> [(ports: [EndpointPort], endpoints: [SliceEndpoint])] {
        let b = ServiceBackends(service: service, pods: pods)
        var groups: [[EndpointPort]: [SliceEndpoint]] = [:]
        var order: [[EndpointPort]] = []
        for x in b.backends {
            let ports = x.ports.sorted { ($0.name ?? "", $0.port) < ($1.name ?? "", $1.port) }
            if (service.spec?.ports ?? []).count > 0 && ports.isEmpty { continue }
            if groups[ports] == nil { groups[ports] = []; order.append(ports) }
            var e = SliceEndpoint(addresses: [x.pod.status?.podIP ?? ""],
                                  conditions: EndpointConditions(ready: x.ready && !x.terminating, serving: x.ready,
                                                                 terminating: x.terminating))
            e.nodeName = x.pod.spec?.nodeName
            e.targetRef = ObjectReference(kind: "Pod", namespace: x.pod.metadata.namespace, name: x.pod.name, uid: x.pod.metadata.uid)
            if let h = x.pod.spec?.hostname, !h.isEmpty, x.pod.spec?.subdomain == service.name { e.hostname = h }
            groups[ports]!.append(e)
        }
        var out: [([EndpointPort], [SliceEndpoint])] = []
        for ports in order {
            let eps = groups[ports]!
            var i = 0
            while i < eps.count {
                out.append((ports, Array(eps[i..<min(eps.count, i + maxPerSlice)])))
                i += maxPerSlice
            }
        }
        // a service with no backends still gets one (empty) slice, as upstream does
        if out.isEmpty {
            let ports = (service.spec?.ports ?? []).compactMap { sp -> EndpointPort? in
                if case .string = sp.targetPort { return nil }
                return EndpointPort(name: sp.name, port: ServiceBackends.resolve(sp, in: Pod(metadata: ObjectMeta())) ?? sp.port,
                                    protocol: sp.protocol ?? "TCP", appProtocol: sp.appProtocol)
            }
            out.append((ports, []))
        }
        return out
    }

    func sync(_ key: String) async throws {
        let (ns, name) = splitKey(key)
        let mine = await slices.filter {
            $0.metadata.namespace == ns && $0.metadata.labels?["kubernetes.io/service-name"] == name
                && $0.metadata.labels?["endpointslice.kubernetes.io/managed-by"] == Self.managedBy
        }.sorted { $0.name < $1.name }
        guard let svc = await services.get(namespace: ns, name: name), let sel = svc.spec?.selector, !sel.isEmpty else {
            for s in mine {
                do { try await ctx.client.delete(EndpointSlice.self, namespace: ns, name: s.name) } catch where isNotFound(error) {}
            }
            return
        }
        let want = Self.desired(service: svc, pods: await pods.items(namespace: ns))
        var labels = svc.metadata.labels ?? [:]
        labels["kubernetes.io/service-name"] = name
        labels["endpointslice.kubernetes.io/managed-by"] = Self.managedBy
        do {
            for (i, d) in want.enumerated() {
                if i < mine.count {
                    var s = mine[i]
                    let ports = d.ports.isEmpty ? nil : d.ports
                    let eps = d.endpoints.isEmpty ? nil : d.endpoints
                    if s.ports == ports && s.endpoints == eps && s.metadata.labels == labels { continue }
                    s.ports = ports
                    s.endpoints = eps
                    s.metadata.labels = labels
                    _ = try await ctx.client.update(s)
                } else {
                    var meta = ObjectMeta(namespace: ns, labels: labels)
                    meta.generateName = name + "-"
                    meta.ownerReferences = [controllerReference(svc)]
                    var s = EndpointSlice(metadata: meta, addressType: "IPv4")
                    s.ports = d.ports.isEmpty ? nil : d.ports
                    s.endpoints = d.endpoints.isEmpty ? nil : d.endpoints
                    _ = try await ctx.client.create(s)
                }
            }
            for s in mine.dropFirst(want.count) {
                do { try await ctx.client.delete(EndpointSlice.self, namespace: ns, name: s.name) } catch where isNotFound(error) {}
            }
        } catch {
            if isConflict(error) { throw error }  // retried with backoff, re-reading the cache
            recorder.event(svc, type: EventRecorder.warning, reason: "FailedToUpdateEndpointSlices",
                               message: "Error updating Endpoint Slices for Service \(ns)/\(name): \(error)")
            throw error
        }
    }
}
