/// A JSON-RPC request id: a string, an integer, a number, or null, echoed back
/// exactly as it came (integers above 2^53 included).
public enum RPCID: Sendable, Hashable, Codable, CustomStringConvertible {
    case null
    case string(String)
    case int(Int64)
    case uint(UInt64)
    /// Numbers with a fraction; the specification discourages them but allows them.
    case double(Double)

    public init(from decoder: any Decoder) throws {
        let single = try decoder.singleValueContainer()
        // Integers first: they are what clients send, and each failed attempt
        // builds and throws a DecodingError. The JSON types do not overlap, so
        // the order changes nothing else.
        if single.decodeNil() {
            self = .null
        } else if let value = try? single.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? single.decode(String.self) {
            self = .string(value)
        } else if let value = try? single.decode(UInt64.self) {
            self = .uint(value)
        } else if let value = try? single.decode(Double.self), value.isFinite, !Self.isBool(single) {
            self = .double(value)
        } else {
            throw DecodingError.typeMismatch(
                RPCID.self, .init(codingPath: decoder.codingPath, debugDescription: "id must be a string, a number or null"))
        }
    }

    private static func isBool(_ single: any SingleValueDecodingContainer) -> Bool {
        (try? single.decode(Bool.self)) != nil
    }

    public func encode(to encoder: any Encoder) throws {
        var single = encoder.singleValueContainer()
        switch self {
        case .null: try single.encodeNil()
        case .string(let value): try single.encode(value)
        case .int(let value): try single.encode(value)
        case .uint(let value): try single.encode(value)
        case .double(let value): try single.encode(value)
        }
    }

    public var description: String {
        switch self {
        case .null: "null"
        case .string(let value): "\"\(value)\""
        case .int(let value): String(value)
        case .uint(let value): String(value)
        case .double(let value): String(value)
        }
    }
}
