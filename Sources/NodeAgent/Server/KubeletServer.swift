import Foundation
import HTTPTypes
package import Hummingbird
package import KubeAPI
package import Logging
import NIOCore
package import Runtime

/// What the kubelet API serves from.
package struct KubeletServerSource: Sendable {
    /// Pods bound to this node that the agent runs.
    package var pods: @Sendable () async -> [Pod]
    package var runtime: any ContainerRuntime
    package var nodeName: String = ""
    /// nil: healthy; else why not.
    package var health: @Sendable () async -> String?

    package init(pods: @escaping @Sendable () async -> [Pod], runtime: any ContainerRuntime,
                 health: @escaping @Sendable () async -> String?)
    {
        self.pods = pods
        self.runtime = runtime
        self.health = health
    }
}

/// The kubelet's HTTP API (plain HTTP for now): /healthz, /pods, /containerLogs.
package struct KubeletHTTPResponder: HTTPResponder {
    package typealias Context = BasicRequestContext
    let source: KubeletServerSource

    package init(source: KubeletServerSource) { self.source = source }

    static func text(_ s: String, _ status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: s)))
    }

    static func json(_ v: JSONValue, _ status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONWriter.bytes(v))))
    }

    static func query(_ q: String?) -> [String: String] {
        var out: [String: String] = [:]
        for item in (q ?? "").split(separator: "&") {
            let kv = item.split(separator: "=", maxSplits: 1)
            let k = String(kv[0]).removingPercentEncoding ?? String(kv[0])
            out[k] = kv.count > 1 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
        }
        return out
    }

    package func respond(to request: Request, context: Context) async throws -> Response {
        let segs = request.uri.path.split(separator: "/").map(String.init)
        switch segs.first {
        case "healthz":
            if let why = await source.health() { return Self.text("[-]\(why)\nhealthz check failed", .internalServerError) }
            return Self.text("ok")
        case "pods":
            let pods = await source.pods()
            var items: [JSONValue] = []
            for p in pods { items.append(try JSONValueEncoder().encode(p)) }
            return Self.json(["kind": "PodList", "apiVersion": "v1", "metadata": [:], "items": .array(items)])
        case "stats" where segs.count == 2 && segs[1] == "summary":
            return Self.json(await statsSummary())
        case "metrics" where segs.count == 1:
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: await metrics())))
        case "containerLogs" where segs.count == 4:
            return try await logs(namespace: segs[1], pod: segs[2], container: segs[3], query: Self.query(request.uri.query))
        default:
            return Self.text("404 page not found\n", .notFound)
        }
    }

    /// The kubelet's stats summary: node memory, and per pod its containers' CPU and memory.
    func statsSummary() async -> JSONValue {
        let now = Timestamps.now()
        let containers = ((try? await source.runtime.listContainers(sandboxID: nil)) ?? []).filter { $0.state == .running }
        var pods: [JSONValue] = []
        for pod in await source.pods() {
            var cs: [JSONValue] = []
            var cpuSum: UInt64 = 0, memSum: UInt64 = 0
            for c in containers where c.labels[RuntimeLabels.podUID] == pod.uid {
                guard let st = try? await source.runtime.containerStats(c.id) else { continue }
                cpuSum += st.cpuUsageNanos
                memSum += st.memoryWorkingSetBytes
                cs.append(["name": .string(c.containerName), "startTime": .string(c.startedAt.map(Timestamps.format) ?? now),
                           "cpu": ["time": .string(now), "usageCoreNanoSeconds": .int(Int64(st.cpuUsageNanos))],
                           "memory": ["time": .string(now), "workingSetBytes": .int(Int64(st.memoryWorkingSetBytes))]])
            }
            pods.append(["podRef": ["name": .string(pod.name), "namespace": .string(pod.namespace ?? "default"), "uid": .string(pod.uid)],
                         "startTime": .string(pod.status?.startTime ?? now), "containers": .array(cs),
                         "cpu": ["time": .string(now), "usageCoreNanoSeconds": .int(Int64(cpuSum))],
                         "memory": ["time": .string(now), "workingSetBytes": .int(Int64(memSum))]])
        }
        let total = MachineInfo.meminfo("MemTotal") ?? 0, avail = MachineInfo.meminfo("MemAvailable") ?? 0
        return ["node": ["nodeName": .string(source.nodeName), "startTime": .string(now),
                         "memory": ["time": .string(now), "availableBytes": .int(avail), "workingSetBytes": .int(total - avail)]],
                "pods": .array(pods)]
    }

    /// A few kubelet metrics in the Prometheus text format.
    func metrics() async -> String {
        let pods = await source.pods()
        let containers = (try? await source.runtime.listContainers(sandboxID: nil)) ?? []
        let running = containers.filter { $0.state == .running }.count
        let exited = containers.filter { $0.state == .exited }.count
        var rss = 0
        for line in (FileContents.string(atPath: "/proc/self/status") ?? "").split(separator: "\n")
        where line.hasPrefix("VmRSS:") { rss = (Int(line.split(separator: " ")[1]) ?? 0) * 1024 }
        return """
            # HELP kubelet_running_pods Number of pods that have a running pod sandbox
            # TYPE kubelet_running_pods gauge
            kubelet_running_pods \(pods.count)
            # HELP kubelet_running_containers Number of containers currently running
            # TYPE kubelet_running_containers gauge
            kubelet_running_containers{container_state="running"} \(running)
            kubelet_running_containers{container_state="exited"} \(exited)
            # HELP process_resident_memory_bytes Resident memory size in bytes.
            # TYPE process_resident_memory_bytes gauge
            process_resident_memory_bytes \(rss)

            """
    }

    func logs(namespace: String, pod name: String, container: String, query q: [String: String]) async throws -> Response {
        guard let pod = await source.pods().first(where: { $0.namespace == namespace && $0.name == name }) else {
            return Self.text("pod \(namespace)/\(name) not found on this node", .notFound)
        }
        let instances = ((try? await source.runtime.listContainers(sandboxID: nil)) ?? [])
            .filter { $0.labels[RuntimeLabels.podUID] == pod.uid && $0.containerName == container }
            .sorted { ($0.attempt, $0.createdAt) > ($1.attempt, $1.createdAt) }
        let previous = q["previous"] == "true"
        guard let c = previous ? instances.dropFirst().first : instances.first else {
            if previous {
                return Self.text("previous terminated container \"\(container)\" in pod \"\(name)\" not found", .badRequest)
            }
            return Self.text("container \"\(container)\" in pod \"\(name)\" is waiting to start: ContainerCreating", .badRequest)
        }
        var o = ContainerLogReader.Options()
        o.follow = q["follow"] == "true" && !previous
        o.tailLines = q["tailLines"].flatMap { Int($0) }
        o.timestamps = q["timestamps"] == "true"
        o.sinceSeconds = q["sinceSeconds"].flatMap { Int($0) }
        o.limitBytes = q["limitBytes"].flatMap { Int($0) }
        let runtime = source.runtime
        let id = c.id
        let reader = ContainerLogReader(path: c.logPath, options: o) {
            ((try? await runtime.containerStatus(id))?.state ?? .exited) == .running
        }
        return Response(status: .ok, headers: [.contentType: "text/plain"], body: ResponseBody { writer in
            let (stream, cont) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .unbounded)
            let producer = Task {
                await reader.stream { s in
                    if case .terminated = cont.yield(s) { return false }
                    return !Task.isCancelled
                }
                cont.finish()
            }
            defer { producer.cancel() }
            for await s in stream where !s.isEmpty { try await writer.write(ByteBuffer(string: s)) }
            try await writer.finish(nil)
        })
    }
}

/// Runs the kubelet API until cancelled.
package enum KubeletServer {
    package static func run(address: String, port: Int, source: KubeletServerSource, logger: Logger) async throws {
        let app = Application(responder: KubeletHTTPResponder(source: source), server: upgrade(source: source),
                              configuration: .init(address: .hostname(address, port: port), serverName: "swiftlet-kubelet"),
                              logger: logger)
        try await app.runService(gracefulShutdownSignals: [])
    }
}
