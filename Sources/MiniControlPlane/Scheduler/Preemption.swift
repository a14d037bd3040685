import KubeAPI

/// DefaultPreemption (PostFilter): when a pod fits nowhere, find a node where deleting
/// lower-priority pods makes it fit, with the fewest and least important victims.
extension Scheduler {
    enum PreemptionOutcome {
        case nominated(node: String, victims: [PodInfo])
        case failed(String)
    }

    static let notHelpful = "Preemption is not helpful for scheduling"
    static let noVictims = "No preemption victims found for incoming pod"

    func preempt(_ pod: PodInfo, _ fit: FitError, _ state: CycleState) -> PreemptionOutcome {
        if pod.preemptionPolicy == "Never" { return .failed("not eligible due to preemptionPolicy=Never") }
        if let nn = pod.pod.status?.nominatedNodeName, let node = cache.nodes[nn], fit.failures[nn]?.code != .unresolvable,
           node.pods.values.contains(where: { $0.isTerminating && $0.priority < pod.priority })
        {
            return .failed("not eligible due to a terminating pod on the nominated node")
        }
        let nodes = cache.nodeList
        var reasons: [String: String] = [:]
        var candidates: [(node: String, victims: [PodInfo])] = []
        let enough = max(100, nodes.count / 10)
        for node in nodes {
            guard let f = fit.failures[node.name], f.code != .unresolvable else {
                reasons[node.name] = Self.notHelpful
                continue
            }
            if candidates.count >= enough { continue }
            if let victims = selectVictims(pod, on: node, state) {
                candidates.append((node.name, victims))
            } else {
                reasons[node.name] = Self.noVictims
            }
        }
        guard let best = Self.pickOneNode(candidates) else {
            let h = FitError.histogram(reasons.values.map { [$0] })
            return .failed("0/\(nodes.count) nodes are available: " + h.joined(separator: ", "))
        }
        return .nominated(node: best.node, victims: best.victims)
    }

    /// More important first: higher priority, then the one that started earlier.
    static func moreImportant(_ a: PodInfo, _ b: PodInfo) -> Bool {
        if a.priority != b.priority { return a.priority > b.priority }
        return a.startTime < b.startTime
    }

    /// Removes every lower-priority pod; if the pod then fits, puts them back one by one, most
    /// important first, keeping each that still lets the pod fit (reprieve). The rest are the
    /// victims. nil when even removing all of them does not help.
    /// The cycle's pre-filter state (inter-pod affinity, topology spread counts) follows each
    /// removal and reprieve, as upstream's RemovePod/AddPod extensions do.
    func selectVictims(_ pod: PodInfo, on node: NodeInfo, _ state: CycleState) -> [PodInfo]? {
        let fw = options.framework
        let what = node.clone()
        let st = state.clone()
        let lower = what.pods.values.filter { $0.priority < pod.priority }
        if lower.isEmpty { return nil }
        for p in lower {
            what.remove(p)
            fw.updatePreFilterState(pod, p, on: what, adding: false, st)
        }
        if fw.runFilters(pod, what, st) != nil { return nil }
        var victims: [PodInfo] = []
        for p in lower.sorted(by: Self.moreImportant) {
            what.add(p)
            fw.updatePreFilterState(pod, p, on: what, adding: true, st)
            if fw.runFilters(pod, what, st) != nil {
                what.remove(p)
                fw.updatePreFilterState(pod, p, on: what, adding: false, st)
                victims.append(p)
            }
        }
        return victims
    }

    /// upstream `pickOneNodeForPreemption`: the lowest highest-priority victim, then the lowest
    /// sum of priorities, then the fewest victims, then the first.
    static func pickOneNode(_ candidates: [(node: String, victims: [PodInfo])]) -> (node: String, victims: [PodInfo])? {
        func key(_ c: (node: String, victims: [PodInfo])) -> (Int64, Int64, Int) {
            let top = Int64(c.victims.map(\.priority).max() ?? Int32.min)
            let sum = c.victims.reduce(Int64(0)) { $0 + Int64($1.priority) + Int64(Int32.max) + 1 }
            return (top, sum, c.victims.count)
        }
        return candidates.min { key($0) < key($1) }
    }
}
