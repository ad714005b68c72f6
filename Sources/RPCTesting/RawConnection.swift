import Foundation
import NIOCore
import NIOPosix
import RPC
import Synchronization

/// A raw connection to a socket for black-box tests: write exact bytes, read
/// whole lines back. Nothing is added or checked on the way.
public final class RawConnection: Sendable {
    private let channel: any Channel
    private let inbox: LineInbox

    private init(channel: any Channel, inbox: LineInbox) {
        self.channel = channel
        self.inbox = inbox
    }

    /// Connects to a Unix socket.
    /// - Parameter path: the socket.
    /// - Throws: when nothing listens there.
    public static func connect(_ path: String) async throws -> RawConnection {
        let inbox = LineInbox()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(LineFrameDecoder(maximumLineBytes: RPCLimits.clientMaximumLineBytes)))
                    try channel.pipeline.syncOperations.addHandler(LineCollector(inbox: inbox))
                }
            }
            .connect(unixDomainSocketPath: path).get()
        return RawConnection(channel: channel, inbox: inbox)
    }

    /// Writes bytes exactly as given.
    /// - Parameter text: the bytes, as a string.
    public func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    /// Writes bytes exactly as given.
    /// - Parameter bytes: the bytes.
    public func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// The next line from the server, or nil when the connection closed or
    /// nothing arrived within `timeout`.
    /// - Parameter timeout: how long to wait.
    public func readLine(timeout: Duration = .seconds(5)) async throws -> String? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let (line, closed) = inbox.state.withLock { state -> (String?, Bool) in
                state.lines.isEmpty ? (nil, state.closed) : (state.lines.removeFirst(), false)
            }
            if let line { return line }
            if closed || clock.now >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// The next line parsed as JSON; nil on close or timeout.
    /// - Parameter timeout: how long to wait.
    public func readJSON(timeout: Duration = .seconds(5)) async throws -> JSONValue? {
        guard let line = try await readLine(timeout: timeout) else { return nil }
        return try JSONValue(parsing: line)
    }

    /// Sends one line and returns the parsed answer.
    /// - Parameters:
    ///   - line: a request without its newline.
    ///   - timeout: how long to wait.
    public func roundTrip(_ line: String, timeout: Duration = .seconds(5)) async throws -> JSONValue? {
        try await send(line + "\n")
        return try await readJSON(timeout: timeout)
    }

    /// True once the server closed the connection (waits up to `timeout`).
    public func isClosedByPeer(timeout: Duration = .seconds(5)) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if inbox.state.withLock({ $0.closed }) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return inbox.state.withLock { $0.closed }
    }

    /// Closes the connection.
    public func close() async {
        try? await channel.close()
    }
}

/// Lines received on a raw connection, and whether it closed.
final class LineInbox: Sendable {
    struct Received {
        var lines: [String] = []
        var closed = false
    }
    let state = Mutex(Received())
}

/// Puts every line into the inbox; marks it closed when the peer goes away.
final class LineCollector: ChannelInboundHandler {
    typealias InboundIn = InboundFrame
    private let inbox: LineInbox

    init(inbox: LineInbox) { self.inbox = inbox }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .line(let buffer) = unwrapInboundIn(data) {
            let line = String(buffer: buffer)
            inbox.state.withLock { $0.lines.append(line) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbox.state.withLock { $0.closed = true }
        context.fireChannelInactive()
    }
}
