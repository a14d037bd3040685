import Foundation
import Glibc
import Testing
@testable import Runtime

@Suite struct FileContentsTests {
    static func tempDir() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sl-filecontents-\(getpid())-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    static func rssAnonKB() -> Int {
        for line in (FileContents.string(atPath: "/proc/self/status") ?? "").split(separator: "\n") where line.hasPrefix("RssAnon:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return 0
    }

    @Test func readsRegularFilesLargerThanOneChunk() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var g = SystemRandomNumberGenerator()
        let bytes = (0..<100_003).map { _ in UInt8.random(in: 0...255, using: &g) }
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/big"))
        #expect(FileContents.bytes(atPath: dir + "/big") == bytes)
        try Data("héllo\n".utf8).write(to: URL(fileURLWithPath: dir + "/text"))
        #expect(FileContents.string(atPath: dir + "/text") == "héllo\n")
        #expect(FileContents.data(atPath: dir + "/text") == Data("héllo\n".utf8))
    }

    /// procfs files stat as empty and still have content.
    @Test func readsPseudoFilesThatReportSizeZero() throws {
        var st = stat()
        try #require(stat("/proc/self/status", &st) == 0)
        #expect(st.st_size == 0)
        let text = try #require(FileContents.string(atPath: "/proc/self/status"))
        #expect(text.hasPrefix("Name:"))
        #expect(text.contains("\nPid:\t\(getpid())\n"))
    }

    @Test func emptyMissingAndNonRegularFiles() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(FileManager.default.createFile(atPath: dir + "/empty", contents: nil))
        #expect(FileContents.bytes(atPath: dir + "/empty") == [])
        #expect(FileContents.string(atPath: dir + "/empty") == "")
        #expect(FileContents.bytes(atPath: dir + "/missing") == nil)
        #expect(FileContents.bytes(atPath: dir) == nil, "a directory is not read")
        try #require(mkfifo(dir + "/fifo", 0o600) == 0)
        #expect(FileContents.bytes(atPath: dir + "/fifo") == nil, "a FIFO is not read (and does not block)")
    }

    /// Foundation's readers keep a 4 KiB buffer for every read of a file that stats as empty
    /// (20,000 reads: +80 MB); these reads must not grow the process. RssAnon is the whole
    /// test process's, so a measurement that other tests disturbed is taken again: a leak
    /// (+40 MB or more per attempt here) fails every attempt.
    @Test func readingEmptyFilesAgainAndAgainDoesNotGrowTheHeap() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(FileManager.default.createFile(atPath: dir + "/empty", contents: nil))
        for _ in 0..<100 { _ = FileContents.data(atPath: dir + "/empty") }
        var growth: [Int] = []
        for _ in 0..<3 {
            let before = Self.rssAnonKB()
            for _ in 0..<10_000 {
                _ = FileContents.data(atPath: dir + "/empty")
                _ = FileContents.string(atPath: dir + "/empty")
            }
            growth.append(Self.rssAnonKB() - before)
            if growth.last! < 20_000 { break }
        }
        #expect(growth.last! < 20_000, "RssAnon growth per 20,000 reads of an empty file: \(growth) kB")
    }
}

@Suite struct AtomicWriteTests {
    /// Both kinds of write replace the file whole and leave no temporary behind.
    @Test func durableAndNonDurableWritesReplaceTheFile() throws {
        let dir = try FileContentsTests.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for durable in [true, false] {
            let path = dir + "/f-\(durable)"
            try writeFileAtomically(path, Data("first, longer content\n".utf8), durable: durable)
            try writeFileAtomically(path, Data("second\n".utf8), durable: durable)
            #expect(FileContents.string(atPath: path) == "second\n")
            #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
        }
        #expect(throws: RuntimeError.self) { try writeFileAtomically(dir + "/missing/f", Data(), durable: false) }
    }
}

@Suite struct MkdirAllTests {
    let base = NSTemporaryDirectory() + "mkdirall-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

    @Test func createsParentsOnceAndIsIdempotent() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        let deep = base + "/a/b/c"
        try LinuxSyscalls().mkdirAll(deep)
        var isDir: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: deep, isDirectory: &isDir) && isDir.boolValue)
        try LinuxSyscalls().mkdirAll(deep)
        try LinuxSyscalls().mkdirAll(base + "/a/b/c/")
        try LinuxSyscalls().mkdirAll(base + "/a/b/d")
        #expect(try FileManager.default.contentsOfDirectory(atPath: base + "/a/b").sorted() == ["c", "d"])
    }

    @Test func aFileInTheWayIsNamed() throws {
        defer { try? FileManager.default.removeItem(atPath: base) }
        try LinuxSyscalls().mkdirAll(base)
        #expect(FileManager.default.createFile(atPath: base + "/f", contents: Data("x".utf8)))
        #expect { try LinuxSyscalls().mkdirAll(base + "/f") } throws: { e in
            "\(e)".contains(base + "/f") && "\(e)".contains("not a directory")
        }
        #expect { try LinuxSyscalls().mkdirAll(base + "/f/g/h") } throws: { e in
            "\(e)".contains("mkdir " + base + "/f") && "\(e)".contains("Not a directory")
        }
    }
}
