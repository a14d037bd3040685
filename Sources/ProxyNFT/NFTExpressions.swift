internal import CMnl

/// nf_tables attribute numbers (linux/netfilter/nf_tables.h) for the messages written here.
enum NFTA {
    static let ruleTable: UInt16 = 1, ruleChain: UInt16 = 2, ruleExpressions: UInt16 = 4
    static let chainTable: UInt16 = 1, chainName: UInt16 = 3, chainHook: UInt16 = 4, chainType: UInt16 = 7
    static let hookHooknum: UInt16 = 1, hookPriority: UInt16 = 2
    static let listElem: UInt16 = 1, exprName: UInt16 = 1, exprData: UInt16 = 2
    static let dataValue: UInt16 = 1, dataVerdict: UInt16 = 2, verdictCode: UInt16 = 1, verdictChain: UInt16 = 2
    static let payloadDreg: UInt16 = 1, payloadBase: UInt16 = 2, payloadOffset: UInt16 = 3, payloadLen: UInt16 = 4
    static let cmpSreg: UInt16 = 1, cmpOp: UInt16 = 2, cmpData: UInt16 = 3
    static let bitwiseSreg: UInt16 = 1, bitwiseDreg: UInt16 = 2, bitwiseLen: UInt16 = 3, bitwiseMask: UInt16 = 4
    static let bitwiseXor: UInt16 = 5
    static let immediateDreg: UInt16 = 1, immediateData: UInt16 = 2
    static let metaDreg: UInt16 = 1, metaKey: UInt16 = 2, metaSreg: UInt16 = 3
    static let numgenDreg: UInt16 = 1, numgenModulus: UInt16 = 2, numgenType: UInt16 = 3
    static let lookupSet: UInt16 = 1, lookupSreg: UInt16 = 2, lookupDreg: UInt16 = 3
    static let natType: UInt16 = 1, natFamily: UInt16 = 2, natRegAddrMin: UInt16 = 3, natRegProtoMin: UInt16 = 5
    static let natFlags: UInt16 = 7
    static let masqFlags: UInt16 = 1
    static let rejectType: UInt16 = 1, rejectICMPCode: UInt16 = 2
    static let fibDreg: UInt16 = 1, fibResult: UInt16 = 2, fibFlags: UInt16 = 3
    static let ctDreg: UInt16 = 1, ctKey: UInt16 = 2
    static let dynsetSetName: UInt16 = 1, dynsetOp: UInt16 = 3, dynsetSregKey: UInt16 = 4
    static let setElemListTable: UInt16 = 1, setElemListSet: UInt16 = 2, setElemListElements: UInt16 = 3
    static let setElemKey: UInt16 = 1, setElemData: UInt16 = 2
}

/// One netlink message being filled in place with libmnl: attributes go straight into the batch
/// buffer, with no libnftnl object, allocation or string copy per rule and expression. (The
/// libnftnl objects cost 120–200 ms of a 74,000-rule full sync; the bytes are the same, which
/// `EncoderTests` checks by round-tripping every message through libnftnl.)
struct NFTMessage {
    let nlh: UnsafeMutablePointer<nlmsghdr>

    /// A 32-bit attribute in network byte order, as nf_tables expects.
    func u32(_ type: UInt16, _ v: UInt32) { mnl_attr_put_u32(nlh, type, v.bigEndian) }

    func u8(_ type: UInt16, _ v: UInt8) { mnl_attr_put_u8(nlh, type, v) }

    /// A NUL-terminated string. `withCString` reads native strings in place and copies small
    /// ones to the stack; the implicit String-to-pointer conversion would allocate for those.
    func string(_ type: UInt16, _ s: String) { s.withCString { mnl_attr_put_strz(nlh, type, $0) } }

    func nest(_ type: UInt16, _ body: () -> Void) {
        let start = mnl_attr_nest_start(nlh, type)
        body()
        mnl_attr_nest_end(nlh, start)
    }

