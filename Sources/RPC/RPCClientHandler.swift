import Foundation
import NIOCore
import NIOFoundationCompat
import Synchronization

/// What the client asks its connection to do.
enum ClientOutbound: Sendable {
    /// Send a request and complete `promise` with the response line.
    case call(id: Int64, bytes: ByteBuffer, deadline: NIODeadline, promise: EventLoopPromise<ByteBuffer>, onEvent: (@Sendable (ByteBuffer) -> Void)?)
    /// Stop waiting for a call and ask the server to cancel it.
    case cancel(id: Int64)
}

/// Why an attempt failed, which decides whether retrying is safe.
enum AttemptFailure: Error {
    /// The request never reached the server.
    case notSent(RPCError)
    /// The connection dropped after the request was written: it may have run.
    case maybeExecuted(RPCError)
}

/// How many calls one connection has sent and not had answered, and how many (and
/// how many bytes) wait to be written. A caller reserves its place before it hands its
/// request to the event loop (``reserve(bytes:)``), so requests pile up nowhere unbounded,
/// not even in the event loop's task queue; the handler releases it when the request is
/// written or dropped. Read by ``RPCClient/callsInFlight``.
final class CallGauge: Sendable {
    let sent = Atomic<Int>(0)
    let queued = Atomic<Int>(0)
    let queuedBytes = Atomic<Int>(0)
    private let limits: (calls: Int, bytes: Int)

    init(calls: Int = RPCLimits.clientQueuedCalls, bytes: Int = RPCLimits.clientQueuedBytes) {
        limits = (calls, bytes)
    }

    /// Takes a place in the queue for a request of `bytes`; false when the queue is full
    /// (a request finding it empty is always taken, whatever its size).
    func reserve(bytes: Int) -> Bool {
        let calls = queued.wrappingAdd(1, ordering: .relaxed).newValue
        let total = queuedBytes.wrappingAdd(bytes, ordering: .relaxed).newValue
        if calls == 1 || (calls <= limits.calls && total <= limits.bytes) { return true }
        release(bytes: bytes)
        return false
    }

    /// Gives back a place taken by ``reserve(bytes:)``.
    func release(bytes: Int) {
        queued.subtract(1, ordering: .relaxed)
        queuedBytes.subtract(bytes, ordering: .relaxed)
    }

    /// The error of a call that found the queue full: not sent, so retried with backoff.
    func full() -> RPCError {
        RPCError(.resourceExhausted, reason: "CLIENT_QUEUE_FULL",
            "\(queued.load(ordering: .relaxed)) calls (\(queuedBytes.load(ordering: .relaxed)) bytes) already wait to be sent on this connection: the service is slow to answer or to read; try again later")
    }
}

/// Matches responses to calls on one client connection; routes
/// `<service>.event` notifications to the call that asked for them.
///
/// Many callers share the connection. At most ``RPCLimits/clientCallsInFlight`` of
/// its calls are sent and unanswered at once (the server refuses more), and nothing
/// is written while the socket is not writable (a server that does not read): the
/// rest wait here, in order, up to ``RPCLimits/clientQueuedCalls`` calls and
/// ``RPCLimits/clientQueuedBytes`` bytes; past that a call
/// fails at once, not sent, so the client's memory stays bounded whatever the peer does.
/// Writes made in one event-loop tick go out with one flush.
final class RPCClientHandler: ChannelDuplexHandler {
    typealias InboundIn = InboundFrame
    typealias OutboundIn = ClientOutbound
    typealias OutboundOut = ByteBuffer

    private struct Call {
        let promise: EventLoopPromise<ByteBuffer>
        let onEvent: (@Sendable (ByteBuffer) -> Void)?
        let timer: Scheduled<Void>
        /// The request, until it is written.
        var unsent: ByteBuffer?
    }

    /// The client stops waiting this long after the deadline, so the server's own
    /// DEADLINE_EXCEEDED answer normally arrives first.
    static let deadlineGrace: TimeAmount = .milliseconds(50)

    private var calls: [Int64: Call] = [:]
    /// Ids of calls not written yet, oldest first (a cancelled one is skipped when reached).
    private var queue = CircularBuffer<Int64>(initialCapacity: 16)
    private var sentCount = 0
    private let inFlightLimit: Int
    private let gauge: CallGauge
    private let decoder = JSONDecoder()

