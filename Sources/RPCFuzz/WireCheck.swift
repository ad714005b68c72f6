import Foundation
import RPC

/// The rules every line a service writes must follow (the same rules the
/// conformance suite's WireRules checks, returned as problems instead of
/// recorded as test issues).
enum WireCheck {
    static let reasonPattern = "^[A-Z][A-Z0-9_]*$"
    /// The codes JSON-RPC 2.0 reserves and the core uses as they are.
    static let standardCodes: Set<Int64> = [-32700, -32600, -32601, -32602, -32603]
    /// Application errors: -32000 minus a gRPC status (1...16).
    static let applicationCodes: ClosedRange<Int64> = -32016 ... -32001

    /// Problems with a response object; empty when it is well-formed.
    static func problems(response: JSONValue) -> [String] {
        guard case .object(let fields) = response else { return ["a response must be an object"] }
        var found: [String] = []
        if fields["jsonrpc"] != .string("2.0") { found.append("jsonrpc is not \"2.0\"") }
        if fields["id"] == nil { found.append("no id member (it must be there, null when unknown)") }
        if (fields["result"] == nil) == (fields["error"] == nil) { found.append("not exactly one of result and error") }
        if let error = fields["error"] { found += problems(error: error) }
        return found
    }

    /// Problems with an error object: an integer code, a message, `data.status` a
    /// gRPC status name, `data.reason` upper snake case, application codes equal
    /// to -32000 minus the status number, -32602 naming `data.field`.
    static func problems(error: JSONValue) -> [String] {
        guard let code = error["code"]?.intValue else { return ["error.code is not an integer"] }
        var found: [String] = []
        if error["message"]?.stringValue?.isEmpty != false { found.append("error.message is missing or empty") }
        guard let name = error["data"]?["status"]?.stringValue, let status = RPCStatus(name: name), status != .ok else {
            return found + ["error.data.status is not a gRPC status name other than OK"]
        }
        let reason = error["data"]?["reason"]?.stringValue ?? ""
        if reason.range(of: reasonPattern, options: .regularExpression) == nil { found.append("error.data.reason '\(reason)' is not upper snake case") }
        if applicationCodes.contains(code) {
            if code != Int64(-32000 - status.rawValue) { found.append("code \(code) is not -32000 - \(name) (\(status.rawValue))") }
        } else if !standardCodes.contains(code) {
            found.append("code \(code) is neither a JSON-RPC code nor -32000 - status")
        }
        if code == -32602 {
            if status != .invalidArgument { found.append("-32602 does not carry INVALID_ARGUMENT") }
            if error["data"]?["field"]?.stringValue?.isEmpty != false { found.append("-32602 does not name data.field") }
        }
        return found
    }

    /// Problems with a `<service>.event` notification.
    static func problems(event: JSONValue, service: String) -> [String] {
        var found: [String] = []
        if event["jsonrpc"] != .string("2.0") { found.append("event jsonrpc is not \"2.0\"") }
        if event["method"] != .string("\(service).event") { found.append("a notification from the service that is not \(service).event") }
        if event["id"] != nil { found.append("an event carries an id") }
        if event["params"]?["request_id"] == nil { found.append("an event without params.request_id") }
        return found
    }
}
