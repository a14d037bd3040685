import CNI
import FoundationEssentials
import Glibc

// Multi-call CNI plugin binary: dispatches on the name it was invoked by (`bridge`, `host-local`,
// `loopback`, `portmap`), or on its first argument (`swiftlet-cni bridge`). FoundationEssentials
// only (see CNIJSON): stdin and stdout with read(2) and write(2).

func writeAll(_ fd: Int32, _ data: Data) {
    data.withUnsafeBytes { b in
        var off = 0
        while off < b.count {
            let n = write(fd, b.baseAddress! + off, b.count - off)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            off += n
        }
    }
}

func readAll(_ fd: Int32) -> Data {
    var out = Data()
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buf, buf.count)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return out }
        out.append(contentsOf: buf[0..<n])
    }
}

var name = String(CommandLine.arguments[0].split(separator: "/").last ?? "")
if name == "swiftlet-cni" {
    guard CommandLine.arguments.count > 1 else {
        writeAll(2, Data("usage: swiftlet-cni <\(PluginMain.plugins.joined(separator: "|"))> (CNI env + config on stdin)\n".utf8))
        exit(2)
    }
    name = CommandLine.arguments[1]
}
let (out, status) = PluginMain.run(plugin: name, env: ProcessInfo.processInfo.environment, stdin: readAll(0))
writeAll(1, out)
exit(status)
