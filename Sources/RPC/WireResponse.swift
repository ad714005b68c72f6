import Foundation

/// `{"jsonrpc":"2.0","id":<id>,"result":<result>}` through the encoder: the fallback
/// of ``ResponseEncoder`` for a result that encodes nothing by itself. The id is always written,
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
///
/// The envelope is written by hand, in a fixed key order:
/// `{"jsonrpc":"2.0","id":<id>,"result":<result>}` (or `"error"`); only the id
/// and the payload go through `JSONEncoder`. That skips the encoder's work on
/// the envelope, and lets clients find the id of a response without a second
/// parse (see ``RPCClientHandler/responseID(in:)``). JSON key order carries no
/// meaning, so the wire format is unchanged; it is only now always the same.
struct ResponseEncoder {
    private let encoder: JSONEncoder

    private static let head = Data(#"{"jsonrpc":"2.0","id":"#.utf8)
    private static let resultKey = Data(#","result":"#.utf8)
    private static let errorKey = Data(#","error":"#.utf8)
    private static let tail = Data("}\n".utf8)

    init() {
        encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
    }

    func success(id: RPCID, result: any Encodable) throws -> Data {
        // A result that encodes nothing at all is not a JSON document on its own;
        // let the encoder handle it inside the envelope, as it always did.
        guard let body = try? WireJSON.encode(result, fallback: encoder) else {
            var data = try encoder.encode(SuccessResponse(id: id, result: result))
            data.append(UInt8(ascii: "\n"))
            return data
        }
        return try envelope(id: id, key: Self.resultKey, body: body)
    }

    func failure(id: RPCID, error: RPCError) -> Data {
        // Never an empty line (inside a batch that was `[a,,b]`, found by rpc-fuzz): a detail
        // that cannot be JSON (a non-finite number echoed from the request, say) drops the
        // details; the status, reason and message always encode.
        if let body = try? encoder.encode(ErrorObject(error)), let data = try? envelope(id: id, key: Self.errorKey, body: body) {
            return data
        }
        var bare = error
        bare.details = [:]
        if let body = try? encoder.encode(ErrorObject(bare)), let data = try? envelope(id: id, key: Self.errorKey, body: body) {
            return data
        }
        return Self.head + Data(#"null,"error":{"code":-32603,"message":"internal error","data":{"status":"INTERNAL","reason":"INTERNAL"}}}"#.utf8)
            + Data("\n".utf8)
    }

    private func envelope(id: RPCID, key: Data, body: Data) throws -> Data {
        var data = Data()
        data.reserveCapacity(Self.head.count + 24 + key.count + body.count + Self.tail.count)
        data.append(Self.head)
        if case .int(let value) = id {
            data.append(contentsOf: String(value).utf8)
        } else {
            data.append(try encoder.encode(id))
        }
        data.append(key)
        data.append(body)
        data.append(Self.tail)
        return data
    }
}
