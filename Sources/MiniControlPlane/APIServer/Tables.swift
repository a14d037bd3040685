public import Foundation
public import KubeAPI

/// Server-side printing: the `Table` columns and cells kubectl shows for each kind, as the
/// Kubernetes API server's printers produce them.
public enum Tables {
    typealias Col = TableColumnDefinition

    static func nameCol() -> Col { Col(name: "Name", format: "name", description: "Name must be unique within a namespace.") }
    static func ageCol() -> Col { Col(name: "Age", description: "CreationTimestamp is a timestamp representing the server time when this object was created.") }

    public static func columns(for r: ResourceInfo) -> [TableColumnDefinition] {
        if let cols = r.crdColumns {
            return [nameCol()] + cols.map {
                Col(name: $0.name, type: $0.type, format: $0.format ?? "", description: $0.description ?? "", priority: $0.priority ?? 0)
            } + (cols.contains { $0.name == "Age" } ? [] : [ageCol()])
        }
        switch (r.group, r.resource) {
        case ("", "pods"):
            return [nameCol(), Col(name: "Ready"), Col(name: "Status"), Col(name: "Restarts"), ageCol(),
                    Col(name: "IP", priority: 1), Col(name: "Node", priority: 1),
                    Col(name: "Nominated Node", priority: 1), Col(name: "Readiness Gates", priority: 1)]
        case ("", "nodes"):
            return [nameCol(), Col(name: "Status"), Col(name: "Roles"), ageCol(), Col(name: "Version"),
                    Col(name: "Internal-IP", priority: 1), Col(name: "External-IP", priority: 1),
                    Col(name: "OS-Image", priority: 1), Col(name: "Kernel-Version", priority: 1),
                    Col(name: "Container-Runtime", priority: 1)]
        case ("", "namespaces"): return [nameCol(), Col(name: "Status"), ageCol()]
        case ("", "services"):
            return [nameCol(), Col(name: "Type"), Col(name: "Cluster-IP"), Col(name: "External-IP"),
                    Col(name: "Port(s)"), ageCol(), Col(name: "Selector", priority: 1)]
        case ("", "endpoints"): return [nameCol(), Col(name: "Endpoints"), ageCol()]
        case ("", "configmaps"): return [nameCol(), Col(name: "Data", type: "integer"), ageCol()]
        case ("", "secrets"): return [nameCol(), Col(name: "Type"), Col(name: "Data", type: "integer"), ageCol()]
        case ("", "serviceaccounts"): return [nameCol(), Col(name: "Secrets", type: "integer"), ageCol()]
        case ("", "events"), ("events.k8s.io", "events"):
            return [Col(name: "Last Seen"), Col(name: "Type"), Col(name: "Reason"), Col(name: "Object"),
                    Col(name: "Subobject", priority: 1), Col(name: "Source", priority: 1), Col(name: "Message"),
                    Col(name: "First Seen", priority: 1), Col(name: "Count", type: "integer", priority: 1),
                    Col(name: "Name", priority: 1)]
        case ("", "componentstatuses"):
            return [nameCol(), Col(name: "Status"), Col(name: "Message"), Col(name: "Error")]
        case ("apps", "deployments"):
            return [nameCol(), Col(name: "Ready"), Col(name: "Up-to-date", type: "integer"),
                    Col(name: "Available", type: "integer"), ageCol(), Col(name: "Containers", priority: 1),
                    Col(name: "Images", priority: 1), Col(name: "Selector", priority: 1)]
        case ("apps", "replicasets"):
            return [nameCol(), Col(name: "Desired", type: "integer"), Col(name: "Current", type: "integer"),
                    Col(name: "Ready", type: "integer"), ageCol(), Col(name: "Containers", priority: 1),
                    Col(name: "Images", priority: 1), Col(name: "Selector", priority: 1)]
        case ("apps", "statefulsets"):
            return [nameCol(), Col(name: "Ready"), ageCol(), Col(name: "Containers", priority: 1),
                    Col(name: "Images", priority: 1)]
        case ("apps", "daemonsets"):
            return [nameCol(), Col(name: "Desired", type: "integer"), Col(name: "Current", type: "integer"),
                    Col(name: "Ready", type: "integer"), Col(name: "Up-to-date", type: "integer"),
                    Col(name: "Available", type: "integer"), Col(name: "Node Selector"), ageCol(),
                    Col(name: "Containers", priority: 1), Col(name: "Images", priority: 1),
                    Col(name: "Selector", priority: 1)]
        case ("coordination.k8s.io", "leases"): return [nameCol(), Col(name: "Holder"), ageCol()]
        case ("discovery.k8s.io", "endpointslices"):
            return [nameCol(), Col(name: "AddressType"), Col(name: "Ports"), Col(name: "Endpoints"), ageCol()]
        case ("apiextensions.k8s.io", "customresourcedefinitions"):
            return [nameCol(), Col(name: "Created At", type: "date")]
        default: return [nameCol(), ageCol()]
        }
    }

