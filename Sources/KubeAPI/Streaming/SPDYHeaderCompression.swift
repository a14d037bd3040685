import CZlib

/// SPDY/3 name/value header blocks are zlib streams primed with the dictionary of the SPDY/3
/// draft (section 2.6.10.1). Each direction of a connection is ONE zlib stream: every header
/// block continues the previous one and ends with a sync flush, so a compressor or
/// decompressor lives as long as its connection and sees the blocks in wire order.
package enum SPDYDictionary {
    /// The draft's dictionary: length-prefixed common header names and values, then a run of
    /// status codes, reason phrases, dates and media types. 1423 bytes, Adler-32 0xe3c6a7c2
    /// (the DICTID every SPDY/3 header block announces).
    package static let bytes: [UInt8] = {
        let names = [
            "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
            "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control", "connection",
            "content-base", "content-encoding", "content-language", "content-length", "content-location", "content-md5",
            "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host", "if-match",
            "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
            "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after",
            "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
            "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public",
            "set-cookie", "keep-alive", "origin",
        ]
        let tail = "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
            + "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
            + "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
            + "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
            + "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
            + "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
        var out: [UInt8] = []
        for n in names {
            let c = UInt32(n.utf8.count)
            out += [UInt8(c >> 24), UInt8(c >> 16 & 0xff), UInt8(c >> 8 & 0xff), UInt8(c & 0xff)]
            out += Array(n.utf8)
        }
        return out + Array(tail.utf8)
    }()
}

/// The sending half: one deflate stream per connection, each block sync-flushed.
package final class SPDYHeaderCompressor {
    private let stream: UnsafeMutablePointer<z_stream>

    package init() throws(SPDYError) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // zlib keeps a pointer back to the z_stream, so it lives at a fixed address.
        var rc = deflateInit2_(stream, Z_BEST_COMPRESSION, Z_DEFLATED, MAX_WBITS, 9, Z_DEFAULT_STRATEGY, zlibVersion(),
                               Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else {
            stream.deallocate()
            throw SPDYError("deflateInit2: zlib error \(rc)")
        }
        rc = SPDYDictionary.bytes.withUnsafeBufferPointer { deflateSetDictionary(stream, $0.baseAddress, uInt($0.count)) }
        guard rc == Z_OK else {
            deflateEnd(stream)
            stream.deallocate()
            throw SPDYError("deflateSetDictionary: zlib error \(rc)")
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
    }

    /// Compresses one header block and sync-flushes it, so the peer can decode it on its own.
    package func compress(_ input: [UInt8]) throws(SPDYError) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024 + input.count)
        var input = input
        let rc: Int32 = input.withUnsafeMutableBufferPointer { inp in
            stream.pointee.next_in = inp.baseAddress
            stream.pointee.avail_in = uInt(inp.count)
            defer { stream.pointee.next_in = nil; stream.pointee.avail_in = 0 }
            while true {
                let (r, produced): (Int32, Int) = chunk.withUnsafeMutableBufferPointer { o in
                    stream.pointee.next_out = o.baseAddress
                    stream.pointee.avail_out = uInt(o.count)
                    let r = deflate(stream, Z_SYNC_FLUSH)
                    return (r, o.count - Int(stream.pointee.avail_out))
                }
                out += chunk[0..<produced]
                // Done when the flush fit: zlib leaves room in the output only then.
                if r != Z_OK && r != Z_BUF_ERROR { return r }
                if stream.pointee.avail_out != 0 { return Z_OK }
            }
        }
        guard rc == Z_OK else { throw SPDYError("deflate: zlib error \(rc)") }
        return out
    }
}

/// The receiving half: one inflate stream per connection; the dictionary is supplied when
/// the first block asks for it.
package final class SPDYHeaderDecompressor {
    private let stream: UnsafeMutablePointer<z_stream>
    /// Bound on one decompressed header block (a compression bomb must not eat the agent).
    package static let maxBlock = 1 << 20

    package init() throws(SPDYError) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let rc = inflateInit2_(stream, MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else {
            stream.deallocate()
            throw SPDYError("inflateInit2: zlib error \(rc)")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    /// Decompresses one header block (all of its compressed bytes).
    package func decompress(_ input: [UInt8]) throws(SPDYError) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var input = input
        let failure: String? = input.withUnsafeMutableBufferPointer { inp in
            stream.pointee.next_in = inp.baseAddress
            stream.pointee.avail_in = uInt(inp.count)
            defer { stream.pointee.next_in = nil; stream.pointee.avail_in = 0 }
            while true {
                let (r, produced): (Int32, Int) = chunk.withUnsafeMutableBufferPointer { o in
                    stream.pointee.next_out = o.baseAddress
                    stream.pointee.avail_out = uInt(o.count)
                    let r = inflate(stream, Z_SYNC_FLUSH)
                    return (r, o.count - Int(stream.pointee.avail_out))
                }
                out += chunk[0..<produced]
                if out.count > Self.maxBlock { return "header block larger than \(Self.maxBlock) bytes" }
                switch r {
                case Z_NEED_DICT:
                    let d = SPDYDictionary.bytes.withUnsafeBufferPointer { inflateSetDictionary(stream, $0.baseAddress, uInt($0.count)) }
                    if d != Z_OK { return "inflateSetDictionary: zlib error \(d) (not the SPDY/3 dictionary?)" }
                case Z_OK:
                    if stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0 { return nil }
                case Z_BUF_ERROR:
                    // no progress possible: all input consumed and flushed
                    if stream.pointee.avail_in == 0 { return nil }
                    return "inflate: no progress with \(stream.pointee.avail_in) bytes left"
                case Z_STREAM_END:
                    return "inflate: the peer ended its header stream"
                default:
                    let msg = stream.pointee.msg.map { String(cString: $0) } ?? "error \(r)"
                    return "inflate: \(msg)"
                }
            }
        }
        if let failure { throw SPDYError(failure) }
        return out
    }
}
