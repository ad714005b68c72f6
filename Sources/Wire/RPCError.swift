/// An error that crosses the wire: a JSON-RPC error object with a gRPC status
/// and a stable, machine-readable reason.
///
/// Handlers throw it (or anything conforming to ``RPCErrorConvertible``); the
/// server turns it into `{"code", "message", "data": {"status", "reason", ...}}`.
/// Clients receive the same type back, so a caller can `switch` on `reason`.
public struct RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The JSON-RPC code: one of ``JSONRPCCode`` or `-32000 - status`.
    public var code: Int
    /// The gRPC status.
    public var status: RPCStatus
    /// A stable upper-snake-case reason, e.g. `ACCOUNT_NOT_FOUND`.
    public var reason: String
    /// What went wrong and what to do about it, for people.
    public var message: String
    /// Further machine-readable details merged into `error.data`
    /// (for validation errors: `field`).
    public var details: [String: JSONValue]

    /// Creates an application error whose code follows from its status.
    /// - Parameters:
    ///   - status: the gRPC status.
    ///   - reason: a stable reason, e.g. `INSUFFICIENT_FUNDS`.
    ///   - message: what went wrong and what to do, for people.
    ///   - details: extra fields for `error.data`.
    public init(_ status: RPCStatus, reason: String, _ message: String, details: [String: JSONValue] = [:]) {
        self.code = status.jsonRPCCode
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details
    }

    /// Creates an error with an explicit JSON-RPC code (one of the reserved ones).
    /// - Parameters:
    ///   - code: the JSON-RPC code.
    ///   - status: the gRPC status that best describes it.
    ///   - reason: a stable reason.
    ///   - message: for people.
    ///   - details: extra fields for `error.data`.
    public init(code: Int, status: RPCStatus, reason: String, _ message: String, details: [String: JSONValue] = [:]) {
        self.code = code
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details
    }

    public var description: String { "\(status.name)/\(reason): \(message)" }
}

extension RPCError {
    /// -32700: the line is not JSON.
    public static func parseError(_ message: String) -> RPCError {
        RPCError(code: JSONRPCCode.parseError, status: .invalidArgument, reason: "PARSE_ERROR", message)
    }

    /// -32600: valid JSON, but not a JSON-RPC 2.0 request.
    public static func invalidRequest(_ message: String, reason: String = "INVALID_REQUEST") -> RPCError {
        RPCError(code: JSONRPCCode.invalidRequest, status: .invalidArgument, reason: reason, message)
    }

    /// -32601: no such method on this service.
    public static func methodNotFound(_ method: String) -> RPCError {
        RPCError(
            code: JSONRPCCode.methodNotFound, status: .unimplemented, reason: "METHOD_NOT_FOUND",
            "method '\(method)' does not exist on this service; call rpc.discover for the list",
            details: ["method": .string(method)])
    }

    /// -32602 with `data.status = INVALID_ARGUMENT` and the offending field named.
    /// - Parameters:
    ///   - field: a dotted path into params, e.g. `amount` or `action.to`.
    ///   - message: what is wrong with it and what would be right.
    ///   - reason: a stable reason; `INVALID_FIELD` unless something more precise applies.
    public static func invalidParams(field: String, _ message: String, reason: String = "INVALID_FIELD") -> RPCError {
        RPCError(
            code: JSONRPCCode.invalidParams, status: .invalidArgument, reason: reason,
            field.isEmpty ? message : "\(field): \(message)", details: ["field": .string(field)])
    }

    /// -32603: a defect in the service. The message never carries internals.
    public static func internalError(_ message: String = "internal error; the service logged the details") -> RPCError {
        RPCError(code: JSONRPCCode.internalError, status: .internal, reason: "INTERNAL", message)
    }

    /// DEADLINE_EXCEEDED (-32004): the caller's budget ran out.
    public static func deadlineExceeded(_ message: String = "the deadline passed before the call finished; retry with a larger deadline_ms") -> RPCError {
        RPCError(.deadlineExceeded, reason: "DEADLINE_EXCEEDED", message)
    }

    /// CANCELLED (-32001): the call was cancelled by `rpc.cancel` or by shutdown.
    public static func cancelled(_ message: String = "the call was cancelled") -> RPCError {
        RPCError(.cancelled, reason: "CANCELLED", message)
    }

    /// UNAVAILABLE (-32014): the service cannot take the call now; retrying later is safe.
    public static func unavailable(_ message: String, reason: String = "UNAVAILABLE") -> RPCError {
        RPCError(.unavailable, reason: reason, message)
    }
}

/// Conform domain errors to this so handlers can throw them directly and the
/// server maps them to the wire. Anything else thrown becomes -32603 INTERNAL
/// (and is logged with the trace id, never sent to the caller).
public protocol RPCErrorConvertible: Error {
    /// The wire form of this error.
    var rpcError: RPCError { get }
}

extension RPCError: RPCErrorConvertible {
    public var rpcError: RPCError { self }
}
