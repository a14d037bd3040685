import AsyncHTTPClient
package import Foundation
import NIOCore
import NIOHTTP1

/// A reference split into registry, repository and tag or digest.
package struct ImageReference: Sendable, Equatable {
    package var registry: String
    package var repository: String
    package var tag: String?
    package var digest: String?

    package init(_ ref: String) throws {
        var name = ImageStore.normalize(ref)
        if let at = name.firstIndex(of: "@") {
            digest = String(name[name.index(after: at)...])
            name = String(name[..<at])
        }
        guard let slash = name.firstIndex(of: "/") else { throw RuntimeError(.invalidArgument, "bad image reference \(ref)") }
        registry = String(name[..<slash])
        var repo = String(name[name.index(after: slash)...])
        if let colon = repo.lastIndex(of: ":"), digest == nil || !repo[colon...].contains("/") {
            tag = String(repo[repo.index(after: colon)...])
            repo = String(repo[..<colon])
        }
        repository = repo
        if registry == "docker.io" { registry = "registry-1.docker.io" }
    }

    /// Plain HTTP only for the loopback registry.
    var baseURL: String {
        let insecure = registry.hasPrefix("127.0.0.1") || registry.hasPrefix("localhost") || registry.hasPrefix("[::1]")
        return (insecure ? "http://" : "https://") + registry + "/v2/" + repository
    }

    var name: String { (registry == "registry-1.docker.io" ? "docker.io" : registry) + "/" + repository }
}

/// OCI distribution client: manifests (OCI + Docker schema2, index → linux/amd64), bearer-token
/// auth, digest-verified blobs streamed to disk, concurrent layer downloads; and pushes (tests, load).
package struct RegistryClient: Sendable {
    package static let manifestTypes = [
        "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
    let http: HTTPClient
    private let token = TokenBox()

    init(http: HTTPClient) { self.http = http }

    package init() { self.init(http: .shared) }

    /// GET/PUT/POST/HEAD with one bearer-token retry on 401.
    func send(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: Data? = nil,
              timeout: Int64 = 300) async throws -> HTTPClientResponse {
        for attempt in 0..<2 {
            var req = HTTPClientRequest(url: url)
            req.method = method
            for (k, v) in headers { req.headers.add(name: k, value: v) }
            if let t = token.value { req.headers.replaceOrAdd(name: "Authorization", value: "Bearer " + t) }
            if let body { req.body = .bytes(ByteBuffer(bytes: body)) }
            let resp = try await http.execute(req, timeout: .seconds(timeout))
            if resp.status == .unauthorized, attempt == 0, let challenge = resp.headers.first(name: "WWW-Authenticate") {
                _ = try? await resp.body.collect(upTo: 1 << 20)
                try await authenticate(challenge)
                continue
            }
            return resp
        }
        throw RuntimeError(.invalidState, "registry \(url): unauthorized")
    }

    /// `Bearer realm="…",service="…",scope="…"` → GET realm?service&scope → token.
    private func authenticate(_ challenge: String) async throws {
        guard challenge.lowercased().hasPrefix("bearer ") else {
            throw RuntimeError(.unsupported, "registry auth scheme \(challenge) is not supported")
        }
        var params: [String: String] = [:]
        let re = /([a-zA-Z]+)="([^"]*)"/
        for m in challenge.matches(of: re) { params[String(m.1)] = String(m.2) }
        guard let realm = params["realm"], var comps = URLComponents(string: realm) else {
            throw RuntimeError(.invalidArgument, "registry auth challenge without realm: \(challenge)")
        }
        comps.queryItems = ["service", "scope"].compactMap { k in params[k].map { URLQueryItem(name: k, value: $0) } }
        let resp = try await http.execute(HTTPClientRequest(url: comps.string ?? realm), timeout: .seconds(60))
        let body = try await resp.body.collect(upTo: 1 << 20)
        guard resp.status == .ok, let o = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
            let t = (o["token"] as? String) ?? (o["access_token"] as? String)
        else { throw RuntimeError(.invalidState, "registry token from \(realm): HTTP \(resp.status.code)") }
        token.value = t
    }

    /// Fetches a manifest; resolves an index to its linux/amd64 entry. Returns (digest, media type, body).
    package func manifest(_ ref: ImageReference) async throws -> (String, [String: Any]) {
        var reference = ref.digest ?? ref.tag ?? "latest"
        for _ in 0..<3 {
            let resp = try await send(.GET, ref.baseURL + "/manifests/" + reference,
                                      headers: [("Accept", Self.manifestTypes.joined(separator: ", "))])
            let body = Data(try await resp.body.collect(upTo: 4 << 20).readableBytesView)
            guard resp.status == .ok else {
                throw RuntimeError(resp.status == .notFound ? .notFound : .invalidState,
                                   "image \(ref.name):\(reference): registry answered HTTP \(resp.status.code)")
            }
            let digest = "sha256:" + Self.sha256(body)
            if reference.hasPrefix("sha256:") && reference != digest {
                throw RuntimeError(.invalidState, "manifest \(reference) has digest \(digest): refusing it")
            }
            guard let o = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                throw RuntimeError(.invalidArgument, "manifest of \(ref.name): not JSON")
            }
            let type = o["mediaType"] as? String ?? resp.headers.first(name: "Content-Type") ?? ""
            if type.contains("index") || type.contains("manifest.list") || o["manifests"] != nil {
                let entries = o["manifests"] as? [[String: Any]] ?? []
                guard let pick = entries.first(where: {
                    let p = $0["platform"] as? [String: Any]
                    return p?["os"] as? String == "linux" && p?["architecture"] as? String == "amd64"
                }), let d = pick["digest"] as? String else {
                    throw RuntimeError(.notFound, "image \(ref.name) has no linux/amd64 manifest")
                }
                reference = d
                continue
            }
            return (digest, o)
        }
        throw RuntimeError(.invalidArgument, "image \(ref.name): nested indexes")
    }

    /// Streams a blob to `path`, verifying its digest.
    package func blob(_ ref: ImageReference, digest: String, to path: String) async throws {
        let resp = try await send(.GET, ref.baseURL + "/blobs/" + digest)
        guard resp.status == .ok else {
            throw RuntimeError(.invalidState, "blob \(digest) of \(ref.name): HTTP \(resp.status.code)")
        }
        guard FileManager.default.createFile(atPath: path + ".part", contents: nil),
            let fh = FileHandle(forWritingAtPath: path + ".part")
        else { throw RuntimeError.sys("create", path) }
        var hasher = SHA256()
        for try await chunk in resp.body {
            let d = Data(chunk.readableBytesView)
            hasher.update(d)
            try fh.write(contentsOf: d)
        }
        try fh.synchronize()
        try fh.close()
        let got = "sha256:" + hasher.hexDigest()
        guard got == digest else {
            unlink(path + ".part")
            throw RuntimeError(.invalidState, "blob of \(ref.name) should have digest \(digest) but has \(got)")
        }
        if rename(path + ".part", path) != 0 { throw RuntimeError.sys("rename", path) }
    }

    /// Uploads a blob (monolithic POST + PUT) unless present.
    package func pushBlob(_ ref: ImageReference, digest: String, data: Data) async throws {
        let head = try await send(.HEAD, ref.baseURL + "/blobs/" + digest)
        if head.status == .ok { return }
        let start = try await send(.POST, ref.baseURL + "/blobs/uploads/")
        _ = try? await start.body.collect(upTo: 1 << 20)
        guard start.status == .accepted, var location = start.headers.first(name: "Location") else {
            throw RuntimeError(.invalidState, "blob upload to \(ref.name): HTTP \(start.status.code)")
        }
        if location.hasPrefix("/") { location = String(ref.baseURL.prefix { $0 != "/" }) + "//" + ref.registry + location }
        location += (location.contains("?") ? "&" : "?") + "digest=" + digest
        let put = try await send(.PUT, location, headers: [("Content-Type", "application/octet-stream")], body: data)
        _ = try? await put.body.collect(upTo: 1 << 20)
        guard put.status == .created else { throw RuntimeError(.invalidState, "blob \(digest) upload: HTTP \(put.status.code)") }
    }

    package func pushManifest(_ ref: ImageReference, mediaType: String, data: Data) async throws {
        let resp = try await send(.PUT, ref.baseURL + "/manifests/" + (ref.digest ?? ref.tag ?? "latest"),
                                  headers: [("Content-Type", mediaType)], body: data)
        let body = (try? await resp.body.collect(upTo: 1 << 20)).map { String(decoding: $0.readableBytesView, as: UTF8.self) }
        guard resp.status == .created else {
            throw RuntimeError(.invalidState, "manifest push to \(ref.name): HTTP \(resp.status.code) \(body ?? "")")
        }
    }

    static func sha256(_ data: Data) -> String {
        var h = SHA256()
        h.update(data)
        return h.hexDigest()
    }
}

