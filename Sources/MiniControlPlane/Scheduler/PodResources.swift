public import KubeAPI

/// A resource vector as the scheduler compares it: cpu in millicores, memory and
/// ephemeral-storage in bytes, pods as a count, and scalar (extended, hugepages) resources as
/// integers, all exact (`Quantity` rounds up, as Kubernetes does).
public struct Resources: Sendable, Hashable {
    public var milliCPU: Int64 = 0
    public var memory: Int64 = 0
    public var ephemeralStorage: Int64 = 0
    /// For allocatable: how many pods the node takes.
    public var allowedPods: Int64 = 0
    public var scalar: [String: Int64] = [:]

    public init() {}

    public init(_ list: ResourceList?) {
        for (name, q) in list ?? [:] { set(name, q) }
    }

    mutating func set(_ name: String, _ q: Quantity) {
        switch name {
        case "cpu": milliCPU = q.milliValue
        case "memory": memory = q.value
        case "ephemeral-storage": ephemeralStorage = q.value
        case "pods": allowedPods = q.value
        default: scalar[name] = q.value
        }
    }

    public var isZero: Bool { milliCPU == 0 && memory == 0 && ephemeralStorage == 0 && scalar.values.allSatisfy { $0 == 0 } }

    public static func += (a: inout Resources, b: Resources) {
        a.milliCPU += b.milliCPU
        a.memory += b.memory
        a.ephemeralStorage += b.ephemeralStorage
        a.allowedPods += b.allowedPods
        for (k, v) in b.scalar { a.scalar[k, default: 0] += v }
    }

    public static func -= (a: inout Resources, b: Resources) {
        a.milliCPU -= b.milliCPU
        a.memory -= b.memory
        a.ephemeralStorage -= b.ephemeralStorage
        a.allowedPods -= b.allowedPods
        for (k, v) in b.scalar { a.scalar[k, default: 0] -= v }
    }

    /// Component-wise maximum.
    mutating func formMax(_ b: Resources) {
        milliCPU = max(milliCPU, b.milliCPU)
        memory = max(memory, b.memory)
        ephemeralStorage = max(ephemeralStorage, b.ephemeralStorage)
        for (k, v) in b.scalar { scalar[k] = max(scalar[k] ?? 0, v) }
    }
}

/// What a pod asks for, with upstream's rules (`resource.PodRequests`): the sum of the app
/// containers and of restartable (sidecar) init containers, at least the largest init container
/// (plus the sidecars started before it), plus `spec.overhead`.
public enum PodRequests {
    /// Requests for fitting; `nonZero` gives containers without a cpu or memory request the
    /// scoring defaults (100m, 200Mi), as upstream's NonZeroRequested does.
    public static func compute(_ spec: PodSpec?, nonZero: Bool = false) -> Resources {
        guard let spec else { return Resources() }
        func requests(_ c: Container) -> Resources {
            var r = Resources(c.resources?.requests)
            if nonZero {
                if c.resources?.requests?["cpu"] == nil { r.milliCPU = 100 }
                if c.resources?.requests?["memory"] == nil { r.memory = 200 * 1024 * 1024 }
            }
            return r
        }
        var total = Resources()
        for c in spec.containers { total += requests(c) }
        var sidecars = Resources()
        var initMax = Resources()
        for c in spec.initContainers ?? [] {
            let r = requests(c)
            if c.restartPolicy == "Always" {
                total += r
                sidecars += r
                initMax.formMax(sidecars)
            } else {
                var t = r
                t += sidecars
                initMax.formMax(t)
            }
        }
        total.formMax(initMax)
        if let overhead = spec.unknownFields?.fields["overhead"]?.objectValue {
            var o = Resources()
            for (k, v) in overhead {
                if let s = v.stringValue, let q = try? Quantity(s) { o.set(k, q) }
                else if let i = v.intValue { o.set(k, Quantity(integer: i)) }
            }
            total += o
        }
        return total
    }
}