    init(gauge: CallGauge, inFlight: Int = RPCLimits.clientCallsInFlight) {
        self.gauge = gauge
        self.inFlightLimit = inFlight
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .call(let id, let bytes, let deadline, let callPromise, let onEvent):
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            let timer = context.eventLoop.scheduleTask(deadline: deadline + Self.deadlineGrace) {
                bound.value.handler.fail(id, RPCError.deadlineExceeded("no answer before the deadline"), context: bound.value.context)
            }
            // The caller reserved this call's place in the gauge before writing it here.
            calls[id] = Call(promise: callPromise, onEvent: onEvent, timer: timer, unsent: bytes)
            queue.append(id)
            promise?.succeed()
            sendQueued(context: context)
        case .cancel(let id):
            guard let call = calls[id] else { return }
            fail(id, CancellationError(), context: context)
            if call.unsent == nil {  // the server has it: ask it to stop
                var line = context.channel.allocator.buffer(capacity: 64)
                line.writeString("{\"jsonrpc\":\"2.0\",\"method\":\"rpc.cancel\",\"params\":{\"id\":\(id)}}\n")
                context.writeAndFlush(wrapOutboundOut(line), promise: promise)
            } else {
                promise?.succeed()
            }
        }
    }

    /// Writes waiting calls while there is room in flight and the socket takes them, then flushes once.
    private func sendQueued(context: ChannelHandlerContext) {
        var wrote = false
        while sentCount < inFlightLimit, context.channel.isWritable, let id = queue.popFirst() {
            guard let bytes = calls[id]?.unsent else { continue }  // cancelled or timed out while waiting
            calls[id]?.unsent = nil
            sentCount += 1
            gauge.release(bytes: bytes.readableBytes)
            gauge.sent.add(1, ordering: .relaxed)
            context.write(wrapOutboundOut(bytes), promise: nil)
            wrote = true
        }
        if wrote { context.flush() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { sendQueued(context: context) }
        context.fireChannelWritabilityChanged()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .oversize(let limit):
            failAll(.internalError("a response exceeded the client's \(limit)-byte line limit"))
            context.close(promise: nil)
        case .line(let line):
            route(line, context: context)
        }
    }

    private func route(_ line: ByteBuffer, context: ChannelHandlerContext) {
        if let id = Self.responseID(in: line) {
            answer(id, line, context: context)
            return
        }
        if let requestID = line.withUnsafeReadableBytes(EventLine.requestID(in:)) {
            calls[requestID]?.onEvent?(line)
            return
        }
        guard let head = try? decoder.decode(IncomingHead.self, from: line) else { return }
        if head.method != nil {
            if let requestID = head.params?.requestID, case .int(let id) = requestID { calls[id]?.onEvent?(line) }
            return
        }
        guard case .int(let id)? = head.id else { return }
        answer(id, line, context: context)
    }

    private func answer(_ id: Int64, _ line: ByteBuffer, context: ChannelHandlerContext) {
        guard let call = remove(id) else { return }
        call.timer.cancel()
        call.promise.succeed(line)
        sendQueued(context: context)
    }

    /// Forgets a call, keeping the counts true. Nil when it is not (or no longer) here.
    private func remove(_ id: Int64) -> Call? {
        guard let call = calls.removeValue(forKey: id) else { return nil }
        if let unsent = call.unsent {
            gauge.release(bytes: unsent.readableBytes)
        } else {
            sentCount -= 1
            gauge.sent.subtract(1, ordering: .relaxed)
        }
        return call
    }

    private static let responsePrefix = Array(#"{"jsonrpc":"2.0","id":"#.utf8)
    private static let resultKey = Array(#","result":"#.utf8)
    private static let errorKey = Array(#","error":"#.utf8)

    /// The id of a response in the form the RPC core's servers write,
    /// `{"jsonrpc":"2.0","id":<integer>,"result":…` or `…,"error":…`, read from
    /// the bytes. The caller decodes the line into its own type anyway, so this
    /// saves a second full JSON parse per call. Anything else gives nil and is
    /// routed by a full decode, as before.
    static func responseID(in line: ByteBuffer) -> Int64? {
        line.withUnsafeReadableBytes { bytes -> Int64? in
            guard bytes.starts(with: responsePrefix) else { return nil }
            guard let (value, index) = EventLine.readNonNegativeInteger(bytes, at: responsePrefix.count) else { return nil }
            let rest = bytes[index...]
            guard rest.starts(with: resultKey) || rest.starts(with: errorKey) else { return nil }
            return value
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func fail(_ id: Int64, _ error: any Error, context: ChannelHandlerContext) {
        guard let call = remove(id) else { return }
        call.timer.cancel()
        call.promise.fail(error)
        sendQueued(context: context)
    }

    /// Fails every call: with `error`, or (nil) as the connection's loss: a call not yet
    /// written was not delivered (UNAVAILABLE, safe to retry); one written may have run
    /// (ABORTED: retried only when idempotent), as DESIGN's retry rule says.
    private func failAll(_ error: RPCError?) {
        let all = calls
        calls.removeAll()
        queue.removeAll()
        gauge.sent.subtract(sentCount, ordering: .relaxed)
        sentCount = 0
        for (_, call) in all {
            if let unsent = call.unsent { gauge.release(bytes: unsent.readableBytes) }
            call.timer.cancel()
            if let error {
                call.promise.fail(AttemptFailure.maybeExecuted(error))
            } else if call.unsent != nil {
                call.promise.fail(AttemptFailure.notSent(.unavailable("the connection closed before the request was sent", reason: "CONNECTION_LOST")))
            } else {
                call.promise.fail(AttemptFailure.maybeExecuted(RPCError(.aborted, reason: "CONNECTION_LOST",
                    "the connection closed after the request was sent, before its answer: it may have run; check before repeating it")))
            }
        }
    }
}
