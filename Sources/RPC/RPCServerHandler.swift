import Foundation
import Logging
import NIOCore
import NIOFoundationCompat

/// What every connection of one server shares. Immutable, except `state`,
/// which guards itself.
struct ServerCore: Sendable {
    let router: RPCRouter
    let identities: LiveIdentities?
    let state: ServerState
    let logger: Logger
    var eventMethod: String { "\(router.service).event" }
}

/// Serves JSON-RPC on one connection, on its event loop.
///
/// Inline handlers run right here; others run in a task whose result hops back
/// to the loop. Every call ends exactly once: with its result, its error, a
/// deadline, `rpc.cancel`, or the connection closing.
///
/// A client that sends but does not read is held back: once its unsent output passes
/// ``RPCLimits/outputHighWatermark`` the connection is not read from, and lines already
/// read wait, until the output drains; if it does not within
/// ``RPCLimits/stalledOutputTimeout``, the connection is closed.
final class RPCServerHandler: ChannelDuplexHandler {
    typealias InboundIn = InboundFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct InFlight {
        let id: RPCID?
        let finish: (Data?) -> Void
        var task: Task<Void, Never>?
        var timer: Scheduled<Void>?
    }

    private let core: ServerCore
    private let decoder: JSONDecoder
    private let encoder = ResponseEncoder()
    private var calls: [UInt64: InFlight] = [:]
    private var callsByID: [RPCID: UInt64] = [:]
    private var nextCall: UInt64 = 0
    private var context: ChannelHandlerContext?
    /// Lines read while the output was over the watermark, handled once it drains.
    private var waiting: [InboundFrame] = []
    /// A read the channel asked for while the output was over the watermark.
    private var readHeld = false
    /// Closes the connection if its output stays over the watermark.
    private var stallTimer: Scheduled<Void>?

