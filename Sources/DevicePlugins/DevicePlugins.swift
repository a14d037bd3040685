/// DevicePlugins: device manager, topology manager, CPU manager (a later issue).
package enum DevicePluginInfo {
    package static let kubeletSocket = "/var/lib/kubelet/device-plugins/kubelet.sock"
}
