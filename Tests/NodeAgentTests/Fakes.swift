import CNI
import Foundation
import KubeAPI
@testable import NodeAgent
import Runtime

/// Records the API writes of the pod workers.
final class FakePodAPI: PodAPI, @unchecked Sendable {
    private let lock = NSLock()
    private var _statuses: [PodStatus] = []
    private var _deleted: [String] = []
    private var _created: [Pod] = []
    var statuses: [PodStatus] { lock.withLock { _statuses } }
    var deleted: [String] { lock.withLock { _deleted } }
    func patchStatus(namespace: String, name: String, status: PodStatus) async throws {
        lock.withLock { _statuses.append(status) }
    }
    func deletePod(namespace: String, name: String, uid: String) async throws { lock.withLock { _deleted.append("\(namespace)/\(name)") } }
    func createPod(_ pod: Pod) async throws -> Pod {
        lock.withLock { _created.append(pod) }
        return pod
    }
}

struct FakeObjects: ObjectSource {
    var configMaps: [String: ConfigMap] = [:]
    var secrets: [String: Secret] = [:]
    func configMap(namespace: String, name: String) async throws -> ConfigMap? { configMaps[namespace + "/" + name] }
    func secret(namespace: String, name: String) async throws -> Secret? { secrets[namespace + "/" + name] }
}

/// A pod worker over the fake runtime and network, with a temp state dir.
struct WorkerHarness {
    let runtime = FakeRuntime()
    let network = FakeNetworkPlugin()
    let events = RecordingEventSink()
    let api = FakePodAPI()
    let dir: String
    let context: PodSyncContext

    init(objects: FakeObjects = FakeObjects()) {
        dir = NSTemporaryDirectory() + "swiftlet-agent-test-\(UUID().uuidString.prefix(8))"
        var config = AgentConfig(serverURL: "http://127.0.0.1:1", nodeName: "node-a")
        config.rootDir = dir
        config.podLogsDir = dir + "/logs"
        let probes = ProbeManager(prober: Prober(runtime: runtime), events: events)
        context = PodSyncContext(config: config, runtime: runtime, images: runtime, network: network, events: events,
                                 volumes: VolumeManager(podsDir: config.podsDir, source: objects), probes: probes,
                                 status: StatusManager(api: api), api: api, objects: objects, hostIP: "10.250.0.2")
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: dir) }

    func worker(_ pod: Pod) -> PodWorker { PodWorker(pod: pod, context: context) }

    func loadImage(_ name: String = "busybox:1.36") async throws { _ = try await runtime.pullImage(name) }

    func containers(_ name: String) async -> [Runtime.ContainerStatus] {
        ((try? await runtime.listContainers(sandboxID: nil)) ?? []).filter { $0.labels[RuntimeLabels.containerName] == name }
            .sorted { $0.attempt < $1.attempt }
    }

    func reasons() -> [String] { events.recorded.map(\.reason) }
}

func makePod(_ name: String = "web", containers: [Container], initContainers: [Container]? = nil, restartPolicy: String? = nil,
             volumes: [Volume]? = nil) -> Pod
{
    var spec = PodSpec(containers: containers)
    spec.initContainers = initContainers
    spec.restartPolicy = restartPolicy
    spec.nodeName = "node-a"
    spec.volumes = volumes
    var meta = ObjectMeta(name: name, namespace: "default")
    meta.uid = "uid-\(name)"
    meta.resourceVersion = "1"
    var pod = Pod(metadata: meta, spec: spec)
    var st = PodStatus(phase: "Pending")
    st.conditions = [Condition(type: "PodScheduled", status: "True")]
    pod.status = st
    return pod
}

func container(_ name: String, image: String = "busybox:1.36", pull: String? = "IfNotPresent") -> Container {
    var c = Container(name: name, image: image, command: ["sh", "-c", "sleep 1000"])
    c.imagePullPolicy = pull
    return c
}
