import Foundation

/// An in-memory `ContainerRuntime` + `ImageService` for tests of the layers above (the
/// kubelet's fake runtime): records calls, keeps state in dictionaries, never touches the kernel.
package actor FakeRuntime: ContainerRuntime, ImageService {
    package private(set) var calls: [String] = []
    package var sandboxes: [String: PodSandboxStatus] = [:]
    package var containers: [String: ContainerStatus] = [:]
    package var images: [String: ImageInfo] = [:]
    /// Canned ExecSync results by command line.
    package var execResults: [String: ExecResult] = [:]
    private var counter = 0

    package init() {}

    private func next(_ prefix: String) -> String {
        counter += 1
        return "\(prefix)\(counter)"
    }

    package func runPodSandbox(_ config: PodSandboxConfig) async throws -> String {
        calls.append("RunPodSandbox \(config.namespace)/\(config.name)")
        let id = next("sandbox-")
        sandboxes[id] = PodSandboxStatus(id: id, config: config, state: .ready, createdAt: Date(), pid: 0,
                                         netnsPath: config.hostNetwork ? nil : "/fake/netns/\(id)")
        return id
    }

    package func stopPodSandbox(_ id: String) async throws {
        calls.append("StopPodSandbox \(id)")
        guard sandboxes[id] != nil else { throw RuntimeError(.notFound, "pod sandbox \(id) not found") }
        sandboxes[id]?.state = .notReady
        for (cid, c) in containers where c.sandboxID == id && c.state == .running { exit(cid, code: 137) }
    }

    package func removePodSandbox(_ id: String) async throws {
        calls.append("RemovePodSandbox \(id)")
        sandboxes[id] = nil
        containers = containers.filter { $0.value.sandboxID != id }
    }

    package func podSandboxStatus(_ id: String) async throws -> PodSandboxStatus {
        guard let s = sandboxes[id] else { throw RuntimeError(.notFound, "pod sandbox \(id) not found") }
        return s
    }

    package func listPodSandbox() async throws -> [PodSandboxStatus] { sandboxes.values.sorted { $0.id < $1.id } }

    package func listPodSandbox(podUID: String) async throws -> [PodSandboxStatus] {
        try await listPodSandbox().filter { $0.config.uid == podUID }
    }

    package func createContainer(sandboxID: String, _ config: ContainerConfig) async throws -> String {
        calls.append("CreateContainer \(sandboxID) \(config.name)")
        guard sandboxes[sandboxID]?.state == .ready else { throw RuntimeError(.invalidState, "pod sandbox \(sandboxID) is not ready") }
        guard images[ImageStore.normalize(config.image)] != nil else {
            throw RuntimeError(.notFound, "image \"\(config.image)\" not found: pull or load it first")
        }
        let id = next("container-")
        containers[id] = ContainerStatus(
            id: id, sandboxID: sandboxID, name: config.name, attempt: config.attempt, image: config.image,
            imageRef: config.image, state: .created, createdAt: Date(), startedAt: nil, finishedAt: nil, exitCode: 0,
            reason: "", message: "", logPath: "", pid: 0, labels: config.labels, annotations: config.annotations)
        return id
    }

    package func startContainer(_ id: String) async throws {
        calls.append("StartContainer \(id)")
        guard containers[id]?.state == .created else { throw RuntimeError(.invalidState, "container \(id) is not created") }
        containers[id]?.state = .running
        containers[id]?.startedAt = Date()
    }

    /// Makes a running container exit (test control).
    package func exit(_ id: String, code: Int32, reason: String? = nil) {
        containers[id]?.state = .exited
        containers[id]?.exitCode = code
        containers[id]?.finishedAt = Date()
        containers[id]?.reason = reason ?? (code == 0 ? "Completed" : "Error")
    }

    package func stopContainer(_ id: String, timeout: Int) async throws {
        calls.append("StopContainer \(id) \(timeout)")
        if containers[id]?.state == .running { exit(id, code: 137) }
    }

    package func removeContainer(_ id: String) async throws {
        calls.append("RemoveContainer \(id)")
        containers[id] = nil
    }

    package func listContainers(sandboxID: String?) async throws -> [ContainerStatus] {
        containers.values.filter { sandboxID == nil || $0.sandboxID == sandboxID }.sorted { $0.id < $1.id }
    }

    package func containerStatus(_ id: String) async throws -> ContainerStatus {
        guard let c = containers[id] else { throw RuntimeError(.notFound, "container \(id) not found") }
        return c
    }

    package func containerStats(_ id: String) async throws -> ContainerStats {
        _ = try await containerStatus(id)
        return ContainerStats(id: id, cpuUsageNanos: 0, memoryWorkingSetBytes: 0)
    }

    package func execSync(_ id: String, cmd: [String], timeout: Int) async throws -> ExecResult {
        calls.append("ExecSync \(id) \(cmd.joined(separator: " "))")
        guard containers[id]?.state == .running else { throw RuntimeError(.invalidState, "container \(id) is not running") }
        return execResults[cmd.joined(separator: " ")] ?? ExecResult(stdout: Data(), stderr: Data(), exitCode: 0)
    }

    package func reopenContainerLog(_ id: String) async throws { calls.append("ReopenContainerLog \(id)") }

    package func setExecResult(_ cmd: [String], _ result: ExecResult) { execResults[cmd.joined(separator: " ")] = result }

    package func listImages() async throws -> [ImageInfo] { Array(images.values) }

    package func imageStatus(_ ref: String) async throws -> ImageInfo? { images[ImageStore.normalize(ref)] }

    package func pullImage(_ ref: String) async throws -> String {
        calls.append("PullImage \(ref)")
        let name = ImageStore.normalize(ref)
        let info = ImageInfo(id: "sha256:fake-\(name)", repoTags: [name], repoDigests: [], size: 0, layers: [], env: [],
                             entrypoint: [], cmd: ["sh"], workingDir: "", user: "")
        images[name] = info
        return info.id
    }

    package func removeImage(_ ref: String) async throws { images[ImageStore.normalize(ref)] = nil }
}
