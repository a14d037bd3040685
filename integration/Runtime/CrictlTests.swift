import Foundation
import Glibc
import Testing
@testable import Runtime

/// The `swiftlet` executable built next to the tests, if it has the crictl command registered.
let swiftletBinary: String? = {
    let path = RuntimeConfig.siblingExecutable("swiftlet")
    guard FileManager.default.isExecutableFile(atPath: path) else { return nil }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = ["crictl", "--help"]
    p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
    p.standardError = FileHandle(forWritingAtPath: "/dev/null")
    guard (try? p.run()) != nil else { return nil }
    p.waitUntilExit()
    return p.terminationStatus == 0 ? path : nil
}()

@Suite(.serialized, .enabled(if: isRoot, "needs root: namespaces, mounts, cgroups"),
       .enabled(if: swiftletBinary != nil, "needs the swiftlet executable with `crictl` registered, built next to the tests"))
struct CrictlTests {
    func crictl(_ h: Harness, _ args: [String]) async throws -> (Int32, String, String) {
        let r = try await Spawn.run(swiftletBinary!, ["crictl"] + [args[0], "--root", h.root + "/state", "--cgroup-root", h.cgroupRoot]
                                    + args.dropFirst(), timeout: 60)
        return (r.status, String(decoding: r.stdout, as: UTF8.self), String(decoding: r.stderr, as: UTF8.self))
    }

    @Test func podLifecycleThroughCrictl() async throws {
        try await withHarness { h in
            let pod = h.root + "/pod.json", ctr = h.root + "/ctr.json"
            try """
                {"metadata": {"name": "cli", "namespace": "default", "uid": "uid-cli"}, "hostname": "cli-host",
                 "log_directory": "\(h.logRoot)/default_cli_uid-cli",
                 "linux": {"cgroup_parent": "kubepods/besteffort/pod-uid-cli",
                           "security_context": {"namespace_options": {"pid": 0}}}}
                """.write(toFile: pod, atomically: true, encoding: .utf8)
            try """
                {"metadata": {"name": "shell"}, "image": {"image": "\(h.image)"},
                 "command": ["/bin/sh", "-c", "echo cli-says-hi; echo warn >&2; exec sleep 1000"],
                 "envs": [{"key": "A", "value": "1"}], "log_path": "shell/0.log",
                 "linux": {"resources": {"memory_limit_in_bytes": 67108864},
                           "security_context": {"capabilities": {"drop_capabilities": ["NET_RAW"]}}}}
                """.write(toFile: ctr, atomically: true, encoding: .utf8)
            let (s1, podID, e1) = try await crictl(h, ["runp", pod])
            #expect(s1 == 0, "\(e1)")
            let sb = podID.trimmingCharacters(in: .whitespacesAndNewlines)
            let (s2, cid, e2) = try await crictl(h, ["create", sb, ctr, pod])
            #expect(s2 == 0, "\(e2)")
            let id = cid.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try await crictl(h, ["start", id]).0 == 0)
            let (_, ps, _) = try await crictl(h, ["ps"])
            #expect(ps.contains(String(id.prefix(13))) && ps.contains("CONTAINER_RUNNING"))
            #expect(try await crictl(h, ["pods"]).1.contains("SANDBOX_READY"))
            let (es, out, _) = try await crictl(h, ["exec", id, "sh", "-c", "echo $A; hostname"])
            #expect(es == 0 && out == "1\ncli-host\n")
            #expect(try await crictl(h, ["exec", id, "sh", "-c", "exit 4"]).0 == 4)
            var logs: (Int32, String, String) = (0, "", "")
            for _ in 0..<50 {
                logs = try await crictl(h, ["logs", id])
                if logs.1.contains("cli-says-hi") { break }
                try await Task.sleep(nanoseconds: 50_000_000)
            }
            #expect(logs.1 == "cli-says-hi\n" && logs.2 == "warn\n")
            #expect(try await crictl(h, ["inspect", id]).1.contains("\"state\" : \"CONTAINER_RUNNING\""))
            #expect(try await crictl(h, ["images"]).1.contains(h.image))
            #expect(try await crictl(h, ["stop", "-t", "1", id]).0 == 0)
            #expect(try await crictl(h, ["ps", "-a"]).1.contains("CONTAINER_EXITED"))
            #expect(try await crictl(h, ["rm", id]).0 == 0)
            #expect(try await crictl(h, ["stopp", sb]).0 == 0)
            #expect(try await crictl(h, ["rmp", sb]).0 == 0)
            #expect(try await crictl(h, ["pods", "-q"]).1.isEmpty)
            let (bad, _, err) = try await crictl(h, ["create", sb, ctr])
            #expect(bad != 0 && err.contains("pod sandbox \(sb) not found"))
        }
    }
}
