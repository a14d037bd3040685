/// Runtime: pause sandboxes, containers, images, cgroups, security, logs and exec.
/// Its surface is `ContainerRuntime` + `ImageService`, shaped like the CRI RuntimeService and ImageService.
package enum RuntimeInfo {
    package static let name = "swiftlet"
    package static let version = "0.1.0"
}
