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
    static let reg32_01: UInt32 = 9, reg32_02: UInt32 = 10, reg32_03: UInt32 = 11
    static let payloadNetwork: UInt32 = 1, payloadTransport: UInt32 = 2
    static let metaMark: UInt32 = 3, metaL4proto: UInt32 = 16
    static let cmpEq: UInt32 = 0, cmpNeq: UInt32 = 1
    static let ctState: UInt32 = 0, ctStateNewBit: UInt32 = 8, ctStatus: UInt32 = 2, ctStatusDNATBit: UInt32 = 0x20
    static let ngRandom: UInt32 = 1
    static let dynsetOpUpdate: UInt32 = 1
    static let natDnat: UInt32 = 1
    static let natRangeProtoSpecified: UInt32 = 0x2, natRangeProtoRandomFully: UInt32 = 0x10
    static let rejectICMPUnreach: UInt32 = 0, icmpPortUnreach: UInt8 = 3
    static let fibResultAddrtype: UInt32 = 3, fibFSaddr: UInt32 = 1, fibFDaddr: UInt32 = 2, rtnLocal: UInt32 = 2

    static let setMap: UInt32 = 0x8
    static let setTimeout: UInt32 = 0x10, setEval: UInt32 = 0x20
    static let dataVerdict: UInt32 = 0xffff_ff00
    static let typeIPAddr: UInt32 = 7, typeInetProto: UInt32 = 12, typeInetService: UInt32 = 13, typeMark: UInt32 = 19

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
    /// For each message sequence number from `firstSeq`, the index of the operation it encodes
    /// and, for element messages, which of the operation's elements it carries.
    private(set) var operationIndex: [Int] = []
    private(set) var elementRanges: [Int: Range<Int>] = [:]
    let firstSeq: UInt32
    /// The sequence number of the last operation message (it carries NLM_F_ACK); 0 if none.
    var lastSeq: UInt32 = 0

    /// Zeroed memory (calloc: fresh pages for big batches, no memset), so attribute padding,
    /// which libmnl does not clear, never carries stale bytes to the kernel.
    init(firstSeq: UInt32, capacity: Int = 1 << 20) {
        self.capacity = capacity
        self.base = calloc(1, capacity)!
        self.firstSeq = firstSeq
        self.nextSeq = firstSeq
    }

    deinit { free(base) }

    private func reserve(_ bytes: Int) {
        guard used + bytes > capacity else { return }
        var newCapacity = capacity * 2
        while newCapacity < used + bytes { newCapacity *= 2 }
        let fresh = calloc(1, newCapacity)!
        fresh.copyMemory(from: base, byteCount: used)
        free(base)
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

    /// The operation a sequence number belongs to (nil for BEGIN/END or unknown), with the
    /// elements of that message for element operations.
    func operation(forSeq seq: UInt32) -> (index: Int, elements: Range<Int>?)? {
        let i = Int(seq &- firstSeq)
        guard i >= 0, i < operationIndex.count, operationIndex[i] >= 0 else { return nil }
        return (operationIndex[i], elementRanges[i])
    }

    /// Records that the message just appended carries `elements` of its operation.
    func noteElements(_ elements: Range<Int>) { elementRanges[operationIndex.count - 1] = elements }

    /// Sets NLM_F_ACK on the last message before END, so the kernel confirms the whole batch.
    func requestAckOnLastMessage(at offset: Int) {
        let flagsPtr = (base + offset + 6).assumingMemoryBound(to: UInt16.self)
        flagsPtr.pointee |= K.nlmFAck
    }

    var count: Int { used }
}

/// Encodes a transaction as one batch of nf_tables messages. Rules, chains and elements, the
/// bulk of a sync, are written in place with libmnl (`NFTMessage`); the rest goes through
/// libnftnl objects. A class, so the hot loop reads `batch` without retaining it per message.
final class NFTEncoder {
    /// Elements per NEWSETELEM/DELSETELEM message.
    static let elementsPerMessage = 512

    let batch: NetlinkBatch
    let table: String
    /// The table name as a C string, written into every message.
    private let tableC: [CChar]
    private var setID: UInt32 = 1
    private var lastOffset = 0
    private var lastSeq: UInt32 = 0
    /// The index of the operation being encoded (`NFTTransaction.operations` order).
    private var index = 0

    private init(batch: NetlinkBatch, table: String) {
        self.batch = batch
        self.table = table
        self.tableC = Array(table.utf8CString)
    }

