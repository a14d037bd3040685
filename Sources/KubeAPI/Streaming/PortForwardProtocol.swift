import Foundation

/// The names of the port-forward protocol (`portforward.k8s.io`), shared by the API server's
/// proxy and the node agent.
///
/// kubectl 1.35 first asks for a WebSocket with subprotocol `SPDY/3.1+portforward.k8s.io` and
/// then speaks SPDY/3.1 through it, the WebSocket binary messages forming one byte stream (a
/// frame may span messages, a message may hold several frames). Only when that upgrade fails
/// does it fall back to `POST` + `Upgrade: SPDY/3.1` + `X-Stream-Protocol-Version:
/// portforward.k8s.io`. For every accepted local connection it opens two SPDY streams carrying
/// the same `port` and `requestID` headers, `streamType: error` first (which it half-closes at
/// once) and then `streamType: data`; the server relays the data stream to the pod's port and
/// writes any failure as text on the error stream before closing both.
package enum PortForwardProtocol {
    /// The subprotocol, as `X-Stream-Protocol-Version` of a SPDY upgrade.
    package static let v1 = "portforward.k8s.io"
    /// The prefix kubectl puts on SPDY subprotocols to ask for a WebSocket tunnel.
    package static let tunnelPrefix = "SPDY/3.1+"
    /// The WebSocket subprotocol of the tunnel.
    package static let tunneledV1 = tunnelPrefix + v1
    package static let protocolVersionHeader = "X-Stream-Protocol-Version"

    package static let streamTypeHeader = "streamType"
    package static let portHeader = "port"
    package static let requestIDHeader = "requestID"
    package static let streamTypeError = "error"
    package static let streamTypeData = "data"

    /// The tunnel subprotocol among those in a `Sec-WebSocket-Protocol` header, if offered.
    package static func negotiateTunnel(_ header: String?) -> String? {
        let offered = (header ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return offered.contains(tunneledV1) ? tunneledV1 : nil
    }
}
