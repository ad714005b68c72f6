import NIOCore
import NIOPosix
import RPC

/// A raw socket connection whose every incoming line goes to a tracker.
final class FuzzConnection: Sendable {
    let channel: any Channel
    let tracker: ConnectionTracker

    private init(channel: any Channel, tracker: ConnectionTracker) {
        self.channel = channel
        self.tracker = tracker
    }

    /// Connects to a service's socket.
    /// - Throws: when nothing listens there.
    static func open(_ path: String, tracker: ConnectionTracker) async throws -> FuzzConnection {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(LineFrameDecoder(maximumLineBytes: RPCLimits.clientMaximumLineBytes)))
                    try channel.pipeline.syncOperations.addHandler(TrackingHandler(tracker: tracker))
                }
            }
            .connect(unixDomainSocketPath: path).get()
        return FuzzConnection(channel: channel, tracker: tracker)
    }

    /// Writes bytes as they are, in one write.
    func write(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    func close() async {
        try? await channel.close()
    }
}

/// Hands each line to the tracker; notes when the service closes the connection.
final class TrackingHandler: ChannelInboundHandler {
    typealias InboundIn = InboundFrame
    private let tracker: ConnectionTracker

    init(tracker: ConnectionTracker) { self.tracker = tracker }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .line(let buffer): tracker.receive(Array(buffer.readableBytesView))
        case .oversize(let limit):
            tracker.state.withLock { $0.tally.violation("\(tracker.label): the service wrote a line over \(limit) bytes") }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        tracker.closedByPeer()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
