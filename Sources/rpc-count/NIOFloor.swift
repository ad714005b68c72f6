import NIOCore
import NIOPosix
import RPC
import RPCTesting

// The client half of the NIO floor (the server half is RPCTesting's FloorEchoServer):
// SwiftNIO's client moving the same lines with no JSON, counted beside RPCClient.

/// The client side of the floor: one line out, a promise completed by the answer line.
/// Only one call is ever outstanding (the counted client is sequential).
final class FloorClientHandler: ChannelDuplexHandler {
    typealias InboundIn = InboundFrame
    typealias OutboundIn = (ByteBuffer, EventLoopPromise<ByteBuffer>)
    typealias OutboundOut = ByteBuffer

    private var waiting: EventLoopPromise<ByteBuffer>?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let (line, answer) = unwrapOutboundIn(data)
        waiting = answer
        context.writeAndFlush(wrapOutboundOut(line), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .line(let line) = unwrapInboundIn(data), let answer = waiting else { return }
        waiting = nil
        answer.succeed(line)
    }
}

/// `count` sequential round trips of `line` over one NIO channel to `path`, each awaited
/// as an RPC caller awaits (`EventLoopFuture.get()` from a task on the event loops).
func floorRoundTrips(_ line: String, socket path: String, count: Int64) async throws {
    let limit = RPCLimits.defaultMaximumLineBytes
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    ByteToMessageHandler(LineFrameDecoder(maximumLineBytes: limit), maximumBufferSize: limit + 65_536))
                try channel.pipeline.syncOperations.addHandler(FloorClientHandler())
            }
        }
        .connect(unixDomainSocketPath: path)
        .get()
    let request = ByteBuffer(string: line)
    for _ in 0..<count {
        let answer = channel.eventLoop.makePromise(of: ByteBuffer.self)
        channel.write((request, answer), promise: nil)
        _ = try await answer.futureResult.get()
    }
    try await channel.close()
}
