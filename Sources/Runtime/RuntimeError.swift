import Glibc

/// The one error type of the runtime: a code, a message naming the object and the cause,
/// and the errno of the failing syscall when there is one.
package struct RuntimeError: Error, CustomStringConvertible, Sendable, Equatable {
    package enum Code: String, Sendable {
        case notFound, alreadyExists, invalidArgument, invalidState, startFailed, syscall, timeout, unsupported
    }

    package var code: Code
    package var message: String
    package var errno: Int32?

    package init(_ code: Code, _ message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// A failed syscall on `object`; picks up the current `errno`.
    package static func sys(_ op: String, _ object: String, errno e: Int32 = Glibc.errno) -> RuntimeError {
        RuntimeError(.syscall, "\(op) \(object): \(String(cString: strerror(e)))", errno: e)
    }

    package var description: String { "\(code.rawValue): \(message)" }
}
