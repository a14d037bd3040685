import KubeAPI
import Foundation
import NIOCore
import Testing

@Suite struct SPDYTests {
    static func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    static func hex(_ b: ByteBuffer) -> String { b.readableBytesView.map { String(format: "%02x", $0) }.joined() }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        for x in bytes {
            a = (a + UInt32(x)) % 65521
            b = (b + a) % 65521
        }
        return b << 16 | a
    }

    static func decodeAll(_ d: SPDYFrameDecoder) throws -> [SPDYFrame] {
        var out: [SPDYFrame] = []
        while let f = try d.next() { out.append(f) }
        return out
    }

    @Test func theDictionaryIsTheDraftsByItsLengthAndChecksum() {
        // Every SPDY/3 header block's zlib header names the dictionary by its Adler-32.
        #expect(SPDYDictionary.bytes.count == 1423)
        #expect(Self.adler32(SPDYDictionary.bytes) == 0xe3c6_a7c2)
        #expect(Array(SPDYDictionary.bytes.prefix(11)) == [0, 0, 0, 7] + Array("options".utf8))
        #expect(Array(SPDYDictionary.bytes.suffix(7)) == Array(",enq=0.".utf8))
    }

    @Test func aSynReplyIsAControlFrameWhoseBlockAnnouncesTheDictionary() throws {
        let e = try SPDYFrameEncoder()
        let b = try e.encode(.synReply(streamID: 1, flags: 0, headers: [:]))
        let bytes = Array(b.readableBytesView)
        // 1 | version 3 | type 2, flags 0 | length, stream id 1
        #expect(bytes.prefix(4) == [0x80, 0x03, 0x00, 0x02])
        #expect(Int(bytes[5]) << 16 | Int(bytes[6]) << 8 | Int(bytes[7]) == bytes.count - 8)
        #expect(bytes[8..<12] == [0, 0, 0, 1])
        // zlib: deflate 32K window, best compression, FDICT, then DICTID
        #expect(bytes[12..<18] == [0x78, 0xf9, 0xe3, 0xc6, 0xa7, 0xc2])
        // sync flush: the block ends with an empty stored block
        #expect(bytes.suffix(4) == [0x00, 0x00, 0xff, 0xff])
    }

    /// The frames of one kubectl connection, crafted from the SPDY/3 draft the way spdystream
    /// frames them (made with Python's zlib, not captured from Go): header blocks deflated at
    /// best compression with the dictionary, sync-flushed, one zlib stream for the connection,
    /// Go's canonical header names lower-cased. SYN_STREAM error (port, requestid, streamtype),
    /// FIN on it, SYN_STREAM data (other order, its names back-referencing the first block), a
    /// request, PING, WINDOW_UPDATE, RST_STREAM CANCEL, GOAWAY.
    static let kubectlFixture = """
        800300010000003c0000000100000000000078f9e3c6a7c202253a48f95b044aab4c16064092b308125b99a054cc68004e87\
        2545a989b9d0a2863515141100000000ffff0000000101000000800300010000001a00000003000000000000826a45950295\
        4289840c04000000ffff000000030000001b474554202f20485454502f312e310d0a486f73743a20780d0a0d0a8003000600\
        00000400000001800300090000000800000003000100008003000300000008000000030000000580030007000000080000\
        000000000000
        """

    @Test(arguments: [1, 7, 4096])
    func decodesAKubectlConnectionsFramesInAnyChunking(chunk: Int) throws {
        let bytes = Self.hex(Self.kubectlFixture)
        let d = try SPDYFrameDecoder()
        var frames: [SPDYFrame] = []
        var i = 0
        while i < bytes.count {
            d.append(bytes[i..<min(i + chunk, bytes.count)])
            frames += try Self.decodeAll(d)
            i += chunk
        }
        #expect(d.pendingBytes == 0)
        try #require(frames.count == 8)
        guard case .synStream(1, 0, 0, 0, let h1) = frames[0] else { Issue.record("\(frames[0])"); return }
        #expect(h1[PortForwardProtocol.streamTypeHeader] == "error" && h1["Port"] == "80" && h1["REQUESTID"] == "0")
        #expect(frames[1] == .fin(1))
        guard case .synStream(3, 0, 0, 0, let h3) = frames[2] else { Issue.record("\(frames[2])"); return }
        #expect(h3.fields.map(\.name) == ["streamtype", "port", "requestid"])
        #expect(h3["streamType"] == "data" && h3["port"] == "80" && h3["requestID"] == "0")
        #expect(frames[3] == .data(streamID: 3, flags: 0, payload: ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n")))
        #expect(frames[4] == .ping(id: 1))
        #expect(frames[5] == .windowUpdate(streamID: 3, delta: 65536))
        #expect(frames[6] == .rstStream(streamID: 3, status: SPDY.RstStatus.cancel.rawValue))
        #expect(frames[7] == .goAway(lastGoodStreamID: 0, status: 0))
    }

    @Test func everyFrameRoundTripsAndHeaderStateCarriesAcrossBlocks() throws {
        var h: SPDYHeaders = ["streamType": "data", "port": "8080", "requestID": "7"]
        h.add("x-multi", "a")
        h.add("X-Multi", "b")
        let frames: [SPDYFrame] = [
            .synStream(streamID: 5, associatedTo: 0, priority: 3, flags: SPDY.flagFin, headers: h),
            .synReply(streamID: 5, flags: 0, headers: [:]),
            .synReply(streamID: 7, flags: SPDY.flagFin, headers: ["status": "200 OK"]),
            .headers(streamID: 5, flags: 0, headers: h),
            .data(streamID: 5, flags: 0, payload: ByteBuffer(bytes: (0..<70_000).map { UInt8($0 & 0xff) })),
            .fin(5),
            .rstStream(streamID: 5, status: SPDY.RstStatus.refusedStream.rawValue),
            .settings(flags: 1, entries: [SPDYSetting(flags: 1, id: 7, value: 65536), SPDYSetting(id: 4, value: 100)]),
            .ping(id: 2),
            .goAway(lastGoodStreamID: 5, status: 1),
            .windowUpdate(streamID: 5, delta: 1024),
            .unknownControl(version: 3, type: 10, flags: 0, payload: ByteBuffer(bytes: [1, 2, 3])),
        ]
        let e = try SPDYFrameEncoder()
        var wire = ByteBuffer()
        for f in frames { try e.encode(f, into: &wire) }
        let d = try SPDYFrameDecoder()
        d.append(wire)
        let back = try Self.decodeAll(d)
        // names come back lower-cased and repeated names as separate values of one entry
        var lowered = SPDYHeaders()
        for (n, v) in [("streamtype", "data"), ("port", "8080"), ("requestid", "7"), ("x-multi", "a"), ("x-multi", "b")] { lowered.add(n, v) }
        var expected = frames
        expected[0] = .synStream(streamID: 5, associatedTo: 0, priority: 3, flags: SPDY.flagFin, headers: lowered)
        expected[3] = .headers(streamID: 5, flags: 0, headers: lowered)
        #expect(back == expected)
    }

    @Test func aDecoderWithoutTheConnectionsEarlierBlocksCannotReadALaterOne() throws {
        // One zlib stream per direction: a block refers back into earlier ones.
        let e = try SPDYFrameEncoder()
        _ = try e.encode(.synStream(streamID: 1, associatedTo: 0, priority: 0, flags: 0, headers: ["streamtype": "error", "port": "80"]))
        let second = try e.encode(.synStream(streamID: 3, associatedTo: 0, priority: 0, flags: 0, headers: ["streamtype": "error", "port": "80"]))
        let d = try SPDYFrameDecoder()
        d.append(second)
        #expect(throws: SPDYError.self) { try d.next() }
    }

    @Test func malformedFramesAreErrorsNotCrashes() throws {
        let dataOnZero = try SPDYFrameDecoder()
        dataOnZero.append([0, 0, 0, 0, 0, 0, 0, 1, 0x41])
        #expect(throws: SPDYError("data frame on stream 0")) { try dataOnZero.next() }

        let shortRst = try SPDYFrameDecoder()
        shortRst.append([0x80, 3, 0, 3, 0, 0, 0, 4, 0, 0, 0, 1])
        #expect(throws: SPDYError.self) { try shortRst.next() }

        let tooLarge = try SPDYFrameDecoder()
        tooLarge.maxFrameLength = 1024
        tooLarge.append([0, 0, 0, 1, 0, 0x10, 0, 0])
        #expect(throws: SPDYError.self) { try tooLarge.next() }

        // a header block that is not zlib at all
        let garbage = try SPDYFrameDecoder()
        garbage.append([0x80, 3, 0, 2, 0, 0, 0, 8, 0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef])
        #expect(throws: SPDYError.self) { try garbage.next() }

        // half a frame is not an error: it waits
        let partial = try SPDYFrameDecoder()
        partial.append([0x80, 3, 0, 6, 0, 0, 0, 4, 0, 0])
        #expect(try partial.next() == nil)
        partial.append([0, 9])
        #expect(try partial.next() == .ping(id: 9))
    }
}
