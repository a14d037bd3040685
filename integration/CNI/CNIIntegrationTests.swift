@testable import CNI
import Foundation
import Testing
import TestSupport

@Suite(.serialized, .enabled(if: CNINode.available, "needs root, a built swiftlet-cni and /bin/busybox"))
struct CNIIntegrationTests {
    @Test func twoPodsPingEachOtherAndTheGateway() async throws {
        try await NetnsLab.with { lab in
            let n = try CNINode(lab)
            let inv = n.invoker(try n.conflist())
            let a = try n.pod("a"), b = try n.pod("b")
            let ra = try await inv.setUp(a), rb = try await inv.setUp(b)
            #expect(CNINode.ip(ra) != CNINode.ip(rb))
            #expect(ra.interfaces?.map(\.name).first == "cni0")
            #expect(ra.interfaces?.last?.sandbox == a.netns)
            #expect(lab.ping(from: n.ns(a), CNINode.ip(rb)))
            #expect(lab.ping(from: n.ns(b), CNINode.ip(ra)))
            #expect(lab.ping(from: n.ns(a), "10.244.1.1"))
            try await inv.check(a)
        }
    }

    @Test func podReachesAProcessOnTheNodeIP() async throws {
        try await NetnsLab.with { lab in
            let n = try CNINode(lab)
            let www = n.dir + "/www"
            try FileManager.default.createDirectory(atPath: www, withIntermediateDirectories: true)
            try "hello from node\n".write(toFile: www + "/index.html", atomically: true, encoding: .utf8)
            try lab.spawn(in: n.node, ["/bin/busybox", "httpd", "-f", "-p", "\(CNINode.nodeIP):8080", "-h", www])
            let inv = n.invoker(try n.conflist())
            let a = try n.pod("a")
            _ = try await inv.setUp(a)
            var body = ""
            _ = eventually(timeout: 10) {
                body = lab.httpGet(from: n.ns(a), host: CNINode.nodeIP, port: 8080, path: "/index.html") ?? ""
                return body.contains("hello")
            }
            #expect(body.contains("hello from node"))
        }
    }

