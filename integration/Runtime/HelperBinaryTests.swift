import Foundation
import Testing
import TestSupport

/// `pause` and `swiftlet-shim` run once per container, so they are static musl programs with
/// nothing of glibc's start-up (80 CPUID traps in a VM, ~0.8 ms of CPU per exec) and nothing
/// of the Swift runtime that swiftc links into executables (see Package.swift).
@Suite struct HelperBinaryTests {
    static let helpers = ["pause", "swiftlet-shim"]

    /// The ELF program header types of `path` (64-bit little-endian only).
    static func programHeaderTypes(_ bytes: [UInt8]) throws -> [UInt32] {
        func u16(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 }
        func u32(_ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[o + $1]) << (8 * $1) } }
        func u64(_ o: Int) -> Int { (0..<8).reduce(0) { $0 | Int(bytes[o + $1]) << (8 * $1) } }
        try #require(bytes.count > 64 && bytes[0..<4] == [0x7f, 0x45, 0x4c, 0x46] && bytes[4] == 2 && bytes[5] == 1, "not a 64-bit little-endian ELF file")
        let phoff = u64(32), phentsize = u16(54), phnum = u16(56)
        try #require(phoff + phentsize * phnum <= bytes.count, "program headers past the end of the file")
        return (0..<phnum).map { u32(phoff + $0 * phentsize) }
    }

    static func contains(_ bytes: [UInt8], _ s: String) -> Bool {
        let needle = Array(s.utf8)
        guard let first = needle.first, bytes.count >= needle.count else { return false }
        var i = 0
        while i <= bytes.count - needle.count {
            if bytes[i] == first && bytes[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }

    @Test(arguments: helpers) func staticWithoutGlibcStartUpOrSwiftRuntime(_ name: String) throws {
        let path = TestPaths.binary(name)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let types = try Self.programHeaderTypes(bytes)
        let interp = types.contains(3)
        #expect(!types.isEmpty)
        #expect(!interp, "\(path) asks for a dynamic loader (PT_INTERP)")
        // glibc's cache-size probing and its version tags; the Swift runtime's refcounting
        // (the binaries keep their symbol tables, so these names would be there)
        // (the names are checked first: a failed #expect would print the whole file)
        let found = ["intel_check_word", "GLIBC_2.", "swift_retain", "swift_getGenericMetadata"].filter { Self.contains(bytes, $0) }
        #expect(found.isEmpty, "\(path) holds \(found.joined(separator: ", "))")
    }

    @Test func pauseRunsAndShimNamesItsUsage() throws {
        let pause = try run(TestPaths.binary("pause"), ["-v"])
        #expect(pause.status == 0 && pause.out == "pause.c swiftlet\n")
        let shim = try run(TestPaths.binary("swiftlet-shim"), [])
        #expect(shim.status != 0 && shim.err.contains("usage: swiftlet-shim run|exec <config>"))
    }

    func run(_ exe: String, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
