/// CSI: node client, plugin registration and a hostpath driver (a later issue).
package enum CSIInfo {
    package static let registrationDir = "/var/lib/kubelet/plugins_registry"
}
