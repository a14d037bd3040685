internal import CNftnl
internal import CMnl
import Foundation

/// Kernel constants from linux/netfilter/nf_tables.h and friends (not exposed by the module maps).
enum K {
    static let nfprotoIPv4: UInt16 = 2
    static let nlmFRequest: UInt16 = 0x1
    static let nlmFAck: UInt16 = 0x4
    static let nlmFCreate: UInt16 = 0x400
    static let nlmFAppend: UInt16 = 0x800
    static let nlmFDump: UInt16 = 0x300

    static let msgNewTable: UInt16 = 0, msgGetTable: UInt16 = 1, msgDelTable: UInt16 = 2
    static let msgNewChain: UInt16 = 3, msgGetChain: UInt16 = 4, msgDelChain: UInt16 = 5
    static let msgNewRule: UInt16 = 6, msgDelRule: UInt16 = 8
    static let msgNewSet: UInt16 = 9, msgDelSet: UInt16 = 11
    static let msgNewSetElem: UInt16 = 12, msgDelSetElem: UInt16 = 14

    static let regVerdict: UInt32 = 0, reg1: UInt32 = 1, reg2: UInt32 = 2
    static let reg32_01: UInt32 = 9, reg32_02: UInt32 = 10
    static let payloadNetwork: UInt32 = 1, payloadTransport: UInt32 = 2
    static let metaMark: UInt32 = 3, metaL4proto: UInt32 = 16
    static let cmpEq: UInt32 = 0, cmpNeq: UInt32 = 1
    static let ctState: UInt32 = 0, ctStateNewBit: UInt32 = 8
    static let ngRandom: UInt32 = 1
    static let dynsetOpUpdate: UInt32 = 1
    static let natDnat: UInt32 = 1
    static let natRangeProtoSpecified: UInt32 = 0x2, natRangeProtoRandomFully: UInt32 = 0x10
    static let rejectICMPUnreach: UInt32 = 0, icmpPortUnreach: UInt8 = 3
    static let fibResultAddrtype: UInt32 = 3, fibFSaddr: UInt32 = 1, fibFDaddr: UInt32 = 2, rtnLocal: UInt32 = 2

    static let setMap: UInt32 = 0x8
    static let setTimeout: UInt32 = 0x10, setEval: UInt32 = 0x20
    static let dataVerdict: UInt32 = 0xffff_ff00
    static let typeIPAddr: UInt32 = 7, typeInetProto: UInt32 = 12, typeInetService: UInt32 = 13

    static let nfDrop: UInt32 = 0, nfAccept: UInt32 = 1
    static let nftJump = UInt32(bitPattern: -3), nftGoto = UInt32(bitPattern: -4), nftReturn = UInt32(bitPattern: -5)

    static let nlmsgError: UInt16 = 2, nlmsgDone: UInt16 = 3
}

@inline(__always) func a(_ v: Int) -> UInt16 { UInt16(v) }
@inline(__always) func a(_ v: nftnl_table_attr) -> UInt16 { UInt16(v.rawValue) }
@inline(__always) func a(_ v: nftnl_chain_attr) -> UInt16 { UInt16(v.rawValue) }
@inline(__always) func a(_ v: nftnl_rule_attr) -> UInt16 { UInt16(v.rawValue) }
@inline(__always) func a(_ v: nftnl_set_attr) -> UInt16 { UInt16(v.rawValue) }

/// A growing buffer of netlink messages: one nfnetlink batch (BEGIN, messages, END).
final class NetlinkBatch {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    private(set) var used = 0
    private(set) var nextSeq: UInt32
    /// For each message sequence number from `firstSeq`, the index of the operation it encodes.
    private(set) var operationIndex: [Int] = []
    let firstSeq: UInt32
    /// The sequence number of the last operation message (it carries NLM_F_ACK); 0 if none.
    var lastSeq: UInt32 = 0

    init(firstSeq: UInt32, capacity: Int = 1 << 20) {
        self.capacity = capacity
        self.base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        self.firstSeq = firstSeq
        self.nextSeq = firstSeq
    }

    deinit { base.deallocate() }

    private func reserve(_ bytes: Int) {
        guard used + bytes > capacity else { return }
        var newCapacity = capacity * 2
        while newCapacity < used + bytes { newCapacity *= 2 }
        let fresh = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        fresh.copyMemory(from: base, byteCount: used)
        base.deallocate()
        base = fresh
        capacity = newCapacity
    }

    /// Appends one message; `build` writes it at the given address and returns its length.
    func append(operation: Int, reserving bytes: Int = 1 << 18, _ build: (UnsafeMutablePointer<CChar>, UInt32) -> UInt32) {
        reserve(bytes)
        let seq = nextSeq
        nextSeq &+= 1
        operationIndex.append(operation)
        let len = build((base + used).assumingMemoryBound(to: CChar.self), seq)
        used += Int((len + 3) & ~3)
    }

    func begin() {
        append(operation: -1) { buf, seq in nftnl_batch_begin(buf, seq)!.pointee.nlmsg_len }
    }

