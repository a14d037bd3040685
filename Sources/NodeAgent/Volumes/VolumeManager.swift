package import Foundation
import Glibc
package import KubeAPI
import Runtime

/// Reads the API objects that volumes and env vars project (configMaps, secrets).
package protocol ObjectSource: Sendable {
    /// The ConfigMap, or nil when it does not exist.
    func configMap(namespace: String, name: String) async throws -> ConfigMap?
    /// The Secret, or nil when it does not exist.
    func secret(namespace: String, name: String) async throws -> Secret?
    /// A token of the pod's service account bound to the pod (TokenRequest).
    func serviceAccountToken(_ request: TokenCache.Request) async throws -> (token: String, expires: Date)
}

extension ObjectSource {
    package func serviceAccountToken(_ request: TokenCache.Request) async throws -> (token: String, expires: Date) {
        throw Status(message: "service account tokens are not available from this source", reason: "NotFound", code: 404)
    }
}

/// Tokens for projected `serviceAccountToken` volumes, kept until 80% of their lifetime (or
/// 24 hours) has passed, as the kubelet's token manager renews them; dropped with the pod.
package actor TokenCache {
    package struct Request: Hashable, Sendable {
        package var namespace: String
        package var serviceAccount: String
        package var audience: String?
        package var expirationSeconds: Int64
        package var podName: String
        package var podUID: String
    }

    private var tokens: [Request: (token: String, issued: Date, expires: Date)] = [:]

    package init() {}

    package func token(_ r: Request, from source: any ObjectSource, now: Date = Date()) async throws -> String {
        if let t = tokens[r] {
            let life = t.expires.timeIntervalSince(t.issued)
            if now < t.issued.addingTimeInterval(min(life * 0.8, 24 * 3600)) { return t.token }
        }
        let fresh = try await source.serviceAccountToken(r)
        tokens[r] = (fresh.token, now, fresh.expires)
        return fresh.token
    }

    package func forget(podUID: String) { tokens = tokens.filter { $0.key.podUID != podUID } }
}

/// `ObjectSource` over the API.
package struct APIObjectSource: ObjectSource {
    package var client: APIClient
    package init(client: APIClient) { self.client = client }
    package func configMap(namespace: String, name: String) async throws -> ConfigMap? {
        do { return try await client.get(ConfigMap.self, namespace: namespace, name: name) } catch let s as Status where s.code == 404 { return nil }
    }
    package func secret(namespace: String, name: String) async throws -> Secret? {
        do { return try await client.get(Secret.self, namespace: namespace, name: name) } catch let s as Status where s.code == 404 { return nil }
    }
    package func serviceAccountToken(_ r: TokenCache.Request) async throws -> (token: String, expires: Date) {
        try await client.requestToken(namespace: r.namespace, serviceAccount: r.serviceAccount, audiences: r.audience.map { [$0] } ?? [],
                                      expirationSeconds: r.expirationSeconds, boundPod: (r.podName, r.podUID))
    }
}

/// A volume that cannot be set up: reported as a `FailedMount` event and keeps the pod waiting.
package struct VolumeError: Error, CustomStringConvertible, Sendable {
    package var volume: String
    package var message: String
    package var description: String { "MountVolume.SetUp failed for volume \"\(volume)\" : \(message)" }
}

