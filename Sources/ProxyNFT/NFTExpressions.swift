internal import CNftnl

/// `NFTStatement` → libnftnl expressions, register by register as `nft --debug=netlink` shows
/// nft itself encoding the same syntax.
enum NFTExpressions {
    static func add(_ st: NFTStatement, to rule: OpaquePointer) {
        func push(_ e: OpaquePointer) { nftnl_rule_add_expr(rule, e) }
        switch st {
        case .address(let field, let equal, let ip):
            push(payload(.network, offset: field == .saddr ? 12 : 16, len: 4, dreg: K.reg1))
            push(cmp(K.reg1, equal ? K.cmpEq : K.cmpNeq, ip.bytes))
        case .prefix(let field, let equal, let cidr):
            push(payload(.network, offset: field == .saddr ? 12 : 16, len: 4, dreg: K.reg1))
            let m = cidr.mask
            push(bitwise(K.reg1, mask: [UInt8(m >> 24), UInt8(m >> 16 & 0xff), UInt8(m >> 8 & 0xff), UInt8(m & 0xff)], xor: [0, 0, 0, 0]))
            push(cmp(K.reg1, equal ? K.cmpEq : K.cmpNeq, cidr.address.bytes))
        case .l4proto(let p):
            push(meta(K.metaL4proto, dreg: K.reg1))
            push(cmp(K.reg1, K.cmpEq, [p.number]))
        case .fibLocal(let field):
            let e = new("fib")
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_FIB_DREG), K.reg1)
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_FIB_RESULT), K.fibResultAddrtype)
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_FIB_FLAGS), field == .saddr ? K.fibFSaddr : K.fibFDaddr)
            push(e)
            push(cmp(K.reg1, K.cmpEq, le32(K.rtnLocal)))
        case .ctStateNew:
            let e = new("ct")
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_CT_KEY), K.ctState)
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_CT_DREG), K.reg1)
            push(e)
            push(bitwise(K.reg1, mask: le32(K.ctStateNewBit), xor: le32(0)))
            push(cmp(K.reg1, K.cmpNeq, le32(0)))
        case .markClear(let mark):
            push(meta(K.metaMark, dreg: K.reg1))
            push(bitwise(K.reg1, mask: le32(mark), xor: le32(0)))
            push(cmp(K.reg1, K.cmpEq, le32(0)))
        case .setMarkOr(let mark):
            push(meta(K.metaMark, dreg: K.reg1))
            push(bitwise(K.reg1, mask: le32(~mark), xor: le32(mark)))
            push(metaSet(K.metaMark, sreg: K.reg1))
        case .setMarkXor(let mark):
            push(meta(K.metaMark, dreg: K.reg1))
            push(bitwise(K.reg1, mask: le32(0xffff_ffff), xor: le32(mark)))
            push(metaSet(K.metaMark, sreg: K.reg1))
        case .saddrInSet(let set):
            push(payload(.network, offset: 12, len: 4, dreg: K.reg1))
            push(lookup(sreg: K.reg1, set: set, dreg: nil))
        case .vmap(let keyType, let map):
            switch keyType {
            case .ipv4:
                push(payload(.network, offset: 16, len: 4, dreg: K.reg1))
            case .protoPort:
                push(meta(K.metaL4proto, dreg: K.reg1))
                push(payload(.transport, offset: 2, len: 2, dreg: K.reg32_01))
            case .ipv4ProtoPort:
                push(payload(.network, offset: 16, len: 4, dreg: K.reg1))
                push(meta(K.metaL4proto, dreg: K.reg32_01))
                push(payload(.transport, offset: 2, len: 2, dreg: K.reg32_02))
            }
            push(lookup(sreg: K.reg1, set: map, dreg: K.regVerdict))
        case .numgenIsZero(let modulus):
            let e = new("numgen")
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_NG_DREG), K.reg1)
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_NG_MODULUS), modulus)
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_NG_TYPE), K.ngRandom)
            push(e)
            push(cmp(K.reg1, K.cmpEq, le32(0)))
        case .updateSaddr(let set):
            push(payload(.network, offset: 12, len: 4, dreg: K.reg1))
            let e = new("dynset")
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_DYNSET_SREG_KEY), K.reg1)
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_DYNSET_OP), K.dynsetOpUpdate)
            nftnl_expr_set_str(e, a(NFTNL_EXPR_DYNSET_SET_NAME), set)
            push(e)
        case .dnat(let ip, let port):
            push(immediate(K.reg1, ip.bytes))
            push(immediate(K.reg2, [UInt8(port >> 8), UInt8(port & 0xff)]))
            let e = new("nat")
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_NAT_TYPE), K.natDnat)
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_NAT_FAMILY), UInt32(K.nfprotoIPv4))
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_NAT_REG_ADDR_MIN), K.reg1)
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_NAT_REG_PROTO_MIN), K.reg2)
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_NAT_FLAGS), K.natRangeProtoSpecified)
            push(e)
        case .masquerade:
            let e = new("masq")
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_MASQ_FLAGS), K.natRangeProtoRandomFully)
            push(e)
        case .reject:
            let e = new("reject")
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_REJECT_TYPE), K.rejectICMPUnreach)
            nftnl_expr_set_u8(e, a(NFTNL_EXPR_REJECT_CODE), K.icmpPortUnreach)
            push(e)
        case .verdict(let v):
            let e = new("immediate")
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_IMM_DREG), K.regVerdict)
            nftnl_expr_set_u32(e, a(NFTNL_EXPR_IMM_VERDICT), NFTEncoder.verdictCode(v))
            if let chain = v.chain { nftnl_expr_set_str(e, a(NFTNL_EXPR_IMM_CHAIN), chain) }
            push(e)
        }
    }

    enum PayloadBase { case network, transport }

    static func new(_ name: String) -> OpaquePointer { nftnl_expr_alloc(name)! }

    static func le32(_ v: UInt32) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 24)] }

    static func payload(_ base: PayloadBase, offset: UInt32, len: UInt32, dreg: UInt32) -> OpaquePointer {
        let e = new("payload")
        nftnl_expr_set_u32(e, a(NFTNL_EXPR_PAYLOAD_DREG), dreg)
        nftnl_expr_set_u32(e, a(NFTNL_EXPR_PAYLOAD_BASE), base == .network ? K.payloadNetwork : K.payloadTransport)
        nftnl_expr_set_u32(e, a(NFTNL_EXPR_PAYLOAD_OFFSET), offset)
        nftnl_expr_set_u32(e, a(NFTNL_EXPR_PAYLOAD_LEN), len)
        return e
    }

    static func cmp(_ sreg: UInt32, _ op: UInt32, _ data: [UInt8]) -> OpaquePointer {
        let e = new("cmp")
        nftnl_expr_set_u32(e, a(NFTNL_EXPR_CMP_SREG), sreg)
        nftnl_expr_set_u32(e, a(NFTNL_EXPR_CMP_OP), op)
        var d = data
        nftnl_expr_set(e, a(NFTNL_EXPR_CMP_DATA), &d, UInt32(d.count))
        return e
    }

    static func bitwise(_ reg: UInt32, mask: [UInt8], xor: [UInt8]) -> OpaquePointer {
        let e = new("bitwise")
        nftnl_expr_set_u32(e, a(NFTNL_EXPR_BITWISE_SREG), reg)
        nftnl_expr_set_u32(e, a(NFTNL_EXPR_BITWISE_DREG), reg)
        nftnl_expr_set_u32(e, a(NFTNL_EXPR_BITWISE_LEN), UInt32(mask.count))
        var m = mask
        var x = xor
        nftnl_expr_set(e, a(NFTNL_EXPR_BITWISE_MASK), &m, UInt32(m.count))
        nftnl_expr_set(e, a(NFTNL_EXPR_BITWISE_XOR), &x, UInt32(x.count))
        return e
    }

    static func meta(_ key: UInt32, dreg: UInt32) -> OpaquePointer {
        let e = new("meta")
        nftnl_expr_set_u32(e, a(NFTNL_EXPR_META_KEY), key)
        nftnl_expr_set_u32(e, a(NFTNL_EXPR_META_DREG), dreg)
        return e
    }

    static func metaSet(_ key: UInt32, sreg: UInt32) -> OpaquePointer {
        let e = new("meta")
        nftnl_expr_set_u32(e, a(NFTNL_EXPR_META_KEY), key)
        nftnl_expr_set_u32(e, a(NFTNL_EXPR_META_SREG), sreg)
        return e
    }

    static func lookup(sreg: UInt32, set: String, dreg: UInt32?) -> OpaquePointer {
        let e = new("lookup")
        nftnl_expr_set_u32(e, a(NFTNL_EXPR_LOOKUP_SREG), sreg)
        nftnl_expr_set_str(e, a(NFTNL_EXPR_LOOKUP_SET), set)
        if let dreg { nftnl_expr_set_u32(e, a(NFTNL_EXPR_LOOKUP_DREG), dreg) }
        return e
    }

    static func immediate(_ dreg: UInt32, _ data: [UInt8]) -> OpaquePointer {
        let e = new("immediate")
        nftnl_expr_set_u32(e, a(NFTNL_EXPR_IMM_DREG), dreg)
        var d = data
        nftnl_expr_set(e, a(NFTNL_EXPR_IMM_DATA), &d, UInt32(d.count))
        return e
    }
}