    func end() {
        append(operation: -1) { buf, seq in nftnl_batch_end(buf, seq)!.pointee.nlmsg_len }
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: used) }

    /// The operation a sequence number belongs to (nil for BEGIN/END or unknown).
    func operation(forSeq seq: UInt32) -> Int? {
        let i = Int(seq &- firstSeq)
        guard i >= 0, i < operationIndex.count, operationIndex[i] >= 0 else { return nil }
        return operationIndex[i]
    }

    /// Sets NLM_F_ACK on the last message before END, so the kernel confirms the whole batch.
    func requestAckOnLastMessage(at offset: Int) {
        let flagsPtr = (base + offset + 6).assumingMemoryBound(to: UInt16.self)
        flagsPtr.pointee |= K.nlmFAck
    }

    var count: Int { used }
}

/// Encodes `NFTTransaction` operations as libnftnl messages.
enum NFTEncoder {
    /// Elements per NEWSETELEM/DELSETELEM message.
    static let elementsPerMessage = 512

    static func encode(_ tx: NFTTransaction, firstSeq: UInt32) -> NetlinkBatch {
        let batch = NetlinkBatch(firstSeq: firstSeq, capacity: max(1 << 20, tx.operations.count * 256))
        batch.begin()
        var setID: UInt32 = 1
        var lastOffset = 0
        var lastSeq: UInt32 = 0
        let table = tx.table
        for (index, op) in tx.operations.enumerated() {
            func msg(_ type: UInt16, _ flags: UInt16, reserving: Int = 1 << 16, _ payload: (UnsafeMutablePointer<nlmsghdr>) -> Void) {
                lastOffset = batch.count
                batch.append(operation: index, reserving: reserving) { buf, seq in
                    lastSeq = seq
                    let nlh = nftnl_nlmsg_build_hdr(buf, type, K.nfprotoIPv4, flags, seq)!
                    payload(nlh)
                    return nlh.pointee.nlmsg_len
                }
            }
            switch op {
            case .addTable, .deleteTable:
                let t = nftnl_table_alloc()!
                defer { nftnl_table_free(t) }
                nftnl_table_set_str(t, a(NFTNL_TABLE_NAME), table)
                nftnl_table_set_u32(t, a(NFTNL_TABLE_FAMILY), UInt32(K.nfprotoIPv4))
                let isAdd = if case .addTable = op { true } else { false }
                msg(isAdd ? K.msgNewTable : K.msgDelTable, isAdd ? K.nlmFCreate : 0) { nftnl_table_nlmsg_build_payload($0, t) }
            case .addChain(let c):
                let ch = chain(table, c.name)
                defer { nftnl_chain_free(ch) }
                if let b = c.base {
                    nftnl_chain_set_u32(ch, a(NFTNL_CHAIN_HOOKNUM), b.hook.number)
                    nftnl_chain_set_s32(ch, a(NFTNL_CHAIN_PRIO), b.priority)
                    nftnl_chain_set_str(ch, a(NFTNL_CHAIN_TYPE), b.type)
                }
                msg(K.msgNewChain, K.nlmFCreate) { nftnl_chain_nlmsg_build_payload($0, ch) }
            case .deleteChain(let name):
                let ch = chain(table, name)
                defer { nftnl_chain_free(ch) }
                msg(K.msgDelChain, 0) { nftnl_chain_nlmsg_build_payload($0, ch) }
            case .flushChain(let name):
                let r = nftnl_rule_alloc()!
                defer { nftnl_rule_free(r) }
                nftnl_rule_set_str(r, a(NFTNL_RULE_TABLE), table)
                nftnl_rule_set_str(r, a(NFTNL_RULE_CHAIN), name)
                nftnl_rule_set_u32(r, a(NFTNL_RULE_FAMILY), UInt32(K.nfprotoIPv4))
                msg(K.msgDelRule, 0) { nftnl_rule_nlmsg_build_payload($0, r) }
            case .addSet(let def):
                let s = set(table, def.name)
                defer { nftnl_set_free(s) }
                var flags: UInt32 = def.isVerdictMap ? K.setMap : 0
                if let timeout = def.timeoutSeconds {
                    flags |= K.setTimeout | K.setEval
                    nftnl_set_set_u64(s, a(NFTNL_SET_TIMEOUT), UInt64(timeout) * 1000)
                }
                nftnl_set_set_u32(s, a(NFTNL_SET_FLAGS), flags)
                // The kernel requires a set id (for references within the batch) on every new set.
                nftnl_set_set_u32(s, a(NFTNL_SET_ID), setID)
                setID += 1
                let (keyType, keyLen) = keyTypeAndLength(def.keyType)
                nftnl_set_set_u32(s, a(NFTNL_SET_KEY_TYPE), keyType)
                nftnl_set_set_u32(s, a(NFTNL_SET_KEY_LEN), keyLen)
                if def.isVerdictMap {
                    nftnl_set_set_u32(s, a(NFTNL_SET_DATA_TYPE), K.dataVerdict)
                    nftnl_set_set_u32(s, a(NFTNL_SET_DATA_LEN), 0)
                }
                msg(K.msgNewSet, K.nlmFCreate) { nftnl_set_nlmsg_build_payload($0, s) }
            case .deleteSet(let name):
                let s = set(table, name)
                defer { nftnl_set_free(s) }
                msg(K.msgDelSet, 0) { nftnl_set_nlmsg_build_payload($0, s) }
            case .addElements(let name, let elements), .deleteElements(let name, let elements):
                let isAdd = if case .addElements = op { true } else { false }
                var start = 0
                while start < elements.count {
                    let chunk = elements[start..<min(elements.count, start + elementsPerMessage)]
                    start += chunk.count
                    let s = set(table, name)
                    defer { nftnl_set_free(s) }
                    for el in chunk { nftnl_set_elem_add(s, element(key: keyBytes(el.key), verdict: isAdd ? el.verdict : nil)) }
                    msg(isAdd ? K.msgNewSetElem : K.msgDelSetElem, isAdd ? K.nlmFCreate : 0, reserving: chunk.count * 256 + 4096) {
                        nftnl_set_elems_nlmsg_build_payload($0, s)
                    }
                }
            case .addRule(let chainName, let rule):
                let r = nftnl_rule_alloc()!
                defer { nftnl_rule_free(r) }
                nftnl_rule_set_str(r, a(NFTNL_RULE_TABLE), table)
                nftnl_rule_set_str(r, a(NFTNL_RULE_CHAIN), chainName)
                nftnl_rule_set_u32(r, a(NFTNL_RULE_FAMILY), UInt32(K.nfprotoIPv4))
                for st in rule.statements { NFTExpressions.add(st, to: r) }
                msg(K.msgNewRule, K.nlmFCreate | K.nlmFAppend) { nftnl_rule_nlmsg_build_payload($0, r) }
            }
        }
        if lastSeq != 0 { batch.requestAckOnLastMessage(at: lastOffset) }
        batch.end()
        batch.lastSeq = lastSeq
        return batch
    }

