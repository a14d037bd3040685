import Foundation
package import KubeAPI

/// Registers the Node and keeps its status true: capacity and allocatable, addresses,
/// nodeInfo, and the Ready / MemoryPressure / DiskPressure / PIDPressure conditions. Status is
/// computed every `nodeStatusUpdateFrequency` and posted only when something other than the
/// heartbeat changed, or when `nodeStatusReportFrequency` has passed since the last post.
package actor NodeStatusManager {
    private let config: AgentConfig
    private let client: APIClient
    private let events: any EventSink
    private let nodeIP: String
    /// Readiness of the runtime side: nil = ready, else the KubeletNotReady message.
    private let readiness: @Sendable () async -> String?
    package private(set) var node: Node?
    private var lastPosted: NodeStatus?
    private var lastPostTime: ContinuousClock.Instant?
    package private(set) var posts = 0

    package init(config: AgentConfig, client: APIClient, events: any EventSink, nodeIP: String,
                 readiness: @escaping @Sendable () async -> String?)
    {
        self.config = config
        self.client = client
        self.events = events
        self.nodeIP = nodeIP
        self.readiness = readiness
    }

    package var allocatable: ResourceList { MachineInfo.capacity(maxPods: config.maxPods, rootDir: config.rootDir) }

    /// Creates the Node, or adopts an existing one (a restart): labels merged, status kept.
    package func register() async throws -> Node {
        var labels = config.nodeLabels
        labels["kubernetes.io/hostname"] = config.nodeName
        labels["kubernetes.io/os"] = "linux"
        labels["kubernetes.io/arch"] = MachineInfo.architecture
        labels["beta.kubernetes.io/os"] = "linux"
        labels["beta.kubernetes.io/arch"] = MachineInfo.architecture
        do {
            var existing = try await client.get(Node.self, name: config.nodeName)
            var merged = existing.metadata.labels ?? [:]
            for (k, v) in labels { merged[k] = v }
            if merged != existing.metadata.labels {
                existing = try await client.mergePatch(Node.self, name: config.nodeName,
                                                       patch: ["metadata": ["labels": try JSONValueEncoder().encode(merged)]])
            }
            node = existing
            lastPosted = existing.status
        } catch let s as Status where s.code == 404 {
            var spec = NodeSpec()
            if let cidr = config.podCIDR {
                spec.podCIDR = cidr
                spec.podCIDRs = [cidr]
            }
            if !config.registerWithTaints.isEmpty { spec.taints = config.registerWithTaints }
            var n = Node(metadata: ObjectMeta(name: config.nodeName, labels: labels), spec: spec)
            n.metadata.annotations = ["volumes.kubernetes.io/controller-managed-attach-detach": "true"]
            node = try await client.create(n, fieldManager: "kubelet")
            n = node!
            events.event(ObjectReference(kind: "Node", name: config.nodeName, uid: config.nodeName), type: EventType.normal,
                         reason: EventReason.starting, message: "Starting kubelet.")
        }
        try await updateStatus(force: true)
        return node!
    }

    func conditions(now: String, old: [Condition]?) async -> [Condition] {
        let memAvail = MachineInfo.meminfo("MemAvailable") ?? Int64.max
        let disk = MachineInfo.disk(config.rootDir)
        let pids = MachineInfo.pidUsage()
        let notReady = await readiness()
        func cond(_ type: String, _ status: Bool, _ reason: String, _ message: String) -> Condition {
            var c = Condition(type: type, status: status ? "True" : "False", reason: reason, message: message)
            let prev = old?.first { $0.type == type }
            c.lastHeartbeatTime = now
            c.lastTransitionTime = prev?.status == c.status ? (prev?.lastTransitionTime ?? now) : now
            return c
        }
        let memPressure = memAvail < 100 * 1024 * 1024
        let diskPressure = disk.total > 0 && Double(disk.available) / Double(disk.total) < 0.10
        let pidPressure = Double(pids.used) / Double(pids.max) > 0.9
        return [
            cond("MemoryPressure", memPressure, memPressure ? "KubeletHasInsufficientMemory" : "KubeletHasSufficientMemory",
                 memPressure ? "kubelet has insufficient memory available" : "kubelet has sufficient memory available"),
            cond("DiskPressure", diskPressure, diskPressure ? "KubeletHasDiskPressure" : "KubeletHasNoDiskPressure",
                 diskPressure ? "kubelet has disk pressure" : "kubelet has no disk pressure"),
            cond("PIDPressure", pidPressure, pidPressure ? "KubeletHasInsufficientPID" : "KubeletHasSufficientPID",
                 pidPressure ? "kubelet has insufficient PID available" : "kubelet has sufficient PID available"),
            cond("Ready", notReady == nil, notReady == nil ? "KubeletReady" : "KubeletNotReady",
                 notReady ?? "kubelet is posting ready status"),
        ]
    }

    /// The status as it should be now.
    func desired() async -> NodeStatus {
        var s = NodeStatus()
        let cap = MachineInfo.capacity(maxPods: config.maxPods, rootDir: config.rootDir)
        s.capacity = cap
        s.allocatable = cap
        s.addresses = [NodeAddress(type: "InternalIP", address: nodeIP), NodeAddress(type: "Hostname", address: config.nodeName)]
        s.daemonEndpoints = ["kubeletEndpoint": ["Port": .int(Int64(config.kubeletPort))]]
        s.nodeInfo = MachineInfo.nodeInfo(runtimeVersion: NodeAgentInfo.runtimeVersion)
        s.conditions = await conditions(now: Timestamps.now(), old: lastPosted?.conditions)
        s.phase = nil
        return s
    }

    /// Ignores heartbeat times and the fields that drift every second.
    static func significant(_ s: NodeStatus?) -> NodeStatus? {
        guard var s else { return nil }
        s.conditions = s.conditions?.map { c in
            var c = c
            c.lastHeartbeatTime = nil
            return c
        }
        s.images = nil
        s.unknownFields = nil
        if var e = s.capacity { e["ephemeral-storage"] = nil; s.capacity = e }
        if var e = s.allocatable { e["ephemeral-storage"] = nil; s.allocatable = e }
        if var i = s.nodeInfo { i.unknownFields = nil; s.nodeInfo = i }
        return s
    }

    /// Posts the status if it changed or the report frequency passed (or `force`).
    package func updateStatus(force: Bool = false) async throws {
        let want = await desired()
        let due = lastPostTime.map { ContinuousClock.now - $0 >= config.nodeStatusReportFrequency } ?? true
        guard force || due || Self.significant(want) != Self.significant(lastPosted) else { return }
        let wasReady = lastPosted?.conditions?.first { $0.type == "Ready" }?.status == "True"
        let body: JSONValue = ["status": try JSONValueEncoder().encode(want)]
        node = try await client.mergePatch(Node.self, name: config.nodeName, patch: body, subresource: "status")
        lastPosted = want
        lastPostTime = .now
        posts += 1
        let nowReady = want.conditions?.first { $0.type == "Ready" }?.status == "True"
        if nowReady != wasReady {
            events.event(ObjectReference(kind: "Node", name: config.nodeName, uid: config.nodeName), type: EventType.normal,
                         reason: nowReady ? EventReason.nodeReady : "NodeNotReady",
                         message: "Node \(config.nodeName) status is now: \(nowReady ? "NodeReady" : "NodeNotReady")")
        }
    }

    /// Runs until cancelled.
    package func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: config.nodeStatusUpdateFrequency)
            try? await updateStatus()
        }
    }
}

