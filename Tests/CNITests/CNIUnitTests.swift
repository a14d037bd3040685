@testable import CNI
import Foundation
import Testing

private func conf(_ json: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
}

private func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

@Suite struct HostLocalConfigTests {
    @Test func defaultsFromSubnet() throws {
        let c = try HostLocalConfig(conf: conf(#"{"name":"n","ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.1.0/24"}]],"routes":[{"dst":"0.0.0.0/0"}],"dataDir":"/tmp/x","reserved":["10.244.1.9"]}}"#))
        let r = try #require(c.rangeSets.first?.first)
        #expect(r.start.description == "10.244.1.1")
        #expect(r.end.description == "10.244.1.254")
        #expect(r.gateway?.description == "10.244.1.1")
        #expect(c.dataDir == "/tmp/x")
        #expect(c.routes == [.init(dst: "0.0.0.0/0")])
        #expect(c.reserved == [IPv4("10.244.1.9")!])
    }

    @Test func legacySubnetAndErrors() throws {
        let c = try HostLocalConfig(conf: conf(#"{"name":"n","ipam":{"subnet":"10.244.2.0/24","rangeStart":"10.244.2.10","rangeEnd":"10.244.2.20","gateway":"10.244.2.254"}}"#))
        #expect(c.rangeSets[0][0].size == 11)
        #expect(c.dataDir == HostLocalConfig.defaultDataDir)
        #expect(throws: CNIError.self) { try HostLocalConfig(conf: conf(#"{"name":"n","ipam":{"subnet":"fd00::/64"}}"#)) }
        #expect(throws: CNIError.self) { try HostLocalConfig(conf: conf(#"{"name":"n","ipam":{}}"#)) }
        #expect(throws: CNIError.self) { try HostLocalConfig(conf: conf(#"{"name":"n","ipam":{"subnet":"10.0.0.0/24","rangeStart":"10.0.1.1"}}"#)) }
    }

    @Test func bridgeConfig() throws {
        let b = try BridgeConfig(conf: conf(#"{"name":"k8s pod","isDefaultGateway":true,"mtu":1400}"#))
        #expect(b.bridge == "cni0" && b.isGateway && b.mtu == 1400 && !b.ipMasq)
        #expect(b.masqTable == "swiftlet_cni_masq_k8s_pod")
        #expect(throws: CNIError.self) { try BridgeConfig(conf: conf(#"{"name":"n","mtu":"big"}"#)) }
        #expect(BridgeConfig.hostVethName(containerID: "abc", ifname: "eth0").utf8.count == 12)
    }
}

@Suite struct IPAMTests {
    let range = IPRange(subnet: IPv4Prefix("10.244.1.0/29")!, start: IPv4("10.244.1.1")!, end: IPv4("10.244.1.6")!, gateway: IPv4("10.244.1.1")!)

    @Test func skipsGatewayReservedAndUsed() {
        let a = IPAllocator.next(in: [range], used: [IPv4("10.244.1.2")!], reserved: [IPv4("10.244.1.3")!], last: nil)
        #expect(a?.0.description == "10.244.1.4")
    }

    @Test func roundRobinAfterLastAndWraps() {
        #expect(IPAllocator.next(in: [range], used: [], reserved: [], last: IPv4("10.244.1.4"))?.0.description == "10.244.1.5")
        #expect(IPAllocator.next(in: [range], used: [], reserved: [], last: IPv4("10.244.1.6"))?.0.description == "10.244.1.2")
    }

    @Test func exhaustion() {
        let used = Set((2...6).map { IPv4(IPv4("10.244.1.0")!.value + UInt32($0)) })
        #expect(IPAllocator.next(in: [range], used: used, reserved: [], last: nil) == nil)
    }

    @Test func storeReserveFindReleaseGC() throws {
        let dir = NSTemporaryDirectory() + "cni-ipam-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = HostLocalStore(dataDir: dir, network: "net")
        let got: [Bool] = try s.withLock {
            [try s.reserve(IPv4("10.244.1.2")!, id: "a", ifname: "eth0"),
             try s.reserve(IPv4("10.244.1.2")!, id: "b", ifname: "eth0"),
             try s.reserve(IPv4("10.244.1.3")!, id: "b", ifname: "eth0")]
        }
        #expect(got == [true, false, true])
        #expect(s.find(id: "a", ifname: "eth0") == [IPv4("10.244.1.2")!])
        let raw = try String(contentsOfFile: s.dir + "/10.244.1.2", encoding: .utf8)
        #expect(raw == "a\r\neth0")
        #expect(s.gc(valid: ["a\r\neth0"]) == [IPv4("10.244.1.3")!])
        #expect(s.release(id: "a", ifname: "eth0") == [IPv4("10.244.1.2")!])
        #expect(s.allocated().isEmpty)
    }

    /// `last_reserved_ip.<set>` holds the bare address, as the reference writes it, and is
    /// rewritten in place: one inode for the life of the network, not a temp file and a
    /// rename (an inode made and one deleted) per allocation. What a crash could leave
    /// (empty, garbage) reads as no last address.
    @Test func lastReservedIsRewrittenInPlace() throws {
        let dir = NSTemporaryDirectory() + "cni-ipam-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = HostLocalStore(dataDir: dir, network: "net")
        try s.withLock {}  // makes the directory
        #expect(s.lastReserved(set: 0) == nil)
        s.setLastReserved(IPv4("10.244.1.200")!, set: 0)
        var first = stat()
        #expect(stat(s.dir + "/last_reserved_ip.0", &first) == 0)
        s.setLastReserved(IPv4("10.244.1.3")!, set: 0)
        #expect(try String(contentsOfFile: s.dir + "/last_reserved_ip.0", encoding: .utf8) == "10.244.1.3")
        #expect(s.lastReserved(set: 0) == IPv4("10.244.1.3"))
        var second = stat()
        #expect(stat(s.dir + "/last_reserved_ip.0", &second) == 0 && second.st_ino == first.st_ino, "the same file, not a replacement")
        #expect(s.lastReserved(set: 1) == nil)
        for junk in ["", "10.244.", "not an address"] {
            try junk.write(toFile: s.dir + "/last_reserved_ip.0", atomically: false, encoding: .utf8)
            #expect(s.lastReserved(set: 0) == nil, "\(junk)")
        }
    }

    @Test func hostLocalPluginAllocatesAndReportsExhaustion() throws {
        let dir = NSTemporaryDirectory() + "cni-hl-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stdin = Data(#"{"cniVersion":"1.0.0","name":"tiny","type":"host-local","ipam":{"type":"host-local","dataDir":"\#(dir)","ranges":[[{"subnet":"10.244.9.0/30"}]]}}"#.utf8)
        func add(_ id: String) -> (Data, Int32) {
            PluginMain.run(plugin: "host-local", env: ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": id, "CNI_IFNAME": "eth0", "CNI_NETNS": "/x"], stdin: stdin)
        }
        let (out, st) = add("one")
        #expect(st == 0)
        let r = try CNIResult.decode(out)
        #expect(r.ips?.first?.address == "10.244.9.2/30")
        #expect(r.ips?.first?.gateway == "10.244.9.1")
        #expect(try CNIResult.decode(add("one").0) == r) // idempotent
        let (err, st2) = add("two")
        #expect(st2 != 0)
        #expect(CNIError.parse(err)?.code == 11)
        #expect(CNIError.parse(err)?.msg.contains("no IP addresses available") == true)
        #expect(HostLocalStore(dataDir: dir, network: "tiny").find(id: "two", ifname: "eth0").isEmpty)
    }
}

@Suite struct ResultAndErrorJSONTests {
    @Test func resultLayouts() throws {
        let r = CNIResult(cniVersion: "1.0.0", interfaces: [.init(name: "eth0", mac: "aa:bb:cc:dd:ee:ff", sandbox: "/var/run/netns/p")],
                          ips: [.init(address: "10.244.1.2/24", gateway: "10.244.1.1", interface: 0)], routes: [.init(dst: "0.0.0.0/0")])
        let json = String(decoding: r.jsonData(), as: UTF8.self)
        #expect(json == #"{"cniVersion":"1.0.0","interfaces":[{"mac":"aa:bb:cc:dd:ee:ff","name":"eth0","sandbox":"\/var\/run\/netns\/p"}],"ips":[{"address":"10.244.1.2\/24","gateway":"10.244.1.1","interface":0}],"routes":[{"dst":"0.0.0.0\/0"}]}"#)
        let old = r.converted(to: "0.4.0")
        #expect(old.ips?.first?.version == "4")
        #expect(try CNIResult.decode(old.jsonData()) == old)
        #expect(old.converted(to: "1.1.0").ips?.first?.version == nil)
    }

    @Test func errorJSON() throws {
        let e = CNIError(.invalidConfig, "bad", details: "fix it")
        let obj = try #require(try JSONSerialization.jsonObject(with: e.json(cniVersion: "1.0.0")) as? [String: Any])
        #expect(obj["code"] as? Int == 7 && obj["msg"] as? String == "bad" && obj["details"] as? String == "fix it" && obj["cniVersion"] as? String == "1.0.0")
        #expect(CNIError.parse(e.json(cniVersion: "1.0.0")) == e)
    }

    @Test func versions() {
        #expect(CNISpec.compare("0.4.0", "1.0.0") < 0 && CNISpec.compare("1.1.0", "1.0.0") > 0 && CNISpec.compare("1.0", "1.0.0") == 0)
    }
}

@Suite struct BadInputTests {
    let env = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c", "CNI_IFNAME": "eth0", "CNI_NETNS": "/var/run/netns/none", "CNI_PATH": "/nonexistent"]
    let good = #"{"cniVersion":"1.0.0","name":"n","type":"bridge","ipam":{"type":"host-local","subnet":"10.244.1.0/24"}}"#

    func code(_ plugin: String, _ env: [String: String], _ stdin: String) -> Int? {
        let (out, st) = PluginMain.run(plugin: plugin, env: env, stdin: Data(stdin.utf8))
        return st == 0 ? nil : CNIError.parse(out)?.code
    }

    @Test func malformedJSON() {
        #expect(code("bridge", env, "{not json") == 6)
        // the error says where the configuration stops being JSON
        let (out, _) = PluginMain.run(plugin: "bridge", env: env, stdin: Data(#"{"cniVersion":"1.0.0",}"#.utf8))
        let e = CNIError.parse(out)
        #expect(e?.code == 6 && e?.details == "invalid JSON at byte 22: expected a string key")
        #expect(code("bridge", env, "[1]") == 6)
    }
    @Test func wrongVersion() { #expect(code("bridge", env, good.replacingOccurrences(of: "1.0.0", with: "9.9.9")) == 1) }
    @Test func missingNetns() {
        var e = env
        e["CNI_NETNS"] = nil
        #expect(code("bridge", e, good) == 4)
    }
    @Test func missingCommand() { #expect(code("loopback", [:], good) == 4) }
    @Test func unknownPlugin() { #expect(code("nosuch", env, good) == 7) }
    @Test func unknownNetnsIsContainerUnknown() { #expect(code("loopback", env, good) == 3) }
    @Test func ipamPluginMissing() {
        // The pod netns check comes first for bridge; loopback has no IPAM, so use host-local's config error.
        #expect(code("host-local", env, #"{"cniVersion":"1.0.0","name":"n","type":"host-local"}"#) == 7)
    }
    @Test func gcNeedsNewVersion() { #expect(code("host-local", ["CNI_COMMAND": "GC"], good) == 1) }

    @Test func versionCommand() throws {
        let (out, st) = PluginMain.run(plugin: "bridge", env: ["CNI_COMMAND": "VERSION"], stdin: Data(#"{"cniVersion":"1.0.0"}"#.utf8))
        #expect(st == 0)
        let obj = try #require(try JSONSerialization.jsonObject(with: out) as? [String: Any])
        #expect(obj["supportedVersions"] as? [String] == CNISpec.supportedVersions)
        #expect(obj["cniVersion"] as? String == "1.0.0")
    }
}

@Suite struct NetlinkBytesTests {
    @Test func setLinkUp() {
        // nlmsghdr(len 32, RTM_NEWLINK=16, REQUEST|ACK=5, seq 7, pid 0) + ifinfomsg(AF_UNSPEC, index 3, IFF_UP, IFF_UP)
        #expect(hex(RTNL.setFlags(index: 3, flags: 1, change: 1, seq: 7)) ==
            "20000000" + "1000" + "0500" + "07000000" + "00000000" + "00000000" + "03000000" + "01000000" + "01000000")
    }

    @Test func addAddress() {
        let b = RTNL.newAddress(IPv4Prefix("10.244.1.2/24")!, index: 4, seq: 1)
        // header: len 48, RTM_NEWADDR=20, REQUEST|ACK|EXCL|CREATE = 0x605
        #expect(hex(Array(b.prefix(16))) == "30000000" + "1400" + "0506" + "01000000" + "00000000")
        // ifaddrmsg: AF_INET, /24, flags 0, scope 0, index 4
        #expect(hex(Array(b[16..<24])) == "0218000004000000")
        // IFA_LOCAL(2), IFA_ADDRESS(1), IFA_BROADCAST(4)
        #expect(hex(Array(b[24...])) == "08000200" + "0af40102" + "08000100" + "0af40102" + "08000400" + "0af401ff")
    }

    @Test func defaultRouteHasNoDst() {
        let b = RTNL.newRoute(dst: IPv4Prefix("0.0.0.0/0")!, gateway: IPv4("10.244.1.1"), index: 2)
        // rtmsg: AF_INET, dst_len 0, src_len 0, tos 0, table main 254, proto boot 3, scope universe 0, type unicast 1
        #expect(hex(Array(b[16..<28])) == "020000" + "00" + "fe" + "03" + "00" + "01" + "00000000")
        #expect(hex(Array(b[28...])) == "08000500" + "0af40101" + "08000400" + "02000000")
    }

    @Test func parsesWhatItBuilds() {
        let msg = RTNL.getLink(name: "cni0")
        let parts = NLReply.split(msg)
        #expect(parts.count == 1)
        let r = NLReply(type: parts[0].type, payload: parts[0].payload, headerSize: 16)
        #expect(r.string(3) == "cni0") // IFLA_IFNAME
    }

    @Test func masqueradeBatchBuilds() {
        let b = NFTBatch()
        b.addTable("t")
        b.addNatChain(table: "t", name: "postrouting", hook: NFTConst.hookPostrouting, priority: 100)
        b.addRule(table: "t", chain: "postrouting", Masquerade.rule(IPv4Prefix("10.244.1.0/24")!))
        let bytes = b.bytes()
        #expect(bytes.count > 200)
        // batch begin: NFNL_MSG_BATCH_BEGIN (0x10), then NEWTABLE as NFNL_SUBSYS_NFTABLES(10)<<8 | 0
        #expect(le16(bytes, 4) == 0x10)
        #expect(le16(bytes, 24) == 0x0a00)
    }
}

@Suite struct InvokerConfigTests {
    @Test func defaultConflist() throws {
        let data = try NetworkConfigList.defaultBridge(podCIDR: "10.244.3.7/24", name: "node")
        let l = try NetworkConfigList(bytes: data)
        #expect(l.name == "node" && l.cniVersion == "1.0.0")
        #expect(l.plugins.map { $0["type"] as? String } == ["bridge", "portmap"])
        let ipam = try #require(l.plugins[0]["ipam"] as? [String: Any])
        #expect(((ipam["ranges"] as? [[[String: Any]]])?.first?.first?["subnet"] as? String) == "10.244.3.0/24")
        #expect(throws: CNIError.self) { try NetworkConfigList.defaultBridge(podCIDR: "nope") }
    }

    @Test func loadPicksFirstLexically() throws {
        let dir = NSTemporaryDirectory() + "cni-netd-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try NetworkConfigList.write(try NetworkConfigList.defaultBridge(podCIDR: "10.244.1.0/24", name: "b"), to: dir + "/20-b.conflist")
        try NetworkConfigList.write(try NetworkConfigList.defaultBridge(podCIDR: "10.244.1.0/24", name: "a"), to: dir + "/10-a.conflist")
        #expect(try NetworkConfigList.load(dir: dir).name == "a")
        #expect(throws: CNIError.self) { try NetworkConfigList(bytes: Data(#"{"name":"x","cniVersion":"2.0.0","plugins":[{"type":"bridge"}]}"#.utf8)) }
    }

    @Test func writeMakesTheDirectoryReplacesWholeAndLeavesNoTemporaryFile() throws {
        let dir = NSTemporaryDirectory() + "cni-write-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/results/net-c1-eth0"
        try NetworkConfigList.write(Data("first, longer".utf8), to: path, mode: 0o600, durable: false)
        try NetworkConfigList.write(Data("second".utf8), to: path, mode: 0o600, durable: false)
        #expect(FileManager.default.contents(atPath: path) == Data("second".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/results") == ["net-c1-eth0"])
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o600)
        // a file where the directory should be: the error names the path, nothing is left
        try Data().write(to: URL(fileURLWithPath: dir + "/blocked"))
        let e = #expect(throws: CNIError.self) { try NetworkConfigList.write(Data("x".utf8), to: dir + "/blocked/a.conflist") }
        #expect(e?.msg.contains(dir + "/blocked/a.conflist") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["blocked", "results"])
    }

    @Test func invokerReportsMissingPluginAndCachesNothing() async throws {
        let dir = NSTemporaryDirectory() + "cni-inv-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let list = try NetworkConfigList(bytes: Data(#"{"name":"x","cniVersion":"1.0.0","plugins":[{"type":"nosuch"}]}"#.utf8))
        let inv = CNIInvoker(config: list, binDirs: [dir], cacheDir: dir)
        let a = Attachment(containerID: "c1", netns: "/var/run/netns/none")
        await #expect(throws: CNIError.self) { _ = try await inv.setUp(a) }
        #expect(inv.cachedAttachments().isEmpty)
        await #expect(throws: CNIError.self) { try await inv.check(a) }
    }

    @Test func fakePlugin() async throws {
        let f = FakeNetworkPlugin()
        let a = Attachment(containerID: "a", netns: "/x"), b = Attachment(containerID: "b", netns: "/y")
        let ra = try await f.setUp(a)
        _ = try await f.setUp(b)
        #expect(try await f.setUp(a) == ra)
        try await f.gc(keeping: [a])
        try await f.check(a)
        await #expect(throws: CNIError.self) { try await f.check(b) }
    }
}