/// Sets up a pod's volumes under `<podDir>/volumes/<plugin>/<name>` before its containers start
/// and removes them (unmounting tmpfs) when the pod is gone: emptyDir (disk or Memory),
/// hostPath with its type checks, configMap, secret, downwardAPI and projected (atomic
/// `..data` symlink swap).
package struct VolumeManager: Sendable {
    package var podsDir: String
    package var source: any ObjectSource
    package let tokens = TokenCache()

    package init(podsDir: String, source: any ObjectSource) {
        self.podsDir = podsDir
        self.source = source
    }

    package func volumesDir(_ uid: String) -> String { podsDir + "/" + uid + "/volumes" }

    /// Sets up (or refreshes) every volume; returns the host path of each by volume name.
    package func setUp(_ pod: Pod) async throws -> [String: String] {
        var out: [String: String] = [:]
        let ns = pod.namespace ?? "default"
        for v in pod.spec?.volumes ?? [] {
            if let h = v.hostPath {
                out[v.name] = try Self.hostPath(v.name, path: h["path"]?.stringValue ?? "", type: h["type"]?.stringValue ?? "")
            } else if let e = v.emptyDir {
                let dir = volumesDir(pod.uid) + "/kubernetes.io~empty-dir/" + v.name
                try Self.mkdir(dir, v.name)
                if e["medium"]?.stringValue == "Memory" {
                    try Self.mountTmpfs(dir, volume: v.name, sizeLimit: e["sizeLimit"]?.stringValue)
                }
                out[v.name] = dir
            } else if let c = v.configMap {
                let dir = volumesDir(pod.uid) + "/kubernetes.io~configmap/" + v.name
                let files = try await configMapFiles(c, name: c["name"]?.stringValue ?? "", namespace: ns, volume: v.name)
                try Self.mkdir(dir, v.name)
                try AtomicWriter(dir: dir).write(files, mode: Self.mode(c["defaultMode"]))
                out[v.name] = dir
            } else if let s = v.secret {
                let dir = volumesDir(pod.uid) + "/kubernetes.io~secret/" + v.name
                let files = try await secretFiles(s, name: s["secretName"]?.stringValue ?? "", namespace: ns, volume: v.name)
                try Self.mkdir(dir, v.name)
                try Self.mountTmpfs(dir, volume: v.name, sizeLimit: nil)
                try AtomicWriter(dir: dir).write(files, mode: Self.mode(s["defaultMode"]))
                out[v.name] = dir
            } else if let d = v.downwardAPI {
                let dir = volumesDir(pod.uid) + "/kubernetes.io~downward-api/" + v.name
                try Self.mkdir(dir, v.name)
                try AtomicWriter(dir: dir).write(try DownwardAPI.files(d["items"]?.arrayValue ?? [], pod: pod, volume: v.name),
                                                 mode: Self.mode(d["defaultMode"]))
                out[v.name] = dir
            } else if let p = v.projected {
                let dir = volumesDir(pod.uid) + "/kubernetes.io~projected/" + v.name
                var files: [String: (Data, mode_t?)] = [:]
                for source in p["sources"]?.arrayValue ?? [] {
                    files.merge(try await projection(source, pod: pod, volume: v.name)) { _, new in new }
                }
                try Self.mkdir(dir, v.name)
                try Self.mountTmpfs(dir, volume: v.name, sizeLimit: nil)
                try AtomicWriter(dir: dir).write(files, mode: Self.mode(p["defaultMode"]))
                out[v.name] = dir
            } else if v.persistentVolumeClaim != nil || v.csi != nil {
                throw VolumeError(volume: v.name, message: "volume type is not supported by this node yet")
            } else {
                throw VolumeError(volume: v.name, message: "volume has no source")
            }
        }
        return out
    }

    /// A configMap's keys (all, or `items`) as files (none for a missing optional one).
    func configMapFiles(_ ref: JSONValue, name: String, namespace: String, volume: String) async throws -> [String: (Data, mode_t?)] {
        try await keyedFiles(ref, kind: "configmap", name: name, volume: volume) {
            try await source.configMap(namespace: namespace, name: name).map { cm in
                var data: [String: Data] = [:]
                for (k, s) in cm.data ?? [:] { data[k] = Data(s.utf8) }
                for (k, b) in cm.binaryData ?? [:] { data[k] = Data(base64Encoded: b) ?? Data() }
                return data
            }
        }
    }

    /// A secret's keys (all, or `items`) as files.
    func secretFiles(_ ref: JSONValue, name: String, namespace: String, volume: String) async throws -> [String: (Data, mode_t?)] {
        try await keyedFiles(ref, kind: "secret", name: name, volume: volume) {
            try await source.secret(namespace: namespace, name: name).map { sec in
                var data: [String: Data] = [:]
                for (k, b) in sec.data ?? [:] { data[k] = Data(base64Encoded: b) ?? Data() }
                for (k, v) in sec.stringData ?? [:] { data[k] = Data(v.utf8) }
                return data
            }
        }
    }

    /// The object's keys as files, as configMap and secret volumes and projections share them:
    /// a failed read or a missing object (unless `optional`) fails the volume.
    func keyedFiles(_ ref: JSONValue, kind: String, name: String, volume: String,
                    fetch: () async throws -> [String: Data]?) async throws -> [String: (Data, mode_t?)] {
        let optional = ref["optional"]?.boolValue ?? false
        let data: [String: Data]?
        do { data = try await fetch() } catch {
            throw VolumeError(volume: volume, message: "failed to sync \(kind) cache: \(error)")
        }
        guard data != nil || optional else { throw VolumeError(volume: volume, message: "\(kind) \"\(name)\" not found") }
        return try Self.project(data ?? [:], items: ref["items"], volume: volume, optional: optional)
    }

    /// The files one source of a projected volume contributes.
    func projection(_ source: JSONValue, pod: Pod, volume: String) async throws -> [String: (Data, mode_t?)] {
        let ns = pod.namespace ?? "default"
        if let c = source["configMap"] {
            return try await configMapFiles(c, name: c["name"]?.stringValue ?? "", namespace: ns, volume: volume)
        }
        if let s = source["secret"] {
            return try await secretFiles(s, name: s["name"]?.stringValue ?? "", namespace: ns, volume: volume)
        }
        if let d = source["downwardAPI"] {
            return try DownwardAPI.files(d["items"]?.arrayValue ?? [], pod: pod, volume: volume)
        }
        if let t = source["serviceAccountToken"] {
            let path = try Self.checkedPath(t["path"]?.stringValue ?? "", volume: volume)
            let sa = pod.spec?.serviceAccountName ?? pod.spec?.serviceAccount ?? "default"
            let req = TokenCache.Request(namespace: ns, serviceAccount: sa, audience: t["audience"]?.stringValue,
                                         expirationSeconds: t["expirationSeconds"]?.intValue ?? 3600, podName: pod.name, podUID: pod.uid)
            do {
                let token = try await tokens.token(req, from: self.source)
                return [path: (Data(token.utf8), nil)]
            } catch {
                throw VolumeError(volume: volume, message: "failed to fetch token: \(error)")
            }
        }
        throw VolumeError(volume: volume, message: "projected volume source has no known kind (configMap, secret, downwardAPI, serviceAccountToken)")
    }

    /// Unmounts and removes every volume of the pod; returns the unmount failures.
    @discardableResult
    package func tearDown(uid: String) -> [String] {
        let cache = tokens
        Task { await cache.forget(podUID: uid) }
        var failures: [String] = []
        let base = volumesDir(uid)
        for m in Self.mountsUnder(base).sorted(by: { $0.count > $1.count }) where umount2(m, Int32(MNT_DETACH)) != 0 {
            failures.append("unmount \(m): \(String(cString: strerror(errno)))")
        }
        if failures.isEmpty { try? FileManager.default.removeItem(atPath: podsDir + "/" + uid) }
        return failures
    }

    /// Mount points (from /proc/self/mountinfo) at or under `dir`.
    package static func mountsUnder(_ dir: String) -> [String] {
        let text = FileContents.string(atPath: "/proc/self/mountinfo") ?? ""
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count > 4 else { return nil }
            let p = String(f[4]).replacingOccurrences(of: "\\040", with: " ")
            return p == dir || p.hasPrefix(dir + "/") ? p : nil
        }
    }

    static func mode(_ v: JSONValue?) -> mode_t { mode_t(v?.intValue ?? 0o644) }

    static func mkdir(_ dir: String, _ volume: String) throws {
        do { try LinuxSyscalls().mkdirAll(dir) } catch {
            throw VolumeError(volume: volume, message: (error as? RuntimeError)?.message ?? "mkdir \(dir): \(error)")
        }
    }

    static func mountTmpfs(_ dir: String, volume: String, sizeLimit: String?) throws {
        if mountsUnder(dir).contains(dir) { return }
        var opts = "mode=0755"
        if let s = sizeLimit, let q = try? Quantity(s), q.value > 0 { opts += ",size=\(q.value)" }
        if Glibc.mount("tmpfs", dir, "tmpfs", UInt(MS_NOSUID | MS_NODEV), opts) != 0 {
            throw VolumeError(volume: volume, message: "mount tmpfs on \(dir): \(String(cString: strerror(errno)))")
        }
    }

    /// A file path inside a volume: relative, without `..`; else the volume fails naming it.
    static func checkedPath(_ path: String, volume: String) throws -> String {
        guard !path.isEmpty, !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
            throw VolumeError(volume: volume, message: "invalid path \"\(path)\"")
        }
        return path
    }

    /// The files of a configMap/secret volume: every key, or only `items` (key → path, mode).
    static func project(_ data: [String: Data], items: JSONValue?, volume: String, optional: Bool) throws -> [String: (Data, mode_t?)] {
        guard let items = items?.arrayValue else { return data.mapValues { ($0, nil) } }
        var out: [String: (Data, mode_t?)] = [:]
        for i in items {
            let key = i["key"]?.stringValue ?? "", path = i["path"]?.stringValue ?? key
            guard let d = data[key] else {
                if optional { continue }
                throw VolumeError(volume: volume, message: "configmap references non-existent config key: \(key)")
            }
            out[try checkedPath(path, volume: volume)] = (d, i["mode"]?.intValue.map { mode_t($0) })
        }
        return out
    }

    /// hostPath with the checks of its `type`.
    static func hostPath(_ volume: String, path: String, type: String) throws -> String {
        guard path.hasPrefix("/") else { throw VolumeError(volume: volume, message: "hostPath \(path) is not absolute") }
        var st = stat()
        let exists = stat(path, &st) == 0
        let kind = st.st_mode & S_IFMT
        func fail(_ what: String) -> VolumeError { VolumeError(volume: volume, message: "hostPath type check failed: \(path) is not \(what)") }
        switch type {
        case "":
            break
        case "DirectoryOrCreate":
            if !exists {
                do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                             attributes: [.posixPermissions: 0o755]) } catch {
                    throw VolumeError(volume: volume, message: "mkdir \(path): \(error.localizedDescription)")
                }
            } else if kind != S_IFDIR { throw fail("a directory") }
        case "Directory":
            guard exists, kind == S_IFDIR else { throw fail("a directory") }
        case "FileOrCreate":
            if !exists {
                let fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
                if fd < 0 { throw VolumeError(volume: volume, message: "create \(path): \(String(cString: strerror(errno)))") }
                close(fd)
            } else if kind != S_IFREG { throw fail("a file") }
        case "File":
            guard exists, kind == S_IFREG else { throw fail("a file") }
        case "Socket":
            guard exists, kind == S_IFSOCK else { throw fail("a socket file") }
        case "CharDevice":
            guard exists, kind == S_IFCHR else { throw fail("a character device") }
        case "BlockDevice":
            guard exists, kind == S_IFBLK else { throw fail("a block device") }
        default:
            throw VolumeError(volume: volume, message: "unknown hostPath type \(type)")
        }
        return path
    }
}

