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
            var bytes = try WireJSON.encode(EventNotification(method: eventMethod, requestID: requestID, event: event), fallback: JSONEncoder())
            bytes.append(UInt8(ascii: "\n"))
            channel.writeAndFlush(channel.allocator.buffer(data: bytes), promise: nil)
        } catch {
            logger.error("event not sent: it could not be encoded", metadata: ["error": "\(error)"])
        }
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
