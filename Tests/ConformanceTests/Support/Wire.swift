import Foundation
import RPC
import RPCTesting
import Testing

/// The rules every line a service writes must follow, checked on everything the
/// conformance tests receive.
enum WireRules {
    /// `error.data.reason` (and status names) are stable upper snake case.
    static let reasonPattern = "^[A-Z][A-Z0-9_]*$"
    /// The codes JSON-RPC 2.0 reserves and the core uses as they are.
    static let standardCodes: Set<Int64> = [-32700, -32600, -32601, -32602, -32603]
    /// Application errors: -32000 minus a gRPC status (1...16).
    static let applicationCodes: ClosedRange<Int64> = -32016 ... -32001

    /// Records an issue for each way `response` breaks the response rules:
    /// `jsonrpc` is "2.0", `id` is present (null included), exactly one of
    /// `result` and `error`, and a well-formed error object.
    static func check(response: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) {
        guard case .object(let fields) = response else {
            Issue.record("a response must be an object: \(response.jsonText())", sourceLocation: sourceLocation)
            return
        }
        #expect(fields["jsonrpc"] == .string("2.0"), "jsonrpc must be \"2.0\": \(response.jsonText())", sourceLocation: sourceLocation)
        #expect(fields["id"] != nil, "a response always carries id (null when unknown): \(response.jsonText())", sourceLocation: sourceLocation)
        #expect(fields["method"] == nil, "a response has no method: \(response.jsonText())", sourceLocation: sourceLocation)
        #expect((fields["result"] == nil) != (fields["error"] == nil),
                "a response has exactly one of result and error: \(response.jsonText())", sourceLocation: sourceLocation)
        if let error = fields["error"] { check(error: error, sourceLocation: sourceLocation) }
    }

    /// Records an issue for each way `error` breaks the error rules: an integer
    /// code, a message for people, `data.status` a gRPC status name, `data.reason`
    /// upper snake case, application codes equal to -32000 minus the status
    /// number, and -32602 naming the offending `data.field`.
    static func check(error: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) {
        let text = error.jsonText()
        guard let code = error["code"]?.intValue else {
            Issue.record("error.code must be an integer: \(text)", sourceLocation: sourceLocation)
            return
        }
        #expect(error["message"]?.stringValue?.isEmpty == false, "error.message must say what went wrong: \(text)", sourceLocation: sourceLocation)
        guard let statusName = error["data"]?["status"]?.stringValue, let status = RPCStatus(name: statusName), status != .ok else {
            Issue.record("error.data.status must be a gRPC status name other than OK: \(text)", sourceLocation: sourceLocation)
            return
        }
        let reason = error["data"]?["reason"]?.stringValue ?? ""
        #expect(reason.range(of: reasonPattern, options: .regularExpression) != nil,
                "error.data.reason must match \(reasonPattern): \(text)", sourceLocation: sourceLocation)
        if applicationCodes.contains(code) {
            #expect(code == Int64(-32000 - status.rawValue),
                    "an application error's code is -32000 - status (\(status.name) is \(status.rawValue)): \(text)",
                    sourceLocation: sourceLocation)
        } else {
            #expect(standardCodes.contains(code), "error.code \(code) is neither a JSON-RPC code nor -32000 - status: \(text)",
                    sourceLocation: sourceLocation)
        }
        if code == -32602 {
            #expect(status == .invalidArgument, "-32602 carries INVALID_ARGUMENT: \(text)", sourceLocation: sourceLocation)
            #expect(error["data"]?["field"]?.stringValue?.isEmpty == false, "-32602 names the offending data.field: \(text)",
                    sourceLocation: sourceLocation)
        }
    }

    /// Records an issue unless `event` is a well-formed `<service>.event`
    /// notification for the call `requestID`.
    static func check(event: JSONValue, method: String, requestID: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) {
        let text = event.jsonText()
        #expect(event["jsonrpc"] == .string("2.0"), "\(text)", sourceLocation: sourceLocation)
        #expect(event["method"] == .string(method), "events are sent as \(method): \(text)", sourceLocation: sourceLocation)
        #expect(event["id"] == nil, "an event is a notification, without id: \(text)", sourceLocation: sourceLocation)
        #expect(event["params"]?["request_id"] == requestID, "an event names its call in params.request_id: \(text)",
                sourceLocation: sourceLocation)
    }
}

