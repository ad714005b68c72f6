import Foundation
import NIOCore
import NIOFoundationCompat
import NIOPosix
import NIOSSL
import Synchronization

/// A JSON-RPC client for one service socket.
///
/// Calls are multiplexed by id over a small pool of connections (one per event
/// loop, ``defaultConnections``), each made lazily and remade after a drop. A call
/// goes out on the connection of the event loop it runs on when there is one (no
/// thread hop), else on the next in turn. A call that could not be delivered (socket
/// missing, connection refused, server draining, connection lost before the request
/// was written) is retried with capped, jittered backoff inside its deadline; a call
/// that may have executed (ABORTED/CONNECTION_LOST) is retried only when
/// ``CallOptions/idempotent`` says that is safe. An UNAVAILABLE answer counts as
/// "not delivered" only with reason DRAINING (the RPC core refused it before any
/// handler ran); any other UNAVAILABLE came from a handler, which may have done
/// part of its work first (a service passing on a downstream failure).
public final class RPCClient: Sendable {
    private enum Connection {
        case idle
        case connecting(EventLoopFuture<any Channel>)
        case connected(any Channel)
        case closed
    }

    /// One connection of the pool, on its own event loop.
    private final class Slot: Sendable {
        let eventLoop: any EventLoop
        let state = Mutex<Connection>(.idle)
        let gauge = CallGauge()

