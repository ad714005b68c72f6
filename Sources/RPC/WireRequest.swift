import Foundation

/// One entry of an incoming message, after validation.
enum IncomingEntry: Sendable {
    /// A well-formed call: `id == nil` makes it a notification.
    case call(IncomingCall)
    /// Not a valid request: always answered, with the id if one could be read.
    case invalid(id: RPCID, error: RPCError)
}

/// A validated call. Its params were decoded into the handler's own type in the
/// same pass as the envelope (see ``DecodedEntry``), or the failure is kept.
struct IncomingCall: Sendable {
    let id: RPCID?
    let method: String
    let meta: RequestMeta
    let entry: MethodEntry?
    let params: Result<any Sendable, RPCError>

    var isNotification: Bool { id == nil }
}

/// A line: one request or a batch.
enum IncomingMessage: Decodable {
    case single(IncomingEntry)
    case batch([IncomingEntry])

    init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var entries: [IncomingEntry] = []
            while !array.isAtEnd {
                guard entries.count < RPCLimits.maximumBatchEntries else {
                    throw BatchTooLarge()
                }
                entries.append(try array.decode(DecodedEntry.self).entry)
            }
            self = .batch(entries)
        } else {
            self = .single(DecodedEntry(from: decoder).entry)
        }
    }
}

struct BatchTooLarge: Error {}

extension CodingUserInfoKey {
    /// Where the decoder finds the router, to decode params into each method's type.
    static let rpcRouter = CodingUserInfoKey(rawValue: "rpc.router")!
}

/// Decodes one request without ever throwing: whatever is wrong becomes an
/// `.invalid` entry or a params error, so one bad entry cannot spoil a batch.
struct DecodedEntry: Decodable {
    let entry: IncomingEntry

    enum Keys: String, CodingKey { case jsonrpc, id, method, params }
    enum MetaKeys: String, CodingKey { case _meta }

    init(from decoder: any Decoder) {
        entry = Self.decode(decoder)
    }

    private static func decode(_ decoder: any Decoder) -> IncomingEntry {
        guard let container = try? decoder.container(keyedBy: Keys.self) else {
            return .invalid(id: .null, error: .invalidRequest("a request must be a JSON object"))
        }
        var id: RPCID?
        if container.contains(.id) {
            guard let parsed = try? container.decode(RPCID.self, forKey: .id) else {
                return .invalid(id: .null, error: .invalidRequest("id must be a string, a number or null"))
            }
            id = parsed
        }
        guard (try? container.decode(String.self, forKey: .jsonrpc)) == "2.0" else {
            return .invalid(id: id ?? .null, error: .invalidRequest("jsonrpc must be exactly \"2.0\""))
        }
        guard let method = try? container.decode(String.self, forKey: .method) else {
            return .invalid(id: id ?? .null, error: .invalidRequest("method must be a string"))
        }
        let hasParams = container.contains(.params)
        let named = hasParams ? try? container.nestedContainer(keyedBy: MetaKeys.self, forKey: .params) : nil
        let positional = hasParams && named == nil && (try? container.nestedUnkeyedContainer(forKey: .params)) != nil
        guard !hasParams || named != nil || positional else {
            return .invalid(id: id ?? .null, error: .invalidRequest("params must be an object or an array"))
        }
        // The method is looked up before its params are judged: a method that does
        // not exist is -32601, whatever params came with it.
        guard let router = decoder.userInfo[.rpcRouter] as? RPCRouter, let entry = router.entry(for: method) else {
            return .call(IncomingCall(id: id, method: method, meta: RequestMeta(), entry: nil, params: .failure(.methodNotFound(method))))
        }
        guard !positional else {
            return .call(IncomingCall(
                id: id, method: method, meta: RequestMeta(), entry: nil,
                params: .failure(.invalidParams(field: "params", "params must be an object of named parameters"))))
        }
        let meta: RequestMeta
        do {
            meta = try named?.decodeIfPresent(RequestMeta.self, forKey: ._meta) ?? RequestMeta()
        } catch {
            return .call(IncomingCall(
                id: id, method: method, meta: RequestMeta(), entry: nil, params: .failure(ParamsError.from(error))))
        }
        do {
            let params = try entry.decodeParams(container)
            return .call(IncomingCall(id: id, method: method, meta: meta, entry: entry, params: .success(params)))
        } catch {
            return .call(IncomingCall(id: id, method: method, meta: meta, entry: entry, params: .failure(ParamsError.from(error))))
        }
    }
}

/// Turns a decoding failure inside params into -32602 naming the field.
enum ParamsError {
    static func from(_ error: any Error) -> RPCError {
        if let rpc = error as? RPCErrorConvertible { return rpc.rpcError }
        guard let decoding = error as? DecodingError else {
            return .invalidParams(field: "params", "\(error)")
        }
        switch decoding {
        case .keyNotFound(let key, let context):
            return .invalidParams(field: path(context.codingPath + [key]), "is required", reason: "MISSING_FIELD")
        case .typeMismatch(let type, let context):
            return .invalidParams(field: path(context.codingPath), "has the wrong type (expected \(describe(type)))")
        case .valueNotFound(let type, let context):
            return .invalidParams(field: path(context.codingPath), "must not be null (expected \(describe(type)))")
        case .dataCorrupted(let context):
            return .invalidParams(field: path(context.codingPath), readable(context.debugDescription))
        @unknown default:
            return .invalidParams(field: "params", "\(decoding)")
        }
    }

    /// A dotted path below `params`, e.g. `action.amount` or `transfers[3].to`.
    static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if key.stringValue == "params", text.isEmpty { continue }
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text.isEmpty ? "params" : text
    }

    /// Foundation's text for a value outside an enum ("Cannot initialize Kind from invalid
    /// String value wire") names a Swift type the caller never sees: say it in the
    /// caller's terms.
    static func readable(_ description: String) -> String {
        guard description.hasPrefix("Cannot initialize "), let range = description.range(of: " value ", options: .backwards) else {
            return description
        }
        let value = description[range.upperBound...]
        return "'\(value.prefix(64))' is not one of the values this field takes (rpc.discover lists them)"
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "string"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt64.Type: "integer"
        case is Double.Type: "number"
        case is Bool.Type: "boolean"
        default: String(describing: type)
        }
    }
}