    /// `NFTA_DATA_VALUE` of the first `length` bytes of `word` as it lies in memory, nested in `type`.
    func value(_ type: UInt16, _ word: UInt32, length: Int) {
        nest(type) {
            var w = word
            withUnsafeBytes(of: &w) { mnl_attr_put(nlh, NFTA.dataValue, length, $0.baseAddress) }
        }
    }
}

/// `NFTStatement` → nf_tables expressions, register by register as `nft --debug=netlink` shows
/// nft itself encoding the same syntax, and attribute by attribute in libnftnl's order.
enum NFTExpressions {
    static func add(_ st: NFTStatement, to m: NFTMessage) {
        switch st {
        case .address(let field, let equal, let ip):
            payload(m, .network, offset: field == .saddr ? 12 : 16, len: 4, dreg: K.reg1)
            cmp(m, K.reg1, equal ? K.cmpEq : K.cmpNeq, ip.value.bigEndian, length: 4)
        case .prefix(let field, let equal, let cidr):
            payload(m, .network, offset: field == .saddr ? 12 : 16, len: 4, dreg: K.reg1)
            bitwise(m, K.reg1, mask: cidr.mask.bigEndian, xor: 0)
            cmp(m, K.reg1, equal ? K.cmpEq : K.cmpNeq, cidr.address.value.bigEndian, length: 4)
        case .l4proto(let p):
            meta(m, K.metaL4proto, dreg: K.reg1)
            cmp(m, K.reg1, K.cmpEq, UInt32(p.number), length: 1)
        case .fibLocal(let field):
            expr(m, "fib") {
                m.u32(NFTA.fibFlags, field == .saddr ? K.fibFSaddr : K.fibFDaddr)
                m.u32(NFTA.fibResult, K.fibResultAddrtype)
                m.u32(NFTA.fibDreg, K.reg1)
            }
            cmp(m, K.reg1, K.cmpEq, K.rtnLocal.littleEndian, length: 4)
        case .ctStateNew:
            ctBitSet(m, key: K.ctState, bit: K.ctStateNewBit)
        case .markClear(let mark):
            meta(m, K.metaMark, dreg: K.reg1)
            bitwise(m, K.reg1, mask: mark.littleEndian, xor: 0)
            cmp(m, K.reg1, K.cmpEq, 0, length: 4)
        case .setMarkOr(let mark):
            meta(m, K.metaMark, dreg: K.reg1)
            bitwise(m, K.reg1, mask: (~mark).littleEndian, xor: mark.littleEndian)
            metaSet(m, K.metaMark, sreg: K.reg1)
        case .setMarkXor(let mark):
            meta(m, K.metaMark, dreg: K.reg1)
            bitwise(m, K.reg1, mask: 0xffff_ffff, xor: mark.littleEndian)
            metaSet(m, K.metaMark, sreg: K.reg1)
        case .saddrInSet(let set):
            payload(m, .network, offset: 12, len: 4, dreg: K.reg1)
            lookup(m, sreg: K.reg1, set: set, dreg: nil)
        case .vmap(let keyType, let map):
            let next = packetFields(m, keyType)
            precondition(next != nil, "vmap on \(keyType)")
            lookup(m, sreg: K.reg1, set: map, dreg: K.regVerdict)
        case .dnatMap(let keyType, let modulus, let map):
            // As nft encodes `dnat ip to <fields> . numgen random mod N map @m`: the fields and
            // the index in consecutive 4-byte registers, the lookup's data (address, port) back
            // into reg 1 and the one after it.
            guard let indexReg = packetFields(m, keyType) else { preconditionFailure("dnat map on \(keyType)") }
            expr(m, "numgen") {
                m.u32(NFTA.numgenDreg, indexReg)
                m.u32(NFTA.numgenModulus, modulus)
                m.u32(NFTA.numgenType, K.ngRandom)
            }
            lookup(m, sreg: K.reg1, set: map, dreg: K.reg1)
            expr(m, "nat") {
                m.u32(NFTA.natType, K.natDnat)
                m.u32(NFTA.natFamily, UInt32(K.nfprotoIPv4))
                m.u32(NFTA.natRegAddrMin, K.reg1)
                m.u32(NFTA.natRegProtoMin, K.reg32_01)
            }
        case .ctStatusDNAT:
            ctBitSet(m, key: K.ctStatus, bit: K.ctStatusDNATBit)
        case .addressPairInSet(let set):
            payload(m, .network, offset: 12, len: 4, dreg: K.reg1)
            payload(m, .network, offset: 16, len: 4, dreg: K.reg32_01)
            lookup(m, sreg: K.reg1, set: set, dreg: nil)
        case .numgenIsZero(let modulus):
            expr(m, "numgen") {
                m.u32(NFTA.numgenDreg, K.reg1)
                m.u32(NFTA.numgenModulus, modulus)
                m.u32(NFTA.numgenType, K.ngRandom)
            }
            cmp(m, K.reg1, K.cmpEq, 0, length: 4)
        case .updateSaddr(let set):
            payload(m, .network, offset: 12, len: 4, dreg: K.reg1)
            expr(m, "dynset") {
                m.u32(NFTA.dynsetSregKey, K.reg1)
                m.u32(NFTA.dynsetOp, K.dynsetOpUpdate)
                m.string(NFTA.dynsetSetName, set)
            }
        case .dnat(let ip, let port):
            immediate(m, K.reg1, ip.value.bigEndian, length: 4)
            immediate(m, K.reg2, UInt32(port.bigEndian), length: 2)
            expr(m, "nat") {
                m.u32(NFTA.natType, K.natDnat)
                m.u32(NFTA.natFamily, UInt32(K.nfprotoIPv4))
                m.u32(NFTA.natRegAddrMin, K.reg1)
                m.u32(NFTA.natRegProtoMin, K.reg2)
                m.u32(NFTA.natFlags, K.natRangeProtoSpecified)
            }
        case .masquerade:
            expr(m, "masq") { m.u32(NFTA.masqFlags, K.natRangeProtoRandomFully) }
        case .reject:
            expr(m, "reject") {
                m.u32(NFTA.rejectType, K.rejectICMPUnreach)
                m.u8(NFTA.rejectICMPCode, K.icmpPortUnreach)
            }
        case .verdict(let v):
            expr(m, "immediate") {
                m.u32(NFTA.immediateDreg, K.regVerdict)
                m.nest(NFTA.immediateData) { verdict(m, v) }
            }
        }
    }

