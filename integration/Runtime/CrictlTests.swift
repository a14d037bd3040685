import Foundation
import Glibc
import Testing
import TestSupport
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

    @Test func crictlExecOnATerminalAndAttach() async throws {
        try await withHarness { h in
            let pod = h.root + "/pod.json", ctr = h.root + "/ctr.json"
            try """
                {"metadata": {"name": "term", "namespace": "default", "uid": "uid-term"},
                 "log_directory": "\(h.logRoot)/default_term_uid-term",
                 "linux": {"cgroup_parent": "kubepods/besteffort/pod-uid-term"}}
                """.write(toFile: pod, atomically: true, encoding: .utf8)
            try """
                {"metadata": {"name": "cat"}, "image": {"image": "\(h.image)"}, "stdin": true, "stdin_once": true,
                 "command": ["/bin/sh", "-c", "cat; echo end"], "log_path": "cat/0.log"}
                """.write(toFile: ctr, atomically: true, encoding: .utf8)
            let sb = try await crictl(h, ["runp", pod]).1.trimmingCharacters(in: .whitespacesAndNewlines)
            let id = try await crictl(h, ["create", sb, ctr, pod]).1.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try await crictl(h, ["start", id]).0 == 0)
            let flags = ["--root", h.root + "/state", "--cgroup-root", h.cgroupRoot]
            // exec -it from a terminal of 77x11: the command runs on a terminal of that size
            let line = ([swiftletBinary!, "crictl", "exec", "-it"] + flags + [id, "sh", "-c", "'tty; stty size; exit 6'"]).joined(separator: " ")
            let t = try Command.run("/usr/bin/script", ["-qefc", "stty cols 77 rows 11; exec \(line)", "/dev/null"], timeout: 60)
            #expect(t.status == 6 && t.stdout.contains("/dev/pts/") && t.stdout.contains("11 77"), "\(t)")
            // attach -i: piped input reaches cat, its end closes the stdinOnce stdin
            let a = try Command.run(swiftletBinary!, ["crictl", "attach", "-i"] + flags + [id], stdin: "piped\n", timeout: 60)
            #expect(a.status == 0 && a.stdout == "piped\nend\n", "\(a)")
            #expect(try await h.waitExited(id).reason == "Completed")
        }
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
