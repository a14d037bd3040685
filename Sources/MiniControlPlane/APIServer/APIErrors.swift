public import KubeAPI

/// A field-level validation failure, worded like `k8s.io/apimachinery/pkg/util/validation/field`.
public struct FieldError: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case required = "FieldValueRequired"
        case invalid = "FieldValueInvalid"
        case notSupported = "FieldValueNotSupported"
        case duplicate = "FieldValueDuplicate"
        case forbidden = "FieldValueForbidden"
        case tooLong = "FieldValueTooLong"
    }
    public var kind: Kind
    public var field: String
    public var detail: String

    public static func required(_ field: String, _ detail: String = "") -> FieldError {
        FieldError(kind: .required, field: field, detail: detail)
    }
    public static func invalid(_ field: String, _ value: JSONValue, _ detail: String) -> FieldError {
        FieldError(kind: .invalid, field: field, detail: "Invalid value: \(goQuote(value)): \(detail)")
    }
    public static func notSupported(_ field: String, _ value: String, _ supported: [String]) -> FieldError {
        FieldError(
            kind: .notSupported, field: field,
            detail: "Unsupported value: \"\(value)\": supported values: "
                + supported.map { "\"\($0)\"" }.joined(separator: ", "))
    }
    public static func duplicate(_ field: String, _ value: JSONValue) -> FieldError {
        FieldError(kind: .duplicate, field: field, detail: "Duplicate value: \(goQuote(value))")
    }
    public static func forbidden(_ field: String, _ detail: String) -> FieldError {
        FieldError(kind: .forbidden, field: field, detail: "Forbidden: \(detail)")
    }

    /// The message part: `Required value`, `Invalid value: "x": …`.
    public var message: String {
        switch kind {
        case .required: return detail.isEmpty ? "Required value" : "Required value: \(detail)"
        default: return detail
        }
    }

    static func goQuote(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return "\"\(s)\""
        case .int(let i): return "\(i)"
        default: return JSONWriter.string(v)
        }
    }
}

/// The API's errors, with the reasons, codes and wording kubectl users know.
public enum APIError {
    public static func notFound(_ r: ResourceInfo, _ name: String) -> Status {
        notFound(qualified: r.qualifiedResource, group: r.group, kind: r.resource, name)
    }
    public static func notFound(qualified: String, group: String, kind: String, _ name: String) -> Status {
        Status(
            message: "\(qualified) \"\(name)\" not found", reason: "NotFound", code: 404,
            details: StatusDetails(name: name, group: group.isEmpty ? nil : group, kind: kind))
    }
    public static func alreadyExists(_ r: ResourceInfo, _ name: String) -> Status {
        Status(
            message: "\(r.qualifiedResource) \"\(name)\" already exists", reason: "AlreadyExists", code: 409,
            details: StatusDetails(name: name, group: r.group.isEmpty ? nil : r.group, kind: r.resource))
    }
    public static func conflict(_ r: ResourceInfo, _ name: String, _ detail: String = optimisticLockMessage) -> Status {
        Status(
            message: "Operation cannot be fulfilled on \(r.qualifiedResource) \"\(name)\": \(detail)",
            reason: "Conflict", code: 409,
            details: StatusDetails(name: name, group: r.group.isEmpty ? nil : r.group, kind: r.resource))
    }
    public static let optimisticLockMessage =
        "the object has been modified; please apply your changes to the latest version and try again"

    public static func invalid(_ r: ResourceInfo, _ name: String, _ errors: [FieldError]) -> Status {
        let list = errors.map { "\($0.field): \($0.message)" }
        let joined = list.count == 1 ? list[0] : "[" + list.joined(separator: ", ") + "]"
        return Status(
            message: "\(r.kind) \"\(name)\" is invalid: \(joined)", reason: "Invalid", code: 422,
            details: StatusDetails(
                name: name, group: r.group.isEmpty ? nil : r.group, kind: r.kind,
                causes: errors.map { StatusCause(reason: $0.kind.rawValue, message: $0.message, field: $0.field) }))
    }
    public static func badRequest(_ message: String) -> Status {
        Status(message: message, reason: "BadRequest", code: 400)
    }
    public static func forbidden(_ r: ResourceInfo, _ name: String, _ detail: String) -> Status {
        Status(
            message: "\(r.qualifiedResource) \"\(name)\" is forbidden: \(detail)", reason: "Forbidden", code: 403,
            details: StatusDetails(name: name, group: r.group.isEmpty ? nil : r.group, kind: r.resource))
    }
    public static func gone(_ message: String) -> Status {
        Status(message: message, reason: "Expired", code: 410)
    }
    public static func methodNotAllowed(_ message: String) -> Status {
        Status(message: message, reason: "MethodNotAllowed", code: 405)
    }
    public static func notAcceptable(_ message: String) -> Status {
        Status(message: message, reason: "NotAcceptable", code: 406)
    }
    public static func unsupportedMediaType(_ contentType: String) -> Status {
        Status(message: "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/apply-patch+yaml, application/merge-patch+json, application/json-patch+json, application/strategic-merge-patch+json (got \(contentType))",
               reason: "UnsupportedMediaType", code: 415)
    }
    public static func tooLarge(_ limit: Int) -> Status {
        Status(message: "Request entity too large: limit is \(limit)", reason: "RequestEntityTooLarge", code: 413)
    }
    public static func internalError(_ message: String) -> Status {
        Status(message: "Internal error occurred: \(message)", reason: "InternalError", code: 500)
    }
    public static func pathNotFound(_ path: String) -> Status {
        Status(message: "the server could not find the requested resource", reason: "NotFound", code: 404,
               details: StatusDetails(causes: [StatusCause(reason: "UnexpectedServerResponse", message: "404 page not found")]))
    }
}
