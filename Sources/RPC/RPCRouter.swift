import Foundation
import NIOCore

/// Who may call a method.
public enum RPCAccess: Sendable, Equatable {
    /// Anyone who can reach the socket (health checks, discovery).
    case `public`
    /// Any caller with a known token.
    case authenticated
    /// Callers whose identity has one of these roles.
    case roles(Set<String>)
}

/// How a method is served.
public struct RPCMethodOptions: Sendable {
    /// Who may call it.
    public var access: RPCAccess
    /// A streaming method sends `<service>.event` notifications before its result
    /// and has no default timeout (it ends by its own logic, `rpc.cancel`, a
    /// caller's deadline, or the connection closing).
    public var streaming: Bool
    /// The timeout when the caller sends no `deadline_ms` (unary methods only).
    public var defaultTimeout: TimeAmount

    /// - Parameters:
    ///   - access: who may call it (default: any authenticated caller).
    ///   - streaming: whether it streams events.
    ///   - defaultTimeout: used when the caller gives no deadline.
    public init(access: RPCAccess = .authenticated, streaming: Bool = false, defaultTimeout: TimeAmount = RPCLimits.defaultUnaryTimeout) {
        self.access = access
        self.streaming = streaming
        self.defaultTimeout = defaultTimeout
    }
}

/// A registered method: how to decode its params and how to run it.
struct MethodEntry: Sendable {
    enum Body: Sendable {
        /// Runs on the event loop: only for work that never blocks (health, echo).
        case sync(@Sendable (any Sendable, RPCContext) throws -> any Encodable & Sendable)
        /// Runs in a task: anything that does I/O or waits.
        case async(@Sendable (any Sendable, RPCContext) async throws -> any Encodable & Sendable)
    }

    let name: String
    let options: RPCMethodOptions
    let decodeParams: @Sendable (KeyedDecodingContainer<DecodedEntry.Keys>) throws -> any Sendable
    /// Decodes the params object's own bytes (nil: no params) — ``FastEnvelope``'s way.
    let decodeParamsData: @Sendable (Data?, JSONDecoder) throws -> any Sendable
    let body: Body
}

/// The methods a service serves. Built once at start-up, then read-only.
public final class RPCRouter: Sendable {
    private let entries: [String: MethodEntry]

    /// The service's short name: events are sent as `<service>.event`.
    public let service: String

    fileprivate init(service: String, entries: [String: MethodEntry]) {
        self.service = service
        self.entries = entries
    }

    func entry(for method: String) -> MethodEntry? { entries[method] }

    /// Every method served, sorted.
    public var methodNames: [String] { entries.keys.sorted() }
}

/// Collects methods, then builds an immutable ``RPCRouter``.
public struct RPCRouterBuilder: Sendable {
    /// The service's short name, e.g. `ledger`.
    public let service: String
    private var entries: [String: MethodEntry] = [:]

    /// - Parameter service: the service's short name.
    public init(service: String) { self.service = service }

    /// Registers a method that runs in a task (anything that does I/O or may wait).
    /// - Parameters:
    ///   - method: `service.method`, snake case.
    ///   - params: the params type, decoded from `params` (missing params decode as `{}`).
    ///   - options: access and streaming.
    ///   - handler: the work; throw ``RPCError`` (or an ``RPCErrorConvertible``) for failures.
    public mutating func register<P: Decodable & Sendable, R: Encodable & Sendable>(
        _ method: String, params: P.Type = P.self, options: RPCMethodOptions = .init(),
        handler: @escaping @Sendable (P, RPCContext) async throws -> R
    ) {
        add(MethodEntry(
            name: method, options: options, decodeParams: Self.decoder(for: P.self), decodeParamsData: Self.dataDecoder(for: P.self),
            body: .async { params, context in try await handler(params as! P, context) }))
    }

    /// Registers a method that runs on the event loop. It must never block.
    /// - Parameters:
    ///   - method: `service.method`, snake case.
    ///   - params: the params type.
    ///   - options: access (streaming is not possible here).
    ///   - handler: the work.
    public mutating func registerInline<P: Decodable & Sendable, R: Encodable & Sendable>(
        _ method: String, params: P.Type = P.self, options: RPCMethodOptions = .init(),
        handler: @escaping @Sendable (P, RPCContext) throws -> R
    ) {
        precondition(!options.streaming, "\(method): a streaming method must be registered with register(_:)")
        add(MethodEntry(
            name: method, options: options, decodeParams: Self.decoder(for: P.self), decodeParamsData: Self.dataDecoder(for: P.self),
            body: .sync { params, context in try handler(params as! P, context) }))
    }

    private mutating func add(_ entry: MethodEntry) {
        precondition(entries[entry.name] == nil, "method \(entry.name) registered twice")
        entries[entry.name] = entry
    }

    private static func decoder<P: Decodable & Sendable>(for type: P.Type) -> @Sendable (KeyedDecodingContainer<DecodedEntry.Keys>) throws -> any Sendable {
        { container in
            if container.contains(.params) { return try container.decode(P.self, forKey: .params) }
            return try JSONDecoder().decode(P.self, from: Data("{}".utf8))
        }
    }

    private static let emptyObject = Data("{}".utf8)

    private static func dataDecoder<P: Decodable & Sendable>(for type: P.Type) -> @Sendable (Data?, JSONDecoder) throws -> any Sendable {
        if P.self == NoParams.self {
            // NoParams ignores every field: an object (or no params) needs no decoding, which
            // was 13k instructions of a 100k-instruction health.check. Anything else goes to
            // the decoder, which refuses it as before.
            return { data, decoder in
                if let data, Self.firstByte(of: data) != UInt8(ascii: "{") { return try decoder.decode(P.self, from: data) }
                return NoParams()
            }
        }
        return { data, decoder in try WireJSON.decode(P.self, from: data ?? emptyObject, fallback: decoder) }
    }

    /// The first byte of `data` that is not JSON whitespace.
    private static func firstByte(of data: Data) -> UInt8? {
        data.first { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\t") }
    }

    /// The finished router.
    public func build() -> RPCRouter { RPCRouter(service: service, entries: entries) }
}

/// Params for methods that take none (any fields are ignored).
public struct NoParams: Codable, Sendable, Equatable {
    public init() {}
}
