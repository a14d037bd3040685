import Foundation
public import KubeAPI

/// Validation of what clients send, per kind, with Kubernetes' field paths and wording.
public enum Validation {
    static let dns1123LabelMsg =
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    static let dns1123SubdomainMsg =
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    static let dns1035LabelMsg =
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"

    public static func isDNS1123Label(_ s: String) -> Bool {
        guard !s.isEmpty, s.count <= 63 else { return false }
        let u = Array(s.utf8)
        func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
        guard alnum(u.first!), alnum(u.last!) else { return false }
        return u.allSatisfy { alnum($0) || $0 == 45 }
    }

    public static func isDNS1123Subdomain(_ s: String) -> Bool {
        guard !s.isEmpty, s.count <= 253 else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNS1123Label(String($0)) }
    }

    public static func isDNS1035Label(_ s: String) -> Bool {
        guard isDNS1123Label(s), let f = s.utf8.first else { return false }
        return f >= 97 && f <= 122
    }

    static func validateName(_ r: ResourceInfo, _ name: String) -> [FieldError] {
        switch r.resource {
        case "namespaces":
            return isDNS1123Label(name) ? [] : [.invalid("metadata.name", .string(name), dns1123LabelMsg)]
        case "services":
            return isDNS1035Label(name) ? [] : [.invalid("metadata.name", .string(name), dns1035LabelMsg)]
        default:
            if r.isCustom || r.resource == "nodes" || r.resource == "events" {
                // path segment names: anything without '/' or '%'
                if name.utf8.contains(UInt8(ascii: "/")) || name.utf8.contains(UInt8(ascii: "%")) || name == "." || name == ".." {
                    return [.invalid("metadata.name", .string(name), "may not contain '/'")]
                }
                return []
            }
            return isDNS1123Subdomain(name) ? [] : [.invalid("metadata.name", .string(name), dns1123SubdomainMsg)]
        }
    }

    static func validateMeta(_ obj: JSONValue) -> [FieldError] {
        var errs: [FieldError] = []
        if let labels = obj.value(at: ["metadata", "labels"])?.objectValue {
            for (k, v) in labels {  // a JSONObject's members are in key order
                guard let s = v.stringValue else {
                    errs.append(.invalid("metadata.labels", v, "must be a string"))
                    continue
                }
                switch LabelSelectorExpr.keyProblem(k) {
                case .prefix?:
                    errs.append(.invalid("metadata.labels", .string(k), "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"))
                case .name?:
                    errs.append(.invalid("metadata.labels", .string(k), "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"))
                case nil:
                    break
                }
                if !LabelSelectorExpr.isValidValue(s) {
                    errs.append(.invalid("metadata.labels", .string(s), "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"))
                }
            }
        }
        return errs
    }

    /// Checks the kind-specific rules; the object has already decoded into its typed model.
    public static func validate(_ r: ResourceInfo, _ obj: JSONValue) -> [FieldError] {
        var errs = validateMeta(obj)
        switch (r.group, r.resource) {
        case ("", "pods"):
            errs += validatePodSpec(obj["spec"], path: "spec")
        case ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"), ("apps", "daemonsets"):
            errs += validateWorkload(r, obj)
        case ("", "services"):
            errs += validateService(obj)
        case ("", "configmaps"), ("", "secrets"):
            for field in ["data", "binaryData", "stringData"] {
                for k in (obj[field]?.objectValue ?? [:]).keys.sorted()
                where k.isEmpty || !k.allSatisfy({ $0.isLetter || $0.isNumber || "-._".contains($0) }) {
                    errs.append(.invalid("\(field)[\(k)]", .string(k), "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"))
                }
            }
        case ("coordination.k8s.io", "leases"):
            if let d = obj.value(at: ["spec", "leaseDurationSeconds"])?.intValue, d <= 0 {
                errs.append(.invalid("spec.leaseDurationSeconds", .int(d), "must be greater than 0"))
            }
        case ("apiextensions.k8s.io", "customresourcedefinitions"):
            errs += validateCRD(obj)
        default: break
        }
        return errs
    }

    static func validatePodSpec(_ spec: JSONValue?, path: String) -> [FieldError] {
        var errs: [FieldError] = []
        guard let spec else { return [.required(path)] }
        let containers = spec["containers"]?.arrayValue ?? []
        if containers.isEmpty { errs.append(.required("\(path).containers")) }
        var names = Set<String>()
        for (field, list) in [("initContainers", spec["initContainers"]?.arrayValue ?? []), ("containers", containers)] {
            for (i, c) in list.enumerated() {
                let p = "\(path).\(field)[\(i)]"
                let name = c["name"]?.stringValue ?? ""
                if name.isEmpty {
                    errs.append(.required("\(p).name"))
                } else if !isDNS1123Label(name) {
                    errs.append(.invalid("\(p).name", .string(name), dns1123LabelMsg))
                } else if !names.insert(name).inserted {
                    errs.append(.duplicate("\(p).name", .string(name)))
                }
                if (c["image"]?.stringValue ?? "").isEmpty { errs.append(.required("\(p).image")) }
                for (j, port) in (c["ports"]?.arrayValue ?? []).enumerated() {
                    if let n = port["containerPort"]?.intValue, !(1...65535).contains(n) {
                        errs.append(.invalid("\(p).ports[\(j)].containerPort", .int(n), "must be between 1 and 65535, inclusive"))
                    }
                }
                if let pol = c["imagePullPolicy"]?.stringValue, !["Always", "IfNotPresent", "Never"].contains(pol) {
                    errs.append(.notSupported("\(p).imagePullPolicy", pol, ["Always", "IfNotPresent", "Never"]))
                }
                for kind in ["limits", "requests"] {
                    for (k, v) in (c.value(at: ["resources", kind])?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                        if let s = v.stringValue, let q = try? Quantity(s), q.nanos < 0 {
                            errs.append(.invalid("\(p).resources.\(kind)[\(k)]", v, "must be greater than or equal to 0"))
                        }
                    }
                }
            }
        }
        if let rp = spec["restartPolicy"]?.stringValue, !["Always", "OnFailure", "Never"].contains(rp) {
            errs.append(.notSupported("\(path).restartPolicy", rp, ["Always", "OnFailure", "Never"]))
        }
        if let g = spec["terminationGracePeriodSeconds"]?.intValue, g < 0 {
            errs.append(.invalid("\(path).terminationGracePeriodSeconds", .int(g), "must be greater than or equal to 0"))
        }
        var volNames = Set<String>()
        for (i, v) in (spec["volumes"]?.arrayValue ?? []).enumerated() {
            let n = v["name"]?.stringValue ?? ""
            if n.isEmpty { errs.append(.required("\(path).volumes[\(i)].name")) } else if !volNames.insert(n).inserted {
                errs.append(.duplicate("\(path).volumes[\(i)].name", .string(n)))
            }
        }
        return errs
    }

    static func validateWorkload(_ r: ResourceInfo, _ obj: JSONValue) -> [FieldError] {
        var errs: [FieldError] = []
        if let n = obj.value(at: ["spec", "replicas"])?.intValue, n < 0 {
            errs.append(.invalid("spec.replicas", .int(n), "must be greater than or equal to 0"))
        }
        guard let selector = obj.value(at: ["spec", "selector"]) else {
            errs.append(.required("spec.selector"))
            return errs
        }
        let tplLabels = obj.value(at: ["spec", "template", "metadata", "labels"])?.objectValue?
            .compactMapValues(\.stringValue) ?? [:]
        if let sel = try? JSONValueDecoder().decode(LabelSelector.self, from: selector) {
            if (sel.matchLabels ?? [:]).isEmpty && (sel.matchExpressions ?? []).isEmpty {
                errs.append(.invalid("spec.selector", selector, "empty selector is invalid for deployment"))
            } else if let expr = try? LabelSelectorExpr(sel), !expr.matches(tplLabels) {
                let shown = "map[string]string{" + tplLabels.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ", ") + "}"
                errs.append(FieldError(kind: .invalid, field: "spec.template.metadata.labels",
                                       detail: "Invalid value: \(shown): `selector` does not match template `labels`"))
            }
        }
        errs += validatePodSpec(obj.value(at: ["spec", "template", "spec"]), path: "spec.template.spec")
        if r.resource == "deployments", let t = obj.value(at: ["spec", "strategy", "type"])?.stringValue,
            !["Recreate", "RollingUpdate"].contains(t)
        {
            errs.append(.notSupported("spec.strategy.type", t, ["Recreate", "RollingUpdate"]))
        }
        return errs
    }

    static func validateService(_ obj: JSONValue) -> [FieldError] {
        var errs: [FieldError] = []
        let type = obj.value(at: ["spec", "type"])?.stringValue ?? "ClusterIP"
        let types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
        if !types.contains(type) { errs.append(.notSupported("spec.type", type, types)) }
        let ports = obj.value(at: ["spec", "ports"])?.arrayValue ?? []
        let headless = obj.value(at: ["spec", "clusterIP"])?.stringValue == "None"
        if ports.isEmpty && type != "ExternalName" && !headless { errs.append(.required("spec.ports")) }
        var names = Set<String>()
        for (i, p) in ports.enumerated() {
            let port = p["port"]?.intValue ?? 0
            if !(1...65535).contains(port) {
                errs.append(.invalid("spec.ports[\(i)].port", .int(port), "must be between 1 and 65535, inclusive"))
            }
            if let proto = p["protocol"]?.stringValue, !["TCP", "UDP", "SCTP"].contains(proto) {
                errs.append(.notSupported("spec.ports[\(i)].protocol", proto, ["SCTP", "TCP", "UDP"]))
            }
            let name = p["name"]?.stringValue ?? ""
            if ports.count > 1 && name.isEmpty { errs.append(.required("spec.ports[\(i)].name")) }
            if !name.isEmpty && !names.insert(name).inserted { errs.append(.duplicate("spec.ports[\(i)].name", .string(name))) }
            if let np = p["nodePort"]?.intValue, np != 0, type == "ClusterIP" {
                errs.append(.forbidden("spec.ports[\(i).nodePort", "may not be used when `type` is 'ClusterIP'"))
            }
        }
        if let aff = obj.value(at: ["spec", "sessionAffinity"])?.stringValue, !["ClientIP", "None"].contains(aff) {
            errs.append(.notSupported("spec.sessionAffinity", aff, ["ClientIP", "None"]))
        }
        return errs
    }

    static func validateCRD(_ obj: JSONValue) -> [FieldError] {
        var errs: [FieldError] = []
        let group = obj.value(at: ["spec", "group"])?.stringValue ?? ""
        let plural = obj.value(at: ["spec", "names", "plural"])?.stringValue ?? ""
        let name = obj.value(at: ["metadata", "name"])?.stringValue ?? ""
        if group.isEmpty { errs.append(.required("spec.group")) } else if !group.contains(".") {
            errs.append(.invalid("spec.group", .string(group), "should be a domain with at least one dot"))
        }
        if plural.isEmpty { errs.append(.required("spec.names.plural")) }
        if (obj.value(at: ["spec", "names", "kind"])?.stringValue ?? "").isEmpty {
            errs.append(.required("spec.names.kind"))
        }
        if !plural.isEmpty, !group.isEmpty, name != "\(plural).\(group)" {
            errs.append(.invalid("metadata.name", .string(name), "must be spec.names.plural+\".\"+spec.group"))
        }
        if let scope = obj.value(at: ["spec", "scope"])?.stringValue, !["Cluster", "Namespaced"].contains(scope) {
            errs.append(.notSupported("spec.scope", scope, ["Cluster", "Namespaced"]))
        }
        let versions = obj.value(at: ["spec", "versions"])?.arrayValue ?? []
        if versions.isEmpty { errs.append(.required("spec.versions")) }
        if versions.filter({ $0["storage"]?.boolValue == true }).count != 1, !versions.isEmpty {
            errs.append(.invalid("spec.versions", .array(versions.compactMap { $0["name"] }), "must have exactly one version marked as storage version"))
        }
        return errs
    }
}
