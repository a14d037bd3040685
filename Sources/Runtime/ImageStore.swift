import CShim
import Foundation
import Glibc

/// Content on disk: extracted layers under <root>/layers/<digest-hex>, image records in
/// <root>/images.json (written crash-safely). Layers are shared between images.
package actor ImageStore: ImageService {
    package let root: String
    private let tar: String

    package init(root: String, tar: String = "/usr/bin/tar") throws {
        self.root = root
        self.tar = tar
        try LinuxSyscalls().mkdirAll(root + "/layers")
    }

    private var indexPath: String { root + "/images.json" }

    /// The index as last read, with the identity of the file it came from: `save` replaces the
    /// file by rename (here or in another process, crictl's), so an unchanged inode, mtime and
    /// size is an unchanged index, and a pod start costs a stat instead of a read and a decode.
    private var loaded: (file: FileIdentity, images: [ImageInfo])?

    private func load() -> [ImageInfo] {
        guard let file = FileIdentity(path: indexPath) else {
            loaded = nil
            return []
        }
        if let loaded, loaded.file == file { return loaded.images }
        guard let data = FileContents.data(atPath: indexPath) else { return [] }
        let images = (try? JSONDecoder().decode([ImageInfo].self, from: data)) ?? []
        loaded = (file, images)
        return images
    }

    private func save(_ images: [ImageInfo]) throws {
        try writeFileAtomically(indexPath, try JSONEncoder().encode(images))
    }

    /// Normalises "busybox" to "docker.io/library/busybox:latest", the way the kubelet compares refs.
    package static func normalize(_ ref: String) -> String {
        if ref.hasPrefix("sha256:") { return ref }
        var name = ref
        let lastSlash = name.lastIndex(of: "/")
        let hasTag = name[(lastSlash.map { name.index(after: $0) } ?? name.startIndex)...].contains(":")
        if !hasTag && !name.contains("@") { name += ":latest" }
        let first = name.split(separator: "/").first.map(String.init) ?? name
        if !name.contains("/") { return "docker.io/library/" + name }
        if !(first.contains(".") || first.contains(":") || first == "localhost") { return "docker.io/" + name }
        return name
    }

    package func listImages() async throws -> [ImageInfo] { load() }

    package func imageStatus(_ ref: String) async throws -> ImageInfo? {
        let n = Self.normalize(ref)
        return load().first { $0.id == ref || $0.id == "sha256:" + ref || $0.repoTags.contains(n) || $0.repoDigests.contains(ref) }
    }

    /// Directory of an extracted layer.
    package func layerPath(_ digest: String) -> String {
        root + "/layers/" + (digest.split(separator: ":").last.map(String.init) ?? digest)
    }

    package func removeImage(_ ref: String) async throws {
        guard let image = try await imageStatus(ref) else { return }
        var images = load()
        let tag = Self.normalize(ref)
        if image.repoTags.contains(tag) && image.repoTags.count > 1 {
            // Only untag: the image keeps its other names.
            for i in images.indices where images[i].id == image.id { images[i].repoTags.removeAll { $0 == tag } }
        } else {
            images.removeAll { $0.id == image.id }
        }
        try save(images)
    }

    /// Deletes layers no image refers to, unless `inUse` (layers of existing containers).
    package func garbageCollect(inUse: Set<String> = []) throws -> [String] {
        let used = Set(load().flatMap(\.layers)).union(inUse)
        var removed: [String] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: root + "/layers")) ?? [] {
            if !used.contains("sha256:" + name) && !used.contains(name) {
                try? FileManager.default.removeItem(atPath: root + "/layers/" + name)
                removed.append(name)
            }
        }
        return removed
    }

    /// Registers an image made of already-extracted or tarred layers (bottom first).
    package func importLayers(
        ref: String, layerTars: [String], env: [String] = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        entrypoint: [String] = [], cmd: [String] = [], workingDir: String = "", user: String = ""
    ) async throws -> ImageInfo {
        var layers: [String] = []
        var size: UInt64 = 0
        for t in layerTars {
            let digest = try await Self.fileDigest(t)
            try await extract(tar: t, digest: digest)
            layers.append(digest)
            size += UInt64((try? FileManager.default.attributesOfItem(atPath: t)[.size] as? UInt64) ?? 0)
        }
        let id = "sha256:" + (try await Self.stringDigest(layers.joined(separator: ",") + env.joined() + cmd.joined()))
        let info = ImageInfo(id: id, repoTags: [Self.normalize(ref)], repoDigests: [], size: size, layers: layers,
                             env: env, entrypoint: entrypoint, cmd: cmd, workingDir: workingDir, user: user)
        try register(info)
        return info
    }

    func registerImage(_ info: ImageInfo) throws { try register(info) }

    private func register(_ info: ImageInfo) throws {
        var images = load()
        var merged = info
        if let same = images.first(where: { $0.id == info.id }) {
            // The same content under another name: one image, all its names.
            merged.repoTags = same.repoTags + info.repoTags.filter { !same.repoTags.contains($0) }
            merged.repoDigests = same.repoDigests + info.repoDigests.filter { !same.repoDigests.contains($0) }
        }
        images.removeAll { $0.id == info.id }
        for i in images.indices { images[i].repoTags.removeAll { info.repoTags.contains($0) } }
        images.removeAll { $0.repoTags.isEmpty && $0.repoDigests.isEmpty }
        images.append(merged)
        try save(images)
    }

    /// Imports an OCI image layout directory (index.json → manifest → config + layers).
    package func importOCILayout(_ dir: String, ref: String? = nil) async throws -> ImageInfo {
        func blob(_ digest: String) -> String { dir + "/blobs/" + digest.replacingOccurrences(of: ":", with: "/") }
        func json(_ path: String) throws -> [String: Any] {
            guard let d = FileContents.data(atPath: path),
                let o = try JSONSerialization.jsonObject(with: d) as? [String: Any]
            else { throw RuntimeError(.invalidArgument, "OCI layout \(dir): cannot read \(path)") }
            return o
        }
        let index = try json(dir + "/index.json")
        guard let m = (index["manifests"] as? [[String: Any]])?.first, let md = m["digest"] as? String else {
            throw RuntimeError(.invalidArgument, "OCI layout \(dir): index.json has no manifest")
        }
        let name = ref ?? ((m["annotations"] as? [String: String])?["org.opencontainers.image.ref.name"]).map {
            $0.contains(":") ? $0 : "localhost/image:" + $0
        }
        guard let name else { throw RuntimeError(.invalidArgument, "OCI layout \(dir): no image name given") }
        let manifest = try json(blob(md))
        guard let cd = (manifest["config"] as? [String: Any])?["digest"] as? String else {
            throw RuntimeError(.invalidArgument, "OCI layout \(dir): manifest \(md) has no config")
        }
        let layers = ((manifest["layers"] as? [[String: Any]]) ?? []).compactMap { $0["digest"] as? String }
        return try await importImage(ref: name, config: try json(blob(cd)), configDigest: cd,
                                     layerFiles: layers.map { ($0, blob($0)) }, repoDigest: md)
    }

    /// Imports a `docker save` archive (manifest.json with Config, RepoTags, Layers).
    package func importDockerArchive(_ tarPath: String) async throws -> [ImageInfo] {
        let tmp = root + "/tmp-" + UUID().uuidString
        try LinuxSyscalls().mkdirAll(tmp)
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        let r = try await Spawn.run(tar, ["-x", "-f", tarPath, "-C", tmp])
        if r.status != 0 {
            throw RuntimeError(.invalidArgument, "docker archive \(tarPath): \(String(decoding: r.stderr, as: UTF8.self))")
        }
        guard let d = FileContents.data(atPath: tmp + "/manifest.json"),
            let entries = try JSONSerialization.jsonObject(with: d) as? [[String: Any]]
        else { throw RuntimeError(.invalidArgument, "docker archive \(tarPath): no manifest.json") }
        if FileManager.default.fileExists(atPath: tmp + "/index.json") && entries.isEmpty {
            return [try await importOCILayout(tmp)]
        }
        var out: [ImageInfo] = []
        for e in entries {
            guard let cfg = e["Config"] as? String, let cfgData = FileContents.data(atPath: tmp + "/" + cfg),
                let config = try JSONSerialization.jsonObject(with: cfgData) as? [String: Any]
            else { throw RuntimeError(.invalidArgument, "docker archive \(tarPath): bad Config entry") }
            let tags = e["RepoTags"] as? [String] ?? []
            var files: [(String, String)] = []
            for l in e["Layers"] as? [String] ?? [] {
                files.append((try await Self.fileDigest(tmp + "/" + l), tmp + "/" + l))
            }
            let cd = "sha256:" + (try await Self.fileDigest(tmp + "/" + cfg)).replacingOccurrences(of: "sha256:", with: "")
            var info = try await importImage(ref: tags.first ?? cd, config: config, configDigest: cd, layerFiles: files,
                                             repoDigest: nil)
            info.repoTags = tags.map(Self.normalize)
            try register(info)
            out.append(info)
        }
        return out
    }

    func importImage(ref: String, config: [String: Any], configDigest: String, layerFiles: [(String, String)],
                     repoDigest: String?) async throws -> ImageInfo {
        var size: UInt64 = 0
        for (digest, file) in layerFiles {
            try await extract(tar: file, digest: digest)
            size += UInt64((try? FileManager.default.attributesOfItem(atPath: file)[.size] as? UInt64) ?? 0)
        }
        let c = config["config"] as? [String: Any] ?? [:]
        let name = Self.normalize(ref)
        let repo = name.split(separator: ":").dropLast().joined(separator: ":")
        let info = ImageInfo(
            id: configDigest, repoTags: [name], repoDigests: repoDigest.map { [repo + "@" + $0] } ?? [], size: size,
            layers: layerFiles.map(\.0), env: c["Env"] as? [String] ?? [], entrypoint: c["Entrypoint"] as? [String] ?? [],
            cmd: c["Cmd"] as? [String] ?? [], workingDir: c["WorkingDir"] as? String ?? "", user: c["User"] as? String ?? "")
        try register(info)
        return info
    }

    /// Extracts a (possibly compressed) layer tar once, converting OCI whiteouts to overlayfs ones.
    func extract(tar file: String, digest: String) async throws {
        let dest = layerPath(digest)
        if FileManager.default.fileExists(atPath: dest) { return }
        let tmp = dest + ".partial"
        try? FileManager.default.removeItem(atPath: tmp)
        try LinuxSyscalls().mkdirAll(tmp)
        let r = try await Spawn.run(tar, ["-x", "-f", file, "-C", tmp, "--numeric-owner", "--same-permissions"])
        if r.status != 0 {
            try? FileManager.default.removeItem(atPath: tmp)
            throw RuntimeError(.invalidArgument, "layer \(digest): tar: \(String(decoding: r.stderr, as: UTF8.self))")
        }
        try Self.convertWhiteouts(tmp)
        if rename(tmp, dest) != 0 { throw RuntimeError.sys("rename", tmp) }
    }

    /// `.wh.<name>` → 0:0 char device; `.wh..wh..opq` → trusted.overlay.opaque=y.
    static func convertWhiteouts(_ dir: String) throws {
        guard let e = FileManager.default.enumerator(atPath: dir) else { return }
        var found: [String] = []
        while let rel = e.nextObject() as? String {
            if (rel as NSString).lastPathComponent.hasPrefix(".wh.") { found.append(rel) }
        }
        for rel in found {
            let path = dir + "/" + rel
            let base = (rel as NSString).lastPathComponent
            let parent = (path as NSString).deletingLastPathComponent
            unlink(path)
            if base == ".wh..wh..opq" {
                if swl_setxattr(parent, "trusted.overlay.opaque", "y", 1) != 0 { throw RuntimeError.sys("setxattr", parent) }
            } else {
                let target = parent + "/" + base.dropFirst(4)
                if mknod(target, S_IFCHR | 0o600, 0) != 0 { throw RuntimeError.sys("mknod whiteout", target) }
            }
        }
    }

    /// sha256 of a file, via sha256sum (coreutils); "sha256:<hex>".
    static func fileDigest(_ path: String) async throws -> String {
        let r = try await Spawn.run("/usr/bin/sha256sum", [path])
        guard r.status == 0, let hex = String(decoding: r.stdout, as: UTF8.self).split(separator: " ").first else {
            throw RuntimeError(.invalidArgument, "sha256 of \(path): \(String(decoding: r.stderr, as: UTF8.self))")
        }
        return "sha256:" + hex
    }

    static func stringDigest(_ s: String) async throws -> String {
        let tmp = NSTemporaryDirectory() + "/swiftlet-digest-" + UUID().uuidString
        try Data(s.utf8).write(to: URL(fileURLWithPath: tmp))
        defer { unlink(tmp) }
        return String(try await fileDigest(tmp).dropFirst(7))
    }
}
