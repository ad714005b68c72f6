import NIOCore

/// One frame of newline-delimited JSON: a line, or the news that a line grew
/// past the limit (its bytes were discarded, not kept).
public enum InboundFrame: Sendable, Equatable {
    /// A line without its `\n` (and without a trailing `\r`), never empty.
    case line(ByteBuffer)
    /// A line exceeded `maximumLineBytes`; the rest of the stream is discarded.
    case oversize(limit: Int)
}

/// Splits a byte stream into lines with a hard size limit.
///
/// Several messages in one read and one message over many reads both work;
/// `\r\n` is accepted; blank lines are skipped. A line longer than the limit is
/// reported once as ``InboundFrame/oversize(limit:)`` and everything after it is
/// dropped, so memory never grows past the limit plus one read.
public struct LineFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = InboundFrame

    /// The longest line accepted, in bytes, not counting the newline.
    public let maximumLineBytes: Int
    /// How far the current partial line has been searched already, so a long
    /// line arriving in many reads is scanned once, not once per read.
    private var searched = 0
    private var overflowed = false

    /// - Parameter maximumLineBytes: the line limit (default 1 MiB).
    public init(maximumLineBytes: Int = RPCLimits.defaultMaximumLineBytes) {
        precondition(maximumLineBytes > 0, "a line limit must be positive")
        self.maximumLineBytes = maximumLineBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = nextFrame(&buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        if let frame = nextFrame(&buffer) {
            context.fireChannelRead(wrapInboundOut(frame))
            return .continue
        }
        // An unterminated last line at end of stream is still a line.
        if !overflowed, buffer.readableBytes > 0, let rest = buffer.readSlice(length: buffer.readableBytes) {
            searched = 0
            if let line = Self.trimmed(rest) { context.fireChannelRead(wrapInboundOut(.line(line))) }
        }
        return .needMoreData
    }

    /// The next complete frame in `buffer`, consuming it; nil when more bytes are needed.
    mutating func nextFrame(_ buffer: inout ByteBuffer) -> InboundFrame? {
        while true {
            if overflowed {
                buffer.moveReaderIndex(to: buffer.writerIndex)
                return nil
            }
            let view = buffer.readableBytesView
            guard let newline = view[(view.startIndex + searched)...].firstIndex(of: UInt8(ascii: "\n")) else {
                searched = view.count
                if view.count > maximumLineBytes { return overflow(&buffer) }
                return nil
            }
            let length = newline - view.startIndex
            searched = 0
            if length > maximumLineBytes { return overflow(&buffer) }
            let raw = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            if let line = Self.trimmed(raw) { return .line(line) }
            // A blank line: skip it and look for the next.
        }
    }

    private mutating func overflow(_ buffer: inout ByteBuffer) -> InboundFrame {
        overflowed = true
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .oversize(limit: maximumLineBytes)
    }

    /// Drops a trailing `\r`; nil for a line of only whitespace.
    private static func trimmed(_ line: ByteBuffer) -> ByteBuffer? {
        var line = line
        if line.readableBytesView.last == UInt8(ascii: "\r") { line.moveWriterIndex(to: line.writerIndex - 1) }
        let blank = line.readableBytesView.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
        return blank ? nil : line
    }
}

/// The limits of the RPC core. Each is a named constant with the reason for its value.
public enum RPCLimits {
    /// 1 MiB: large enough for any run document the services exchange (state-svc caps
    /// documents at 512 KiB), small enough that a thousand connections cannot exhaust memory.
    public static let defaultMaximumLineBytes = 1 << 20
    /// Responses can be bigger than requests (statements, histories); clients accept 16 MiB.
    public static let clientMaximumLineBytes = 16 << 20
    /// Calls in flight on one connection: beyond this, RESOURCE_EXHAUSTED. A pipelining
    /// client rarely needs more than its window; this stops one peer from starving the rest.
    public static let maximumInFlightPerConnection = 1024
    /// Calls one client connection has sent and not had answered: the server's own
    /// ``maximumInFlightPerConnection``, so the client never earns RESOURCE_EXHAUSTED for
    /// sending too many; more wait on the client, in order, for an answer to free a slot.
    public static let clientCallsInFlight = maximumInFlightPerConnection
    /// Calls one client connection holds unsent (no slot free, or the server not reading:
    /// nothing is written while the socket is not writable, so NIO's own buffer stays under
    /// its 64 KiB high watermark). Past this a call fails at once, UNAVAILABLE-like "not sent"
    /// (RESOURCE_EXHAUSTED/CLIENT_QUEUE_FULL), and is retried with backoff inside its deadline:
    /// a stalled peer costs the caller time, never unbounded memory.
    public static let clientQueuedCalls = 4096
    /// The bytes of the calls one client connection holds unsent: 64 MiB is sixty-four
    /// requests of the server's largest line, or thousands of ordinary ones. A call that
    /// finds the queue empty is always taken, whatever its size.
    public static let clientQueuedBytes = 64 << 20
    /// Entries in one batch: a batch is answered as one line, so it is bounded like one.
    public static let maximumBatchEntries = 1000
    /// A unary call without `deadline_ms` still ends: 60 s covers the slowest LLM call.
    public static let defaultUnaryTimeout: TimeAmount = .seconds(60)
    /// Graceful shutdown waits this long for calls in flight, then cancels them.
    public static let defaultDrainTimeout: TimeAmount = .seconds(10)
    /// Unix socket paths are limited by `sun_path` (108 bytes including the NUL).
    public static let maximumSocketPathBytes = 107
    /// Lines this long or longer are checked for their token (a byte scan) before any of
    /// them is decoded: decoding a megabyte of `\u` escapes costs the event loop about half
    /// a second, which no caller without a valid token may spend. Shorter lines decode in
    /// microseconds and keep their exact answers.
    public static let preAuthorizationThreshold = 16 << 10
    /// Unsent output one connection may have queued before the server stops reading from
    /// it (it resumes once the queue drains below ``outputLowWatermark``): a client that
    /// sends but does not read cannot grow the server's memory.
    public static let outputHighWatermark = 4 << 20
    /// Queued output below which a paused connection is read again.
    public static let outputLowWatermark = 1 << 20
    /// A connection whose output stays over the high watermark this long is closed: its
    /// reader is gone or stuck, and the memory is better spent elsewhere.
    public static let stalledOutputTimeout: TimeAmount = .seconds(30)
    /// The largest answer to one batch: a client reads lines of at most
    /// ``clientMaximumLineBytes``, so a longer answer could never be read; its entries past
    /// this answer RESOURCE_EXHAUSTED/RESPONSE_TOO_LARGE instead of their results.
    public static let maximumBatchResponseBytes = clientMaximumLineBytes
}
