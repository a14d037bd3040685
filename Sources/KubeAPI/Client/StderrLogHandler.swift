import Foundation
public import Logging

/// swift-log's `StreamLogHandler` output (`<time> <level> <label>: <metadata> [<source>] <message>`)
/// on standard error, with the metadata rendered when a line is written instead of each time it
/// changes. `StreamLogHandler` sorts and formats its whole metadata on every change, and
/// Hummingbird gives each request's logger a `hb.request.id`: that was ~1.5 % of the API server's
/// CPU per write although nearly no request logs anything.
public struct StderrLogHandler: LogHandler {
    public let label: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let sink: @Sendable (String) -> Void

    public init(label: String, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.init(label: label, metadataProvider: metadataProvider) { line in
            // one write per line, so lines of concurrent loggers never interleave (a pipe
            // takes up to PIPE_BUF bytes whole); the rest of a longer or interrupted write follows
            var line = line
            line.withUTF8 { buf in
                var off = 0
                while off < buf.count {
                    let n = write(2, buf.baseAddress! + off, buf.count - off)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { return }
                    off += n
                }
            }
        }
    }

    /// With `sink` receiving each whole line (with its newline) instead of standard error.
    public init(label: String, metadataProvider: Logger.MetadataProvider? = nil, sink: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let explicit = event.metadata { all.merge(explicit) { _, new in new } }
        if let error = event.error {
            all["error.message"] = "\(error)"
            all["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        var line = Self.timestamp() + " \(event.level)" + (label.isEmpty ? "" : " ") + label + ":"
        if !all.isEmpty {
            line += " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        line += " [\(event.source)] \(event.message)\n"
        sink(line)
    }

    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        guard localtime_r(&now, &parts) != nil else { return "<unknown>" }
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
