import KubeAPI
import Testing
@testable import MiniControlPlane

/// The scheduling queue with explicit times: no clock, no sleeps.
@Suite struct SchedulerQueueTests {
    typealias F = SchedFixtures
    let t0 = ContinuousClock.now

    @Test func popsByPriorityThenArrival() {
        var q = SchedulingQueue()
        q.add(PodInfo(F.pod("low", priority: 0)), now: t0)
        q.add(PodInfo(F.pod("high", priority: 100)), now: t0 + .milliseconds(1))
        q.add(PodInfo(F.pod("low2", priority: 0)), now: t0 + .milliseconds(2))
        q.add(PodInfo(F.pod("mid", priority: 50)), now: t0 + .milliseconds(3))
        var order: [String] = []
        while let p = q.pop() { order.append(p.info.name) }
        #expect(order == ["high", "mid", "low", "low2"])
    }

    @Test func backoffDoublesFromOneSecondToTen() {
        let q = SchedulingQueue()
        #expect(q.backoffDuration(attempts: 1) == .seconds(1))
        #expect(q.backoffDuration(attempts: 2) == .seconds(2))
        #expect(q.backoffDuration(attempts: 4) == .seconds(8))
        #expect(q.backoffDuration(attempts: 5) == .seconds(10))
        #expect(q.backoffDuration(attempts: 30) == .seconds(10))
    }

    @Test func failedPodsWaitInBackoffUntilItEnds() {
        var q = SchedulingQueue()
        q.add(PodInfo(F.pod("p")), now: t0)
        let popped = q.pop()!
        q.requeueFailed(popped, unschedulable: false, now: t0)
        #expect(q.pop() == nil)
        #expect(q.flush(now: t0 + .milliseconds(900)) == 0)
        #expect(q.flush(now: t0 + .seconds(1)) == 1)
        #expect(q.pop()?.info.name == "p")
    }

    @Test func unschedulablePodsMoveOnClusterEvents() {
        var q = SchedulingQueue()
        q.add(PodInfo(F.pod("p")), now: t0)
        let popped = q.pop()!
        q.requeueFailed(popped, unschedulable: true, now: t0)
        // flushing does not release it: it waits for an event (or 5 minutes)
        #expect(q.flush(now: t0 + .seconds(20)) == 0)
        #expect(q.unschedulable.count == 1)
        // an event after the backoff: straight to active
        #expect(q.moveAllToActiveOrBackoff(now: t0 + .seconds(30)) == 1)
        #expect(q.pop()?.info.name == "p")
    }

    @Test func eventDuringBackoffGoesToBackoffQueue() {
        var q = SchedulingQueue()
        q.add(PodInfo(F.pod("p")), now: t0)
        q.requeueFailed(q.pop()!, unschedulable: true, now: t0)
        q.moveAllToActiveOrBackoff(now: t0 + .milliseconds(100))
        #expect(q.pop() == nil)
        #expect(q.backoff.count == 1)
        q.flush(now: t0 + .seconds(1))
        #expect(q.pop() != nil)
    }

    @Test func unschedulableForTooLongIsRetried() {
        var q = SchedulingQueue()
        q.add(PodInfo(F.pod("p")), now: t0)
        q.requeueFailed(q.pop()!, unschedulable: true, now: t0)
        #expect(q.flush(now: t0 + .seconds(301)) == 1)
        #expect(q.pop() != nil)
    }

    @Test func specUpdateRetriesAnUnschedulablePodAndDeleteRemovesIt() {
        var q = SchedulingQueue()
        q.add(PodInfo(F.pod("p", cpu: "8")), now: t0)
        q.requeueFailed(q.pop()!, unschedulable: true, now: t0)
        q.update(PodInfo(F.pod("p", cpu: "8")), now: t0 + .seconds(5))   // same spec: stays
        #expect(q.unschedulable.count == 1)
        q.update(PodInfo(F.pod("p", cpu: "1")), now: t0 + .seconds(5))   // smaller: retried
        #expect(q.unschedulable.isEmpty && q.pop()?.info.requests.milliCPU == 1000)
        q.add(PodInfo(F.pod("gone")), now: t0)
        q.delete("default/gone")
        #expect(q.pop() == nil && !q.contains("default/gone"))
    }

    @Test func nominatedPodsAreTracked() {
        var q = SchedulingQueue()
        let p = PodInfo(F.pod("p", priority: 10))
        q.nominate(p, node: "n1")
        #expect(q.nominatedPods(on: "n1").map(\.name) == ["p"])
        q.delete(p.key)
        #expect(q.nominatedPods(on: "n1").isEmpty)
    }
}

/// FailedScheduling messages worded as kube-scheduler 1.35 words them.
@Suite struct SchedulerMessageTests {
    func failure(_ r: String, _ code: FilterFailure.Code = .unschedulable) -> FilterFailure { FilterFailure(code, [r], plugin: "x") }

    @Test func reasonsAreCountedAndSortedAsGoSortsStrings() {
        var e = FitError(numAllNodes: 3, failures: [
            "a": failure("Insufficient cpu"),
            "b": failure("node(s) had untolerated taint(s)", .unresolvable),
            "c": failure("node(s) had untolerated taint(s)", .unresolvable),
        ])
        e.preemptionMessage = "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling"
        #expect(e.message == "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s). no new claims to deallocate, "
            + "preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.")
        // "10 …" sorts before "2 …", as in Go
        #expect(FitError.histogram(Array(repeating: ["b"], count: 10) + [["a"], ["a"]]) == ["10 b", "2 a"])
        // several reasons from one node count separately
        let multi = FitError(numAllNodes: 1, failures: ["a": FilterFailure(.unschedulable, ["Insufficient cpu", "Insufficient memory"], plugin: "NodeResourcesFit")])
        #expect(multi.message.hasPrefix("0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory. "))
    }

    @Test func successfulPreemptionLeavesNoPostFilterPart() {
        var e = FitError(numAllNodes: 1, failures: ["a": failure("Insufficient cpu")])
        e.postFilterFailed = false
        #expect(e.message == "0/1 nodes are available: 1 Insufficient cpu.")
        #expect(FitError(numAllNodes: 0, failures: [:]).message == "no nodes available to schedule pods")
    }
}
