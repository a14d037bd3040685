import KubeAPI

/// A write decided up to its commit. Everything a create, update or patch does before the
/// store (decode, admit, validate, default, managed fields, encode) is synchronous; what is
/// left is at most one store write whose outcome decides what follows: the result, an error,
/// or another step (a patch that lost a race is tried again against the new object).
///
/// So the same logic serves a task (`APIServer.run(_:)`, awaiting the store) and an event
/// loop that answers a request without leaving its thread until the commit
/// (`APIServer.run(_:hop:done:)`, the store calling back).
enum WriteStep: Sendable {
    case done(WriteResult)
    case commit(StoreWrite, then: @Sendable (Result<KeyValue, any Error>) throws -> WriteStep)
    /// Paths that need more than one store round trip or a task (apply creating its object,
    /// a definition deleted with its objects); rare, so they keep their async form.
    case async(@Sendable () async throws -> WriteStep)

    /// This step, then `next` with its outcome (a result or the error it ended with).
    func then(_ next: @escaping @Sendable (Result<WriteResult, any Error>) throws -> WriteStep) throws -> WriteStep {
        switch self {
        case .done(let r):
            return try next(.success(r))
        case .commit(let op, let after):
            return .commit(op) { res in
                let step: WriteStep
                do { step = try after(res) } catch { return try next(.failure(error)) }
                return try step.then(next)
            }
        case .async(let work):
            return .async {
                let step: WriteStep
                do { step = try await work() } catch { return try next(.failure(error)) }
                return try step.then(next)
            }
        }
    }

    /// The result, once there is one, changed by `transform`.
    func map(_ transform: @escaping @Sendable (WriteResult) -> WriteResult) throws -> WriteStep {
        try then { .done(transform(try $0.get())) }
    }
}

extension APIServer {
    /// Runs a step to its end from a task.
    func run(_ step: WriteStep) async throws -> WriteResult {
        var step = step
        while true {
            switch step {
            case .done(let r):
                return r
            case .commit(let op, let then):
                let outcome: Result<KeyValue, any Error>
                do { outcome = .success(try await store.write(op)) } catch { outcome = .failure(error) }
                step = try then(outcome)
            case .async(let work):
                step = try await work()
            }
        }
    }

    /// Runs a step to its end without a task: the store calls back when the write is durable,
    /// `hop` moves the rest (building the result, a retry) onto the caller's thread, and
    /// `done` gets the outcome there.
    func run(_ step: WriteStep, hop: @escaping @Sendable (@escaping @Sendable () -> Void) -> Void,
             done: @escaping @Sendable (Result<WriteResult, any Error>) -> Void)
    {
        switch step {
        case .done(let r):
            done(.success(r))
        case .commit(let op, let then):
            store.submit(op) { outcome in
                hop {
                    let next: WriteStep
                    do { next = try then(outcome) } catch { return done(.failure(error)) }
                    self.run(next, hop: hop, done: done)
                }
            }
        case .async(let work):
            Task {
                do {
                    let next = try await work()
                    hop { self.run(next, hop: hop, done: done) }
                } catch {
                    hop { done(.failure(error)) }
                }
            }
        }
    }
}