    /// `NFTA_DATA_VERDICT`: the code and, for jump/goto, the chain (rule immediates, map data).
    static func verdict(_ m: NFTMessage, _ v: NFTVerdict) {
        m.nest(NFTA.dataVerdict) {
            m.u32(NFTA.verdictCode, NFTEncoder.verdictCode(v))
            if let chain = v.chain { m.string(NFTA.verdictChain, chain) }
        }
    }

    /// Loads the packet fields of `keyType` (`NFTKeyType.packetFields`) into consecutive
    /// 4-byte registers from reg 1. Returns the register after them, where an endpoint-index
    /// key's index goes (nil for key types no rule reads from a packet this way).
    static func packetFields(_ m: NFTMessage, _ keyType: NFTKeyType) -> UInt32? {
        switch keyType {
        case .ipv4:
            payload(m, .network, offset: 16, len: 4, dreg: K.reg1)
            return K.reg32_01
        case .protoPort, .protoPortIndex:
            meta(m, K.metaL4proto, dreg: K.reg1)
            payload(m, .transport, offset: 2, len: 2, dreg: K.reg32_01)
            return K.reg32_02
        case .ipv4ProtoPort, .ipv4ProtoPortIndex:
            payload(m, .network, offset: 16, len: 4, dreg: K.reg1)
            meta(m, K.metaL4proto, dreg: K.reg32_01)
            payload(m, .transport, offset: 2, len: 2, dreg: K.reg32_02)
            return K.reg32_03
        case .ipv4Pair:
            return nil
        }
    }

