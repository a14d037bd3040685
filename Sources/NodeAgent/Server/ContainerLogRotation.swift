import Foundation
package import Runtime

/// Rotates running containers' CRI log files by size (the kubelet's container log manager):
/// the file is renamed, old rotations beyond `maxFiles` are deleted, and the shim is told to
/// reopen its log. `kubectl logs -f` follows across the rename.
package struct ContainerLogRotator: Sendable {
    package var runtime: any ContainerRuntime
    package var maxBytes: UInt64
    package var maxFiles: Int

    package init(runtime: any ContainerRuntime, maxBytes: UInt64, maxFiles: Int) {
        self.runtime = runtime
        self.maxBytes = maxBytes
        self.maxFiles = maxFiles
    }

    /// One pass; returns the ids of containers whose log was rotated.
    @discardableResult
    package func rotateOnce() async -> [String] {
        var rotated: [String] = []
        for c in (try? await runtime.listContainers(sandboxID: nil)) ?? [] where c.state == .running && !c.logPath.isEmpty {
            guard (try? ContainerLogManager.rotateIfNeeded(c.logPath, maxBytes: maxBytes, maxFiles: maxFiles)) == true else { continue }
            try? await runtime.reopenContainerLog(c.id)
            rotated.append(c.id)
        }
        return rotated
    }

    package func run(every period: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: period)
            await rotateOnce()
        }
    }
}