    init(core: ServerCore) {
        self.core = core
        decoder = JSONDecoder()
        decoder.userInfo[.rpcRouter] = core.router
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelInactive(context: ChannelHandlerContext) {
        stallTimer?.cancel()
        waiting.removeAll()
        // Streams end and work stops when the caller goes away.
        for (_, call) in calls {
            call.task?.cancel()
            call.timer?.cancel()
            core.state.callEnded()
        }
        calls.removeAll()
        callsByID.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        core.logger.debug("connection error; closing it", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard context.channel.isWritable, waiting.isEmpty else {
            waiting.append(frame)
            return
        }
        handle(frame, context: context)
    }

    /// Holds reads while the output is over the watermark.
    func read(context: ChannelHandlerContext) {
        guard context.channel.isWritable, waiting.isEmpty else {
            readHeld = true
            return
        }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            stallTimer?.cancel()
            stallTimer = nil
            while context.channel.isWritable, !waiting.isEmpty {
                handle(waiting.removeFirst(), context: context)
            }
            if context.channel.isWritable, waiting.isEmpty, readHeld {
                readHeld = false
                context.read()
            }
        } else if stallTimer == nil {
            let loop = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            stallTimer = context.eventLoop.scheduleTask(in: RPCLimits.stalledOutputTimeout) {
                let (handler, context) = loop.value
                guard !context.channel.isWritable else { return }
                handler.core.logger.notice("closing a connection that read none of its output", metadata: [
                    "output.limit": "\(RPCLimits.outputHighWatermark)", "timeout": "\(RPCLimits.stalledOutputTimeout)",
                ])
                context.close(promise: nil)
            }
        }
        context.fireChannelWritabilityChanged()
    }

    private func handle(_ frame: InboundFrame, context: ChannelHandlerContext) {
        switch frame {
        case .oversize(let limit):
            let error = RPCError(
                code: JSONRPCCode.invalidRequest, status: .resourceExhausted, reason: "LINE_TOO_LONG",
                "a line exceeded the \(limit)-byte limit; the connection is closed. Send smaller requests.")
            core.logger.notice("line over the limit; closing the connection", metadata: ["limit": "\(limit)"])
            write(encoder.failure(id: .null, error: error))
            context.close(promise: nil)
        case .line(let line):
            handle(line)
        }
    }

    private func handle(_ line: ByteBuffer) {
        guard Self.isUTF8(line) else {
            write(encoder.failure(id: .null, error: .parseError("the line is not valid UTF-8; JSON text must be UTF-8")))
            return
        }
        // A large line whose callers may not call what they ask for is refused before
        // any of it is decoded.
        let refusal = { [self] (access: RPCAccess, token: String?) -> RPCError? in
            if case .failure(let error) = authorize(access, token: token) { return error }
            return nil
        }
        if let answer = PreAuthorization.answer(to: line, router: core.router, encoder: encoder, refusal: refusal) {
            if let answer { write(answer) }
            return
        }
        // The common request is read by hand, only its params through Codable (and only
        // for a caller who may call the method); anything unusual goes through the full
        // decoder below, as always.
        if let call = FastEnvelope.call(in: line, router: core.router, decoder: decoder, refusal: refusal) {
            return start(call) { [weak self] data in
                if let data { self?.write(data) }
            }
        }
        let message: IncomingMessage
        do {
            // Only a batch starts with `[`; anything else is decoded as one entry
            // directly, without first failing to open an array (a thrown error per call).
            if Self.firstByte(of: line) == UInt8(ascii: "[") {
                message = try decoder.decode(IncomingMessage.self, from: line)
            } else {
                message = .single(try decoder.decode(DecodedEntry.self, from: line).entry)
            }
        } catch is BatchTooLarge {
            write(encoder.failure(id: .null, error: .invalidRequest(
                "a batch holds at most \(RPCLimits.maximumBatchEntries) entries; split it", reason: "BATCH_TOO_LARGE")))
            return
        } catch {
            write(encoder.failure(id: .null, error: .parseError("the line is not valid JSON: \(Self.describe(error))")))
            return
        }
        switch message {
        case .single(let entry):
            dispatch(entry) { [weak self] data in
                if let data { self?.write(data) }
            }
        case .batch(let entries):
            guard !entries.isEmpty else {
                write(encoder.failure(id: .null, error: .invalidRequest("an empty batch is not a valid request", reason: "EMPTY_BATCH")))
                return
            }
            let ids = entries.map { entry -> RPCID in
                switch entry {
                case .call(let call): call.id ?? .null
                case .invalid(let id, _): id
                }
            }
            let batch = BatchCollector(ids: ids, encoder: encoder) { [weak self] data in self?.write(data) }
            for (index, entry) in entries.enumerated() {
                dispatch(entry) { data in batch.complete(index, data) }
            }
        }
    }

    private func write(_ data: Data) {
        guard let context else { return }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(data: data)), promise: nil)
    }

    /// Runs one entry; `finish` gets the encoded response (nil: nothing to send), once, on the loop.
    private func dispatch(_ entry: IncomingEntry, finish: @escaping (Data?) -> Void) {
        switch entry {
        case .invalid(let id, let error):
            core.logger.debug("invalid request", metadata: ["rpc.reason": "\(error.reason)"])
            finish(encoder.failure(id: id, error: error))
        case .call(let call):
            start(call, finish: finish)
        }
    }

    private func start(_ call: IncomingCall, finish: @escaping (Data?) -> Void) {
        let id = call.id ?? .null
        core.state.counted(call.method)
        let reply: (RPCError) -> Void = { [encoder] error in finish(call.isNotification ? nil : encoder.failure(id: id, error: error)) }
        guard let entry = call.entry else {  // no such method, or params/_meta unreadable
            if case .failure(let error) = call.params { reply(error) } else { reply(.methodNotFound(call.method)) }
            return
        }
        let trace = (call.meta.traceparent.flatMap(TraceContext.init(traceparent:)) ?? .random()).child()
        var logger = core.logger
        // One metadata write, not three: a StreamLogHandler re-renders all its
        // metadata on every write (the services log through ServiceKit's
        // LineLogHandler, which renders only when a line is written).
        logger.handler.metadata.merge(
            ["trace.id": "\(trace.traceID)", "rpc.method": "\(call.method)", "rpc.id": "\(id)"], uniquingKeysWith: { $1 })

        let identity: Identity?
        switch authorize(entry.options.access, token: call.meta.token) {
        case .success(let who): identity = who
        case .failure(let error):
            logger.notice("call refused", metadata: ["rpc.reason": "\(error.reason)"])
            return reply(error)
        }
        // Params are judged only for callers who may call the method: the others
        // learn nothing about its params.
        let params: any Sendable
        switch call.params {
        case .success(let decoded): params = decoded
        case .failure(let error): return reply(error)
        }
        if entry.options.access != .public, core.state.isDraining {
            return reply(.unavailable("the service is shutting down; retry against the restarted service", reason: "DRAINING"))
        }
        var deadline: NIODeadline?
        if let budget = call.meta.deadlineMs {
            guard budget > 0 else { return reply(.deadlineExceeded("deadline_ms is \(budget): no budget left, so the call was not started")) }
            deadline = .now() + .milliseconds(budget)
        } else if !entry.options.streaming {
            deadline = .now() + entry.options.defaultTimeout
        }
        let sink = entry.options.streaming ? EventSink(channel: context!.channel, eventMethod: core.eventMethod, logger: logger) : nil
        let rpcContext = RPCContext(
            method: call.method, id: call.id, identity: identity, trace: trace, deadline: deadline, logger: logger, sink: sink)

        if call.method == BuiltinMethods.cancel, let target = params as? CancelParams {
            let cancelled = cancel(target.id)  // a notification cancels too (clients send it that way)
            return finish(call.isNotification ? nil : respond(id: id, result: CancelResult(cancelled: cancelled)))
        }
        switch entry.body {
        case .sync(let body):
            do {
                let result = try body(params, rpcContext)
                finish(call.isNotification ? nil : respond(id: id, result: result))
            } catch {
                reply(Self.wireError(error, logger: logger))
            }
        case .async(let body):
            guard calls.count < RPCLimits.maximumInFlightPerConnection else {
                return reply(RPCError(
                    .resourceExhausted, reason: "TOO_MANY_IN_FLIGHT",
                    "this connection already has \(RPCLimits.maximumInFlightPerConnection) calls in flight; wait for some to finish"))
            }
            launch(call, id: id, params: params, context: rpcContext, body: body, finish: finish)
        }
    }

    private func launch(
        _ call: IncomingCall, id: RPCID, params: any Sendable, context rpcContext: RPCContext,
        body: @escaping @Sendable (any Sendable, RPCContext) async throws -> any Encodable & Sendable,
        finish: @escaping (Data?) -> Void
    ) {
        let eventLoop = context!.eventLoop
        let key = nextCall
        nextCall += 1
        calls[key] = InFlight(id: call.id, finish: finish)
        if let requestID = call.id { callsByID[requestID] = key }
        core.state.callStarted()
        let this = NIOLoopBound(self, eventLoop: eventLoop)
        let quiet = call.isNotification
        let task = Task {
            let data = await CallRunner.run(body, params: params, context: rpcContext, id: id, quiet: quiet)
            eventLoop.execute { this.value.complete(key, data) }
        }
        calls[key]?.task = task
        if let deadline = rpcContext.deadline {
            calls[key]?.timer = eventLoop.scheduleTask(deadline: deadline) {
                this.value.abort(key, .deadlineExceeded())
            }
        }
    }

    private func complete(_ key: UInt64, _ data: Data?) {
        guard let call = calls.removeValue(forKey: key) else { return }  // already aborted
        call.timer?.cancel()
        if let id = call.id, callsByID[id] == key { callsByID[id] = nil }
        core.state.callEnded()
        call.finish(data)
    }

    private func abort(_ key: UInt64, _ error: RPCError) {
        guard let call = calls[key] else { return }
        call.task?.cancel()
        complete(key, call.id.map { encoder.failure(id: $0, error: error) })
    }

    /// Cancels the call with this id on this connection; false if none is in flight.
    private func cancel(_ id: RPCID) -> Bool {
        guard let key = callsByID[id] else { return false }
        abort(key, .cancelled("cancelled by rpc.cancel"))
        return true
    }

    private func respond(id: RPCID, result: any Encodable) -> Data {
        do {
            return try encoder.success(id: id, result: result)
        } catch {
            core.logger.error("result could not be encoded", metadata: ["error": "\(error)"])
            return encoder.failure(id: id, error: .internalError())
        }
    }

    private func authorize(_ access: RPCAccess, token: String?) -> Result<Identity?, RPCError> {
        let identity = token.flatMap { core.identities?.identify(token: $0) }
        switch access {
        case .public:
            return .success(identity)
        case .authenticated, .roles:
            guard let token, !token.isEmpty else {
                return .failure(RPCError(.unauthenticated, reason: "UNAUTHENTICATED",
                    "this method needs a token in params._meta.token (hitl sends the one chosen with --as)"))
            }
            guard let identity else {
                return .failure(RPCError(.unauthenticated, reason: "UNKNOWN_TOKEN",
                    "the token in params._meta.token is not known to this service; use a token from the run directory"))
            }
            if case .roles(let roles) = access, !roles.contains(identity.role) {
                return .failure(RPCError(.permissionDenied, reason: "ROLE_NOT_ALLOWED",
                    "\(identity.name) has role '\(identity.role)'; this method needs one of: \(roles.sorted().joined(separator: ", "))",
                    details: ["identity": .string(identity.name), "role": .string(identity.role)]))
            }
            return .success(identity)
        }
    }

    /// The wire form of anything a handler throws; unknown errors are logged, never sent.
    static func wireError(_ error: any Error, logger: Logger) -> RPCError {
        if let convertible = error as? RPCErrorConvertible { return convertible.rpcError }
        if error is CancellationError { return .cancelled() }
        logger.error("handler failed with an unexpected error", metadata: ["error": "\(error)"])
        return .internalError()
    }

    /// JSON text is UTF-8 (RFC 8259, section 8.1). Foundation checks only the strings
    /// a type decodes, so bad bytes in an ignored field would otherwise pass.
    static func isUTF8(_ line: ByteBuffer) -> Bool {
        line.withUnsafeReadableBytes { bytes in
            bytes.allSatisfy { $0 < 0x80 } || String(validating: bytes, as: UTF8.self) != nil
        }
    }

    /// The first byte that is not JSON whitespace.
    private static func firstByte(of line: ByteBuffer) -> UInt8? {
        line.readableBytesView.first { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
    }

    private static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return (context.underlyingError.map { "\($0)" } ?? context.debugDescription)
        }
        return "\(error)"
    }
}