    static func encode(_ tx: NFTTransaction, firstSeq: UInt32) -> NetlinkBatch {
        // About 2.2 kB per service port in a full sync: one allocation, no regrowth.
        let capacity = (1 << 20) + (tx.fullRuleset.map { $0.services.count * 2560 } ?? tx.operationCount * 256)
        let e = NFTEncoder(batch: NetlinkBatch(firstSeq: firstSeq, capacity: capacity), table: tx.table)
        e.batch.begin()
        if let rs = tx.fullRuleset {
            e.encodeFull(rs)
        } else {
            for op in tx.operations { e.encode(op) }
        }
        if e.lastSeq != 0 { e.batch.requestAckOnLastMessage(at: e.lastOffset) }
        e.batch.end()
        e.batch.lastSeq = e.lastSeq
        return e.batch
    }

    /// A full sync straight from the ruleset, in `NFTTransaction.fullOperations` order.
    private func encodeFull(_ rs: Ruleset) {
        encode(.addTable)
        encode(.deleteTable)
        encode(.addTable)
        let content = rs.content()
        for s in content.sets { encode(.addSet(s)) }
        for c in content.chains {
            addChain(c.name, c.base)
            index += 1
        }
        for c in content.chains {
            for r in c.rules {
                addRule(c.name, r)
                index += 1
            }
        }
        for (map, els) in content.elements {
            elements(map, els, add: true)
            index += 1
        }
    }

    private func encode(_ op: NFTOperation) {
        switch op {
        case .addTable, .deleteTable:
            let t = nftnl_table_alloc()!
            defer { nftnl_table_free(t) }
            nftnl_table_set_str(t, a(NFTNL_TABLE_NAME), table)
            nftnl_table_set_u32(t, a(NFTNL_TABLE_FAMILY), UInt32(K.nfprotoIPv4))
            let isAdd = if case .addTable = op { true } else { false }
            msg(isAdd ? K.msgNewTable : K.msgDelTable, isAdd ? K.nlmFCreate : 0) { nftnl_table_nlmsg_build_payload($0, t) }
        case .addChain(let c):
            addChain(c.name, c.base)
        case .deleteChain(let name):
            let ch = Self.chain(table, name)
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
            let s = Self.set(table, def.name)
            defer { nftnl_set_free(s) }
            var flags: UInt32 = def.dataType == nil ? 0 : K.setMap
            if let timeout = def.timeoutSeconds {
                flags |= K.setTimeout | K.setEval
                nftnl_set_set_u64(s, a(NFTNL_SET_TIMEOUT), UInt64(timeout) * 1000)
            }
            nftnl_set_set_u32(s, a(NFTNL_SET_FLAGS), flags)
            // The kernel requires a set id (for references within the batch) on every new set.
            nftnl_set_set_u32(s, a(NFTNL_SET_ID), setID)
            setID += 1
            let (keyType, keyLen) = Self.keyTypeAndLength(def.keyType)
            nftnl_set_set_u32(s, a(NFTNL_SET_KEY_TYPE), keyType)
            nftnl_set_set_u32(s, a(NFTNL_SET_KEY_LEN), keyLen)
            switch def.dataType {
            case .verdict:
                nftnl_set_set_u32(s, a(NFTNL_SET_DATA_TYPE), K.dataVerdict)
                nftnl_set_set_u32(s, a(NFTNL_SET_DATA_LEN), 0)
            case .endpoint:
                nftnl_set_set_u32(s, a(NFTNL_SET_DATA_TYPE), K.typeIPAddr << 6 | K.typeInetService)
                nftnl_set_set_u32(s, a(NFTNL_SET_DATA_LEN), 8)
            case nil:
                break
            }
            msg(K.msgNewSet, K.nlmFCreate) { nftnl_set_nlmsg_build_payload($0, s) }
        case .deleteSet(let name):
            let s = Self.set(table, name)
            defer { nftnl_set_free(s) }
            msg(K.msgDelSet, 0) { nftnl_set_nlmsg_build_payload($0, s) }
        case .addElements(let name, let els):
            elements(name, els, add: true)
        case .deleteElements(let name, let els):
            elements(name, els, add: false)
        case .addRule(let chain, let rule):
            addRule(chain, rule)
        }
        index += 1
    }

    /// Appends one message for the current operation; `payload` fills it after the header.
    private func msg(_ type: UInt16, _ flags: UInt16, reserving: Int = 1 << 16,
                              _ payload: (UnsafeMutablePointer<nlmsghdr>) -> Void) {
        lastOffset = batch.count
        var seqUsed: UInt32 = 0
        batch.append(operation: index, reserving: reserving) { buf, seq in
            seqUsed = seq
            let nlh = nftnl_nlmsg_build_hdr(buf, type, K.nfprotoIPv4, flags, seq)!
            payload(nlh)
            return nlh.pointee.nlmsg_len
        }
        lastSeq = seqUsed
    }