/// The kubelet's atomic writer: files go into a fresh `..<timestamp>` directory, `..data`
/// is swapped to it with one rename, and each top-level name is a symlink through `..data`.
/// Readers see the old set or the new set, never a mix.
package struct AtomicWriter {
    package var dir: String
    package init(dir: String) { self.dir = dir }

    package func current() -> [String: Data] {
        var out: [String: Data] = [:]
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/..data") else { return out }
        let data = dir + "/" + target
        guard let e = FileManager.default.enumerator(atPath: data) else { return out }
        while let rel = e.nextObject() as? String {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: data + "/" + rel, isDirectory: &isDir), !isDir.boolValue {
                out[rel] = FileContents.data(atPath: data + "/" + rel)
            }
        }
        return out
    }

    /// Writes `files` (relative path → content, mode); does nothing when the content is unchanged.
    package func write(_ files: [String: (Data, mode_t?)], mode: mode_t) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: dir + "/..data"), current() == files.mapValues(\.0) { return }
        let f = DateFormatter()
        f.dateFormat = "yyyy_MM_dd_HH_mm_ss"
        f.timeZone = TimeZone(identifier: "UTC")
        let stamp = "..\(f.string(from: Date())).\(UInt32.random(in: 0...UInt32.max))"
        let ts = dir + "/" + stamp
        try fm.createDirectory(atPath: ts, withIntermediateDirectories: true)
        for (rel, (data, m)) in files {
            let p = ts + "/" + rel
            try fm.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            guard fm.createFile(atPath: p, contents: data) else { throw AgentError("cannot write \(p)") }
            chmod(p, m ?? mode)
        }
        let old = try? fm.destinationOfSymbolicLink(atPath: dir + "/..data")
        unlink(dir + "/..data_tmp")
        if symlink(stamp, dir + "/..data_tmp") != 0 || rename(dir + "/..data_tmp", dir + "/..data") != 0 {
            throw AgentError("swap ..data in \(dir): \(String(cString: strerror(errno)))")
        }
        let top = Set(files.keys.map { String($0.split(separator: "/").first ?? "") })
        for name in top where (try? fm.destinationOfSymbolicLink(atPath: dir + "/" + name)) == nil {
            symlink("..data/" + name, dir + "/" + name)
        }
        for name in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] where !name.hasPrefix("..") && !top.contains(name) {
            unlink(dir + "/" + name)
        }
        if let old, old != stamp { try? fm.removeItem(atPath: dir + "/" + old) }
    }
}
