@testable import CNI
import Foundation
import Testing
import TestSupport

/// ADD/DEL latency of a plugin set over `pods` sequential pods, in milliseconds.
struct CNILatency: CustomStringConvertible {
    var label: String
    var add: [Double]
    var del: [Double]

    static func percentile(_ xs: [Double], _ p: Double) -> Double {
        guard !xs.isEmpty else { return 0 }
        let s = xs.sorted()
        return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
    }

    var description: String {
        String(format: "%@: ADD p50 %.1f ms p99 %.1f ms, DEL p50 %.1f ms p99 %.1f ms (n=%d)", label,
               Self.percentile(add, 0.5), Self.percentile(add, 0.99), Self.percentile(del, 0.5), Self.percentile(del, 0.99), add.count)
    }

    /// Measures `inv` on a fresh lab node: N pods added one after another, then deleted.
    static func measure(_ label: String, pods: Int, reference: Bool) async throws -> CNILatency {
        try await NetnsLab.with(tag: "cnib") { lab in
            let n = try CNINode(lab)
            let inv = n.invoker(try n.conflist(subnet: "10.244.0.0/16"), reference: reference)
            let attachments = try (0..<pods).map { try n.pod("p\($0)") }
            var add: [Double] = [], del: [Double] = []
            let clock = ContinuousClock()
            for a in attachments {
                let d = try await clock.measure { _ = try await inv.setUp(a) }
                add.append(Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000)
            }
            for a in attachments {
                let d = try await clock.measure { try await inv.tearDown(a) }
                del.append(Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000)
            }
            return CNILatency(label: label, add: add, del: del)
        }
    }
}

/// `CNI_BENCH_PODS=50 swift test --filter CNIBenchmark` prints ours vs reference.
@Suite(.serialized, .enabled(if: CNINode.available && ProcessInfo.processInfo.environment["CNI_BENCH_PODS"] != nil,
                             "benchmark: set CNI_BENCH_PODS=<n> (needs root)"))
struct CNIBenchmark {
    @Test func addDelLatencyOursVsReference() async throws {
        let pods = min(500, max(1, Int(ProcessInfo.processInfo.environment["CNI_BENCH_PODS"] ?? "") ?? 20))
        let ours = try await CNILatency.measure("swiftlet-cni", pods: pods, reference: false)
        let ref = try await CNILatency.measure("reference", pods: pods, reference: true)
        print(ours)
        print(ref)
        #expect(ours.add.count == pods && ref.add.count == pods)
    }
}
