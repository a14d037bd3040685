import Foundation
public import Logging

/// Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it:
/// candidates try to acquire or renew every `retryPeriod`; a lease is free when its holder has
/// not renewed it for `leaseDuration` (measured on our own clock from when we last saw the
/// record change, so clocks need not agree); the holder renews every `retryPeriod` and gives up
/// when it could not renew for `renewDeadline`, or at once when it sees another holder. The
/// `lead` body runs only while we hold the lease and is cancelled the moment we lose it.
public struct LeaderElectionConfig: Sendable {
    public var namespace: String
    public var name: String
    public var identity: String
    public var leaseDuration: Duration
    public var renewDeadline: Duration
    public var retryPeriod: Duration

    public init(namespace: String = "kube-system", name: String, identity: String,
                leaseDuration: Duration = .seconds(15), renewDeadline: Duration = .seconds(10),
                retryPeriod: Duration = .seconds(2))
    {
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.leaseDuration = leaseDuration
        self.renewDeadline = renewDeadline
        self.retryPeriod = retryPeriod
    }
}

public actor LeaderElector {
    public let config: LeaderElectionConfig
    let client: APIClient
    let logger: Logger
    private var observed: Lease?
    private var observedAt: ContinuousClock.Instant = .now
    public private(set) var isLeader = false
    /// How many times this candidate became leader (for tests and metrics).
    public private(set) var terms = 0

    public init(client: APIClient, config: LeaderElectionConfig, logger: Logger = Logger(label: "leader-election")) {
        self.client = client
        self.config = config
        self.logger = logger
    }

    /// Competes until the task is cancelled. Each time we win, `lead` runs in a child task;
    /// when we lose, it is cancelled and awaited, and we compete again.
    public func run(_ lead: @escaping @Sendable () async -> Void) async {
        while !Task.isCancelled {
            await acquire()
            if Task.isCancelled { break }
            terms += 1
            logger.info("successfully acquired lease \(config.namespace)/\(config.name)", metadata: ["identity": "\(config.identity)"])
            let work = Task { await lead() }
            await renewUntilLost()
            work.cancel()
            isLeader = false
            await work.value
            logger.info("stopped leading \(config.namespace)/\(config.name)", metadata: ["identity": "\(config.identity)"])
        }
        await release()
    }

    private func acquire() async {
        while !Task.isCancelled {
            if await tryAcquireOrRenew() { isLeader = true; return }
            try? await Task.sleep(for: config.retryPeriod)
        }
    }

    private func renewUntilLost() async {
        var lastRenew = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: config.retryPeriod)
            if Task.isCancelled { return }
            if await tryAcquireOrRenew() {
                lastRenew = .now
            } else if let h = observed?.spec?.holderIdentity, h != config.identity {
                logger.info("lease \(config.namespace)/\(config.name) taken by \(h)")
                return
            } else if ContinuousClock.now - lastRenew >= config.renewDeadline {
                logger.warning("failed to renew lease \(config.namespace)/\(config.name) within \(config.renewDeadline)")
                return
            }
        }
    }

    /// One attempt; true when we hold the lease afterwards.
    func tryAcquireOrRenew() async -> Bool {
        let now = KubeTime.nowMicro()
        let seconds = Int32(config.leaseDuration.components.seconds)
        let current: Lease
        do {
            current = try await client.get(Lease.self, namespace: config.namespace, name: config.name)
        } catch let s as Status where s.code == 404 {
            var spec = LeaseSpec()
            spec.holderIdentity = config.identity
            spec.leaseDurationSeconds = seconds
            spec.acquireTime = now
            spec.renewTime = now
            spec.leaseTransitions = 0
            guard let created = try? await client.create(Lease(metadata: ObjectMeta(name: config.name, namespace: config.namespace), spec: spec))
            else { return false }
            setObserved(created)
            return true
        } catch {
            return false
        }
        if observed?.spec != current.spec { setObserved(current) }
        let holder = current.spec?.holderIdentity ?? ""
        let duration = Duration.seconds(Int64(current.spec?.leaseDurationSeconds ?? seconds))
        if !holder.isEmpty && holder != config.identity && ContinuousClock.now - observedAt < duration {
            return false
        }
        var next = current
        var spec = current.spec ?? LeaseSpec()
        if holder != config.identity {
            spec.acquireTime = now
            spec.leaseTransitions = (spec.leaseTransitions ?? 0) + (holder.isEmpty && spec.leaseTransitions == nil ? 0 : 1)
        }
        spec.holderIdentity = config.identity
        spec.leaseDurationSeconds = seconds
        spec.renewTime = now
        next.spec = spec
        guard let updated = try? await client.update(next) else { return false }
        setObserved(updated)
        return true
    }

    private func setObserved(_ l: Lease) {
        observed = l
        observedAt = .now
    }

    /// Gives the lease up on a clean shutdown so another candidate need not wait it out.
    private func release() async {
        guard var l = observed, l.spec?.holderIdentity == config.identity else { return }
        l.spec?.holderIdentity = ""
        l.spec?.renewTime = KubeTime.nowMicro()
        l.spec?.leaseDurationSeconds = 1
        let client = self.client
        let lease = l
        // Runs outside our (cancelled) task so the request is actually sent.
        _ = await Task.detached { try? await client.update(lease) }.value
        isLeader = false
    }
}
