import Foundation
import NIOCore
import NIOFoundationCompat

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

/// Matches responses to calls on one client connection; routes
/// `<service>.event` notifications to the call that asked for them.
final class RPCClientHandler: ChannelDuplexHandler {
    typealias InboundIn = InboundFrame
    typealias OutboundIn = ClientOutbound
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        let promise: EventLoopPromise<ByteBuffer>
        let onEvent: (@Sendable (ByteBuffer) -> Void)?
        let timer: Scheduled<Void>
    }

    /// The client stops waiting this long after the deadline, so the server's own
    /// DEADLINE_EXCEEDED answer normally arrives first.
    static let deadlineGrace: TimeAmount = .milliseconds(50)

    private var pending: [Int64: Pending] = [:]
    private let decoder = JSONDecoder()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .call(let id, let bytes, let deadline, let callPromise, let onEvent):
            let this = NIOLoopBound(self, eventLoop: context.eventLoop)
            let timer = context.eventLoop.scheduleTask(deadline: deadline + Self.deadlineGrace) {
                this.value.fail(id, RPCError.deadlineExceeded("no answer before the deadline"))
            }
            pending[id] = Pending(promise: callPromise, onEvent: onEvent, timer: timer)
            context.writeAndFlush(wrapOutboundOut(bytes), promise: promise)
        case .cancel(let id):
            guard pending[id] != nil else { return }
            fail(id, CancellationError())
            var line = context.channel.allocator.buffer(capacity: 64)
            line.writeString("{\"jsonrpc\":\"2.0\",\"method\":\"rpc.cancel\",\"params\":{\"id\":\(id)}}\n")
            context.writeAndFlush(wrapOutboundOut(line), promise: promise)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .oversize(let limit):
            failAll(AttemptFailure.maybeExecuted(.internalError("a response exceeded the client's \(limit)-byte line limit")))
            context.close(promise: nil)
        case .line(let line):
            route(line)
        }
    }

    private func route(_ line: ByteBuffer) {
        if let id = Self.responseID(in: line) {
            guard let call = pending.removeValue(forKey: id) else { return }
            call.timer.cancel()
            call.promise.succeed(line)
            return
        }
        guard let head = try? decoder.decode(IncomingHead.self, from: line) else { return }
        if head.method != nil {
            if let requestID = head.params?.requestID, case .int(let id) = requestID { pending[id]?.onEvent?(line) }
            return
        }
        guard case .int(let id)? = head.id, let call = pending.removeValue(forKey: id) else { return }
        call.timer.cancel()
        call.promise.succeed(line)
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
            var index = responsePrefix.count
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
            let rest = bytes[index...]
            guard rest.starts(with: resultKey) || rest.starts(with: errorKey) else { return nil }
            return value
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(AttemptFailure.maybeExecuted(.unavailable("the connection closed before the answer arrived", reason: "CONNECTION_LOST")))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func fail(_ id: Int64, _ error: any Error) {
        guard let call = pending.removeValue(forKey: id) else { return }
        call.timer.cancel()
        call.promise.fail(error)
    }

    private func failAll(_ error: any Error) {
        let calls = pending
        pending.removeAll()
        for (_, call) in calls {
            call.timer.cancel()
            call.promise.fail(error)
        }
    }
}