final class TokenBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _value: String?
    var value: String? {
        get { lock.withLock { _value } }
        set { lock.withLock { _value = newValue } }
    }
}

extension ImageStore {
    /// Pulls `ref`: manifest (index → linux/amd64), config, layers downloaded concurrently into the
    /// content-addressed blob store (<root>/blobs/sha256/<hex>), verified, extracted, registered.
    package func pull(_ refString: String, client: RegistryClient = RegistryClient()) async throws -> ImageInfo {
        let ref = try ImageReference(refString)
        let (digest, manifest) = try await client.manifest(ref)
        guard let cd = (manifest["config"] as? [String: Any])?["digest"] as? String else {
            throw RuntimeError(.invalidArgument, "manifest \(digest) of \(ref.name) has no config")
        }
        let layers = ((manifest["layers"] as? [[String: Any]]) ?? []).compactMap { $0["digest"] as? String }
        let blobs = root + "/blobs/sha256"
        try LinuxSyscalls().mkdirAll(blobs)
        func path(_ d: String) -> String { blobs + "/" + d.replacingOccurrences(of: "sha256:", with: "") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for d in [cd] + layers where !FileManager.default.fileExists(atPath: path(d)) {
                group.addTask { try await client.blob(ref, digest: d, to: path(d)) }
            }
            try await group.waitForAll()
        }
        guard let cdata = FileContents.data(atPath: path(cd)),
            let config = try JSONSerialization.jsonObject(with: cdata) as? [String: Any]
        else { throw RuntimeError(.invalidArgument, "config \(cd) of \(ref.name) is not JSON") }
        let name = ref.name + ":" + (ref.tag ?? "latest")
        var info = try await importImage(ref: ref.digest == nil ? name : ref.name + "@" + ref.digest!, config: config,
                                         configDigest: cd, layerFiles: layers.map { ($0, path($0)) }, repoDigest: digest)
        if ref.digest != nil { info.repoTags = [] }
        info.repoDigests = [ref.name + "@" + digest]
        try registerImage(info)
        return info
    }

    package func pullImage(_ ref: String) async throws -> String { try await pull(ref).id }
}
