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
            obj.setValue(.string(qosClass(obj["spec"] ?? .null)), at: ["status", "qosClass"])
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
            for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]
            where !tol.contains(where: { $0["key"]?.stringValue == key }) {
                tol.append(["key": .string(key), "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300])
            }
            spec["tolerations"] = .array(tol)
        }
        for field in ["containers", "initContainers"] {
            spec.withValue(at: field) { cs in
                cs?.withElements { c in
                    if c["terminationMessagePath"] == nil { c["terminationMessagePath"] = "/dev/termination-log" }
                    if c["terminationMessagePolicy"] == nil { c["terminationMessagePolicy"] = "File" }
                    if c["resources"] == nil { c["resources"] = [:] }
                    if c["imagePullPolicy"] == nil {
                        let image = c["image"]?.stringValue ?? ""
                        let last = image.split(separator: "/").last.map(String.init) ?? image
                        let latest = !last.contains(":") && !image.contains("@") || image.hasSuffix(":latest")
                        c["imagePullPolicy"] = latest ? "Always" : "IfNotPresent"
                    }
                    c.withValue(at: "ports") { ports in
                        ports?.withElements { p in if p["protocol"] == nil { p["protocol"] = "TCP" } }
                    }
                    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
                        c.withValue(at: probe) { p in
                            guard p != nil else { return }
                            if p!["timeoutSeconds"] == nil { p!["timeoutSeconds"] = 1 }
                            if p!["periodSeconds"] == nil { p!["periodSeconds"] = 10 }
                            if p!["successThreshold"] == nil { p!["successThreshold"] = 1 }
                            if p!["failureThreshold"] == nil { p!["failureThreshold"] = 3 }
                            p!.withValue(at: "httpGet") { h in
                                guard h != nil, h!["scheme"] == nil else { return }
                                h!["scheme"] = "HTTP"
                                if h!["path"] == nil { h!["path"] = "/" }
                            }
                        }
                    }
                }
            }
        }
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
