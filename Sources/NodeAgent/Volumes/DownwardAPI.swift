package import Foundation
package import KubeAPI

/// The downward API: a pod's own fields and its containers' resources, as env vars
/// (`fieldRef`, `resourceFieldRef`) and as the files of downwardAPI and projected volumes,
/// in the kubelet's formats.
package enum DownwardAPI {
    package struct FieldError: Error, CustomStringConvertible, Sendable {
        package var message: String
        package var description: String { message }
    }

    /// What a pod's fieldRef reads. Volumes take metadata only (with whole label and
    /// annotation maps); env vars also take the node, the service account and the IPs.
    package static func field(_ path: String, _ pod: Pod, forVolume: Bool, nodeName: String = "", podIP: String? = nil,
                              hostIP: String? = nil) throws -> String {
        switch path {
        case "metadata.name": return pod.name
        case "metadata.namespace": return pod.namespace ?? "default"
        case "metadata.uid": return pod.uid
        case "metadata.labels" where forVolume: return formatMap(pod.metadata.labels ?? [:])
        case "metadata.annotations" where forVolume: return formatMap(pod.metadata.annotations ?? [:])
        case "spec.nodeName" where !forVolume: return pod.spec?.nodeName ?? nodeName
        case "spec.serviceAccountName" where !forVolume: return pod.spec?.serviceAccountName ?? "default"
        case "status.podIP" where !forVolume, "status.podIPs" where !forVolume: return podIP ?? ""
        case "status.hostIP" where !forVolume, "status.hostIPs" where !forVolume: return hostIP ?? ""
        default:
            if path.hasPrefix("metadata.labels['"), path.hasSuffix("']") {
                return pod.metadata.labels?[String(path.dropFirst(17).dropLast(2))] ?? ""
            }
            if path.hasPrefix("metadata.annotations['"), path.hasSuffix("']") {
                return pod.metadata.annotations?[String(path.dropFirst(22).dropLast(2))] ?? ""
            }
            throw FieldError(message: "unsupported fieldPath: \(path)")
        }
    }

    /// A container's `limits.*` / `requests.*` divided by `divisor` and rounded up, as the
    /// kubelet reports it; an unset limit is the node's allocatable when known.
    package static func resource(_ resource: String, divisor: String?, container: Container,
                                 allocatable: [String: Quantity]? = nil) throws -> String {
        let limit = resource.hasPrefix("limits.")
        guard limit || resource.hasPrefix("requests.") else { throw FieldError(message: "unsupported container resource: \(resource)") }
        let name = String(resource.dropFirst(limit ? 7 : 9))
        guard ["cpu", "memory", "ephemeral-storage"].contains(name) || name.hasPrefix("hugepages-") else {
            throw FieldError(message: "unsupported container resource: \(resource)")
        }
        var q = limit ? container.resources?.limits?[name] : container.resources?.requests?[name]
        if q == nil, limit { q = allocatable?[name] }
        let d: Quantity
        do { d = try Quantity(divisor ?? "1") } catch { throw FieldError(message: "invalid divisor \(divisor ?? ""): \(error)") }
        guard let q else { return "0" }
        if name == "cpu" {
            let m = max(d.milliValue, 1)
            return String(Int64((Double(q.milliValue) / Double(m)).rounded(.up)))
        }
        return String(Int64((Double(q.value) / Double(max(d.value, 1))).rounded(.up)))
    }

    /// `key="value"` lines in key order (Go's %q quoting), no trailing newline.
    package static func formatMap(_ m: [String: String]) -> String {
        m.keys.sorted().map { "\($0)=\(goQuote(m[$0]!))" }.joined(separator: "\n")
    }

    /// Go's strconv.Quote.
    package static func goQuote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{07}": out += "\\a"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{0B}": out += "\\v"
            default:
                if u.value < 0x20 || u.value == 0x7f {
                    out += String(format: "\\x%02x", u.value)
                } else if (0x80..<0xa0).contains(u.value) {
                    out += String(format: "\\u%04x", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// The files of a downwardAPI volume (or projection): path → (content, mode).
    package static func files(_ items: [JSONValue], pod: Pod, volume: String) throws -> [String: (Data, mode_t?)] {
        var out: [String: (Data, mode_t?)] = [:]
        for item in items {
            let path = try VolumeManager.checkedPath(item["path"]?.stringValue ?? "", volume: volume)
            let value: String
            do {
                if let f = item["fieldRef"]?["fieldPath"]?.stringValue {
                    value = try field(f, pod, forVolume: true)
                } else if let r = item["resourceFieldRef"], let res = r["resource"]?.stringValue {
                    let name = r["containerName"]?.stringValue ?? ""
                    guard let c = (pod.spec?.containers ?? []).first(where: { $0.name == name })
                        ?? (pod.spec?.initContainers ?? []).first(where: { $0.name == name })
                    else { throw FieldError(message: "container \(name) not found in pod \(pod.name)") }
                    value = try resource(res, divisor: r["divisor"]?.stringValue, container: c)
                } else {
                    throw FieldError(message: "item \(path) has neither fieldRef nor resourceFieldRef")
                }
            } catch let e as FieldError {
                throw VolumeError(volume: volume, message: e.message)
            }
            out[path] = (Data(value.utf8), item["mode"]?.intValue.map { mode_t($0) })
        }
        return out
    }
}
