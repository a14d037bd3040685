import Testing
@testable import MiniControlPlane

@Suite struct WatchQueueTests {
    private func names(_ items: [Watch.Item]) -> [String] {
        items.map { item in
            switch item {
            case .event(let type, _): type
            case .raw(let type, _, let rev): "\(type)@\(rev)"
            case .bookmark: "bookmark"
            case .end: "end"
            }
        }
    }

    @Test func everythingQueuedWhileTheWriterWasBusyComesAsOneBatchInOrder() async {
        let q = WatchQueue()
        q.yield(.raw("ADDED", [], 1))
        q.yield(.raw("MODIFIED", [], 2))
        q.yield(.bookmark)
        #expect(names(await q.next()) == ["ADDED@1", "MODIFIED@2", "bookmark"])
        q.yield(.raw("MODIFIED", [], 3))
        #expect(names(await q.next()) == ["MODIFIED@3"])
    }

    @Test func aWaitingWriterIsWokenByTheNextItem() async {
        let q = WatchQueue()
        async let batch = q.next()
        try? await Task.sleep(for: .milliseconds(50))
        q.yield(.raw("ADDED", [], 7))
        #expect(names(await batch) == ["ADDED@7"])
    }

    @Test func finishDrainsWhatIsQueuedThenEnds() async {
        let q = WatchQueue()
        q.yield(.raw("ADDED", [], 1))
        q.finish()
        q.yield(.raw("ADDED", [], 2))  // after finish: dropped
        #expect(names(await q.next()) == ["ADDED@1"])
        #expect(names(await q.next()) == ["end"])
        #expect(names(await q.next()) == ["end"])
    }

    @Test func cancellingAWaitingWriterEndsItsStream() async {
        let q = WatchQueue()
        let writer = Task { await q.next() }
        try? await Task.sleep(for: .milliseconds(50))
        writer.cancel()
        #expect(names(await writer.value) == ["end"])
    }
}
