import Foundation
import Testing
@testable import KubeAPI

@Suite struct WorkQueueTests {
    @Test func deduplicatesQueuedKeys() async {
        let q = WorkQueue<String>()
        await q.add("a")
        await q.add("b")
        await q.add("a")
        #expect(await q.count == 2)
        #expect(await q.get() == "a")
        #expect(await q.get() == "b")
    }

    @Test func keyInProcessingIsRequeuedOnlyAfterDone() async {
        let q = WorkQueue<String>()
        await q.add("a")
        let k = await q.get()
        #expect(k == "a")
        await q.add("a")  // while processing: not handed out again yet
        #expect(await q.count == 0)
        await q.done("a")
        #expect(await q.count == 1)
        #expect(await q.get() == "a")
        await q.done("a")
        #expect(await q.count == 0)
    }

    @Test func waitingGetIsWokenByAdd() async {
        let q = WorkQueue<Int>()
        async let got = q.get()
        try? await Task.sleep(for: .milliseconds(20))
        await q.add(7)
        #expect(await got == 7)
    }

    @Test func shutDownWakesWaiters() async {
        let q = WorkQueue<Int>()
        async let got = q.get()
        try? await Task.sleep(for: .milliseconds(20))
        await q.shutDown()
        #expect(await got == nil)
    }

    @Test func backoffDoublesAndCaps() async {
        let q = WorkQueue<String>(baseDelay: .milliseconds(5), maxDelay: .seconds(1))
        #expect(await q.backoff(failures: 0) == .milliseconds(5))
        #expect(await q.backoff(failures: 3) == .milliseconds(40))
        #expect(await q.backoff(failures: 30) == .milliseconds(1000))
        await q.addRateLimited("x")
        await q.addRateLimited("x")
        #expect(await q.retries("x") == 2)
        await q.forget("x")
        #expect(await q.retries("x") == 0)
    }

    @Test func delayedAddArrives() async {
        let q = WorkQueue<String>()
        q.add("later", after: .milliseconds(30))
        #expect(await q.count == 0)
        #expect(await q.get() == "later")
    }
}

@Suite struct KubeTimeTests {
    @Test func formatsAndParsesBothPrecisions() {
        let d = Date(timeIntervalSince1970: 1_700_000_000.25)
        #expect(KubeTime.format(d) == "2023-11-14T22:13:20Z")
        #expect(KubeTime.formatMicro(d) == "2023-11-14T22:13:20.250000Z")
        #expect(KubeTime.parse("2023-11-14T22:13:20.250000Z")?.timeIntervalSince1970 == 1_700_000_000.25)
        #expect(KubeTime.parse("2023-11-14T22:13:20Z")?.timeIntervalSince1970 == 1_700_000_000)
        #expect(KubeTime.parse("not a time") == nil)
    }
}