    static func chain(_ table: String, _ name: String) -> OpaquePointer {
        let c = nftnl_chain_alloc()!
        nftnl_chain_set_str(c, a(NFTNL_CHAIN_TABLE), table)
        nftnl_chain_set_str(c, a(NFTNL_CHAIN_NAME), name)
        nftnl_chain_set_u32(c, a(NFTNL_CHAIN_FAMILY), UInt32(K.nfprotoIPv4))
        return c
    }

    static func set(_ table: String, _ name: String) -> OpaquePointer {
        let s = nftnl_set_alloc()!
        nftnl_set_set_str(s, a(NFTNL_SET_TABLE), table)
        nftnl_set_set_str(s, a(NFTNL_SET_NAME), name)
        nftnl_set_set_u32(s, a(NFTNL_SET_FAMILY), UInt32(K.nfprotoIPv4))
        return s
    }

    static func element(key: [UInt8], verdict: NFTVerdict?) -> OpaquePointer {
        let e = nftnl_set_elem_alloc()!
        var key = key
        nftnl_set_elem_set(e, a(NFTNL_SET_ELEM_KEY), &key, UInt32(key.count))
        if let v = verdict {
            nftnl_set_elem_set_u32(e, a(NFTNL_SET_ELEM_VERDICT), verdictCode(v))
            if let chain = v.chain { nftnl_set_elem_set_str(e, a(NFTNL_SET_ELEM_CHAIN), chain) }
        }
        return e
    }

    static func verdictCode(_ v: NFTVerdict) -> UInt32 {
        switch v {
        case .jump: K.nftJump
        case .goto: K.nftGoto
        case .return: K.nftReturn
        case .drop: K.nfDrop
        case .accept: K.nfAccept
        }
    }

    /// nft's concatenated type id (6 bits per member, first member highest) and key length
    /// (each member padded to 4 bytes).
    static func keyTypeAndLength(_ t: NFTKeyType) -> (UInt32, UInt32) {
        switch t {
        case .ipv4: (K.typeIPAddr, 4)
        case .protoPort: (K.typeInetProto << 6 | K.typeInetService, 8)
        case .ipv4ProtoPort: (K.typeIPAddr << 12 | K.typeInetProto << 6 | K.typeInetService, 12)
        }
    }

    /// Key bytes as the kernel stores them: network order, members padded to 4 bytes.
    static func keyBytes(_ key: NFTKey) -> [UInt8] {
        switch key {
        case .ipv4(let ip): ip.bytes
        case .protoPort(let p, let port): [p.number, 0, 0, 0, UInt8(port >> 8), UInt8(port & 0xff), 0, 0]
        case .ipv4ProtoPort(let ip, let p, let port): ip.bytes + [p.number, 0, 0, 0, UInt8(port >> 8), UInt8(port & 0xff), 0, 0]
        }
    }
}