    /// `ct state new`, `ct status dnat`: a conntrack bit field (host order) has `bit` set.
    static func ctBitSet(_ m: NFTMessage, key: UInt32, bit: UInt32) {
        expr(m, "ct") {
            m.u32(NFTA.ctKey, key)
            m.u32(NFTA.ctDreg, K.reg1)
        }
        bitwise(m, K.reg1, mask: bit.littleEndian, xor: 0)
        cmp(m, K.reg1, K.cmpNeq, 0, length: 4)
    }

    enum PayloadBase { case network, transport }

    /// One element of `NFTA_RULE_EXPRESSIONS`: the expression's name and its attributes.
    static func expr(_ m: NFTMessage, _ name: StaticString, _ body: () -> Void) {
        m.nest(NFTA.listElem) {
            mnl_attr_put_strz(m.nlh, NFTA.exprName, UnsafeRawPointer(name.utf8Start).assumingMemoryBound(to: CChar.self))
            m.nest(NFTA.exprData, body)
        }
    }

    static func payload(_ m: NFTMessage, _ base: PayloadBase, offset: UInt32, len: UInt32, dreg: UInt32) {
        expr(m, "payload") {
            m.u32(NFTA.payloadDreg, dreg)
            m.u32(NFTA.payloadBase, base == .network ? K.payloadNetwork : K.payloadTransport)
            m.u32(NFTA.payloadOffset, offset)
            m.u32(NFTA.payloadLen, len)
        }
    }

    /// Compares a register with the first `length` bytes of `word` as it lies in memory.
    static func cmp(_ m: NFTMessage, _ sreg: UInt32, _ op: UInt32, _ word: UInt32, length: Int) {
        expr(m, "cmp") {
            m.u32(NFTA.cmpSreg, sreg)
            m.u32(NFTA.cmpOp, op)
            m.value(NFTA.cmpData, word, length: length)
        }
    }

    /// `reg = (reg & mask) ^ xor` on 4 bytes (mask and xor as they lie in memory).
    static func bitwise(_ m: NFTMessage, _ reg: UInt32, mask: UInt32, xor: UInt32) {
        expr(m, "bitwise") {
            m.u32(NFTA.bitwiseSreg, reg)
            m.u32(NFTA.bitwiseDreg, reg)
            m.u32(NFTA.bitwiseLen, 4)
            m.value(NFTA.bitwiseMask, mask, length: 4)
            m.value(NFTA.bitwiseXor, xor, length: 4)
        }
    }

    static func meta(_ m: NFTMessage, _ key: UInt32, dreg: UInt32) {
        expr(m, "meta") {
            m.u32(NFTA.metaKey, key)
            m.u32(NFTA.metaDreg, dreg)
        }
    }

    static func metaSet(_ m: NFTMessage, _ key: UInt32, sreg: UInt32) {
        expr(m, "meta") {
            m.u32(NFTA.metaKey, key)
            m.u32(NFTA.metaSreg, sreg)
        }
    }

    static func lookup(_ m: NFTMessage, sreg: UInt32, set: String, dreg: UInt32?) {
        expr(m, "lookup") {
            m.u32(NFTA.lookupSreg, sreg)
            if let dreg { m.u32(NFTA.lookupDreg, dreg) }
            m.string(NFTA.lookupSet, set)
        }
    }

    static func immediate(_ m: NFTMessage, _ dreg: UInt32, _ word: UInt32, length: Int) {
        expr(m, "immediate") {
            m.u32(NFTA.immediateDreg, dreg)
            m.value(NFTA.immediateData, word, length: length)
        }
    }
}
