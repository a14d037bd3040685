public import KubeAPI

/// Defaulting, as Kubernetes' `SetDefaults_*` functions and default admission plugins do,
/// so objects read back the way kubectl users expect.
public enum Defaults {
    public static func apply(_ r: ResourceInfo, _ obj: inout JSONValue) throws {
        switch (r.group, r.resource) {
        case ("", "pods"):
            obj.withValue(at: "spec") { spec in
                if spec != nil { podSpec(&spec!, isTemplate: false) }
            }
            if obj.value(at: ["status", "phase"]) == nil {
                obj.setValue("Pending", at: ["status", "phase"])
            }
            let qos = JSONValue.string(qosClass(obj["spec"] ?? .null))
            if obj.value(at: ["status", "qosClass"]) != qos { obj.setValue(qos, at: ["status", "qosClass"]) }
        case ("apps", "deployments"):
            setIfMissing(&obj, ["spec", "replicas"], 1)
            setIfMissing(&obj, ["spec", "revisionHistoryLimit"], 10)
            setIfMissing(&obj, ["spec", "progressDeadlineSeconds"], 600)
            if obj.value(at: ["spec", "strategy", "type"]) == nil { obj.setValue("RollingUpdate", at: ["spec", "strategy", "type"]) }
            if obj.value(at: ["spec", "strategy", "type"])?.stringValue == "RollingUpdate" {
                setIfMissing(&obj, ["spec", "strategy", "rollingUpdate", "maxUnavailable"], "25%")
                setIfMissing(&obj, ["spec", "strategy", "rollingUpdate", "maxSurge"], "25%")
            }
            template(&obj)
        case ("apps", "replicasets"):
            setIfMissing(&obj, ["spec", "replicas"], 1)
            template(&obj)
        case ("apps", "statefulsets"):
            setIfMissing(&obj, ["spec", "replicas"], 1)
            setIfMissing(&obj, ["spec", "podManagementPolicy"], "OrderedReady")
            setIfMissing(&obj, ["spec", "revisionHistoryLimit"], 10)
            if obj.value(at: ["spec", "updateStrategy", "type"]) == nil {
                obj.setValue("RollingUpdate", at: ["spec", "updateStrategy", "type"])
            }
            if obj.value(at: ["spec", "updateStrategy", "type"])?.stringValue == "RollingUpdate" {
                setIfMissing(&obj, ["spec", "updateStrategy", "rollingUpdate", "partition"], 0)
            }
            setIfMissing(&obj, ["spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted"], "Retain")
            setIfMissing(&obj, ["spec", "persistentVolumeClaimRetentionPolicy", "whenScaled"], "Retain")
            template(&obj)
        case ("apps", "daemonsets"):
            setIfMissing(&obj, ["spec", "revisionHistoryLimit"], 10)
            if obj.value(at: ["spec", "updateStrategy", "type"]) == nil {
                obj.setValue("RollingUpdate", at: ["spec", "updateStrategy", "type"])
            }
            if obj.value(at: ["spec", "updateStrategy", "type"])?.stringValue == "RollingUpdate" {
                setIfMissing(&obj, ["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"], 1)
                setIfMissing(&obj, ["spec", "updateStrategy", "rollingUpdate", "maxSurge"], 0)
            }
            template(&obj)
        case ("", "services"):
            setIfMissing(&obj, ["spec", "type"], "ClusterIP")
            setIfMissing(&obj, ["spec", "sessionAffinity"], "None")
            if obj.value(at: ["spec", "sessionAffinity"])?.stringValue == "ClientIP" {
                setIfMissing(&obj, ["spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"], 10800)
            }
            if obj.value(at: ["spec", "type"])?.stringValue != "ExternalName" {
                setIfMissing(&obj, ["spec", "internalTrafficPolicy"], "Cluster")
                setIfMissing(&obj, ["spec", "ipFamilies"], ["IPv4"])
                setIfMissing(&obj, ["spec", "ipFamilyPolicy"], "SingleStack")
            }
            if var ports = obj.value(at: ["spec", "ports"])?.arrayValue {
                for i in ports.indices {
                    if ports[i]["protocol"] == nil { ports[i]["protocol"] = "TCP" }
                    if ports[i]["targetPort"] == nil, let p = ports[i]["port"] { ports[i]["targetPort"] = p }
                }
                obj.setValue(.array(ports), at: ["spec", "ports"])
            }
            if obj["status"] == nil { obj["status"] = ["loadBalancer": [:]] }
        case ("", "secrets"):
            setIfMissing(&obj, ["type"], "Opaque")
            // stringData is write-only: merged into data, base64-encoded
            if let sd = obj["stringData"]?.objectValue {
                var data = obj["data"]?.objectValue ?? [:]
                for (k, v) in sd {
                    data[k] = .string(base64(Array((v.stringValue ?? "").utf8)))
                }
                obj["data"] = .object(data)
                obj["stringData"] = nil
            }
        case ("", "nodes"):
            if obj["spec"] == nil { obj["spec"] = [:] }
        case ("batch", "jobs"):
            setIfMissing(&obj, ["spec", "parallelism"], 1)
            setIfMissing(&obj, ["spec", "backoffLimit"], 6)
            setIfMissing(&obj, ["spec", "completionMode"], "NonIndexed")
            setIfMissing(&obj, ["spec", "suspend"], false)
            if var spec = obj.value(at: ["spec", "template", "spec"]) {
                if spec["restartPolicy"] == nil { spec["restartPolicy"] = "Never" }
                podSpec(&spec, isTemplate: true)
                obj.setValue(spec, at: ["spec", "template", "spec"])
            }
        default: break
        }
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i], b1 = i + 1 < bytes.count ? bytes[i + 1] : 0, b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(table[Int(b0 >> 2)])
            out.append(table[Int((b0 & 3) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.count ? table[Int((b1 & 15) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? table[Int(b2 & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func setIfMissing(_ obj: inout JSONValue, _ path: [String], _ value: JSONValue) {
        if obj.value(at: path) == nil { obj.setValue(value, at: path) }
    }

    static func template(_ obj: inout JSONValue) {
        if var spec = obj.value(at: ["spec", "template", "spec"]) {
            podSpec(&spec, isTemplate: true)
            obj.setValue(spec, at: ["spec", "template", "spec"])
        }
    }

    /// Writes only what is missing: on an update the spec is mostly shared with the stored
    /// object, and an untouched spec stays shared (no copy of it or of its containers), so the
    /// comparisons that follow (generation, immutable fields, managed fields) find it identical
    /// at once.
    static func podSpec(_ spec: inout JSONValue, isTemplate: Bool) {
        if spec["restartPolicy"] == nil { spec["restartPolicy"] = "Always" }
        if spec["terminationGracePeriodSeconds"] == nil { spec["terminationGracePeriodSeconds"] = 30 }
        if spec["dnsPolicy"] == nil { spec["dnsPolicy"] = "ClusterFirst" }
        if spec["securityContext"] == nil { spec["securityContext"] = [:] }
        if spec["schedulerName"] == nil { spec["schedulerName"] = "default-scheduler" }
        if !isTemplate {
            if spec["serviceAccountName"] == nil { spec["serviceAccountName"] = spec["serviceAccount"] ?? "default" }
            if spec["serviceAccount"] == nil { spec["serviceAccount"] = spec["serviceAccountName"] }
            if spec["enableServiceLinks"] == nil { spec["enableServiceLinks"] = true }
            if spec["preemptionPolicy"] == nil { spec["preemptionPolicy"] = "PreemptLowerPriority" }
            if spec["priority"] == nil { spec["priority"] = 0 }
            // DefaultTolerationSeconds admission
            var tol = spec["tolerations"]?.arrayValue ?? []
            let before = tol.count
            for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]
            where !tol.contains(where: { $0["key"]?.stringValue == key }) {
                tol.append(["key": .string(key), "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300])
            }
            if tol.count != before || spec["tolerations"]?.arrayValue == nil { spec["tolerations"] = .array(tol) }
        }
        for field in ["containers", "initContainers"] {
            guard let cs = spec[field]?.arrayValue, cs.contains(where: needsDefaults) else { continue }
            spec.withValue(at: field) { cs in
                cs?.withElements { c in container(&c) }  // writes only what is missing
            }
        }
    }

    /// Whether a container lacks a default that `container(_:)` would set.
    static func needsDefaults(_ c: JSONValue) -> Bool {
        var copy = c
        return container(&copy, dryRun: true)
    }

    /// Sets a container's defaults and says whether any was missing; with `dryRun`, only says
    /// (and leaves `c` untouched). One list of defaults for both, so they cannot drift apart.
    @discardableResult
    static func container(_ c: inout JSONValue, dryRun: Bool = false) -> Bool {
        /// Sets `key` unless present; true when it was missing.
        func setDefault(_ v: inout JSONValue, _ key: String, _ value: @autoclosure () -> JSONValue) -> Bool {
            guard v[key] == nil else { return false }
            if !dryRun { v[key] = value() }
            return true
        }
        var missing = false
        missing = setDefault(&c, "terminationMessagePath", "/dev/termination-log") || missing
        missing = setDefault(&c, "terminationMessagePolicy", "File") || missing
        missing = setDefault(&c, "resources", [:]) || missing
        let image = c["image"]?.stringValue ?? ""
        missing = setDefault(&c, "imagePullPolicy", {
            let last = image.split(separator: "/").last.map(String.init) ?? image
            let latest = !last.utf8.contains(UInt8(ascii: ":")) && !image.utf8.contains(UInt8(ascii: "@")) || image.hasSuffix(":latest")
            return latest ? "Always" : "IfNotPresent"
        }()) || missing
        if let ports = c["ports"]?.arrayValue, ports.contains(where: { $0["protocol"] == nil }) {
            missing = true
            if !dryRun {
                c.withValue(at: "ports") { ports in
                    ports?.withElements { p in if p["protocol"] == nil { p["protocol"] = "TCP" } }
                }
            }
        }
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            guard var p = c[probe], p.objectValue != nil else { continue }
            var probeMissing = false
            for (key, value) in [("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)] as [(String, JSONValue)] {
                probeMissing = setDefault(&p, key, value) || probeMissing
            }
            if var h = p["httpGet"], h.objectValue != nil, setDefault(&h, "scheme", "HTTP") {
                _ = setDefault(&h, "path", "/")
                probeMissing = true
                if !dryRun { p["httpGet"] = h }
            }
            guard probeMissing else { continue }
            missing = true
            if !dryRun { c[probe] = p }
        }
        return missing
    }

    /// The pod's QoS class from its requests and limits.
    public static func qosClass(_ spec: JSONValue) -> String {
        let cs = (spec["containers"]?.arrayValue ?? []) + (spec["initContainers"]?.arrayValue ?? [])
        var anySet = false
        var guaranteed = true
        for c in cs {
            let req = c.value(at: ["resources", "requests"])?.objectValue ?? [:]
            let lim = c.value(at: ["resources", "limits"])?.objectValue ?? [:]
            if !req.isEmpty || !lim.isEmpty { anySet = true }
            for res in ["cpu", "memory"] {
                guard let l = lim[res]?.stringValue.flatMap({ try? Quantity($0) }) else {
                    guaranteed = false
                    continue
                }
                if let r = req[res]?.stringValue.flatMap({ try? Quantity($0) }), r != l { guaranteed = false }
            }
        }
        if !anySet { return "BestEffort" }
        return guaranteed ? "Guaranteed" : "Burstable"
    }
}
