package import Foundation

/// Pod sandbox request (CRI PodSandboxConfig, the parts the runtime acts on).
package struct PodSandboxConfig: Codable, Sendable, Equatable {
    package var name: String
    package var namespace: String
    package var uid: String
    package var attempt: UInt32 = 0
    package var hostname: String = ""
    /// Directory for container logs: /var/log/pods/<ns>_<pod>_<uid>.
    package var logDirectory: String = ""
    package var dnsServers: [String] = []
    package var dnsSearches: [String] = []
    package var dnsOptions: [String] = []
    package var labels: [String: String] = [:]
    package var annotations: [String: String] = [:]
    /// Pod cgroup, relative to the runtime's cgroup root: kubepods/burstable/pod<uid>.
    package var cgroupParent: String = ""
    /// Limits of the pod cgroup as a whole (CRI LinuxPodSandboxConfig.resources): the
    /// kubelet's pod-level shares, quota and memory limit. nil leaves it unlimited.
    package var resources: LinuxResources?
    package var hostNetwork = false
    package var hostPID = false
    package var hostIPC = false
    /// Containers see each other's processes (the pod shares one PID namespace, pause is PID 1).
    package var shareProcessNamespace = true

    package init(name: String, namespace: String, uid: String) {
        self.name = name
        self.namespace = namespace
        self.uid = uid
    }
}

package struct KeyValue: Codable, Sendable, Equatable {
    package var key: String
    package var value: String
    package init(_ key: String, _ value: String) {
        self.key = key
        self.value = value
    }
}

/// A bind mount into a container (hostPath, emptyDir, projected files).
package struct MountSpec: Codable, Sendable, Equatable {
    package enum Propagation: String, Codable, Sendable { case `private`, hostToContainer, bidirectional }
    package var containerPath: String
    package var hostPath: String
    package var readonly = false
    package var propagation: Propagation = .private
    package init(containerPath: String, hostPath: String, readonly: Bool = false, propagation: Propagation = .private) {
        self.containerPath = containerPath
        self.hostPath = hostPath
        self.readonly = readonly
        self.propagation = propagation
    }
}

package struct DeviceSpec: Codable, Sendable, Equatable {
    package var containerPath: String
    package var hostPath: String
    package var permissions = "rwm"
    package init(containerPath: String, hostPath: String, permissions: String = "rwm") {
        self.containerPath = containerPath
        self.hostPath = hostPath
        self.permissions = permissions
    }
}

/// CRI LinuxContainerSecurityContext.
package struct SecurityContext: Codable, Sendable, Equatable {
    package var privileged = false
    package var addCapabilities: [String] = []
    package var dropCapabilities: [String] = []
    package var runAsUser: UInt32?
    package var runAsGroup: UInt32?
    package var runAsUsername: String?
    package var runAsNonRoot = false
    package var supplementalGroups: [UInt32] = []
    package var readonlyRootfs = false
    package var noNewPrivs = false
    package var seccomp: SeccompProfile = .runtimeDefault
    /// nil = containerd's defaults (none when privileged).
    package var maskedPaths: [String]?
    package var readonlyPaths: [String]?
    package init() {}
}

/// Container request (CRI ContainerConfig).
package struct ContainerConfig: Codable, Sendable, Equatable {
    package var name: String
    package var attempt: UInt32 = 0
    package var image: String
    package var command: [String] = []
    package var args: [String] = []
    package var workingDir: String = ""
    package var envs: [KeyValue] = []
    package var mounts: [MountSpec] = []
    package var devices: [DeviceSpec] = []
    package var labels: [String: String] = [:]
    package var annotations: [String: String] = [:]
    /// Relative to the sandbox's logDirectory: <container>/<restartCount>.log.
    package var logPath: String = ""
    package var stdin = false
    /// Close stdin once the first attached client that sent input has gone.
    package var stdinOnce = false
    package var tty = false
    package var resources = LinuxResources()
    package var security = SecurityContext()

    package init(name: String, image: String) {
        self.name = name
        self.image = image
    }
}

package enum SandboxState: String, Codable, Sendable { case ready = "SANDBOX_READY", notReady = "SANDBOX_NOTREADY" }

package enum ContainerState: String, Codable, Sendable {
    case created = "CONTAINER_CREATED", running = "CONTAINER_RUNNING", exited = "CONTAINER_EXITED"
    case unknown = "CONTAINER_UNKNOWN"
}

package struct PodSandboxStatus: Codable, Sendable {
    package var id: String
    package var config: PodSandboxConfig
    package var state: SandboxState
    package var createdAt: Date
    /// Host pid of pause.
    package var pid: Int32
    /// The bind-mounted network namespace for CNI (nil for hostNetwork).
    package var netnsPath: String?
}

