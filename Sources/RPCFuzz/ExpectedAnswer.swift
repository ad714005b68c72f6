import Foundation
import RPC

/// What a line sent to a service must (or may) get back, worked out from the
/// bytes alone by the rules of JSON-RPC 2.0, whatever the generator meant.
enum ExpectedAnswer: Equatable {
    /// A response carrying exactly this id.
    case reply(IDKey)
    /// One array response holding a response for each of these ids, plus
    /// `nulls` responses with id null (entries that are not valid requests).
    case batch([IDKey], nulls: Int)
    /// A response with id null (the line is not JSON, or not a request).
    case nullError
    /// Some response, id unknown (a number id the server may re-encode, or a
    /// mutated line whose meaning is not worth predicting).
    case loose
    /// Nothing: a notification, an all-notification batch, a blank line.
    case none

    /// Classifies a line (without its newline).
    /// - Parameter bytes: exactly what was sent.
    static func of(_ bytes: [UInt8]) -> ExpectedAnswer {
        if bytes.allSatisfy({ [0x20, 0x09, 0x0D].contains($0) }) { return .none }
        // The same parser as the service's (Foundation's JSONDecoder): syntax, depth
        // limit and UTF-8 rules agree. Shape never throws on a value, only the
        // parse itself does.
        guard let shape = try? JSONDecoder().decode(Shape.self, from: Data(bytes)) else { return .nullError }
        switch shape {
        case .array(let entries):
            if entries.isEmpty || entries.count > RPCLimits.maximumBatchEntries { return .nullError }
            guard let raw = RawJSON.elements(of: bytes), raw.count == entries.count else { return .loose }
            var ids: [IDKey] = []
            var nulls = 0
            for (entry, text) in zip(entries, raw) {
                switch single(entry, text) {
                case .reply(let key): ids.append(key)
                case .nullError: nulls += 1
                case .none: break
                default: return .loose
                }
            }
            if ids.isEmpty && nulls == 0 { return .none }
            if Set(ids).count != ids.count { return .loose }
            return .batch(ids, nulls: nulls)
        default:
            return single(shape, bytes)
        }
    }

    private static func single(_ shape: Shape, _ bytes: [UInt8]) -> ExpectedAnswer {
        guard case .object(let hasID, let wellFormed) = shape else { return .nullError }
        guard hasID else { return wellFormed ? .none : .nullError }
        guard let raw = RawJSON.member("id", in: bytes) else { return .loose }
        switch IDKey.read(raw) {
        case .exact(let key): return .reply(key)
        case .null, .invalid: return .nullError
        case .inexact: return .loose
        }
    }
}

/// The parts of a JSON value that decide how a JSON-RPC server must answer it.
indirect enum Shape: Decodable {
    /// An object: whether it has an `id` member, and whether it is a well-formed
    /// request envelope (jsonrpc "2.0", a string method, params absent, object or array).
    case object(hasID: Bool, wellFormed: Bool)
    case array([Shape])
    case other

    init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var entries: [Shape] = []
            while !array.isAtEnd { entries.append(try array.decode(Shape.self)) }
            self = .array(entries)
        } else if let object = try? decoder.container(keyedBy: AnyKey.self) {
            let jsonrpc = (try? object.decode(String.self, forKey: AnyKey("jsonrpc"))) == "2.0"
            let method = (try? object.decode(String.self, forKey: AnyKey("method"))) != nil
            var params = true
            if object.contains(AnyKey("params")) {
                params = (try? object.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey("params"))) != nil
                    || (try? object.nestedUnkeyedContainer(forKey: AnyKey("params"))) != nil
            }
            self = .object(hasID: object.contains(AnyKey("id")), wellFormed: jsonrpc && method && params)
        } else {
            self = .other
        }
    }
}
