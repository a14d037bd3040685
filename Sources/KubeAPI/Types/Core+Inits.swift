// Public initializers for core/v1 status types that callers outside KubeAPI build (the node
// agent writes pod status). Additive: the types themselves are unchanged.

extension ContainerStateTerminated {
    public init(exitCode: Int32, reason: String? = nil, message: String? = nil) {
        self.exitCode = exitCode
        self.reason = reason
        self.message = message
    }
}

extension ContainerStatus {
    public init(name: String, state: ContainerState?, lastState: ContainerState?, ready: Bool, restartCount: Int32,
                image: String, imageID: String, containerID: String? = nil, started: Bool? = nil) {
        self.name = name
        self.state = state
        self.lastState = lastState
        self.ready = ready
        self.restartCount = restartCount
        self.image = image
        self.imageID = imageID
        self.containerID = containerID
        self.started = started
    }
}

extension Volume {
    public init(name: String) { self.name = name }
}

extension HTTPGetAction {
    public init(path: String? = nil, port: IntOrString, host: String? = nil, scheme: String? = nil) {
        self.path = path
        self.port = port
        self.host = host
        self.scheme = scheme
    }
}


extension LifecycleHandler {
    public init(exec: ExecAction? = nil, httpGet: HTTPGetAction? = nil, tcpSocket: TCPSocketAction? = nil) {
        self.exec = exec
        self.httpGet = httpGet
        self.tcpSocket = tcpSocket
    }
}