package struct ContainerStatus: Codable, Sendable {
    package var id: String
    package var sandboxID: String
    package var name: String
    package var attempt: UInt32
    package var image: String
    package var imageRef: String
    package var state: ContainerState
    package var createdAt: Date
    package var startedAt: Date?
    package var finishedAt: Date?
    package var exitCode: Int32
    /// Completed, Error, OOMKilled, ContainerCannotRun.
    package var reason: String
    package var message: String
    package var logPath: String
    package var pid: Int32
    package var labels: [String: String]
    package var annotations: [String: String]
}

package struct ContainerStats: Sendable {
    package var id: String
    package var cpuUsageNanos: UInt64
    package var memoryWorkingSetBytes: UInt64
}

package struct ExecResult: Sendable {
    package var stdout: Data
    package var stderr: Data
    package var exitCode: Int32
}

package struct ImageInfo: Codable, Sendable, Equatable {
    package var id: String
    package var repoTags: [String]
    package var repoDigests: [String]
    package var size: UInt64
    package var layers: [String]
    package var env: [String]
    package var entrypoint: [String]
    package var cmd: [String]
    package var workingDir: String
    package var user: String
}

/// CRI RuntimeService: everything the node agent asks of the runtime. The node agent never
/// touches the kernel itself.
package protocol ContainerRuntime: Sendable {
    /// Starts pause in new namespaces (per host* flags), with its cgroup and netns file; returns the id.
    func runPodSandbox(_ config: PodSandboxConfig) async throws -> String
    /// Stops all containers of the sandbox and pause; keeps records. Idempotent.
    func stopPodSandbox(_ id: String) async throws
    /// Stops and removes everything of the sandbox: processes, mounts, netns file, cgroups, state.
    func removePodSandbox(_ id: String) async throws
    /// Status of one sandbox.
    func podSandboxStatus(_ id: String) async throws -> PodSandboxStatus
    /// All sandboxes known on disk.
    func listPodSandbox() async throws -> [PodSandboxStatus]
    /// The sandboxes whose metadata uid is `podUID` (CRI's ListPodSandbox with a filter): a
    /// pod worker asks for its own on every sync, and must not pay for every other pod's.
    func listPodSandbox(podUID: String) async throws -> [PodSandboxStatus]
    /// Prepares rootfs, cgroup and config for a container in a sandbox; returns the id.
    func createContainer(sandboxID: String, _ config: ContainerConfig) async throws -> String
    /// Starts the container through its shim.
    func startContainer(_ id: String) async throws
    /// SIGTERM, then SIGKILL after `timeout` seconds.
    func stopContainer(_ id: String, timeout: Int) async throws
    /// Stops and deletes the container, its cgroup and its writable layer.
    func removeContainer(_ id: String) async throws
    /// All containers, optionally of one sandbox.
    func listContainers(sandboxID: String?) async throws -> [ContainerStatus]
    /// Status of one container.
    func containerStatus(_ id: String) async throws -> ContainerStatus
    /// CPU and memory usage of a running container.
    func containerStats(_ id: String) async throws -> ContainerStats
    /// Runs `cmd` in the container and collects its output, killing it after `timeout` seconds (0 = none).
    func execSync(_ id: String, cmd: [String], timeout: Int) async throws -> ExecResult
    /// Starts `cmd` in the container with piped stdin/stdout/stderr (for streaming bridges);
    /// with `tty`, on a terminal of the container's own (stdout carries its output). With
    /// `sizeFollows` the caller will send the terminal's size at once (`ExecSession.resize`):
    /// the process starts only when that size is set (or after 2 s without one).
    func exec(_ id: String, cmd: [String], tty: Bool, sizeFollows: Bool) async throws -> ExecSession
    /// Connects to a running container's stdio (`kubectl attach`).
    func attach(_ id: String, stdin: Bool) async throws -> AttachSession
    /// Makes the shim reopen the container's log file (after rotation).
    func reopenContainerLog(_ id: String) async throws
}

/// CRI ImageService.
package protocol ImageService: Sendable {
    /// Images in the store.
    func listImages() async throws -> [ImageInfo]
    /// The image for a reference (tag, digest or id), nil when absent.
    func imageStatus(_ ref: String) async throws -> ImageInfo?
    /// Pulls from a registry; returns the image id.
    func pullImage(_ ref: String) async throws -> String
    /// Removes an image by reference; missing is fine.
    func removeImage(_ ref: String) async throws
}

extension ContainerRuntime {
    package func exec(_ id: String, cmd: [String], tty: Bool, sizeFollows: Bool) async throws -> ExecSession {
        throw RuntimeError(.unsupported, "exec")
    }

    package func exec(_ id: String, cmd: [String], tty: Bool) async throws -> ExecSession {
        try await exec(id, cmd: cmd, tty: tty, sizeFollows: false)
    }

    package func attach(_ id: String, stdin: Bool) async throws -> AttachSession {
        throw RuntimeError(.unsupported, "attach")
    }
}

extension ImageService {
    package func pullImage(_ ref: String) async throws -> String {
        throw RuntimeError(.unsupported, "pulling \(ref): registry pulls are not implemented")
    }
}
