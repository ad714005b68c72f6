import Foundation

/// `{"jsonrpc":"2.0","id":<id>,"result":<result>}`. The id is always written,
/// `null` included.
struct SuccessResponse: Encodable {
    let id: RPCID
    let result: any Encodable

    enum Keys: String, CodingKey { case jsonrpc, id, result }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode("2.0", forKey: .jsonrpc)
        try container.encode(id, forKey: .id)
        try container.encode(result, forKey: .result)
    }
}

/// `{"jsonrpc":"2.0","id":<id or null>,"error":{"code","message","data":{"status","reason",...}}}`
struct ErrorResponse: Encodable {
    let id: RPCID
    let error: RPCError

    enum Keys: String, CodingKey { case jsonrpc, id, error }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode("2.0", forKey: .jsonrpc)
        try container.encode(id, forKey: .id)
        try container.encode(ErrorObject(error), forKey: .error)
    }
}

/// The JSON-RPC error object, as sent and as received.
struct ErrorObject: Codable {
    let code: Int
    let message: String
    let data: [String: JSONValue]?

    init(_ error: RPCError) {
        code = error.code
        message = error.message
        var data = error.details
        data["status"] = .string(error.status.name)
        data["reason"] = .string(error.reason)
        self.data = data
    }

    /// The error as a client sees it; tolerant of servers that send no data.
    var rpcError: RPCError {
        var details = data ?? [:]
        let statusName = details.removeValue(forKey: "status")?.stringValue
        let reason = details.removeValue(forKey: "reason")?.stringValue
        let status = statusName.flatMap(RPCStatus.init(name:)) ?? Self.status(forCode: code)
        return RPCError(code: code, status: status, reason: reason ?? status.name, message, details: details)
    }

    private static func status(forCode code: Int) -> RPCStatus {
        switch code {
        case JSONRPCCode.parseError, JSONRPCCode.invalidRequest, JSONRPCCode.invalidParams: .invalidArgument
        case JSONRPCCode.methodNotFound: .unimplemented
        case -32016 ... -32001: RPCStatus(rawValue: -32000 - code) ?? .unknown
        default: .internal
        }
    }
}

/// Encodes responses to newline-terminated bytes.
struct ResponseEncoder {
    private let encoder: JSONEncoder

    init() {
        encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
    }

    func success(id: RPCID, result: any Encodable) throws -> Data {
        var data = try encoder.encode(SuccessResponse(id: id, result: result))
        data.append(UInt8(ascii: "\n"))
        return data
    }

    func failure(id: RPCID, error: RPCError) -> Data {
        // An RPCError always encodes: its parts are strings, integers and JSONValues.
        var data = (try? encoder.encode(ErrorResponse(id: id, error: error))) ?? Data()
        data.append(UInt8(ascii: "\n"))
        return data
    }
}