/// Expects an error response with exactly this code, id and (when given) reason
/// and status, after checking every rule an error must follow.
/// - Returns: the error object, for further checks.
@discardableResult
func expectError(
    _ response: JSONValue?, code: Int, reason: String? = nil, status: String? = nil, id: JSONValue,
    sourceLocation: SourceLocation = #_sourceLocation
) -> JSONValue? {
    guard let response else {
        Issue.record("no response arrived (expected error \(code))", sourceLocation: sourceLocation)
        return nil
    }
    WireRules.check(response: response, sourceLocation: sourceLocation)
    let text = response.jsonText()
    #expect(response["id"] == id, "id: \(text)", sourceLocation: sourceLocation)
    #expect(response["error"]?["code"] == .int(Int64(code)), "code: \(text)", sourceLocation: sourceLocation)
    if let reason {
        #expect(response["error"]?["data"]?["reason"] == .string(reason), "reason: \(text)", sourceLocation: sourceLocation)
    }
    if let status {
        #expect(response["error"]?["data"]?["status"] == .string(status), "status: \(text)", sourceLocation: sourceLocation)
    }
    return response["error"]
}

/// Expects a successful response for `id` and returns its result.
@discardableResult
func expectResult(_ response: JSONValue?, id: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) -> JSONValue? {
    guard let response else {
        Issue.record("no response arrived (expected a result for \(id.jsonText()))", sourceLocation: sourceLocation)
        return nil
    }
    WireRules.check(response: response, sourceLocation: sourceLocation)
    #expect(response["id"] == id, "id: \(response.jsonText())", sourceLocation: sourceLocation)
    #expect(response["error"] == nil, "expected a result: \(response.jsonText())", sourceLocation: sourceLocation)
    return response["result"]
}

/// What arrived on a connection up to and including one call's response.
struct Exchange {
    /// The response to the call.
    let response: JSONValue
    /// Its raw line, exactly as written.
    let responseText: String
    /// Every notification that arrived before the response, in order.
    let notifications: [JSONValue]
}

extension RawConnection {
    /// Reads lines until the response whose id is `id` (notifications and other
    /// responses before it are kept or skipped); every line is checked against the rules.
    /// - Throws: ``ConformanceFailure`` when the connection closes or nothing comes in time.
    func exchange(for id: JSONValue, timeout: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation) async throws -> Exchange {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var notifications: [JSONValue] = []
        while true {
            let left = deadline - clock.now
            guard left > .zero, let line = try await readLine(timeout: left) else {
                throw ConformanceFailure("no response with id \(id.jsonText()) within \(timeout) (connection closed or silent)")
            }
            let value = try JSONValue(parsing: line)
            if value["method"] != nil {
                notifications.append(value)
                continue
            }
            WireRules.check(response: value, sourceLocation: sourceLocation)
            if value["id"] == id { return Exchange(response: value, responseText: line, notifications: notifications) }
        }
    }

    /// Sends one line (a newline is added) and returns the response to `id`.
    func call(_ line: String, id: JSONValue, timeout: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue {
        try await send(line + "\n")
        return try await exchange(for: id, timeout: timeout, sourceLocation: sourceLocation).response
    }

    /// Sends one line and returns the next line the service writes, parsed and
    /// checked; nil when nothing comes within `timeout`.
    func next(after line: String? = nil, timeout: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue? {
        if let line { try await send(line + "\n") }
        guard let text = try await readLine(timeout: timeout) else { return nil }
        let value = try JSONValue(parsing: text)
        switch value {
        case .array(let answers): for answer in answers { WireRules.check(response: answer, sourceLocation: sourceLocation) }
        case _ where value["method"] == nil: WireRules.check(response: value, sourceLocation: sourceLocation)
        default: break
        }
        return value
    }

    /// Proves nothing was written in answer to what was sent before: a sentinel
    /// request's response must be the very next line.
    func expectNothingPending(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let sentinel = "{\"jsonrpc\":\"2.0\",\"id\":\"sentinel\",\"method\":\"health.check\"}"
        let next = try await next(after: sentinel, sourceLocation: sourceLocation)
        #expect(next?["id"] == .string("sentinel"), "nothing may be answered before the sentinel, got \(next?.jsonText() ?? "nothing")",
                sourceLocation: sourceLocation)
    }
}

/// Builds a one-line request. `params` and `meta` are JSON text.
func request(_ method: String, id: String? = nil, params: String? = nil, meta: String? = nil) -> String {
    var fields = ["\"jsonrpc\":\"2.0\""]
    if let id { fields.append("\"id\":\(id)") }
    fields.append("\"method\":\"\(method)\"")
    switch (params, meta) {
    case (nil, nil): break
    case (let params?, nil): fields.append("\"params\":\(params)")
    case (nil, let meta?): fields.append("\"params\":{\"_meta\":\(meta)}")
    case (let params?, let meta?):
        let inner = params.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
        fields.append("\"params\":{\(inner.isEmpty ? "" : inner + ",")\"_meta\":\(meta)}")
    }
    return "{" + fields.joined(separator: ",") + "}"
}

/// A batch answer as (id, code) pairs in a stable order, code nil for a result.
func outcomes(_ answers: [JSONValue]) -> [String] {
    answers.map { "\($0["id"]?.jsonText() ?? "missing") -> \($0["error"]?["code"]?.jsonText() ?? "result")" }.sorted()
}