/// Creates and renews the node's Lease in `kube-node-lease` (the node heartbeat).
package actor NodeLeaseController {
    private let config: AgentConfig
    private let client: APIClient
    private var lease: Lease?
    package private(set) var renewals = 0

    package init(config: AgentConfig, client: APIClient) {
        self.config = config
        self.client = client
    }

    package func renew(nodeUID: String?) async throws {
        let now = Timestamps.micro(Date())
        if lease == nil {
            do {
                lease = try await client.get(Lease.self, namespace: "kube-node-lease", name: config.nodeName)
            } catch let s as Status where s.code == 404 {
                var spec = LeaseSpec()
                spec.holderIdentity = config.nodeName
                spec.leaseDurationSeconds = config.leaseDurationSeconds
                spec.renewTime = now
                var l = Lease(metadata: ObjectMeta(name: config.nodeName, namespace: "kube-node-lease"), spec: spec)
                if let nodeUID {
                    l.metadata.ownerReferences = [OwnerReference(apiVersion: "v1", kind: "Node", name: config.nodeName, uid: nodeUID)]
                }
                lease = try await client.create(l, fieldManager: "kubelet")
                renewals += 1
                return
            }
        }
        guard var l = lease else { return }
        var spec = l.spec ?? LeaseSpec()
        spec.holderIdentity = config.nodeName
        spec.leaseDurationSeconds = config.leaseDurationSeconds
        spec.renewTime = now
        l.spec = spec
        do {
            lease = try await client.update(l)
            renewals += 1
        } catch let s as Status where s.code == 409 || s.code == 404 {
            lease = nil  // re-read (or re-create) on the next try
            throw s
        }
    }

    /// Renews every `leaseRenewInterval` until cancelled (retrying sooner after a failure).
    package func run(nodeUID: String?) async {
        while !Task.isCancelled {
            do {
                try await renew(nodeUID: nodeUID)
                try? await Task.sleep(for: config.leaseRenewInterval)
            } catch {
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }
}
