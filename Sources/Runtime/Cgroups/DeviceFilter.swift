import Foundation

/// One device cgroup rule in the v1 `devices.allow` syntax: `<a|b|c> <major|*>:<minor|*> <r|w|m…>`
/// ("c 1:3 rwm", "b *:* m", "a").
package struct DeviceRule: Equatable, Sendable {
    /// BPF_DEVCG_DEV_BLOCK (1) or BPF_DEVCG_DEV_CHAR (2); nil for `a` (both).
    package var type: Int32?
    /// nil for `*`.
    package var major: Int32?
    package var minor: Int32?
    /// BPF_DEVCG_ACC_MKNOD (1) | READ (2) | WRITE (4).
    package var access: Int32

    package static let allAccess: Int32 = 7

    /// Parses a rule; throws `invalidArgument` naming it.
    package init(_ text: String) throws {
        let bad = RuntimeError(.invalidArgument, "device rule \"\(text)\" is not \"<a|b|c> <major|*>:<minor|*> <rwm>\"")
        let f = text.split(separator: " ")
        guard let kind = f.first, f.count == 1 || f.count == 3 else { throw bad }
        switch kind {
        case "a": type = nil
        case "b": type = 1
        case "c": type = 2
        default: throw bad
        }
        if f.count == 1 {
            guard kind == "a" else { throw bad }
            major = nil
            minor = nil
            access = Self.allAccess
            return
        }
        let numbers = f[1].split(separator: ":", omittingEmptySubsequences: false)
        guard numbers.count == 2 else { throw bad }
        func number(_ s: Substring) throws -> Int32? {
            if s == "*" { return nil }
            guard let n = Int32(s), n >= 0 else { throw bad }
            return n
        }
        major = try number(numbers[0])
        minor = try number(numbers[1])
        var a: Int32 = 0
        for c in f[2] {
            switch c {
            case "m": a |= 1
            case "r": a |= 2
            case "w": a |= 4
            default: throw bad
            }
        }
        guard a != 0 else { throw bad }
        access = a
    }
}

/// One eBPF instruction (`struct bpf_insn`).
package struct BPFInstruction: Equatable, Sendable {
    package var code: UInt8
    package var dst: UInt8
    package var src: UInt8
    package var off: Int16
    package var imm: Int32

    /// The 8 bytes the kernel reads: code, dst_reg | src_reg << 4, off and imm little-endian.
    package var bytes: [UInt8] {
        let o = UInt16(bitPattern: off), i = UInt32(bitPattern: imm)
        return [code, (dst & 0xf) | (src << 4), UInt8(o & 0xff), UInt8(o >> 8),
                UInt8(i & 0xff), UInt8((i >> 8) & 0xff), UInt8((i >> 16) & 0xff), UInt8(i >> 24)]
    }

    /// r[dst] = *(u32 *)(r[src] + off)
    static func loadWord(_ dst: UInt8, _ src: UInt8, _ off: Int16) -> Self { .init(code: 0x61, dst: dst, src: src, off: off, imm: 0) }
    /// w[dst] &= imm
    static func and32(_ dst: UInt8, _ imm: Int32) -> Self { .init(code: 0x54, dst: dst, src: 0, off: 0, imm: imm) }
    /// w[dst] >>= imm
    static func rsh32(_ dst: UInt8, _ imm: Int32) -> Self { .init(code: 0x74, dst: dst, src: 0, off: 0, imm: imm) }
    /// w[dst] = w[src]
    static func mov32(_ dst: UInt8, reg src: UInt8) -> Self { .init(code: 0xbc, dst: dst, src: src, off: 0, imm: 0) }
    /// w[dst] = imm
    static func mov32(_ dst: UInt8, _ imm: Int32) -> Self { .init(code: 0xb4, dst: dst, src: 0, off: 0, imm: imm) }
    /// if r[dst] != imm goto +off
    static func jne(_ dst: UInt8, _ imm: Int32) -> Self { .init(code: 0x55, dst: dst, src: 0, off: 0, imm: imm) }
    /// if r[dst] != r[src] goto +off
    static func jne(_ dst: UInt8, reg src: UInt8) -> Self { .init(code: 0x5d, dst: dst, src: src, off: 0, imm: 0) }
    static let exit = Self(code: 0x95, dst: 0, src: 0, off: 0, imm: 0)
}

/// cgroup v2 has no devices.allow: device access is decided by a BPF_PROG_TYPE_CGROUP_DEVICE
/// program attached to the cgroup. This builds it the way runc's devicefilter does: allow
/// when one rule matches the request (type, major, minor, and every requested access bit
/// granted), deny otherwise.
package enum DeviceFilter {
    /// containerd's default allow list (null, zero, full, tty, random, urandom, console, ptmx,
    /// pts, tun, and mknod of any node), the list CgroupV1 writes to devices.allow.
    package static let defaultRules = [
        "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
        "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
    ]

    /// The program: r1 points at `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`,
    /// access_type = access << 16 | type. r2 = type, r3 = access, r4 = major, r5 = minor; one
    /// block per rule that jumps to the next block on a mismatch and returns 1 otherwise; 0 at the end.
    package static func program(allowing rules: [DeviceRule]) -> [BPFInstruction] {
        var p: [BPFInstruction] = [
            .loadWord(2, 1, 0), .and32(2, 0xffff),
            .loadWord(3, 1, 0), .rsh32(3, 16),
            .loadWord(4, 1, 4), .loadWord(5, 1, 8),
        ]
        for rule in rules {
            var block: [BPFInstruction] = []
            var jumps: [Int] = []
            func mismatch(_ insn: BPFInstruction) {
                jumps.append(block.count)
                block.append(insn)
            }
            if let t = rule.type { mismatch(.jne(2, t)) }
            if rule.access != DeviceRule.allAccess {
                // the requested bits, masked by the granted ones, must still be all of them
                block += [.mov32(1, reg: 3), .and32(1, rule.access)]
                mismatch(.jne(1, reg: 3))
            }
            if let m = rule.major { mismatch(.jne(4, m)) }
            if let m = rule.minor { mismatch(.jne(5, m)) }
            block += [.mov32(0, 1), .exit]
            for j in jumps { block[j].off = Int16(block.count - j - 1) }
            p += block
        }
        return p + [.mov32(0, 0), .exit]
    }
}