    /// The peer host has no route to the pod CIDR: it only answers when the pod's traffic is masqueraded
    /// to the node IP. Pod-to-pod traffic keeps the pod's source address.
    @Test func masqueradeAppliesOnlyOutsideThePodCIDR() async throws {
        try await NetnsLab.with { lab in
            let n = try CNINode(lab)
            let peer = try lab.addHost("peer", address: "10.250.0.3/24")
            let cgi = n.dir + "/www/cgi-bin"
            try FileManager.default.createDirectory(atPath: cgi, withIntermediateDirectories: true)
            try "#!/bin/sh\necho 'Content-Type: text/plain'\necho\necho \"src=$REMOTE_ADDR\"\n".write(toFile: cgi + "/ip", atomically: true, encoding: .utf8)
            chmod(cgi + "/ip", 0o755)
            let inv = n.invoker(try n.conflist())
            let a = try n.pod("a"), b = try n.pod("b")
            let ra = try await inv.setUp(a), rb = try await inv.setUp(b)
            try lab.spawn(in: peer, ["/bin/busybox", "httpd", "-f", "-p", "10.250.0.3:8080", "-h", n.dir + "/www"])
            try lab.spawn(in: n.ns(b), ["/bin/busybox", "httpd", "-f", "-p", "\(CNINode.ip(rb)):8080", "-h", n.dir + "/www"])
            func source(_ host: String) -> String {
                var out = ""
                _ = eventually(timeout: 10) {
                    out = lab.httpGet(from: n.ns(a), host: host, port: 8080, path: "/cgi-bin/ip") ?? ""
                    return out.contains("src=")
                }
                return out.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            #expect(source("10.250.0.3") == "src=\(CNINode.nodeIP)")
            #expect(source(CNINode.ip(rb)) == "src=\(CNINode.ip(ra))")
            let rules = try lab.run(in: n.node, ["/usr/sbin/nft", "list", "table", "ip", "swiftlet_cni_masq_podnet"]).stdout
            #expect(rules.contains("ip saddr 10.244.1.0/24 ip daddr != 10.244.1.0/24"))

            // One rule per network, written by the first ADD only: a later ADD finds it and leaves
            // it alone (same handle), and puts it back when somebody flushed the chain.
            func masqRules() throws -> [String] {
                try lab.run(in: n.node, ["/usr/sbin/nft", "-a", "list", "chain", "ip", "swiftlet_cni_masq_podnet", "postrouting"]).check()
                    .stdout.split(separator: "\n").filter { $0.contains("masquerade") }.map { String($0).trimmingCharacters(in: .whitespaces) }
            }
            let before = try masqRules()
            #expect(before.count == 1)
            _ = try await inv.setUp(try n.pod("c"))
            #expect(try masqRules() == before)
            try lab.run(in: n.node, ["/usr/sbin/nft", "flush", "chain", "ip", "swiftlet_cni_masq_podnet", "postrouting"]).check()
            #expect(try masqRules().isEmpty)
            _ = try await inv.setUp(try n.pod("d"))
            let repaired = try masqRules()
            #expect(repaired.count == 1 && repaired.first?.contains("ip saddr 10.244.1.0/24 ip daddr != 10.244.1.0/24") == true)
        }
    }

    @Test func fiftyConcurrentADDsGetFiftyDistinctAddresses() async throws {
        try await NetnsLab.with { lab in
            let n = try CNINode(lab)
            let list = try n.conflist(portmap: false, ipMasq: false)
            let stdin = try JSONSerialization.data(withJSONObject: list.plugins[0].merging(["name": list.name, "cniVersion": list.cniVersion]) { $1 })
            let pods = try (0..<50).map { try n.pod("p\($0)") }
            // Start all 50 plugin processes at once, then collect them (bounded by the per-process timeout).
            let procs: [(Process, Pipe)] = try pods.map { a in
                let p = Process()
                p.executableURL = URL(fileURLWithPath: NetnsLab.ip)
                p.arguments = ["netns", "exec", n.node, n.ourBin + "/bridge"]
                p.environment = ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": a.containerID, "CNI_NETNS": a.netns,
                                 "CNI_IFNAME": "eth0", "CNI_PATH": n.ourBin, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
                let out = Pipe(), inp = Pipe()
                p.standardOutput = out
                p.standardInput = inp
                p.standardError = FileHandle.nullDevice
                try p.run()
                inp.fileHandleForWriting.write(stdin)
                try inp.fileHandleForWriting.close()
                return (p, out)
            }
            var ips: [String] = []
            for (p, out) in procs {
                let data = out.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                if p.terminationStatus == 0, let r = try? CNIResult.decode(data) { ips.append(CNINode.ip(r)) }
            }
            #expect(ips.count == 50)
            #expect(Set(ips).count == 50)
            let files = try FileManager.default.contentsOfDirectory(atPath: n.dataDir + "/podnet").filter { IPv4($0) != nil }
            #expect(files.count == 50)
        }
    }

    @Test func delTwiceIsFineAndReleasesEverything() async throws {
        try await NetnsLab.with { lab in
            let n = try CNINode(lab)
            let inv = n.invoker(try n.conflist())
            let a = try n.pod("a")
            let r = try await inv.setUp(a)
            let veth = try #require(r.interfaces?[1].name)
            #expect(try n.nodeLinks().contains(veth))
            try await inv.tearDown(a)
            try await inv.tearDown(a)
            #expect(try !n.nodeLinks().contains(veth))
            #expect(HostLocalStore(dataDir: n.dataDir, network: "podnet").allocated().isEmpty)
            #expect(inv.cachedResult(a) == nil)
        }
    }

    @Test func addIsIdempotent() async throws {
        try await NetnsLab.with { lab in
            let n = try CNINode(lab)
            let inv = n.invoker(try n.conflist())
            let a = try n.pod("a")
            let r1 = try await inv.setUp(a), r2 = try await inv.setUp(a)
            // same address, routes and interfaces; the bridge's MAC may change once its first
            // port joins (Linux takes the lowest port MAC), as with the reference plugin
            #expect(r1.ips == r2.ips)
            #expect(r1.routes == r2.routes)
            #expect(r1.interfaces?.map(\.name) == r2.interfaces?.map(\.name))
            #expect(r1.interfaces?.last?.mac == r2.interfaces?.last?.mac)
        }
    }

    @Test func checkDetectsADeletedVethAndAMissingAddress() async throws {
        try await NetnsLab.with { lab in
            let n = try CNINode(lab)
            let inv = n.invoker(try n.conflist())
            let a = try n.pod("a"), b = try n.pod("b")
            let r = try await inv.setUp(a)
            _ = try await inv.setUp(b)
            try await inv.check(a)
            try lab.run(in: n.node, [NetnsLab.ip, "link", "del", r.interfaces![1].name]).check()
            do {
                try await inv.check(a)
                Issue.record("CHECK passed without the veth")
            } catch let e as PluginError {
                #expect(e.error.code == CNIError.Code.checkFailed.rawValue)
            }
            try lab.run(in: n.ns(b), [NetnsLab.ip, "addr", "flush", "dev", "eth0"]).check()
            await #expect(throws: PluginError.self) { try await inv.check(b) }
        }
    }

    @Test func gcRemovesLeakedAttachments() async throws {
        try await NetnsLab.with { lab in
            let n = try CNINode(lab)
            let inv = n.invoker(try n.conflist())
            let a = try n.pod("a"), b = try n.pod("b")
            let ra = try await inv.setUp(a), rb = try await inv.setUp(b)
            try await inv.gc(keeping: [a])
            let links = try n.nodeLinks()
            #expect(links.contains(ra.interfaces![1].name))
            #expect(!links.contains(rb.interfaces![1].name))
            #expect(Set(HostLocalStore(dataDir: n.dataDir, network: "podnet").allocated().keys.map(\.description)) == [CNINode.ip(ra)])
            #expect(inv.cachedAttachments().map(\.containerID) == [a.containerID])
        }
    }

    @Test func fullSubnetIsReportedAndLeaksNothing() async throws {
        try await NetnsLab.with { lab in
            let n = try CNINode(lab)
            let inv = n.invoker(try n.conflist(subnet: "10.244.9.0/30"))
            let a = try n.pod("a"), b = try n.pod("b")
            _ = try await inv.setUp(a)
            let before = try n.nodeLinks()
            do {
                _ = try await inv.setUp(b)
                Issue.record("ADD succeeded on a full subnet")
            } catch let e as PluginError {
                #expect(e.error.code == 11)
                #expect(e.error.msg.contains("no IP addresses available"))
            }
            // the kernel finishes removing a deleted veth pair asynchronously; a leak stays
            var links: [String] = []
            let gone = eventually(timeout: 3) { links = (try? n.nodeLinks()) ?? []; return links == before }
            #expect(gone, "node links after the failed ADD: \(links), before: \(before)")
            #expect(try !lab.run(in: n.ns(b), [NetnsLab.ip, "-br", "link"]).stdout.contains("eth0"))
            #expect(HostLocalStore(dataDir: n.dataDir, network: "podnet").find(id: b.containerID, ifname: "eth0").isEmpty)
        }
    }

    /// CNI 1.1 STATUS through the chain: ready while addresses are left, code 50 from host-local
    /// (via the bridge) once the subnet is full, ready again after a DEL; before 1.1 nobody is asked.
    @Test func statusReportsAFullSubnet() async throws {
        try await NetnsLab.with { lab in
            let n = try CNINode(lab)
            let inv = n.invoker(try n.conflist(subnet: "10.244.9.0/30", version: "1.1.0"))
            try await inv.status()
            let a = try n.pod("a") // a /30 with its gateway has one address left
            _ = try await inv.setUp(a)
            do {
                try await inv.status()
                Issue.record("STATUS passed on a full subnet")
            } catch let e as PluginError {
                #expect(e.plugin == "bridge" && e.command == "STATUS")
                #expect(e.error.code == 50 && e.error.msg.contains("no IP addresses available in range set 10.244.9.0/30"))
            }
            try await n.invoker(try n.conflist(subnet: "10.244.9.0/30", version: "1.0.0")).status()
            try await inv.tearDown(a)
            try await inv.status()
        }
    }

    @Test func unknownPluginAndBadVersionFromTheInvoker() async throws {
        try await NetnsLab.with { lab in
            let n = try CNINode(lab)
            let a = try n.pod("a")
            let bad = try NetworkConfigList(bytes: Data(#"{"name":"x","cniVersion":"1.0.0","plugins":[{"type":"nosuch"}]}"#.utf8))
            await #expect(throws: CNIError.self) { _ = try await n.invoker(bad).setUp(a) }
            // The plugin itself rejects a version the invoker does not check (via a raw call).
            let out = try lab.run(in: n.node, [n.ourBin + "/bridge"], stdin: #"{"cniVersion":"0.1.0","name":"x","type":"bridge"}"#,
                                  env: ["CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c", "CNI_NETNS": a.netns, "CNI_IFNAME": "eth0"])
            #expect(!out.ok)
            #expect(CNIError.parse(Data(out.stdout.utf8))?.code == 1)
        }
    }

    @Test func portmapForwardsAHostPortToThePod() async throws {
        try await NetnsLab.with { lab in
            let n = try CNINode(lab)
            let peer = try lab.addHost("peer", address: "10.250.0.3/24")
            let www = n.dir + "/www"
            try FileManager.default.createDirectory(atPath: www, withIntermediateDirectories: true)
            try "pod web\n".write(toFile: www + "/index.html", atomically: true, encoding: .utf8)
            let inv = n.invoker(try n.conflist())
            let a = try n.pod("a")
            let r = try await inv.setUp(a, portMappings: [HostPortMapping(hostPort: 30080, containerPort: 80)], args: [:])
            try lab.spawn(in: n.ns(a), ["/bin/busybox", "httpd", "-f", "-p", "\(CNINode.ip(r)):80", "-h", www])
            var body = ""
            _ = eventually(timeout: 10) {
                body = lab.httpGet(from: peer, host: CNINode.nodeIP, port: 30080, path: "/index.html") ?? ""
                return body.contains("pod web")
            }
            #expect(body.contains("pod web"))
            try await inv.tearDown(a)
            #expect(try !lab.run(in: n.node, ["/usr/sbin/nft", "list", "tables"]).stdout.contains("swiftlet_cni_hp_"))
        }
    }
}

@Suite(.serialized, .enabled(if: CNINode.available && FileManager.default.isExecutableFile(atPath: "/usr/lib/cni/bridge"),
                             "needs root, swiftlet-cni and the reference plugins in /usr/lib/cni"))
struct CNIInteropTests {
    /// Same conflist through the reference plugins and ours: the same kind of result and pod state, on one
    /// shared bridge and one shared host-local data dir, and the pods reach each other.
    @Test func referenceAndOursAreInterchangeable() async throws {
        try await NetnsLab.with { lab in
            let n = try CNINode(lab)
            let list = try n.conflist(version: "1.0.0")
            let ref = n.invoker(list, reference: true), ours = n.invoker(list)
            let a = try n.pod("ref"), b = try n.pod("ours")
            let ra = try await ref.setUp(a), rb = try await ours.setUp(b)
            #expect(ra.interfaces?.map(\.name).first == rb.interfaces?.map(\.name).first)
            #expect(ra.interfaces?.count == rb.interfaces?.count)
            #expect(ra.interfaces?.last?.name == "eth0" && rb.interfaces?.last?.name == "eth0")
            #expect(ra.ips?.first?.interface == rb.ips?.first?.interface)
            #expect(ra.ips?.first?.gateway == rb.ips?.first?.gateway)
            #expect(CNINode.ip(ra) != CNINode.ip(rb))
            for (pod, r) in [(a, ra), (b, rb)] {
                let addrs = try lab.run(in: n.ns(pod), [NetnsLab.ip, "-4", "-br", "addr", "show", "dev", "eth0"]).stdout
                #expect(addrs.contains(r.ips!.first!.address))
                let routes = try lab.run(in: n.ns(pod), [NetnsLab.ip, "route"]).stdout
                #expect(routes.contains("default via 10.244.1.1 dev eth0"))
            }
            #expect(lab.ping(from: n.ns(a), CNINode.ip(rb)))
            #expect(lab.ping(from: n.ns(b), CNINode.ip(ra)))
            // Each side's DEL and CHECK work on what it made; nothing left in the shared data dir.
            try await ref.check(a)
            try await ours.check(b)
            try await ref.tearDown(a)
            try await ours.tearDown(b)
            #expect(HostLocalStore(dataDir: n.dataDir, network: "podnet").allocated().isEmpty)
        }
    }

    /// The reference bridge delegating to our host-local, and our bridge delegating to theirs.
    @Test func mixedIPAM() async throws {
        try await NetnsLab.with { lab in
            let n = try CNINode(lab)
            let mixed = n.dir + "/mixed"
            try FileManager.default.createDirectory(atPath: mixed, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: mixed + "/bridge", withDestinationPath: CNINode.referenceBin + "/bridge")
            try FileManager.default.createSymbolicLink(atPath: mixed + "/host-local", withDestinationPath: n.ourBin + "/host-local")
            let list = try n.conflist(portmap: false)
            var inv = n.invoker(list)
            inv.binDirs = [mixed]
            let a = try n.pod("a")
            let r = try await inv.setUp(a)
            #expect(HostLocalStore(dataDir: n.dataDir, network: "podnet").find(id: a.containerID, ifname: "eth0").map(\.description) == [CNINode.ip(r)])
            try await inv.tearDown(a)
            #expect(HostLocalStore(dataDir: n.dataDir, network: "podnet").allocated().isEmpty)
        }
    }
}
