import Foundation
import Glibc
import TestSupport
import Testing
@testable import Runtime

let hasRegistry = FileManager.default.isExecutableFile(atPath: "/usr/bin/docker-registry")

func sha(_ d: Data) -> String { "sha256:" + RegistryClient.sha256(d) }

func jsonData(_ o: Any) throws -> Data { try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]) }

/// An image built from the busybox layer: config, manifest, OCI index; written as an OCI layout.
struct TestImage {
    var layer: Data
    var layerType: String
    var config: Data
    var manifest: Data
    var manifestType: String

    init(layer: Data, gzip: Bool, diffID: String, docker: Bool, arch: String = "amd64") throws {
        self.layer = layer
        layerType = docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
            : (gzip ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.oci.image.layer.v1.tar")
        config = try jsonData([
            "architecture": arch, "os": "linux",
            "config": ["Env": ["PATH=/bin", "FROM_IMAGE=yes"], "Cmd": ["sh", "-c", "echo pulled-ok $FROM_IMAGE"],
                       "WorkingDir": "/tmp"],
            "rootfs": ["type": "layers", "diff_ids": [diffID]],
        ])
        manifestType = docker ? "application/vnd.docker.distribution.manifest.v2+json" : "application/vnd.oci.image.manifest.v1+json"
        manifest = try jsonData([
            "schemaVersion": 2, "mediaType": manifestType,
            "config": ["mediaType": docker ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json",
                       "digest": sha(config), "size": config.count],
            "layers": [["mediaType": layerType, "digest": sha(layer), "size": layer.count]],
        ])
    }

    func index(decoy: TestImage) throws -> Data {
        try jsonData([
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                ["mediaType": manifestType, "digest": sha(decoy.manifest), "size": decoy.manifest.count,
                 "platform": ["architecture": "arm64", "os": "linux"]],
                ["mediaType": manifestType, "digest": sha(manifest), "size": manifest.count,
                 "platform": ["architecture": "amd64", "os": "linux"]],
            ],
        ])
    }

    func writeLayout(_ dir: String, refName: String) throws {
        let blobs = dir + "/blobs/sha256"
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        for d in [layer, config, manifest] { try d.write(to: URL(fileURLWithPath: blobs + "/" + sha(d).dropFirst(7))) }
        try Data(#"{"imageLayoutVersion":"1.0.0"}"#.utf8).write(to: URL(fileURLWithPath: dir + "/oci-layout"))
        try jsonData(["schemaVersion": 2, "manifests": [["mediaType": manifestType, "digest": sha(manifest), "size": manifest.count,
                                                          "annotations": ["org.opencontainers.image.ref.name": refName]]]])
            .write(to: URL(fileURLWithPath: dir + "/index.json"))
    }
}

/// docker-registry on 127.0.0.1 with a temp storage dir; stopped by pid.
final class LocalRegistry: @unchecked Sendable {
    let process = Process()
    let port: Int

