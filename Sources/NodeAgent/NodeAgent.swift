import CNI
import Foundation
import KubeAPI
package import Logging
import PLEG
import Runtime
import ServiceLifecycle

package enum NodeAgentInfo {
    package static let runtimeVersion = "\(RuntimeInfo.name)://\(RuntimeInfo.version)"
}

/// The node agent (kubelet): registers the node, heartbeats its lease, runs the pods bound to
/// it through per-pod workers driven by the API (informer on `spec.nodeName`), the PLEG and the
/// probes, and serves the kubelet API. A restart adopts every sandbox and container it finds.
package final class NodeAgent: ServiceLifecycle.Service, Sendable {
    package let config: AgentConfig
    let logger: Logger

    package init(config: AgentConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// The pod network from `--cni-conf-dir` (first conflist) or the default bridge for `--pod-cidr`.
    func network() throws -> (any NetworkPlugin)? {
        let binDir: String
        let exe = RuntimeConfig.siblingExecutable("swiftlet-cni")
        if let dir = config.cniBinDir {
            binDir = dir
        } else {
            // Our multi-call plugin binary under each plugin's name, beside the agent's state.
            binDir = config.rootDir + "/cni/bin"
            try FileManager.default.createDirectory(atPath: binDir, withIntermediateDirectories: true)
            for p in ["bridge", "host-local", "loopback", "portmap"] {
                let link = binDir + "/" + p
                if (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) != exe {
                    unlink(link)
                    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: exe)
                }
            }
        }
        let list: NetworkConfigList
        if let dir = config.cniConfDir, let l = try? NetworkConfigList.load(dir: dir) {
            list = l
        } else if let cidr = config.podCIDR {
            let data = try NetworkConfigList.defaultBridge(podCIDR: cidr, dataDir: config.rootDir + "/cni/networks")
            if let dir = config.cniConfDir { try NetworkConfigList.write(data, to: dir + "/10-swiftlet.conflist") }
            list = try NetworkConfigList(bytes: data)
        } else {
            return nil
        }
        // Our bundled plugins (found through any bin dir) run inside the agent; others are executed.
        return CNIInvoker(config: list, binDirs: [binDir], cacheDir: config.rootDir + "/cni/cache", exec: PluginExec(builtin: exe))
    }

    package func run() async throws {
        let logger = self.logger
        let config = self.config
        let fm = FileManager.default
        for d in [config.rootDir, config.podsDir, config.podLogsDir] { try fm.createDirectory(atPath: d, withIntermediateDirectories: true) }
        // each pod's directory and log directory is a tree of its own (see markTopDirectory)
        for d in [config.podsDir, config.podLogsDir] { LinuxSyscalls().markTopDirectory(d) }
        var rc = RuntimeConfig(root: config.runtimeRoot)
        rc.cgroupRoot = config.cgroupRoot
        let runtime = try LinuxRuntime(config: rc)
        let client = APIClient(baseURL: config.serverURL)
        let events = EventRecorder(client: client, component: "kubelet", host: config.nodeName)
        let nodeIP = config.nodeIP ?? MachineInfo.firstIPv4() ?? "127.0.0.1"
        let network = try network()
        let pleg = GenericPLEG(runtime: runtime, stateRoot: config.runtimeRoot)
        let probes = ProbeManager(prober: Prober(runtime: runtime), events: events)
        let status = StatusManager(api: APIPodAPI(client: client))
        let objects = APIObjectSource(client: client)
        let context = PodSyncContext(config: config, runtime: runtime, images: runtime.images, network: network, events: events,
                                     volumes: VolumeManager(podsDir: config.podsDir, source: objects), probes: probes,
                                     status: status, api: APIPodAPI(client: client), objects: objects, hostIP: nodeIP)
        let capacity = MachineInfo.capacity(maxPods: config.maxPods, rootDir: config.rootDir)
        let workers = PodWorkers(context: context, allocatable: capacity)
        await probes.setOnChange { uid in await workers.wake(uid) }
        let readiness: @Sendable () async -> String? = {
            let (ok, msg) = await pleg.healthy()
            if !ok { return msg }
            if let network { do { try await network.status() } catch { return "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:\(error)" } }
            return nil
        }
        let nodeStatus = NodeStatusManager(config: config, client: client, events: events, nodeIP: nodeIP, readiness: readiness)
        let lease = NodeLeaseController(config: config, client: client)

        // Register (retrying while the server comes up).
        var node: Node?
        for attempt in 0..<600 where node == nil {
            do { node = try await nodeStatus.register() } catch {
                if Task.isCancelled { return }
                if attempt % 20 == 0 { logger.warning("registering node \(config.nodeName): \(error)") }
                try await Task.sleep(for: .milliseconds(500))
            }
        }
        guard let node else { throw AgentError("node \(config.nodeName) could not register with \(config.serverURL)") }
        logger.info("node \(config.nodeName) registered (InternalIP \(nodeIP))")

        // managedFields are never read here (status goes out as merge patches): dropped before
        // decoding, as the control plane's informers do; they are about a third of a bound pod's bytes.
        let informer = Informer<Pod>(client: client, fieldSelector: "spec.nodeName=\(config.nodeName)", stripManagedFields: true)
        let staticPods = config.podManifestPath.map { StaticPods(dir: $0, nodeName: config.nodeName, api: APIPodAPI(client: client), client: client) }
        await informer.addHandler { e in
            switch e {
            case .added(let p), .updated(_, let p):
                if StaticPods.isMirror(p) {
                    await staticPods?.mirrorChanged(p)
                    return
                }
                await workers.update(p)
            case .deleted(let p):
                if StaticPods.isMirror(p) {
                    await staticPods?.mirrorChanged(nil, name: p.name, namespace: p.namespace ?? "default")
                    return
                }
                await workers.deleted(p)
            }
        }
        var kubeletSource = KubeletServerSource(pods: { await workers.pods() }, runtime: runtime, health: {
            let (ok, msg) = await pleg.healthy()
            return ok ? nil : msg
        })
        kubeletSource.nodeName = config.nodeName
        let source = kubeletSource
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { g in
                g.addTask { await informer.run() }
                g.addTask { await pleg.run() }
                g.addTask {
                    for await e in pleg.events { await workers.wake(e.podUID) }
                }
                g.addTask { await nodeStatus.run() }
                g.addTask {
                    await ContainerLogRotator(runtime: runtime, maxBytes: config.containerLogMaxSize, maxFiles: config.containerLogMaxFiles)
                        .run(every: config.containerLogMonitorInterval)
                }
                g.addTask { await lease.run(nodeUID: node.metadata.uid) }
                g.addTask { await MemoryTrimmer.run() }
                g.addTask {
                    do { try await KubeletServer.run(address: config.kubeletAddress, port: config.kubeletPort, source: source, logger: logger) } catch {
                        logger.error("kubelet API on \(config.kubeletAddress):\(config.kubeletPort): \(error)")
                    }
                }
                if let staticPods {
                    g.addTask { await staticPods.run { p in await workers.update(p) } deleted: { p in await workers.deleted(p) } }
                }
                await g.waitForAll()
            }
        }
        // Graceful shutdown: pods keep running (a restart adopts them) unless a node shutdown grace period is set.
        if config.shutdownGracePeriod > .zero {
            logger.info("node shutdown: stopping pods within \(config.shutdownGracePeriod)")
            await workers.shutdownPods(grace: Int64(config.shutdownGracePeriod.components.seconds))
            try? await nodeStatus.updateStatus(force: true)
        } else {
            await workers.stopAll()
        }
        await events.shutdown()
        logger.info("node agent stopped")
    }
}
