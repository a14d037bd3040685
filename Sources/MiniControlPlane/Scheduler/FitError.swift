import KubeAPI

/// Why a pod fits no node, worded as kube-scheduler 1.35 words it:
/// `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s). no new
/// claims to deallocate, preemption: 0/3 nodes are available: 3 Preemption is not helpful for
/// scheduling.` — reasons counted over nodes, each "<count> <reason>", sorted as strings
/// (Go's `sort.Strings`), joined with ", ". The PostFilter part lists what each PostFilter
/// plugin said: DynamicResources (enabled by default since 1.34) has no claims to free, then
/// DefaultPreemption's own histogram. When preemption nominated a node there is no PostFilter
/// part.
public struct FitError: Sendable, Error, CustomStringConvertible {
    public var numAllNodes: Int
    public var failures: [String: FilterFailure]
    /// Set when a PreFilter rejected the pod for every node.
    public var preFilterMessage: String?
    /// DefaultPreemption's message (`preemption: …`), nil when preemption succeeded.
    public var preemptionMessage: String?
    /// False when preemption found a node: PostFilter then reports nothing.
    public var postFilterFailed = true

    public init(numAllNodes: Int, failures: [String: FilterFailure], preFilterMessage: String? = nil) {
        self.numAllNodes = numAllNodes
        self.failures = failures
        self.preFilterMessage = preFilterMessage
    }

    /// "<count> <reason>" strings sorted byte-wise, as Go sorts them.
    public static func histogram(_ reasonsPerNode: some Sequence<[String]>) -> [String] {
        var counts: [String: Int] = [:]
        for reasons in reasonsPerNode { for r in reasons { counts[r, default: 0] += 1 } }
        return counts.map { "\($0.value) \($0.key)" }.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    public var message: String {
        if numAllNodes == 0 { return "no nodes available to schedule pods" }
        var s = "0/\(numAllNodes) nodes are available:"
        if let pre = preFilterMessage {
            s += " \(pre)."
        } else {
            let h = Self.histogram(failures.values.map(\.reasons))
            if !h.isEmpty { s += " " + h.joined(separator: ", ") + "." }
        }
        if postFilterFailed {
            var post = ["no new claims to deallocate"]
            if let p = preemptionMessage { post.append(p) }
            s += " " + post.joined(separator: ", ") + "."
        }
        return s
    }

    public var description: String { message }
}