    private func addChain(_ name: String, _ base: NFTBaseChain?) {
        msg(K.msgNewChain, K.nlmFCreate) { nlh in
            let m = NFTMessage(nlh: nlh)
            tableC.withUnsafeBufferPointer { mnl_attr_put_strz(nlh, NFTA.chainTable, $0.baseAddress!) }
            m.string(NFTA.chainName, name)
            if let b = base {
                m.nest(NFTA.chainHook) {
                    m.u32(NFTA.hookHooknum, b.hook.number)
                    m.u32(NFTA.hookPriority, UInt32(bitPattern: b.priority))
                }
                m.string(NFTA.chainType, b.type)
            }
        }
    }

    private func addRule(_ chain: String, _ rule: NFTRule) {
        msg(K.msgNewRule, K.nlmFCreate | K.nlmFAppend) { nlh in
            let m = NFTMessage(nlh: nlh)
            tableC.withUnsafeBufferPointer { mnl_attr_put_strz(nlh, NFTA.ruleTable, $0.baseAddress!) }
            m.string(NFTA.ruleChain, chain)
            m.nest(NFTA.ruleExpressions) { for st in rule.statements { NFTExpressions.add(st, to: m) } }
        }
    }

    /// NEWSETELEM/DELSETELEM messages of up to `elementsPerMessage` elements each.
    private func elements(_ set: String, _ els: [NFTElement], add: Bool) {
        let table = table
        var start = 0
        while start < els.count {
            let chunk = els[start..<min(els.count, start + Self.elementsPerMessage)]
            start += chunk.count
            msg(add ? K.msgNewSetElem : K.msgDelSetElem, add ? K.nlmFCreate : 0, reserving: chunk.count * 256 + 4096) { nlh in
                let m = NFTMessage(nlh: nlh)
                m.string(NFTA.setElemListSet, set)
                m.string(NFTA.setElemListTable, table)
                m.nest(NFTA.setElemListElements) {
                    for el in chunk {
                        m.nest(NFTA.listElem) {
                            m.nest(NFTA.setElemKey) { Self.keyValue(m, el.key) }
                            switch el.data {
                            case .verdict(let v) where add:
                                m.nest(NFTA.setElemData) { NFTExpressions.verdict(m, v) }
                            case .endpoint(let ip, let port) where add:
                                m.nest(NFTA.setElemData) {
                                    var buf: (UInt32, UInt32) = (ip.value.bigEndian, UInt32(port.bigEndian))
                                    withUnsafeBytes(of: &buf) { mnl_attr_put(m.nlh, NFTA.dataValue, 8, $0.baseAddress) }
                                }
                            default:
                                break
                            }
                        }
                    }
                }
            }
            batch.noteElements(chunk.indices)
        }
    }

    /// `NFTA_DATA_VALUE` of a key as the kernel stores it: network order, members padded to 4 bytes.
    static func keyValue(_ m: NFTMessage, _ key: NFTKey) {
        var buf: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        let length: Int
        switch key {
        case .ipv4(let ip):
            buf.0 = ip.value.bigEndian
            length = 4
        case .protoPort(let p, let port):
            buf = (UInt32(p.number), UInt32(port.bigEndian), 0, 0)
            length = 8
        case .ipv4ProtoPort(let ip, let p, let port):
            buf = (ip.value.bigEndian, UInt32(p.number), UInt32(port.bigEndian), 0)
            length = 12
        case .ipv4Pair(let a, let b):
            buf = (a.value.bigEndian, b.value.bigEndian, 0, 0)
            length = 8
        case .ipv4ProtoPortIndex(let ip, let p, let port, let index):
            // The index is what `numgen` writes: a host-order 32-bit word.
            buf = (ip.value.bigEndian, UInt32(p.number), UInt32(port.bigEndian), index)
            length = 16
        case .protoPortIndex(let p, let port, let index):
            buf = (UInt32(p.number), UInt32(port.bigEndian), index, 0)
            length = 12
        }
        withUnsafeBytes(of: &buf) { mnl_attr_put(m.nlh, NFTA.dataValue, length, $0.baseAddress) }
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
        case .ipv4Pair: (K.typeIPAddr << 6 | K.typeIPAddr, 8)
        case .ipv4ProtoPortIndex: (K.typeIPAddr << 18 | K.typeInetProto << 12 | K.typeInetService << 6 | K.typeMark, 16)
        case .protoPortIndex: (K.typeInetProto << 12 | K.typeInetService << 6 | K.typeMark, 12)
        }
    }
}
