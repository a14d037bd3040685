internal import CNftnl
internal import CMnl
import Foundation

/// Errors of the nftables layer: what failed, the errno and, for a batch, the operation the
/// kernel rejected (in `nft` syntax).
package struct NFTError: Error, CustomStringConvertible, Sendable {
    package enum Code: Sendable { case socket, send, receive, kernel, timeout }
    package var code: Code
    package var errno: Int32
    package var message: String

    package init(_ code: Code, errno: Int32 = 0, _ message: String) {
        self.code = code
        self.errno = errno
        self.message = message
    }

    package var description: String {
        errno == 0 ? "nftables \(code): \(message)" : "nftables \(code): \(message): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// The kernel side of the proxy, behind a protocol so the sync logic is tested without root.
package protocol NFTablesBackend: Sendable {
    /// Applies one transaction atomically (all or nothing).
    func apply(_ transaction: NFTTransaction) throws
    /// The chain names of our table, or nil when the table does not exist.
    func listChains(table: String) throws -> Set<String>?
}

/// libnftnl batches over a NETLINK_NETFILTER socket (libmnl): one `sendto` per transaction.
package final class NetlinkNFTables: NFTablesBackend, @unchecked Sendable {
    private let socket: OpaquePointer
    private let lock = NSLock()
    private var seq: UInt32
    private let receiveBuffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 16)
    private let receiveSize = 1 << 20
    /// How long to wait for the kernel's answer.
    package var timeoutMilliseconds: Int32 = 30_000

    /// Where the time of one `apply` went: encoding on our side, and the `sendto` in which the
    /// kernel parses, validates and commits the whole batch (wall time, and this thread's CPU
    /// time, which other load on the machine does not inflate).
    package struct ApplyTimings: Sendable {
        package var encode: Duration
        package var kernel: Duration
        package var kernelCPU: Duration
        package var bytes: Int
    }

    private var _lastApply: ApplyTimings?
    /// Timings of the last successful `apply`.
    package var lastApply: ApplyTimings? { lock.withLock { _lastApply } }

    /// Opens a socket in the calling thread's network namespace.
    package convenience init() throws {
        guard let nl = mnl_socket_open(NETLINK_NETFILTER) else {
            throw NFTError(.socket, errno: Foundation.errno, "mnl_socket_open(NETLINK_NETFILTER)")
        }
        guard mnl_socket_bind(nl, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let e = Foundation.errno
            mnl_socket_close(nl)
            throw NFTError(.socket, errno: e, "mnl_socket_bind")
        }
        self.init(socket: nl)
    }

    /// Adopts a NETLINK_NETFILTER socket opened elsewhere, e.g. inside another network
    /// namespace (the socket keeps the namespace it was created in). Takes ownership.
    package convenience init(fileDescriptor fd: Int32) throws {
        guard let nl = mnl_socket_fdopen(fd) else {
            throw NFTError(.socket, errno: Foundation.errno, "mnl_socket_fdopen(\(fd))")
        }
        self.init(socket: nl)
    }

    private init(socket: OpaquePointer) {
        self.socket = socket
        self.seq = UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970))
        var one: Int32 = 1
        // Errors without the echoed request: big element messages would not fit otherwise.
        _ = mnl_socket_setsockopt(socket, NETLINK_CAP_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
        var rcv: Int32 = 4 << 20
        _ = setsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit {
        mnl_socket_close(socket)
        receiveBuffer.deallocate()
    }

    package func apply(_ transaction: NFTTransaction) throws {
        guard !transaction.isEmpty else { return }
        try lock.withLock {
            let clock = ContinuousClock()
            let start = clock.now
            let first = seq
            let batch = NFTEncoder.encode(transaction, firstSeq: first)
            let encoded = clock.now
            let lastSeq = batch.lastSeq
            seq = batch.nextSeq
            let bytes = batch.bytes
            drain()
            var snd = Int32(min(Int(Int32.max), bytes.count + (1 << 16)))
            _ = setsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, SO_SNDBUFFORCE, &snd, socklen_t(MemoryLayout<Int32>.size))
            let sendStart = clock.now
            let cpu0 = Self.threadCPU()
            let sent = mnl_socket_sendto(socket, bytes.baseAddress, bytes.count)
            let kernelCPU = Self.threadCPU() - cpu0
            let kernel = sendStart.duration(to: clock.now)
            guard sent == bytes.count else {
                throw NFTError(.send, errno: Foundation.errno, "sendto of a \(bytes.count)-byte batch")
            }
            // The last message carries NLM_F_ACK; errors arrive for any failing message before it.
            var firstError: NFTError? = nil
            try receive { type, msgSeq, payload in
                guard type == K.nlmsgError else { return true }
                let code = payload.loadUnaligned(as: Int32.self)
                if code != 0 && firstError == nil {
                    let op = batch.operation(forSeq: msgSeq).map { transaction.operations[$0.index].render(table: transaction.table, elements: $0.elements) }
                    firstError = NFTError(.kernel, errno: -code, "transaction rejected at: \(op ?? "seq \(msgSeq)")")
                }
                return msgSeq != lastSeq
            }
            if let firstError {
                drain()
                throw firstError
            }
            _lastApply = ApplyTimings(encode: start.duration(to: encoded), kernel: kernel, kernelCPU: kernelCPU, bytes: bytes.count)
        }
    }

    /// CPU time of the calling thread.
    private static func threadCPU() -> Duration {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return .seconds(t.tv_sec) + .nanoseconds(t.tv_nsec)
    }

    package func listChains(table: String) throws -> Set<String>? {
        try lock.withLock {
            drain()
            // GETTABLE first: a missing table is ENOENT.
            let t = nftnl_table_alloc()!
            defer { nftnl_table_free(t) }
            nftnl_table_set_str(t, a(NFTNL_TABLE_NAME), table)
            var missing = false
            try request(K.msgGetTable, flags: K.nlmFAck) { nftnl_table_nlmsg_build_payload($0, t) } handle: { type, payload in
                if type == K.nlmsgError {
                    let code = payload.loadUnaligned(as: Int32.self)
                    if code == -ENOENT { missing = true } else if code != 0 { throw NFTError(.kernel, errno: -code, "get table \(table)") }
                    return false
                }
                return true
            }
            if missing { return nil }
            var names = Set<String>()
            let c = nftnl_chain_alloc()!
            nftnl_chain_set_str(c, a(NFTNL_CHAIN_TABLE), table)
            nftnl_chain_set_u32(c, a(NFTNL_CHAIN_FAMILY), UInt32(K.nfprotoIPv4))
            defer { nftnl_chain_free(c) }
            try request(K.msgGetChain, flags: K.nlmFDump) { nftnl_chain_nlmsg_build_payload($0, c) } handle: { type, payload in
                if type == K.nlmsgDone { return false }
                if type == K.nlmsgError {
                    let code = payload.loadUnaligned(as: Int32.self)
                    if code != 0 { throw NFTError(.kernel, errno: -code, "list chains of \(table)") }
                    return false
                }
                return true
            } message: { nlh in
                let ch = nftnl_chain_alloc()!
                defer { nftnl_chain_free(ch) }
                if nftnl_chain_nlmsg_parse(nlh, ch) >= 0,
                   let tn = nftnl_chain_get_str(ch, a(NFTNL_CHAIN_TABLE)), String(cString: tn) == table,
                   let n = nftnl_chain_get_str(ch, a(NFTNL_CHAIN_NAME)) {
                    names.insert(String(cString: n))
                }
            }
            return names
        }
    }

    // MARK: plumbing

    /// Sends one non-batch request and feeds the answers to `handle` until it returns false.
    private func request(
        _ type: UInt16, flags: UInt16,
        _ payload: (UnsafeMutablePointer<nlmsghdr>) -> Void,
        handle: (UInt16, UnsafeRawPointer) throws -> Bool,
        message: ((UnsafePointer<nlmsghdr>) -> Void)? = nil
    ) throws {
        let buf = UnsafeMutableRawPointer.allocate(byteCount: 8192, alignment: 16)
        defer { buf.deallocate() }
        let s = seq
        seq &+= 1
        let nlh = nftnl_nlmsg_build_hdr(buf.assumingMemoryBound(to: CChar.self), type, K.nfprotoIPv4, flags, s)!
        payload(nlh)
        guard mnl_socket_sendto(socket, buf, Int(nlh.pointee.nlmsg_len)) >= 0 else {
            throw NFTError(.send, errno: Foundation.errno, "sendto")
        }
        try receive { t, msgSeq, p in
            guard msgSeq == s else { return true }
            if t != K.nlmsgError && t != K.nlmsgDone, let message {
                message((p - 16).assumingMemoryBound(to: nlmsghdr.self))
            }
            return try handle(t, p)
        }
    }

    /// Reads netlink messages, calling `each(type, seq, payload)` until it returns false.
    private func receive(_ each: (UInt16, UInt32, UnsafeRawPointer) throws -> Bool) throws {
        let fd = mnl_socket_get_fd(socket)
        let deadline = Date().addingTimeInterval(Double(timeoutMilliseconds) / 1000)
        while true {
            let remaining = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, remaining)
            if ready < 0 && Foundation.errno == EINTR { continue }
            guard ready > 0 else { throw NFTError(.timeout, "no answer from the kernel in \(timeoutMilliseconds) ms") }
            let n = recv(fd, receiveBuffer, receiveSize, 0)
            if n < 0 {
                if Foundation.errno == EINTR { continue }
                throw NFTError(.receive, errno: Foundation.errno, "recv")
            }
            var offset = 0
            while offset + 16 <= n {
                let p = receiveBuffer + offset
                let len = Int(p.loadUnaligned(as: UInt32.self))
                guard len >= 16, offset + len <= n else { break }
                let type = p.loadUnaligned(fromByteOffset: 4, as: UInt16.self)
                let msgSeq = p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
                if try !each(type, msgSeq, UnsafeRawPointer(p + 16)) { return }
                offset += (len + 3) & ~3
            }
        }
    }

    /// Discards anything queued on the socket (answers of an aborted batch).
    private func drain() {
        let fd = mnl_socket_get_fd(socket)
        for _ in 0..<10_000 {
            if recv(fd, receiveBuffer, receiveSize, Int32(MSG_DONTWAIT)) <= 0 { return }
        }
    }
}
