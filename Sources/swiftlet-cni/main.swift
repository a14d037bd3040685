import CNI
import Foundation

// Multi-call CNI plugin binary: dispatches on the name it was invoked by (`bridge`, `host-local`,
// `loopback`, `portmap`), or on its first argument (`swiftlet-cni bridge`).
var name = URL(fileURLWithPath: CommandLine.arguments[0]).lastPathComponent
if name == "swiftlet-cni" {
    guard CommandLine.arguments.count > 1 else {
        FileHandle.standardError.write(Data("usage: swiftlet-cni <\(PluginMain.plugins.joined(separator: "|"))> (CNI env + config on stdin)\n".utf8))
        exit(2)
    }
    name = CommandLine.arguments[1]
}
let input = FileHandle.standardInput.readDataToEndOfFile()
let (out, status) = PluginMain.run(plugin: name, env: ProcessInfo.processInfo.environment, stdin: input)
FileHandle.standardOutput.write(out)
exit(status)
