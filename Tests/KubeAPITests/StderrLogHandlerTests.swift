import Foundation
import Logging
import Synchronization
import Testing
@testable import KubeAPI

@Suite struct StderrLogHandlerTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
    }

    func logger(_ out: Lines, level: Logger.Level = .info) -> Logger {
        var l = Logger(label: "swiftlet.test") { label in
            StderrLogHandler(label: label) { line in out.lines.withLock { $0.append(line) } }
        }
        l.logLevel = level
        return l
    }

    /// The line StreamLogHandler writes: time, level, label, the metadata sorted by key (the
    /// logger's own, then the line's, which wins), source, message.
    @Test func writesStreamLogHandlersLineWithMetadataSortedAndMerged() throws {
        let out = Lines()
        var log = logger(out)
        log[metadataKey: "z"] = "last"
        log[metadataKey: "a"] = "first"
        log[metadataKey: "m"] = "old"
        log.info("hello", metadata: ["m": "new"], source: "src")
        let line = try #require(out.all.first)
        #expect(out.all.count == 1)
        let match = try #require(line.wholeMatch(of: #/(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}) info swiftlet\.test: a=first m=new z=last \[src\] hello\n/#))
        #expect(!match.output.1.isEmpty)
    }

    @Test func noMetadataLeavesNoGapAndLevelsBelowTheThresholdWriteNothing() throws {
        let out = Lines()
        var log = logger(out, level: .notice)
        log.info("dropped")
        log.notice("kept", source: "s")
        #expect(out.all.count == 1)
        #expect(try #require(out.all.first).hasSuffix(" notice swiftlet.test: [s] kept\n"))
        log[metadataKey: "k"] = "v"
        log[metadataKey: "k"] = nil
        log.error("again", source: "s")
        #expect(out.all.last?.hasSuffix(" error swiftlet.test: [s] again\n") == true)
    }

    @Test func anErrorIsNamedInTheMetadata() throws {
        struct Boom: Error, CustomStringConvertible { var description: String { "it broke" } }
        let out = Lines()
        let log = logger(out)
        log.log(level: .warning, "failed", error: Boom(), source: "s")
        let line = try #require(out.all.first)
        #expect(line.contains("error.message=it broke"))
        #expect(line.contains("error.type=KubeAPITests.StderrLogHandlerTests"))
    }
}