        init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }
    }

    /// Connections per client by default: one per event loop of the singleton group
    /// (a core each), at most 4. One connection is served by one server event loop,
    /// so a single one would leave the server's other cores idle under load.
    public static let defaultConnections = min(4, System.coreCount)

    /// Where this client connects.
    public let endpoint: RPCEndpoint
    /// TLS for a TCP endpoint (nil: plaintext, which only a server started with
    /// --allow-plaintext-tcp accepts).
    private let tls: RPCTLS?
    /// The socket this client talks to (a TCP endpoint's address in text).
    public var path: String {
        if case .unix(let path) = endpoint { return path }
        return endpoint.description
    }
    private let token: String?
    private let slots: [Slot]
    private let nextSlot = Atomic<Int>(0)
    private let nextID = Atomic<Int64>(1)

    /// - Parameters:
    ///   - path: the service's socket.
    ///   - token: the identity token presented in `_meta.token` (nil: none).
    ///   - group: event loops for the connections.
    ///   - connections: how many connections to spread calls over (1…16).
    public convenience init(
        path: String, token: String? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        connections: Int = RPCClient.defaultConnections
    ) {
        self.init(endpoint: .unix(path), tls: nil, token: token, group: group, connections: connections)
    }

    /// A client of any endpoint: a Unix socket, or a TCP port (with TLS: the server's
    /// certificate must name the host connected to).
    /// - Parameters:
    ///   - endpoint: where the service listens.
    ///   - tls: this client's certificate and the CA it trusts (TCP only).
    ///   - token: the identity token presented in `_meta.token` (nil: none).
    ///   - group: event loops for the connections.
    ///   - connections: how many connections to spread calls over (1…16).
    public init(
        endpoint: RPCEndpoint, tls: RPCTLS?, token: String? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        connections: Int = RPCClient.defaultConnections
    ) {
        self.endpoint = endpoint
        self.tls = tls
        self.token = token
        var loops = group.makeIterator()
        self.slots = (0..<min(16, max(1, connections))).map { _ in Slot(eventLoop: loops.next() ?? group.next()) }
    }

    /// A client for a service of the stack in `directory`, presenting `identity`'s token.
    /// - Parameters:
    ///   - service: the short name, e.g. `ledger`.
    ///   - directory: the run directory.
    ///   - identity: whose token to present (nil: none).
    /// - Throws: ``RunDirectoryError`` when the identity has no token.
    public convenience init(service: String, directory: RunDirectory, identity: String?) throws {
        let token = try identity.map { try IdentityProvisioner.token(for: $0, in: directory) }
        if let endpoint = try directory.remoteEndpoint(for: service), case .tcp = endpoint {
            // Another machine: mutual TLS with the home's client certificate (run/tls/client.pem).
            let files = RPCTLS.files(for: "client", in: directory)
            do {
                let tls = try RPCTLS.client(certificate: files.certificate, key: files.key, ca: files.ca)
                self.init(endpoint: endpoint, tls: tls, token: token)
            } catch let error as RPCTLSError {
                throw RunDirectoryError("\(service) is at \(endpoint) (run/addresses.json) but \(error.description); copy the stack's run/tls/ here")
            }
            return
        }
        self.init(path: directory.socketPath(for: service), token: token)
    }

    deinit {
        for slot in slots {
            slot.state.withLock { state in
                if case .connected(let channel) = state { channel.close(promise: nil) }
            }
        }
    }

    /// Calls sent and not answered yet, and calls waiting for room on their connection.
    public var callsInFlight: (sent: Int, queued: Int) {
        slots.reduce((0, 0)) { ($0.0 + $1.gauge.sent.load(ordering: .relaxed), $0.1 + $1.gauge.queued.load(ordering: .relaxed)) }
    }

    /// Closes the connections; later calls fail.
    public func close() async {
        for slot in slots {
            let channel = slot.state.withLock { state -> (any Channel)? in
                defer { state = .closed }
                if case .connected(let channel) = state { return channel }
                return nil
            }
            try? await channel?.close()
        }
    }

    /// Calls a method and decodes its result.
    /// - Parameters:
    ///   - method: `service.method`.
    ///   - params: an encodable object (its fields become `params`).
    ///   - type: the result type.
    ///   - options: deadline, retry safety, trace.
    /// - Returns: the decoded result.
    /// - Throws: ``RPCError``: the server's error, or a client-side one
    ///   (UNAVAILABLE when unreachable, DEADLINE_EXCEEDED, CANCELLED).
    public func call<Params: Encodable & Sendable, Result: Decodable>(
        _ method: String, _ params: Params, as type: Result.Type = Result.self, options: CallOptions = .init()
    ) async throws -> Result {
        try await perform(method, params, as: Result.self, options: options, onEvent: nil)
    }

    /// Calls a streaming method: `onEvent` gets each `<service>.event` for this
    /// call, then the result is returned.
    /// - Parameters:
    ///   - method: `service.method`.
    ///   - params: an encodable object.
    ///   - event: the event type (the notification's params).
    ///   - type: the result type.
    ///   - options: deadline, retry safety, trace.
    ///   - onEvent: called for each event, in order, on the connection's event loop (keep it short).
    /// - Returns: the final result.
    /// - Throws: ``RPCError``.
    public func stream<Params: Encodable & Sendable, Event: Decodable & Sendable, Result: Decodable>(
        _ method: String, _ params: Params, event: Event.Type, as type: Result.Type = Result.self,
        options: CallOptions = .init(timeout: .hours(24)), onEvent: @escaping @Sendable (Event) -> Void
    ) async throws -> Result {
        try await perform(method, params, as: Result.self, options: options) { line in
            if let body = try? WireJSON.decode(EventBody<Event>.self, from: Data(line.readableBytesView), fallback: JSONDecoder()) { onEvent(body.params) }
        }
    }

    /// Sends a notification (no answer, no retry).
    /// - Parameters:
    ///   - method: `service.method`.
    ///   - params: an encodable object.
    /// - Throws: ``RPCError`` UNAVAILABLE when the socket cannot be reached.
    public func notify<Params: Encodable & Sendable>(_ method: String, _ params: Params) async throws {
        let bytes = try encode(id: nil, method: method, params: params, options: .init(), deadline: .now() + .seconds(30))
        let channel: any Channel
        do { channel = try await connect(pickSlot()).get() } catch { throw unreachable(error) }
        try await channel.writeAndFlush(bytes).get()
    }

    private func perform<Params: Encodable & Sendable, Result: Decodable>(
        _ method: String, _ params: Params, as type: Result.Type, options: CallOptions, onEvent: (@Sendable (ByteBuffer) -> Void)?
    ) async throws -> Result {
        let deadline = options.deadline ?? .now() + options.timeout
        let retryUntil = options.retryWindow.map { min(deadline, .now() + $0) } ?? deadline
        var attempt: Int64 = 0
        while true {
            let failure: RPCError
            do {
                let line = try await attemptOnce(method, params, options: options, deadline: deadline, onEvent: onEvent)
                switch try Self.decode(line, as: Result.self) {
                case .success(let result):
                    return result
                case .failure(let error) where error.status == .unavailable && (options.idempotent || Self.refusedBeforeDispatch(error)):
                    failure = error
                case .failure(let error):
                    throw error
                }
            } catch AttemptFailure.notSent(let error) {
                failure = error
            } catch AttemptFailure.maybeExecuted(let error) {
                guard options.idempotent else { throw error }
                failure = error
            }
            let ceiling = min(CallOptions.retryCap.nanoseconds, CallOptions.retryBase.nanoseconds << min(attempt, 20))
            let pause = TimeAmount.nanoseconds(Int64.random(in: ceiling / 2...ceiling))
            guard NIODeadline.now() + pause < retryUntil else { throw failure }
            try await Task.sleep(nanoseconds: UInt64(pause.nanoseconds))
            attempt += 1
        }
    }

    /// Whether the server refused the call before any handler ran (it is draining):
    /// then retrying is safe for any call.
    static func refusedBeforeDispatch(_ error: RPCError) -> Bool {
        error.status == .unavailable && error.reason == "DRAINING"
    }

    private func attemptOnce<Params: Encodable & Sendable>(
        _ method: String, _ params: Params, options: CallOptions, deadline: NIODeadline, onEvent: (@Sendable (ByteBuffer) -> Void)?
    ) async throws -> ByteBuffer {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).oldValue
        let bytes = try encode(id: id, method: method, params: params, options: options, deadline: deadline)
        let slot = pickSlot()
        let channel: any Channel
        if let connected = activeChannel(slot) {
            channel = connected  // the common case: no hop to the event loop and back
        } else {
            do {
                channel = try await connect(slot).get()
            } catch {
                throw AttemptFailure.notSent(unreachable(error))
            }
        }
        let size = bytes.readableBytes
        guard slot.gauge.reserve(bytes: size) else { throw AttemptFailure.notSent(slot.gauge.full()) }
        let promise = channel.eventLoop.makePromise(of: ByteBuffer.self)
        let outbound = ClientOutbound.call(
            id: id, bytes: bytes, deadline: deadline, promise: promise, onEvent: onEvent)
        channel.writeAndFlush(outbound).whenFailure { error in
            // The handler never took it (the channel closed first): give its place back.
            slot.gauge.release(bytes: size)
            promise.fail(AttemptFailure.notSent(.unavailable("the request could not be written: \(error)", reason: "CONNECTION_LOST")))
        }
        return try await withTaskCancellationHandler {
            do {
                return try await promise.futureResult.get()
            } catch is CancellationError {
                throw RPCError.cancelled()
            }
        } onCancel: {
            channel.writeAndFlush(ClientOutbound.cancel(id: id), promise: nil)
        }
    }

    private func encode<Params: Encodable>(id: Int64?, method: String, params: Params, options: CallOptions, deadline: NIODeadline) throws -> ByteBuffer {
        // Params are merged with `_meta` into one object, so they must be an object.
        // Typed params are structs; only a JSONValue passed through can be anything else.
        if let value = params as? JSONValue, case .object = value {} else if params is JSONValue {
            throw RPCError.invalidParams(field: "params", "params must be a JSON object of named parameters")
        }
        let remaining = max(0, (deadline - .now()).nanoseconds / 1_000_000)
        let meta = RequestMeta(
            deadlineMs: remaining, traceparent: (options.trace?.child() ?? .random()).description, token: options.token ?? token)
        // The envelope is written by hand around the encoded params; params that
        // carry their own `_meta` (a pass-through JSONValue) are merged by the encoder.
        let encoder = JSONEncoder()
        if (params as? JSONValue)?["_meta"] == nil,
            let bytes = ClientWire.request(id: id, method: method, params: try Self.encodeParams(params, encoder), meta: meta)
        {
            return bytes
        }
        var bytes = ByteBuffer(data: try encoder.encode(OutgoingRequest(id: id, method: method, params: params, meta: meta)))
        bytes.writeInteger(UInt8(ascii: "\n"))
        return bytes
    }

    private static let emptyObject = Data("{}".utf8)

    /// The params' JSON object: `{}` for ``NoParams`` (health checks, lists) without an encoder pass.
    private static func encodeParams<Params: Encodable>(_ params: Params, _ encoder: JSONEncoder) throws -> Data {
        if params is NoParams { return emptyObject }
        return try WireJSON.encode(params, fallback: encoder)
    }

    /// The connection for a call: the one on the event loop the caller runs on, if
    /// any (the write then happens inline), else the next in turn.
    private func pickSlot() -> Slot {
        if slots.count == 1 { return slots[0] }
        if let here = slots.first(where: { $0.eventLoop.inEventLoop }) { return here }
        return slots[nextSlot.wrappingAdd(1, ordering: .relaxed).oldValue % slots.count]
    }

    /// The slot's connection, if it is up. Awaiting `connect(_:)`'s already-succeeded
    /// future would cost a round trip through the event loop on every call.
    private func activeChannel(_ slot: Slot) -> (any Channel)? {
        slot.state.withLock { state in
            if case .connected(let channel) = state, channel.isActive { return channel }
            return nil
        }
    }

    private func connect(_ slot: Slot) -> EventLoopFuture<any Channel> {
        let (future, started) = slot.state.withLock { state -> (EventLoopFuture<any Channel>, Bool) in
            switch state {
            case .connected(let channel) where channel.isActive:
                return (channel.eventLoop.makeSucceededFuture(channel), false)
            case .connecting(let future):
                return (future, false)
            case .closed:
                return (slot.eventLoop.makeFailedFuture(RPCError.unavailable("this client was closed", reason: "CLIENT_CLOSED")), false)
            case .idle, .connected:
                let gauge = slot.gauge
                let tls = self.tls
                let endpoint = self.endpoint
                let bootstrap = ClientBootstrap(group: slot.eventLoop)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            if let tls, case .tcp(let host, _) = endpoint {
                                // The server's certificate must name this host (a DNS name or an IP address).
                                let name = host.first?.isNumber == true || host.contains(":") ? nil : host
                                try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls.context, serverHostname: name))
                            }
                            try channel.pipeline.syncOperations.addHandler(
                                ByteToMessageHandler(LineFrameDecoder(maximumLineBytes: RPCLimits.clientMaximumLineBytes)))
                            try channel.pipeline.syncOperations.addHandler(RPCClientHandler(gauge: gauge))
                        }
                    }
                let future = switch endpoint {
                case .unix(let path): bootstrap.connect(unixDomainSocketPath: path)
                case .tcp(let host, let port): bootstrap.connect(host: host, port: port)
                }
                state = .connecting(future)
                return (future, true)
            }
        }
        // Outside the lock: a connect that fails at once (no socket) completes the future
        // on this very thread when the caller is on the slot's event loop.
        if started {
            future.whenComplete { result in
                slot.state.withLock { state in
                    guard case .connecting = state else { return }
                    state = (try? result.get()).map { .connected($0) } ?? .idle
                }
            }
        }
        return future
    }

    private func unreachable(_ error: any Error) -> RPCError {
        if let rpc = error as? RPCError { return rpc }
        let cause = (error as? IOError).map { String(cString: strerror($0.errnoCode)) } ?? "\(error)"
        return .unavailable(
            "cannot reach \(path): \(cause.lowercased()). Is the service running? Try `hitl health` or `scripts/stack status`.",
            reason: "UNREACHABLE")
    }

    private static func decode<Result: Decodable>(_ line: ByteBuffer, as type: Result.Type) throws -> Swift.Result<Result, RPCError> {
        let decoder = JSONDecoder()
        // The RPC core's own servers write a fixed envelope: decode only its payload.
        if let decoded = ClientWire.response(line, as: Result.self, decoder: decoder) { return decoded }
        let body: ResponseBody<Result>
        do {
            body = try decoder.decode(ResponseBody<Result>.self, from: line)
        } catch {
            throw RPCError(.internal, reason: "BAD_RESPONSE", "the response did not match the expected result: \(error)")
        }
        if let error = body.error { return .failure(error.rpcError) }
        guard let result = body.result else {
            throw RPCError(.internal, reason: "BAD_RESPONSE", "the response has neither result nor error")
        }
        return .success(result)
    }
}
