import Foundation
import HTTPTypes
import Hummingbird
import RPC

extension Gateway {
    /// The signed-in approver, or 401.
    func requireSession(_ request: Request) throws -> Session {
        guard let session = sessions.session(id: request.cookies[SessionStore.cookieName]?.value) else { throw GatewayError.signInRequired }
        return session
    }

    /// The signed-in approver of a POST that carries the session's CSRF token, or 401/403.
    func requireSessionAndCSRF(_ request: Request) throws -> Session {
        try requireSameOrigin(request)
        let session = try requireSession(request)
        guard let presented = request.headers[HTTPField.Name("X-CSRF-Token")!],
              SessionStore.constantTimeEqual(presented, session.csrfToken)
        else { throw GatewayError.csrfMismatch }
        return session
    }

    /// A POST whose `Origin` names another site is refused (a second line of
    /// defence beside SameSite cookies and CSRF tokens).
    func requireSameOrigin(_ request: Request) throws {
        guard let origin = request.headers[.origin] else { return }
        let host = request.head.authority ?? ""
        guard origin == "http://\(host)" || origin == "https://\(host)" else {
            throw GatewayError(.forbidden, code: "PERMISSION_DENIED", reason: "CROSS_ORIGIN",
                               "requests from \(origin) are not accepted; use the page this gateway serves")
        }
    }

    /// The JSON object of a request body, read up to the configured limit.
    func jsonBody(_ request: Request) async throws -> [String: JSONValue] {
        let contentType = request.headers[.contentType] ?? ""
        guard contentType.lowercased().hasPrefix("application/json") else {
            throw GatewayError(.unsupportedMediaType, code: "INVALID_ARGUMENT", reason: "JSON_REQUIRED",
                               "send the body as JSON with Content-Type: application/json")
        }
        let buffer = try await body(request, limit: configuration.maximumBodyBytes)
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView)), case .object(let object) = value else {
            throw GatewayError(.badRequest, code: "INVALID_ARGUMENT", reason: "INVALID_JSON", "the body must be one JSON object")
        }
        return object
    }

    /// The raw body, refused past `limit` bytes or when it does not arrive within
    /// ``GatewayConfiguration/bodyTimeout`` (a client that sends its body a byte at a time
    /// holds a connection and a task for as long as it likes otherwise).
    func body(_ request: Request, limit: Int) async throws -> ByteBuffer {
        let timeout = configuration.bodyTimeout
        return try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask {
                do {
                    return try await request.body.collect(upTo: limit)
                } catch {
                    throw GatewayError(.contentTooLarge, code: "RESOURCE_EXHAUSTED", reason: "BODY_TOO_LARGE",
                                       "the request body is over \(limit) bytes")
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let body = first else {
                throw GatewayError(.requestTimeout, code: "DEADLINE_EXCEEDED", reason: "BODY_TIMEOUT",
                                   "the request body did not arrive within \(timeout); send it at once")
            }
            return body
        }
    }

    /// An event stream: the retry hint, `first`, then `events` until they end.
    /// Holds a stream slot for as long as the body is being written.
    func eventStream(slot: StreamLimiter.Slot, _ stream: AgentStream) -> Response {
        Response(status: .ok, headers: sseHeaders, body: ResponseBody { writer in
            defer {
                stream.stop()
                withExtendedLifetime(slot) {}
            }
            try await writer.write(sseRetryPreamble)
            for await event in stream.events { try await writer.write(event.encoded) }
            try await writer.finish(nil)
        })
    }
}

/// Field checks for request bodies: each names the field and what would be right.
enum Field {
    static func string(_ object: [String: JSONValue], _ key: String, maximum: Int, required: Bool = true) throws -> String? {
        guard let value = object[key], value != .null else {
            if required { throw GatewayError.invalid(key, "is required") }
            return nil
        }
        guard let text = value.stringValue else { throw GatewayError.invalid(key, "must be a string") }
        guard text.utf8.count <= maximum else { throw GatewayError.invalid(key, "must be at most \(maximum) bytes") }
        if required && text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw GatewayError.invalid(key, "must not be empty") }
        return text
    }

    /// An approval version (1 or more), or nil when absent.
    static func version(_ object: [String: JSONValue], _ key: String) throws -> Int64? {
        guard let value = object[key], value != .null else { return nil }
        guard let version = value.intValue, version >= 1, version <= Int64(Int32.max) else {
            throw GatewayError.invalid(key, "must be the approval's version as shown (a whole number, 1 or more)")
        }
        return version
    }

    /// An event number a client saw (0 or more), or nil when absent.
    static func sequence(_ object: [String: JSONValue], _ key: String) throws -> Int64? {
        guard let value = object[key], value != .null else { return nil }
        guard let number = value.intValue, (0...1_000_000_000).contains(number) else {
            throw GatewayError.invalid(key, "must be the id of an event this gateway sent (a whole number, 0 or more)")
        }
        return number
    }

    static func identifier(_ object: [String: JSONValue], _ key: String) throws -> String {
        let text = try string(object, key, maximum: 128) ?? ""
        guard text.range(of: "^[A-Za-z0-9_.:-]{1,128}$", options: .regularExpression) != nil else {
            throw GatewayError.invalid(key, "must be an id as the service gave it (letters, digits, '_', '-', '.', ':')")
        }
        return text
    }

    static func identifier(_ text: String, name: String) throws -> String {
        guard text.range(of: "^[A-Za-z0-9_.:-]{1,128}$", options: .regularExpression) != nil else {
            throw GatewayError.invalid(name, "must be an id as the service gave it (letters, digits, '_', '-', '.', ':')")
        }
        return text
    }
}
