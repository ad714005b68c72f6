import NIOCore
import NIOPosix
import RPC

// The floor under the RPC core: SwiftNIO moving the same lines with no JSON at all.
// rpc-bench times it and rpc-count counts it beside the C pair and the RPC core, so
// the benchmark can say how much of a round trip is NIO's own channel machinery
// (which no change to this project can remove) and how much is ours (envelopes,
// dispatch, Codable).

/// Writes back every line it reads, with its newline; one flush per read burst.
/// The same framing as the RPC server (`LineFrameDecoder` with the same limit).
public final class FloorEchoHandler: ChannelInboundHandler {
    public init() {}

    public typealias InboundIn = InboundFrame
    public typealias OutboundOut = ByteBuffer

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .line(var line) = unwrapInboundIn(data) else {
            context.close(promise: nil)
            return
        }
        line.writeInteger(UInt8(ascii: "\n"))
        context.write(wrapOutboundOut(line), promise: nil)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }
}

/// Serves the floor on `path` until the process is killed.
public func serveFloor(_ path: String) async throws -> Never {
    let limit = RPCLimits.defaultMaximumLineBytes
    _ = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    ByteToMessageHandler(LineFrameDecoder(maximumLineBytes: limit), maximumBufferSize: limit + 65_536))
                try channel.pipeline.syncOperations.addHandler(FloorEchoHandler())
            }
        }
        .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true)
        .get()
    while true { try await Task.sleep(for: .seconds(3_600)) }
}

