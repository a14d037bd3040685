import Crypto
import Foundation
import KubeAPI

/// Service account tokens: ES256 JWTs with Kubernetes' claims, signed by a key kept in the
/// server's data directory (created on first start, so tokens outlive restarts), served by
/// TokenRequest (`serviceaccounts/<name>/token`), checked by TokenReview and on every request
/// that presents one, and published for OIDC discovery.
public struct TokenIssuer: Sendable {
    public static let issuer = "https://kubernetes.default.svc.cluster.local"
    let key: P256.Signing.PrivateKey
    /// base64url(SHA-256(DER public key)), as kube-apiserver derives a key id.
    let keyID: String

    init(key: P256.Signing.PrivateKey) {
        self.key = key
        keyID = Self.base64url(Data(SHA256.hash(data: key.publicKey.derRepresentation)))
    }

    /// The key in `path` (PKCS#8 PEM), or a new one written there with mode 0600.
    public static func loadOrCreate(_ path: String) throws -> TokenIssuer {
        if let pem = try? String(contentsOfFile: path, encoding: .utf8) {
            return TokenIssuer(key: try P256.Signing.PrivateKey(pemRepresentation: pem))
        }
        let key = P256.Signing.PrivateKey()
        let tmp = path + ".tmp"
        guard FileManager.default.createFile(atPath: tmp, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: tmp])
        }
        if rename(tmp, path) != 0 { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
        return TokenIssuer(key: key)
    }

    static func base64url(_ d: Data) -> String {
        d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func unbase64url(_ s: Substring) -> Data? {
        var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b.count % 4 != 0 { b += "=" }
        return Data(base64Encoded: b)
    }

    /// header.claims.signature
    func sign(_ claims: JSONValue) throws -> String {
        let header: JSONValue = ["alg": "ES256", "kid": .string(keyID)]
        let input = Self.base64url(Data(JSONWriter.string(header).utf8)) + "." + Self.base64url(Data(JSONWriter.string(claims).utf8))
        let sig = try key.signature(for: Data(input.utf8))
        return input + "." + Self.base64url(sig.rawRepresentation)
    }

    /// The claims of a token this issuer signed, or why it is not one.
    func verify(_ token: String) -> Result<JSONValue, TokenError> {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerData = Self.unbase64url(parts[0]), let claimData = Self.unbase64url(parts[1]),
            let sigData = Self.unbase64url(parts[2]), let header = try? JSONParser.parse([UInt8](headerData)),
            let claims = try? JSONParser.parse([UInt8](claimData))
        else { return .failure(.malformed) }
        guard header["alg"]?.stringValue == "ES256", let sig = try? P256.Signing.ECDSASignature(rawRepresentation: sigData),
            key.publicKey.isValidSignature(sig, for: Data((parts[0] + "." + parts[1]).utf8))
        else { return .failure(.signature) }
        guard claims["iss"]?.stringValue == Self.issuer else { return .failure(.issuer) }
        let now = Date().timeIntervalSince1970
        if let exp = claims["exp"]?.doubleValue, now > exp { return .failure(.expired) }
        if let nbf = claims["nbf"]?.doubleValue, now + 60 < nbf { return .failure(.notYetValid) }
        return .success(claims)
    }

    /// The JSON Web Key Set of the public key (`/openid/v1/jwks`).
    var jwks: JSONValue {
        let raw = key.publicKey.rawRepresentation  // x || y
        return ["keys": [["use": "sig", "kty": "EC", "kid": .string(keyID), "crv": "P-256", "alg": "ES256",
                          "x": .string(Self.base64url(raw.prefix(32))), "y": .string(Self.base64url(raw.suffix(32)))]]]
    }

    var openIDConfiguration: JSONValue {
        ["issuer": .string(Self.issuer), "jwks_uri": .string(Self.issuer + "/openid/v1/jwks"), "response_types_supported": ["id_token"],
         "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["ES256"]]
    }
}

public enum TokenError: Error, Sendable {
    case malformed, signature, issuer, expired, notYetValid, audience, revoked(String)

    /// kube-apiserver's wording for a rejected bearer token.
    var message: String {
        switch self {
        case .malformed: return "invalid bearer token, token malformed"
        case .signature: return "invalid bearer token, square/go-jose: error in cryptographic primitive"
        case .issuer: return "invalid bearer token, token issuer is not trusted"
        case .expired: return "invalid bearer token, service account token has expired"
        case .notYetValid: return "invalid bearer token, service account token is not valid yet"
        case .audience: return "invalid bearer token, token audiences don't match the requested audiences"
        case .revoked(let why): return "invalid bearer token, \(why)"
        }
    }
}

extension APIServer {
    /// TokenRequest: a token for the service account `name`, optionally bound to a Pod,
    /// Secret or Node that must exist (with the given uid).
    func requestToken(namespace: String, name: String, body: JSONValue) async throws -> JSONValue {
        guard let tokens else { throw APIError.internalError("no service account signing key is configured") }
        let saInfo = registry.lookup(group: "", version: "v1", resource: "serviceaccounts")!
        let sa = try await get(saInfo, namespace: namespace, name: name)
        if sa.isNull { throw APIError.notFound(saInfo, name) }
        let spec = body["spec"] ?? [:]
        let expiration = spec["expirationSeconds"]?.intValue ?? 3600
        if expiration < 600 {
            throw APIError.badRequest("TokenRequest.authentication.k8s.io \"\(name)\" is invalid: spec.expirationSeconds: Invalid value: \(expiration): may not specify a duration less than 10 minutes")
        }
        let audiences = spec["audiences"]?.arrayValue?.compactMap(\.stringValue).nilIfEmpty ?? [TokenIssuer.issuer]
        let now = Int64(Date().timeIntervalSince1970)
        var k8s: JSONValue = ["namespace": .string(namespace),
                              "serviceaccount": ["name": .string(name), "uid": sa.value(at: ["metadata", "uid"]) ?? ""]]
        if let ref = spec["boundObjectRef"], let kind = ref["kind"]?.stringValue {
            let refName = ref["name"]?.stringValue ?? ""
            let target: ResourceInfo
            switch kind {
            case "Pod": target = registry.lookup(group: "", version: "v1", resource: "pods")!
            case "Secret": target = registry.lookup(group: "", version: "v1", resource: "secrets")!
            case "Node": target = registry.lookup(group: "", version: "v1", resource: "nodes")!
            default:
                throw APIError.badRequest("TokenRequest.authentication.k8s.io \"\(name)\" is invalid: spec.boundObjectRef.kind: Unsupported value: \"\(kind)\": supported values: \"Pod\", \"Secret\", \"Node\"")
            }
            let obj = try await get(target, namespace: kind == "Node" ? nil : namespace, name: refName)
            if obj.isNull { throw APIError.notFound(target, refName) }
            let uid = obj.value(at: ["metadata", "uid"])?.stringValue ?? ""
            if let want = ref["uid"]?.stringValue, !want.isEmpty, want != uid {
                throw APIError.conflict(target, refName, "the UID in the bound object reference (\(want)) does not match the UID in record. The object might have been deleted and then recreated")
            }
            k8s[kind.lowercased()] = ["name": .string(refName), "uid": .string(uid)]
            if kind == "Pod", let node = obj.value(at: ["spec", "nodeName"])?.stringValue, !node.isEmpty {
                let nodes = registry.lookup(group: "", version: "v1", resource: "nodes")!
                let n = try await get(nodes, namespace: nil, name: node)
                if !n.isNull { k8s["node"] = ["name": .string(node), "uid": n.value(at: ["metadata", "uid"]) ?? ""] }
            }
        }
        let claims: JSONValue = [
            "aud": .array(audiences.map { .string($0) }), "exp": .int(now + expiration), "iat": .int(now), "nbf": .int(now),
            "iss": .string(TokenIssuer.issuer), "jti": .string(UUID().uuidString.lowercased()),
            "sub": .string("system:serviceaccount:\(namespace):\(name)"), "kubernetes.io": k8s,
        ]
        let token = try tokens.sign(claims)
        var outSpec = spec
        outSpec["audiences"] = .array(audiences.map { .string($0) })
        outSpec["expirationSeconds"] = .int(expiration)
        if outSpec["boundObjectRef"] == nil { outSpec["boundObjectRef"] = .null }
        return ["kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "metadata": ["name": .string(name), "namespace": .string(namespace), "creationTimestamp": .null],
                "spec": outSpec,
                "status": ["token": .string(token), "expirationTimestamp": .string(Tables.formatTime(Date(timeIntervalSince1970: Double(now + expiration))))]]
    }

    /// Who a token is: the service account (and the object it is bound to) while they still
    /// exist with the uids in the token, for one of `audiences`.
    func authenticate(_ token: String, audiences: [String] = [TokenIssuer.issuer]) async -> Result<(user: JSONValue, audiences: [String]), TokenError> {
        guard let tokens else { return .failure(.signature) }
        let claims: JSONValue
        switch tokens.verify(token) {
        case .failure(let e): return .failure(e)
        case .success(let c): claims = c
        }
        let tokenAud = claims["aud"]?.arrayValue?.compactMap(\.stringValue) ?? claims["aud"]?.stringValue.map { [$0] } ?? []
        let matched = audiences.filter { tokenAud.contains($0) }
        guard !matched.isEmpty else { return .failure(.audience) }
        let k8s = claims["kubernetes.io"] ?? [:]
        let ns = k8s["namespace"]?.stringValue ?? ""
        let saName = k8s.value(at: ["serviceaccount", "name"])?.stringValue ?? ""
        let saUID = k8s.value(at: ["serviceaccount", "uid"])?.stringValue ?? ""
        let saInfo = registry.lookup(group: "", version: "v1", resource: "serviceaccounts")!
        let sa = (try? await get(saInfo, namespace: ns, name: saName)) ?? .null
        guard !sa.isNull, sa.value(at: ["metadata", "uid"])?.stringValue == saUID else {
            return .failure(.revoked("service account \(ns)/\(saName) has been deleted"))
        }
        var extra: JSONObject = ["authentication.kubernetes.io/credential-id": .array([.string("JTI=\(claims["jti"]?.stringValue ?? "")")])]
        for (kind, resource) in [("pod", "pods"), ("secret", "secrets"), ("node", "nodes")] {
            guard let ref = k8s[kind], let refName = ref["name"]?.stringValue else { continue }
            let info = registry.lookup(group: "", version: "v1", resource: resource)!
            let obj = (try? await get(info, namespace: kind == "node" ? nil : ns, name: refName)) ?? .null
            if kind != "node" {
                guard !obj.isNull, obj.value(at: ["metadata", "uid"])?.stringValue == ref["uid"]?.stringValue,
                    obj.value(at: ["metadata", "deletionTimestamp"]) == nil
                else { return .failure(.revoked("\(resource) \"\(refName)\" not found or deleted")) }
            }
            extra["authentication.kubernetes.io/\(kind)-name"] = [.string(refName)]
            extra["authentication.kubernetes.io/\(kind)-uid"] = [ref["uid"] ?? ""]
        }
        let user: JSONValue = ["username": .string("system:serviceaccount:\(ns):\(saName)"), "uid": .string(saUID),
                               "groups": ["system:serviceaccounts", .string("system:serviceaccounts:\(ns)"), "system:authenticated"],
                               "extra": .object(extra)]
        return .success((user, matched))
    }

    /// TokenReview: the `status` for `spec.token`.
    func reviewToken(_ body: JSONValue) async -> JSONValue {
        let token = body.value(at: ["spec", "token"])?.stringValue ?? ""
        let audiences = body.value(at: ["spec", "audiences"])?.arrayValue?.compactMap(\.stringValue).nilIfEmpty ?? [TokenIssuer.issuer]
        var out = body
        out["kind"] = "TokenReview"
        out["apiVersion"] = "authentication.k8s.io/v1"
        if out["metadata"] == nil { out["metadata"] = ["creationTimestamp": .null] }
        switch await authenticate(token, audiences: audiences) {
        case .success(let r):
            out["status"] = ["authenticated": true, "user": r.user, "audiences": .array(r.audiences.map { .string($0) })]
        case .failure(let e):
            out["status"] = ["authenticated": false, "user": [:], "error": .string("[\(e.message)]")]
        }
        return out
    }
}

extension Array {
    var nilIfEmpty: Self? { isEmpty ? nil : self }
}