    static func str(_ v: JSONValue?) -> String { v?.stringValue ?? "" }

    public static func cells(for r: ResourceInfo, _ o: JSONValue, now: Date) -> [JSONValue] {
        let name = JSONValue.string(str(o.value(at: ["metadata", "name"])))
        let age = JSONValue.string(ageString(o.value(at: ["metadata", "creationTimestamp"])?.stringValue, now: now))
        if let cols = r.crdColumns {
            var out: [JSONValue] = [name]
            for c in cols {
                let v = JSONPath.evaluate(c.jsonPath, o)
                if c.type == "date", let s = v?.stringValue { out.append(.string(ageString(s, now: now))) } else {
                    out.append(v ?? .null)
                }
            }
            if !cols.contains(where: { $0.name == "Age" }) { out.append(age) }
            return out
        }
        switch (r.group, r.resource) {
        case ("", "pods"): return podCells(o, name: name, age: age, now: now)
        case ("", "nodes"):
            let conds = o.value(at: ["status", "conditions"])?.arrayValue ?? []
            var status = "Unknown"
            if let ready = conds.first(where: { $0["type"]?.stringValue == "Ready" }) {
                status = ready["status"]?.stringValue == "True" ? "Ready" : "NotReady"
            }
            if o.value(at: ["spec", "unschedulable"])?.boolValue == true { status += ",SchedulingDisabled" }
            let labels = o.value(at: ["metadata", "labels"])?.objectValue ?? [:]
            var roles: [String] = []
            for k in labels.keys.sorted() {
                if k.hasPrefix("node-role.kubernetes.io/") { roles.append(String(k.dropFirst("node-role.kubernetes.io/".count))) }
                if k == "kubernetes.io/role", let v = labels[k]?.stringValue { roles.append(v) }
            }
            let addrs = o.value(at: ["status", "addresses"])?.arrayValue ?? []
            func addr(_ t: String) -> String { addrs.first { $0["type"]?.stringValue == t }?["address"]?.stringValue ?? "<none>" }
            let info = o.value(at: ["status", "nodeInfo"])
            return [name, .string(status), .string(roles.isEmpty ? "<none>" : roles.joined(separator: ",")), age,
                    .string(str(info?["kubeletVersion"])), .string(addr("InternalIP")), .string(addr("ExternalIP")),
                    .string(str(info?["osImage"]).isEmpty ? "<unknown>" : str(info?["osImage"])),
                    .string(str(info?["kernelVersion"]).isEmpty ? "<unknown>" : str(info?["kernelVersion"])),
                    .string(str(info?["containerRuntimeVersion"]).isEmpty ? "<unknown>" : str(info?["containerRuntimeVersion"]))]
        case ("", "namespaces"):
            return [name, .string(str(o.value(at: ["status", "phase"])).isEmpty ? "Active" : str(o.value(at: ["status", "phase"]))), age]
        case ("", "services"):
            let type = str(o.value(at: ["spec", "type"])).isEmpty ? "ClusterIP" : str(o.value(at: ["spec", "type"]))
            let cip = str(o.value(at: ["spec", "clusterIP"]))
            var ext = (o.value(at: ["spec", "externalIPs"])?.arrayValue ?? []).compactMap(\.stringValue)
            if type == "ExternalName" { ext = [str(o.value(at: ["spec", "externalName"]))] }
            if type == "LoadBalancer" {
                let ing = (o.value(at: ["status", "loadBalancer", "ingress"])?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue ?? $0["hostname"]?.stringValue }
                ext += ing
                if ext.isEmpty { ext = ["<pending>"] }
            }
            let ports = (o.value(at: ["spec", "ports"])?.arrayValue ?? []).map { p -> String in
                let port = p["port"]?.intValue ?? 0
                let proto = str(p["protocol"]).isEmpty ? "TCP" : str(p["protocol"])
                if let np = p["nodePort"]?.intValue, np > 0 { return "\(port):\(np)/\(proto)" }
                return "\(port)/\(proto)"
            }
            let sel = (o.value(at: ["spec", "selector"])?.objectValue ?? [:]).sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value.stringValue ?? "")" }.joined(separator: ",")
            return [name, .string(type), .string(cip.isEmpty ? "<none>" : cip),
                    .string(ext.isEmpty ? "<none>" : ext.joined(separator: ",")),
                    .string(ports.isEmpty ? "<none>" : ports.joined(separator: ",")), age,
                    .string(sel.isEmpty ? "<none>" : sel)]
        case ("", "endpoints"):
            var eps: [String] = []
            for s in o["subsets"]?.arrayValue ?? [] {
                let ports = (s["ports"]?.arrayValue ?? []).compactMap { $0["port"]?.intValue }
                for a in s["addresses"]?.arrayValue ?? [] {
                    let ip = str(a["ip"])
                    if ports.isEmpty { eps.append(ip) } else { for p in ports { eps.append("\(ip):\(p)") } }
                }
            }
            var shown = eps.prefix(3).joined(separator: ",")
            if eps.count > 3 { shown += " + \(eps.count - 3) more..." }
            return [name, .string(eps.isEmpty ? "<none>" : shown), age]
        case ("", "configmaps"):
            return [name, .int(Int64((o["data"]?.objectValue?.count ?? 0) + (o["binaryData"]?.objectValue?.count ?? 0))), age]
        case ("", "secrets"):
            return [name, .string(str(o["type"]).isEmpty ? "Opaque" : str(o["type"])), .int(Int64(o["data"]?.objectValue?.count ?? 0)), age]
        case ("", "serviceaccounts"): return [name, .int(Int64(o["secrets"]?.arrayValue?.count ?? 0)), age]
        case ("", "events"), ("events.k8s.io", "events"): return eventCells(o, now: now)
        case ("", "componentstatuses"):
            let c = o["conditions"]?.arrayValue?.first
            let healthy = c?["status"]?.stringValue == "True"
            return [name, .string(healthy ? "Healthy" : "Unhealthy"), .string(str(c?["message"])), .string(str(c?["error"]))]
        case ("apps", _) where ["deployments", "replicasets", "statefulsets", "daemonsets"].contains(r.resource):
            return workloadCells(r, o, name: name, age: age)
        case ("coordination.k8s.io", "leases"):
            return [name, .string(str(o.value(at: ["spec", "holderIdentity"]))), age]
        case ("discovery.k8s.io", "endpointslices"):
            let ports = (o["ports"]?.arrayValue ?? []).compactMap { $0["port"]?.intValue }.map(String.init)
            let addrs = (o["endpoints"]?.arrayValue ?? []).flatMap { ($0["addresses"]?.arrayValue ?? []).compactMap(\.stringValue) }
            var shown = addrs.prefix(3).joined(separator: ",")
            if addrs.count > 3 { shown += " + \(addrs.count - 3) more..." }
            return [name, .string(str(o["addressType"])), .string(ports.isEmpty ? "<unset>" : ports.joined(separator: ",")),
                    .string(addrs.isEmpty ? "<unset>" : shown), age]
        case ("apiextensions.k8s.io", "customresourcedefinitions"):
            return [name, .string(str(o.value(at: ["metadata", "creationTimestamp"])))]
        default: return [name, age]
        }
    }

    static func podCells(_ o: JSONValue, name: JSONValue, age: JSONValue, now: Date) -> [JSONValue] {
        let containers = o.value(at: ["spec", "containers"])?.arrayValue ?? []
        let statuses = o.value(at: ["status", "containerStatuses"])?.arrayValue ?? []
        var reason = str(o.value(at: ["status", "phase"]))
        if let r = o.value(at: ["status", "reason"])?.stringValue, !r.isEmpty { reason = r }
        var restarts: Int64 = 0
        var ready = 0
        var lastRestart: Date? = nil
        var initializing = false
        let initStatuses = o.value(at: ["status", "initContainerStatuses"])?.arrayValue ?? []
        let initCount = o.value(at: ["spec", "initContainers"])?.arrayValue?.count ?? 0
        for (i, c) in initStatuses.enumerated() {
            restarts += c["restartCount"]?.intValue ?? 0
            if let t = c.value(at: ["state", "terminated"]), t["exitCode"]?.intValue == 0 { continue }
            if let t = c.value(at: ["state", "terminated"]) {
                reason = str(t["reason"]).isEmpty ? "Init:ExitCode:\(t["exitCode"]?.intValue ?? 0)" : "Init:" + str(t["reason"])
            } else if let w = c.value(at: ["state", "waiting"]), !str(w["reason"]).isEmpty, str(w["reason"]) != "PodInitializing" {
                reason = "Init:" + str(w["reason"])
            } else {
                reason = "Init:\(i)/\(initCount)"
            }
            initializing = true
            break
        }
        if !initializing {
            restarts = 0
            var hasRunning = false
            for c in statuses.reversed() {
                restarts += c["restartCount"]?.intValue ?? 0
                if let ft = c.value(at: ["lastState", "terminated", "finishedAt"])?.stringValue, let d = parseTime(ft) {
                    if lastRestart == nil || d > lastRestart! { lastRestart = d }
                }
                if let w = c.value(at: ["state", "waiting"]), !str(w["reason"]).isEmpty {
                    reason = str(w["reason"])
                } else if let t = c.value(at: ["state", "terminated"]) {
                    if !str(t["reason"]).isEmpty { reason = str(t["reason"]) } else if let sig = t["signal"]?.intValue, sig != 0 {
                        reason = "Signal:\(sig)"
                    } else { reason = "ExitCode:\(t["exitCode"]?.intValue ?? 0)" }
                } else if c["ready"]?.boolValue == true, c.value(at: ["state", "running"]) != nil {
                    hasRunning = true
                    ready += 1
                }
            }
            if reason == "Completed", hasRunning { reason = "Running" }
        }
        if o.value(at: ["metadata", "deletionTimestamp"]) != nil {
            reason = o.value(at: ["status", "reason"])?.stringValue == "NodeLost" ? "Unknown" : "Terminating"
        }
        var restartStr = "\(restarts)"
        if let lastRestart, restarts > 0 {
            restartStr += " (\(humanDuration(now.timeIntervalSince(lastRestart))) ago)"
        }
        let ips = (o.value(at: ["status", "podIPs"])?.arrayValue ?? []).compactMap { $0["ip"]?.stringValue }
        let ip = ips.first ?? o.value(at: ["status", "podIP"])?.stringValue ?? "<none>"
        let node = o.value(at: ["spec", "nodeName"])?.stringValue ?? "<none>"
        let nominated = o.value(at: ["status", "nominatedNodeName"])?.stringValue ?? "<none>"
        let gates = o.value(at: ["spec", "readinessGates"])?.arrayValue ?? []
        var gatesStr = "<none>"
        if !gates.isEmpty {
            let conds = o.value(at: ["status", "conditions"])?.arrayValue ?? []
            let okGates = gates.filter { g in conds.contains { $0["type"] == g["conditionType"] && $0["status"]?.stringValue == "True" } }
            gatesStr = "\(okGates.count)/\(gates.count)"
        }
        return [name, .string("\(ready)/\(containers.count)"), .string(reason), .string(restartStr), age,
                .string(ip), .string(node), .string(nominated), .string(gatesStr)]
    }

    static func eventCells(_ o: JSONValue, now: Date) -> [JSONValue] {
        let isV1 = o["regarding"] != nil || o["note"] != nil
        let involved = isV1 ? o["regarding"] : o["involvedObject"]
        let first = str(isV1 ? o["deprecatedFirstTimestamp"] : o["firstTimestamp"])
        let last = str(isV1 ? o["deprecatedLastTimestamp"] : o["lastTimestamp"])
        let eventTime = str(o["eventTime"])
        let count = (isV1 ? o["deprecatedCount"] : o["count"])?.intValue ?? 1
        var lastSeen: String
        if !last.isEmpty { lastSeen = ageString(last, now: now) } else if !eventTime.isEmpty {
            lastSeen = ageString(eventTime, now: now)
        } else { lastSeen = "<unknown>" }
        if count > 1, !first.isEmpty { lastSeen += " (x\(count) over \(ageString(first, now: now)))" }
        let kind = str(involved?["kind"]).lowercased()
        let objName = str(involved?["name"])
        let source = isV1 ? o["deprecatedSource"] : o["source"]
        var src = str(source?["component"])
        if src.isEmpty { src = str(o[isV1 ? "reportingController" : "reportingComponent"]) }
        if let h = source?["host"]?.stringValue, !h.isEmpty { src += ", \(h)" }
        return [.string(lastSeen), .string(str(o["type"])), .string(str(o["reason"])),
                .string(kind.isEmpty ? objName : "\(kind)/\(objName)"), .string(str(involved?["fieldPath"])),
                .string(src), .string(str(isV1 ? o["note"] : o["message"])),
                .string(first.isEmpty ? "<unknown>" : ageString(first, now: now)), .int(count),
                .string(str(o.value(at: ["metadata", "name"])))]
    }

    static func workloadCells(_ r: ResourceInfo, _ o: JSONValue, name: JSONValue, age: JSONValue) -> [JSONValue] {
        let containers = o.value(at: ["spec", "template", "spec", "containers"])?.arrayValue ?? []
        let cnames = JSONValue.string(containers.map { str($0["name"]) }.joined(separator: ","))
        let images = JSONValue.string(containers.map { str($0["image"]) }.joined(separator: ","))
        var sel = ""
        if let s = o.value(at: ["spec", "selector"]), let ls = try? JSONValueDecoder().decode(LabelSelector.self, from: s),
            let e = try? LabelSelectorExpr(ls)
        {
            sel = e.description
        }
        let selector = JSONValue.string(sel.isEmpty ? "<none>" : sel)
        func st(_ k: String) -> Int64 { o.value(at: ["status", k])?.intValue ?? 0 }
        let desired = o.value(at: ["spec", "replicas"])?.intValue ?? 1
        switch r.resource {
        case "deployments":
            return [name, .string("\(st("readyReplicas"))/\(desired)"), .int(st("updatedReplicas")),
                    .int(st("availableReplicas")), age, cnames, images, selector]
        case "replicasets":
            return [name, .int(desired), .int(st("replicas")), .int(st("readyReplicas")), age, cnames, images, selector]
        case "statefulsets":
            return [name, .string("\(st("readyReplicas"))/\(desired)"), age, cnames, images]
        default:
            let ns = (o.value(at: ["spec", "template", "spec", "nodeSelector"])?.objectValue ?? [:]).sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value.stringValue ?? "")" }.joined(separator: ",")
            return [name, .int(st("desiredNumberScheduled")), .int(st("currentNumberScheduled")), .int(st("numberReady")),
                    .int(st("updatedNumberScheduled")), .int(st("numberAvailable")), .string(ns.isEmpty ? "<none>" : ns),
                    age, cnames, images, selector]
        }
    }

    // MARK: time

    nonisolated(unsafe) static let rfc3339: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f
    }()
    nonisolated(unsafe) static let rfc3339Frac: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
    static let timeLock = NSLock()

    public static func parseTime(_ s: String) -> Date? {
        timeLock.lock()
        defer { timeLock.unlock() }
        return rfc3339.date(from: s) ?? rfc3339Frac.date(from: s)
    }

    public static func formatTime(_ d: Date) -> String { KubeTime.format(d) }

    public static func formatMicroTime(_ d: Date) -> String {
        // metav1.MicroTime: RFC3339 with 6 fractional digits
        let secs = floor(d.timeIntervalSince1970)
        let micros = Int((d.timeIntervalSince1970 - secs) * 1_000_000)
        let base = formatTime(Date(timeIntervalSince1970: secs))
        return String(base.dropLast()) + String(format: ".%06dZ", micros)
    }

    static func ageString(_ ts: String?, now: Date) -> String {
        guard let ts, let d = parseTime(ts) else { return "<unknown>" }
        return humanDuration(now.timeIntervalSince(d))
    }

    /// Go's `duration.HumanDuration`, which kubectl's AGE column uses.
    public static func humanDuration(_ interval: TimeInterval) -> String {
        let seconds = Int(interval)
        if seconds < -1 { return "<invalid>" }
        if seconds < 0 { return "0s" }
        if seconds < 120 { return "\(seconds)s" }
        let minutes = seconds / 60
        if minutes < 10 {
            let s = seconds % 60
            return s == 0 ? "\(minutes)m" : "\(minutes)m\(s)s"
        }
        if minutes < 180 { return "\(minutes)m" }
        let hours = seconds / 3600
        if hours < 8 {
            let m = minutes % 60
            return m == 0 ? "\(hours)h" : "\(hours)h\(m)m"
        }
        if hours < 48 { return "\(hours)h" }
        if hours < 24 * 8 {
            let h = hours % 24
            return h == 0 ? "\(hours / 24)d" : "\(hours / 24)d\(h)h"
        }
        if hours < 24 * 365 * 2 { return "\(hours / 24)d" }
        if hours < 24 * 365 * 8 {
            let dy = (hours / 24) % 365
            return dy == 0 ? "\(hours / 24 / 365)y" : "\(hours / 24 / 365)y\(dy)d"
        }
        return "\(hours / 24 / 365)y"
    }
}

/// The subset of kubectl's JSONPath used by CRD printer columns: `.a.b`, `.a[0].b`, `.a['k']`.
public enum JSONPath {
    public static func evaluate(_ path: String, _ v: JSONValue) -> JSONValue? {
        var p = Substring(path.trimmingCharacters(in: CharacterSet(charactersIn: "{}")))
        if p.hasPrefix("$") { p = p.dropFirst() }
        var cur: JSONValue? = v
        while !p.isEmpty, let c = cur {
            if p.first == "." {
                p = p.dropFirst()
                let end = p.firstIndex(where: { $0 == "." || $0 == "[" }) ?? p.endIndex
                cur = c[String(p[..<end])]
                p = p[end...]
            } else if p.first == "[" {
                guard let close = p.firstIndex(of: "]") else { return nil }
                let inner = p[p.index(after: p.startIndex)..<close].trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
                if let i = Int(inner), let a = c.arrayValue {
                    cur = i >= 0 && i < a.count ? a[i] : nil
                } else {
                    cur = c[inner]
                }
                p = p[p.index(after: close)...]
            } else {
                return nil
            }
        }
        return cur
    }
}
