import Foundation
import HTTPTypes
import Hummingbird
import RPC

/// An error that reaches an HTTP client: a status, a stable reason and a
/// message for people, as `{"error": {"status", "reason", "message"}}`.
/// Internals never travel: a defect becomes INTERNAL with a generic message.
public struct GatewayError: HTTPResponseError, Sendable, CustomStringConvertible {
    /// The HTTP status.
    public let status: HTTPResponse.Status
    /// The gRPC-style status name, e.g. `PERMISSION_DENIED`.
    public let code: String
    /// A stable, machine-readable reason, e.g. `CSRF_TOKEN_MISMATCH`.
    public let reason: String
    /// What went wrong and what to do, for people.
    public let message: String
    /// The offending field, for validation errors.
    public let field: String?
    /// The methods a path does serve (405 only), sent as `Allow`.
    let allow: String?

    /// - Parameters:
    ///   - status: the HTTP status.
    ///   - code: the status name.
    ///   - reason: the stable reason.
    ///   - message: for people.
    ///   - field: the offending field, if any.
    public init(_ status: HTTPResponse.Status, code: String, reason: String, _ message: String, field: String? = nil) {
        self.init(status, code: code, reason: reason, message, field: field, allow: nil)
    }

    init(_ status: HTTPResponse.Status, code: String, reason: String, _ message: String, field: String? = nil, allow: String?) {
        self.status = status
        self.code = code
        self.reason = reason
        self.message = message
        self.field = field
        self.allow = allow
    }

    public var description: String { "\(status.code) \(code)/\(reason): \(message)" }

    /// 400 INVALID_ARGUMENT naming the field.
    static func invalid(_ field: String, _ message: String) -> GatewayError {
        GatewayError(.badRequest, code: "INVALID_ARGUMENT", reason: "INVALID_FIELD", "\(field): \(message)", field: field)
    }

    /// 401: no session.
    static let signInRequired = GatewayError(
        .unauthorized, code: "UNAUTHENTICATED", reason: "SIGN_IN_REQUIRED", "sign in with an approver token first (POST /login)")

    /// 403: a POST without the session's CSRF token.
    static let csrfMismatch = GatewayError(
        .forbidden, code: "PERMISSION_DENIED", reason: "CSRF_TOKEN_MISMATCH",
        "the X-CSRF-Token header is missing or does not match this session; reload the page and try again")

    /// A service's error, mapped to the HTTP status that says the same thing.
    /// Messages of INTERNAL errors are replaced: they could carry internals.
    static func from(_ error: RPCError) -> GatewayError {
        let message = error.status == .internal ? "the service failed; the details are in its log" : error.message
        // A lost connection to a service is the service's trouble, not a conflict of the request's.
        let status = error.reason == "CONNECTION_LOST" ? .badGateway : httpStatus(error.status)
        return GatewayError(status, code: error.status.name, reason: error.reason, message,
                            field: error.details["field"]?.stringValue)
    }

    /// Any error, as a client may see it.
    static func from(_ error: any Error) -> GatewayError {
        if let error = error as? GatewayError { return error }
        if let error = error as? RPCError { return from(error) }
        if let error = error as? any RPCErrorConvertible { return from(error.rpcError) }
        return GatewayError(.internalServerError, code: "INTERNAL", reason: "INTERNAL", "the gateway failed; the details are in its log")
    }

    static func httpStatus(_ status: RPCStatus) -> HTTPResponse.Status {
        switch status {
        case .ok: .ok
        case .invalidArgument, .outOfRange: .badRequest
        case .unauthenticated: .unauthorized
        case .permissionDenied: .forbidden
        case .notFound: .notFound
        case .alreadyExists, .failedPrecondition, .aborted: .conflict
        case .resourceExhausted: .tooManyRequests
        case .unimplemented: .notImplemented
        case .unavailable, .cancelled: .serviceUnavailable
        case .deadlineExceeded: .gatewayTimeout
        case .unknown, .internal, .dataLoss: .internalServerError
        }
    }

    /// The JSON body: `{"error": {...}}`.
    var body: JSONValue {
        var object: [String: JSONValue] = [
            "status": .string(code), "reason": .string(reason), "message": .string(message), "http_status": .int(Int64(status.code)),
        ]
        if let field { object["field"] = .string(field) }
        return ["error": .object(object)]
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONResponse.make(body, status: status)
        if status == .unauthorized { response.headers[.wwwAuthenticate] = "Cookie realm=\"hitl\"" }
        if let allow { response.headers[.allow] = allow }
        return response
    }
}

/// JSON responses with the headers every API answer carries.
enum JSONResponse {
    static func make(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var text = value.jsonText()
        text.append("\n")
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
