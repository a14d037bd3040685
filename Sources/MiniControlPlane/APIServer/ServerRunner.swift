public import Foundation
import Hummingbird
public import KubeAPI
public import Logging

/// Runs the API server: opens storage, bootstraps, serves HTTP until SIGTERM/SIGINT.
public enum ServerRunner {
    public struct Config: Sendable {
        public var dataDir: String
        public var bindAddress: String = "127.0.0.1"
        public var port: Int = 6443
        public var kubeconfigOut: String? = nil
        /// In-process control-plane components (controller manager, scheduler), started once the
        /// server listens, with a client of this server; cancelled when the server stops.
        public var components: [Component] = []
        public init(dataDir: String) { self.dataDir = dataDir }
    }

    public struct Component: Sendable {
        public var name: String
        public var run: @Sendable (APIClient) async -> Void
        public init(name: String, run: @escaping @Sendable (APIClient) async -> Void) {
            self.name = name
            self.run = run
        }
    }

    public static func run(_ config: Config, logger: Logger) async throws {
        try FileManager.default.createDirectory(atPath: config.dataDir, withIntermediateDirectories: true)
        let store = try SQLiteStore(path: config.dataDir + "/state.db")
        let api = APIServer(store: store, logger: logger, tokens: try TokenIssuer.loadOrCreate(config.dataDir + "/service-account.key"))
        try await api.bootstrap()
        // kubectl apply reads /openapi/v3 and a document per group-version before its first
        // write; built now, in the background, they are cached before that apply needs them
        // instead of costing it ~40 ms of CPU (they are built again when CRDs change).
        Task.detached(priority: .background) { _ = OpenAPI.cachedIndex(api.registry.all()) }
        let (listening, listeningCont) = AsyncStream<Int>.makeStream()
        let app = Application(
            responder: APIHTTPResponder(api: api),
            server: KubeletProxy.streamingServer(api: api),
            configuration: .init(address: .hostname(config.bindAddress, port: config.port), serverName: "swiftlet"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? config.port
                if let out = config.kubeconfigOut {
                    do {
                        try Kubeconfig.write(to: out, server: "http://\(config.bindAddress == "0.0.0.0" ? "127.0.0.1" : config.bindAddress):\(port)")
                        logger.info("kubeconfig written to \(out)")
                    } catch {
                        logger.error("cannot write kubeconfig \(out): \(error)")
                    }
                }
                logger.info("swiftlet API server listening on \(config.bindAddress):\(port)")
                listeningCont.yield(port)
                listeningCont.finish()
            },
            logger: logger
        )
        let components = config.components
        let host = config.bindAddress == "0.0.0.0" ? "127.0.0.1" : config.bindAddress
        // The components start once the server listens and run until it stops (SIGTERM,
        // SIGINT, or this task being cancelled); a component that returns early ends alone.
        let running = Task {
            var port: Int? = nil
            for await p in listening { port = p; break }
            guard let port, !components.isEmpty else { return }
            let client = APIClient(baseURL: "http://\(host):\(port)")
            logger.info("starting in-process components: \(components.map(\.name).joined(separator: ", "))")
            await withTaskGroup(of: Void.self) { cg in
                for c in components { cg.addTask { await c.run(client) } }
            }
        }
        do {
            try await app.runService()
        } catch {
            running.cancel()
            await running.value
            throw error
        }
        running.cancel()
        await running.value
    }
}

/// A kubeconfig that kubectl can use as-is.
public enum Kubeconfig {
    public static func render(server: String) -> String {
        """
        apiVersion: v1
        kind: Config
        clusters:
        - cluster:
            server: \(server)
          name: swiftlet
        contexts:
        - context:
            cluster: swiftlet
            user: swiftlet-admin
            namespace: default
          name: swiftlet
        current-context: swiftlet
        preferences: {}
        users:
        - name: swiftlet-admin
          user: {}

        """
    }

    /// Writes crash-safely: temp file, fsync, rename.
    public static func write(to path: String, server: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        try AtomicFile.write(Array(render(server: server).utf8), to: path, mode: 0o600)
    }
}

public enum AtomicFile {
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws {
        let tmp = path + ".tmp.\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                close(fd)
                unlink(tmp)
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
            off += n
        }
        fsync(fd)
        close(fd)
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }
}
