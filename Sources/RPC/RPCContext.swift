import Foundation
import Logging
import NIOCore
import NIOFoundationCompat

/// Everything a handler knows about the call it serves.
public struct RPCContext: Sendable {
    /// The method called.
    public let method: String
    /// The request id (nil for a notification).
    public let id: RPCID?
    /// The authenticated caller, if a token was presented and known.
    public let identity: Identity?
    /// The trace this call belongs to; its span is this call.
    public let trace: TraceContext
    /// When the caller stops waiting; nil if it set no deadline.
    public let deadline: NIODeadline?
    /// A logger with `trace.id`, `rpc.method` and `rpc.id` metadata.
    public let logger: Logger
    let sink: EventSink?

    /// The caller's remaining budget, to pass downstream as `deadline_ms`.
    public var remaining: TimeAmount? {
        deadline.map { $0 - .now() }
    }

    /// The caller's identity, or UNAUTHENTICATED. Use in handlers with `.public` access
    /// that still need to know who called.
    /// - Throws: ``RPCError`` UNAUTHENTICATED when no known token was presented.
    public func requireIdentity() throws -> Identity {
        guard let identity else {
            throw RPCError(.unauthenticated, reason: "UNAUTHENTICATED", "this method needs a token in params._meta.token")
        }
        return identity
    }

    /// Sends one `<service>.event` notification for this call, before its result.
    /// The event's fields are merged with `request_id`.
    /// - Parameter event: any encodable object.
    public func emit(_ event: some Encodable & Sendable) {
        guard let sink, let id else { return }
        sink.send(requestID: id, event: event)
    }

    /// Whether this call can stream events (a streaming method called with an id).
    public var canStream: Bool { sink != nil && id != nil }
}

/// Writes event notifications for one connection.
struct EventSink: Sendable {
    let channel: any Channel
    let eventMethod: String
    let logger: Logger

    func send(requestID: RPCID, event: some Encodable & Sendable) {
        do {
            var bytes: Data
            if case .int(let id) = requestID, let fast = try EventLine.write(method: eventMethod, requestID: id, event: event) {
                bytes = fast
            } else {
                bytes = try WireJSON.encode(EventNotification(method: eventMethod, requestID: requestID, event: event), fallback: JSONEncoder())
            }
            bytes.append(UInt8(ascii: "\n"))
            channel.writeAndFlush(channel.allocator.buffer(data: bytes), promise: nil)
        } catch {
            logger.error("event not sent: it could not be encoded", metadata: ["error": "\(error)"])
        }
    }
}

/// An event notification with an integer request id (what every ``RPCClient`` sends),
/// written in one fixed order: `{"jsonrpc":"2.0","method":"<m>","params":{"request_id":<id>,…}}`.
/// The client then routes it by reading those bytes (``EventLine/requestID(in:)``)
/// instead of parsing the whole line, run documents and all, only to find its id.
enum EventLine {
    static let prefix = Array(#"{"jsonrpc":"2.0","method":""#.utf8)
    static let paramsKey = Array(#"","params":{"request_id":"#.utf8)

    /// The line, or nil when the event needs Foundation's encoder (a fraction) or is not
    /// an object, or the method would need escaping: those go the general way.
    static func write(method: String, requestID: Int64, event: some Encodable) throws -> Data? {
        guard method.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }),
            case .object(var members)? = try WireJSON.tree(event)
        else { return nil }
        members["request_id"] = nil  // the call's own id, never the event's
        guard let body = JSONValue.object(members).compactJSON() else { return nil }
        var out = Data(prefix)
        out.append(contentsOf: method.utf8)
        out.append(contentsOf: paramsKey)
        out.append(contentsOf: String(requestID).utf8)
        if body.count > 2 { out.append(UInt8(ascii: ",")) }
        out.append(body.dropFirst())  // the members and the closing brace
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The request id of an event line written by ``write(method:requestID:event:)``,
    /// from its bytes; nil for any other line (decoded in full, as before).
    static func requestID(in bytes: UnsafeRawBufferPointer) -> Int64? {
        guard bytes.starts(with: prefix) else { return nil }
        var index = prefix.count
        while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
            guard bytes[index] != UInt8(ascii: "\\") else { return nil }
            index += 1
        }
        guard bytes[index...].starts(with: paramsKey) else { return nil }
        guard let (value, end) = readNonNegativeInteger(bytes, at: index + paramsKey.count), end < bytes.count,
            bytes[end] == UInt8(ascii: ",") || bytes[end] == UInt8(ascii: "}")
        else { return nil }
        return value
    }

    /// A non-negative JSON integer (no sign, no leading zero, fits in Int64) starting at
    /// `index`, and the index after it; nil for anything else.
    static func readNonNegativeInteger(_ bytes: UnsafeRawBufferPointer, at index: Int) -> (Int64, Int)? {
        var index = index
        let digitsStart = index
        var value: Int64 = 0
        while index < bytes.count, (48...57).contains(bytes[index]) {
            let (shifted, overflowA) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = shifted.addingReportingOverflow(Int64(bytes[index] - 48))
            guard !overflowA, !overflowB else { return nil }
            value = sum
            index += 1
        }
        let digits = index - digitsStart
        guard digits > 0, digits == 1 || bytes[digitsStart] != 48 else { return nil }  // JSON has no leading zeros
        return (value, index)
    }
}

/// `{"jsonrpc":"2.0","method":"<service>.event","params":{"request_id":<id>, ...event}}`
struct EventNotification<Event: Encodable>: Encodable {
    let method: String
    let requestID: RPCID
    let event: Event

    enum Keys: String, CodingKey { case jsonrpc, method, params }
    enum ParamKeys: String, CodingKey { case requestID = "request_id" }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode("2.0", forKey: .jsonrpc)
        try container.encode(method, forKey: .method)
        let paramsEncoder = container.superEncoder(forKey: .params)
        try event.encode(to: paramsEncoder)
        var params = paramsEncoder.container(keyedBy: ParamKeys.self)
        try params.encode(requestID, forKey: .requestID)
    }
}
