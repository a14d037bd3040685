package import FoundationEssentials
import Glibc

/// CNI: the plugin invoker (spec 1.1.0) and the bridge / host-local / loopback / portmap plugins.
package enum CNISpec {
    package static let version = "1.1.0"
    package static let supportedVersions = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]

    /// Compares dotted versions numerically ("0.4.0" < "1.0.0").
    package static func compare(_ a: String, _ b: String) -> Int {
        let x = a.split(separator: ".").map { Int($0) ?? 0 }
        let y = b.split(separator: ".").map { Int($0) ?? 0 }
        for i in 0..<max(x.count, y.count) {
            let l = i < x.count ? x[i] : 0
            let r = i < y.count ? y[i] : 0
            if l != r { return l < r ? -1 : 1 }
        }
        return 0
    }

    package static func isSupported(_ v: String) -> Bool { supportedVersions.contains(v) }
}

/// A CNI error as the spec defines it: `{cniVersion, code, msg, details}`.
package struct CNIError: Error, Equatable, Sendable, CustomStringConvertible {
    package var code: Int
    package var msg: String
    package var details: String

    package init(_ code: Code, _ msg: String, details: String = "") {
        self.code = code.rawValue
        self.msg = msg
        self.details = details
    }

    package init(code: Int, msg: String, details: String = "") {
        self.code = code
        self.msg = msg
        self.details = details
    }

    /// Well-known codes (spec section "Error"), plus our plugin-specific ones (100+).
    package enum Code: Int, Sendable {
        case incompatibleVersion = 1
        case unsupportedField = 2
        case containerUnknown = 3
        case invalidEnvironment = 4
        case ioFailure = 5
        case decodeFailure = 6
        case invalidConfig = 7
        case tryAgainLater = 11
        /// STATUS: the plugin cannot service ADD requests now (spec 1.1).
        case notAvailable = 50
        /// Plugin-specific: CHECK found the attachment differs from its result.
        case checkFailed = 100
        /// Plugin-specific: a kernel (netlink / nftables) call failed.
        case kernel = 101
    }

    package var description: String {
        details.isEmpty ? "CNI error \(code): \(msg)" : "CNI error \(code): \(msg) (\(details))"
    }

    /// The JSON a plugin prints on stdout when it fails.
    package func json(cniVersion: String) -> Data {
        let obj: [String: Any] = ["cniVersion": cniVersion, "code": code, "msg": msg, "details": details]
        return (try? CNIJSON.data(obj)) ?? Data()
    }

    /// Parses a plugin's error output; nil when it is not a CNI error object.
    package static func parse(_ data: Data) -> CNIError? {
        guard let obj = CNIJSON.object(data),
              let code = obj["code"] as? Int else { return nil }
        return CNIError(code: code, msg: obj["msg"] as? String ?? "", details: obj["details"] as? String ?? "")
    }
}

/// The result of ADD (spec 1.x layout; 0.3/0.4 add `"version": "4"` to each IP).
package struct CNIResult: Codable, Equatable, Sendable {
    package struct Interface: Codable, Equatable, Sendable {
        package var name: String
        package var mac: String?
        package var mtu: Int?
        package var sandbox: String?
        package init(name: String, mac: String? = nil, mtu: Int? = nil, sandbox: String? = nil) {
            self.name = name; self.mac = mac; self.mtu = mtu; self.sandbox = sandbox
        }
    }
    package struct IPConfig: Codable, Equatable, Sendable {
        package var version: String?
        package var address: String
        package var gateway: String?
        package var interface: Int?
        package init(version: String? = nil, address: String, gateway: String? = nil, interface: Int? = nil) {
            self.version = version; self.address = address; self.gateway = gateway; self.interface = interface
        }
    }
    package struct Route: Codable, Equatable, Sendable {
        package var dst: String
        package var gw: String?
        package init(dst: String, gw: String? = nil) { self.dst = dst; self.gw = gw }
    }
    package struct DNS: Codable, Equatable, Sendable {
        package var nameservers: [String]?
        package var domain: String?
        package var search: [String]?
        package var options: [String]?
        package init() {}
    }

    package var cniVersion: String
    package var interfaces: [Interface]?
    package var ips: [IPConfig]?
    package var routes: [Route]?
    package var dns: DNS?

    package init(cniVersion: String, interfaces: [Interface]? = nil, ips: [IPConfig]? = nil,
                 routes: [Route]? = nil, dns: DNS? = nil)
    {
        self.cniVersion = cniVersion; self.interfaces = interfaces; self.ips = ips; self.routes = routes; self.dns = dns
    }

    /// Re-expresses the result in `version`'s layout (IP "version" field before 1.0.0).
    package func converted(to version: String) -> CNIResult {
        var r = self
        r.cniVersion = version
        let legacy = CNISpec.compare(version, "1.0.0") < 0
        r.ips = ips?.map { ip in
            var ip = ip
            ip.version = legacy ? "4" : nil
            return ip
        }
        return r
    }

    package func jsonData() -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return (try? enc.encode(self)) ?? Data()
    }

    package static func decode(_ data: Data) throws -> CNIResult {
        do { return try JSONDecoder().decode(CNIResult.self, from: data) } catch {
            throw CNIError(.decodeFailure, "cannot decode CNI result", details: "\(error)")
        }
    }

    /// The result as a JSON object, for embedding as `prevResult`.
    package func jsonObject() -> Any { (try? CNIJSON.parse(jsonData())) ?? [String: Any]() }
}