    init(dir: String) async throws {
        // A port the kernel just handed out: one derived from the pid could land in the
        // ephemeral range on a port some other test's connection holds, and the registry
        // then exits at once (seen in CI: "did not come up").
        port = try ServerHarness.freePort()
        try FileManager.default.createDirectory(atPath: dir + "/storage", withIntermediateDirectories: true)
        try """
            version: 0.1
            log:
              level: error
            storage:
              filesystem:
                rootdirectory: \(dir)/storage
            http:
              addr: 127.0.0.1:\(port)
            """.write(toFile: dir + "/config.yml", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
        process.arguments = ["serve", dir + "/config.yml"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        for _ in 0..<100 {
            let r = try? await Spawn.run("/usr/bin/busybox", ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:\(port)/v2/"], timeout: 2)
            if r?.status == 0 { return }
            guard process.isRunning else {
                throw RuntimeError(.startFailed, "docker-registry exited (status \(process.terminationStatus)) before answering on 127.0.0.1:\(port)")
            }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        stop()
        throw RuntimeError(.timeout, "docker-registry did not come up on 127.0.0.1:\(port)")
    }

    func stop() {
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}

@Suite(.serialized, .enabled(if: isRoot, "needs root: namespaces, mounts, cgroups"))
struct ImageTests {
    @Test func importOCILayoutAndRun() async throws {
        try await withHarness { h in
            let layer = try Data(contentsOf: URL(fileURLWithPath: h.root + "/busybox-layer.tar"))
            let img = try TestImage(layer: layer, gzip: false, diffID: sha(layer), docker: false)
            try img.writeLayout(h.root + "/layout", refName: "localhost/layout/busybox:v1")
            let info = try await h.runtime.images.importOCILayout(h.root + "/layout")
            #expect(info.repoTags == ["localhost/layout/busybox:v1"] && info.id == sha(img.config))
            let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("oci"))
            var c = ContainerConfig(name: "c", image: "localhost/layout/busybox:v1")
            c.logPath = "c/0.log"
            let id = try await h.runtime.createContainer(sandboxID: sb, c)
            try await h.runtime.startContainer(id)
            let s = try await h.waitExited(id)
            #expect(h.log(s).contains("stdout F pulled-ok yes") && s.exitCode == 0, "\(h.log(s))")
            // another store on the same root (crictl's, in its own process) sees the import, and
            // the removal, though the agent's store kept the index it had read
            let other = try ImageStore(root: await h.runtime.images.root)
            #expect(try await other.imageStatus("localhost/layout/busybox:v1")?.id == info.id)
            try await h.runtime.images.removeImage("localhost/layout/busybox:v1")
            #expect(try await h.runtime.images.imageStatus("localhost/layout/busybox:v1") == nil)
            #expect(try await other.imageStatus("localhost/layout/busybox:v1") == nil)
            _ = try await other.importOCILayout(h.root + "/layout")
            #expect(try await h.runtime.images.imageStatus("localhost/layout/busybox:v1")?.id == info.id)
        }
    }

    @Test func whiteoutsHideLowerLayerFiles() async throws {
        try await withHarness { h in
            let top = h.root + "/top"
            for d in ["etc", "home"] { try FileManager.default.createDirectory(atPath: top + "/" + d, withIntermediateDirectories: true) }
            for f in ["etc/.wh.group", "home/.wh..wh..opq"] { _ = FileManager.default.createFile(atPath: top + "/" + f, contents: nil) }
            _ = FileManager.default.createFile(atPath: top + "/home/new", contents: Data("n".utf8))
            let r = try await Spawn.run("/usr/bin/tar", ["-c", "-f", h.root + "/top.tar", "-C", top, "."])
            #expect(r.status == 0)
            _ = try await h.runtime.images.importLayers(ref: "localhost/two-layers:1",
                                                        layerTars: [h.root + "/busybox-layer.tar", h.root + "/top.tar"])
            let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("wh"))
            var c = h.container("c", "ls /home; [ -e /etc/group ] || echo GROUP-GONE; [ -e /etc/passwd ] && echo PASSWD-KEPT")
            c.image = "localhost/two-layers:1"
            let id = try await h.runtime.createContainer(sandboxID: sb, c)
            try await h.runtime.startContainer(id)
            let log = h.log(try await h.waitExited(id))
            #expect(log.contains("stdout F new") && !log.contains(" app"), "\(log)")
            #expect(log.contains("GROUP-GONE") && log.contains("PASSWD-KEPT"))
            let removed = try await h.runtime.images.garbageCollect()
            #expect(removed.isEmpty)
            try await h.runtime.images.removeImage("localhost/two-layers:1")
            #expect(try await h.runtime.images.garbageCollect().count == 1)  // the top layer; busybox stays in use
        }
    }

    @Test(.enabled(if: hasRegistry, "needs /usr/bin/docker-registry (apt docker-registry)"))
    func pullFromLocalRegistry() async throws {
        try await withHarness { h in
            let registry = try await LocalRegistry(dir: h.root + "/registry")
            defer { registry.stop() }
            let host = "127.0.0.1:\(registry.port)"
            let tar = h.root + "/busybox-layer.tar"
            let raw = try Data(contentsOf: URL(fileURLWithPath: tar))
            _ = try await Spawn.run("/usr/bin/gzip", ["-k", "-n", tar])
            let gz = try Data(contentsOf: URL(fileURLWithPath: tar + ".gz"))
            let client = RegistryClient()

            // OCI manifest behind an index (with an arm64 decoy), uncompressed layer.
            let oci = try TestImage(layer: raw, gzip: false, diffID: sha(raw), docker: false)
            let ociRef = try ImageReference("\(host)/swiftlet/busybox:oci")
            for b in [oci.layer, oci.config] { try await client.pushBlob(ociRef, digest: sha(b), data: b) }
            try await client.pushManifest(try ImageReference("\(host)/swiftlet/busybox@\(sha(oci.manifest))"),
                                          mediaType: oci.manifestType, data: oci.manifest)
            let decoy = try TestImage(layer: raw, gzip: false, diffID: sha(raw), docker: false, arch: "arm64")
            try await client.pushBlob(ociRef, digest: sha(decoy.config), data: decoy.config)
            try await client.pushManifest(try ImageReference("\(host)/swiftlet/busybox@\(sha(decoy.manifest))"),
                                          mediaType: decoy.manifestType, data: decoy.manifest)
            try await client.pushManifest(ociRef, mediaType: "application/vnd.oci.image.index.v1+json",
                                          data: try oci.index(decoy: decoy))
            // Docker schema2, gzip layer.
            let docker = try TestImage(layer: gz, gzip: true, diffID: sha(raw), docker: true)
            let dockerRef = try ImageReference("\(host)/swiftlet/busybox:docker")
            for b in [docker.layer, docker.config] { try await client.pushBlob(dockerRef, digest: sha(b), data: b) }
            try await client.pushManifest(dockerRef, mediaType: docker.manifestType, data: docker.manifest)

            let pulledOCI = try await h.runtime.images.pull("\(host)/swiftlet/busybox:oci")
            #expect(pulledOCI.id == sha(oci.config) && pulledOCI.repoDigests == ["\(host)/swiftlet/busybox@\(sha(oci.manifest))"])
            let pulledDocker = try await h.runtime.images.pull("\(host)/swiftlet/busybox:docker")
            #expect(pulledDocker.cmd == ["sh", "-c", "echo pulled-ok $FROM_IMAGE"])
            #expect(FileManager.default.fileExists(atPath: h.root + "/state/images/blobs/sha256/" + sha(gz).dropFirst(7)))

            let missing = await #expect(throws: RuntimeError.self) { _ = try await h.runtime.images.pull("\(host)/swiftlet/nope:1") }
            #expect(missing?.code == .notFound && missing?.message.contains("swiftlet/nope") == true)
            let wrong = "sha256:" + String(repeating: "a", count: 64)
            await #expect(throws: RuntimeError.self) { _ = try await h.runtime.images.pull("\(host)/swiftlet/busybox@\(wrong)") }

            let sb = try await h.runtime.runPodSandbox(h.sandboxConfig("pulled"))
            for ref in ["\(host)/swiftlet/busybox:oci", "\(host)/swiftlet/busybox:docker"] {
                var c = ContainerConfig(name: "c", image: ref)
                c.logPath = "c-\(ref.hasSuffix("oci") ? "oci" : "docker")/0.log"
                let id = try await h.runtime.createContainer(sandboxID: sb, c)
                try await h.runtime.startContainer(id)
                let s = try await h.waitExited(id)
                #expect(h.log(s).contains("stdout F pulled-ok yes"), "\(h.log(s))")
            }
        }
    }
}
