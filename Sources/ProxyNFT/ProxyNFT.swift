public import KubeAPI

/// ProxyNFT: Services and EndpointSlices to one nftables table (a later issue).
package enum ProxyNFTInfo {
    package static let tableName = "swiftlet-proxy"
}
