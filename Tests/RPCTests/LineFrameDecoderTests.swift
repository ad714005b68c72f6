import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing
@testable import RPC

struct LineFrameDecoderTests {
    private func line(_ text: String) -> InboundFrame { .line(ByteBuffer(string: text)) }

    /// A decoder inside the same handler the server uses, buffer bound included.
    private func channel(limit: Int) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(LineFrameDecoder(maximumLineBytes: limit), maximumBufferSize: limit + 65_536))
        return channel
    }

    private func readAll(_ channel: EmbeddedChannel) throws -> [InboundFrame] {
        var frames: [InboundFrame] = []
        while let frame = try channel.readInbound(as: InboundFrame.self) { frames.append(frame) }
        return frames
    }

    @Test func everyChunkingYieldsTheSameLines() throws {
        let input = ByteBuffer(string: "{\"a\":1}\n\r\n\n{\"b\":2}\r\n  \n{\"c\":3}\n")
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [(input, [line("{\"a\":1}"), line("{\"b\":2}"), line("{\"c\":3}")])],
            decoderFactory: { LineFrameDecoder(maximumLineBytes: 64) })
    }

    @Test(arguments: [
        // LF, CRLF, a blank line, a line of spaces and tabs, a lone CR line: only real lines come out.
        ("{\"x\":1}\n", ["{\"x\":1}"]),
        ("{\"x\":1}\r\n", ["{\"x\":1}"]),
        ("\n", []),
        ("\r\n", []),
        (" \t \r\n", []),
        ("a\n\nb\r\n\r\nc\n", ["a", "b", "c"]),
        ("  {\"indented\":true}\n", ["  {\"indented\":true}"]),
        ("with\rinner\rCR\n", ["with\rinner\rCR"]),
    ])
    func linesBlankLinesAndCRLF(input: String, expected: [String]) throws {
        try ByteToMessageDecoderVerifier.verifyDecoder(
            stringInputOutputPairs: [(input, expected.map(line))],
            decoderFactory: { LineFrameDecoder(maximumLineBytes: 64) })
    }

    /// Every way of cutting the input into two or three chunks gives the same lines,
    /// on top of the verifier's byte-by-byte and all-at-once feeds.
    @Test func everyTwoAndThreeChunkSplit() throws {
        let text = "{\"id\":1}\r\n\n{\"id\":22}\n  \n{\"id\":333}\n"
        let bytes = Array(text.utf8)
        let expected = [line("{\"id\":1}"), line("{\"id\":22}"), line("{\"id\":333}")]
        for first in 0...bytes.count {
            for second in first...bytes.count {
                let channel = try channel(limit: 64)
                for chunk in [bytes[..<first], bytes[first..<second], bytes[second...]] where !chunk.isEmpty {
                    try channel.writeInbound(ByteBuffer(bytes: chunk))
                }
                #expect(try readAll(channel) == expected, "split at \(first) and \(second)")
                _ = try channel.finish()
            }
        }
    }

    @Test func aLineExactlyAtTheLimitIsAccepted() throws {
        let limit = 32
        let exact = String(repeating: "x", count: limit)
        try ByteToMessageDecoderVerifier.verifyDecoder(
            stringInputOutputPairs: [(exact + "\n", [line(exact)]), (exact + "\n", [line(exact)])],
            decoderFactory: { LineFrameDecoder(maximumLineBytes: limit) })
    }

    @Test(arguments: [false, true])
    func aLineOneByteOverTheLimitIsOversize(terminated: Bool) throws {
        let limit = 32
        let channel = try channel(limit: limit)
        let over = String(repeating: "x", count: limit + 1) + (terminated ? "\n" : "")
        try channel.writeInbound(ByteBuffer(string: over))
        #expect(try readAll(channel) == [.oversize(limit: limit)])
        _ = try channel.finish()
    }

    /// A CR before the LF is part of the line until the LF shows it was a CRLF, so it
    /// counts toward the limit: with CRLF the longest line is one byte shorter.
    @Test func theCarriageReturnCountsTowardTheLimit() throws {
        let limit = 32
        let channel = try channel(limit: limit)
        try channel.writeInbound(ByteBuffer(string: String(repeating: "x", count: limit - 1) + "\r\n"))
        try channel.writeInbound(ByteBuffer(string: String(repeating: "y", count: limit) + "\r\n"))
        #expect(try readAll(channel) == [line(String(repeating: "x", count: limit - 1)), .oversize(limit: limit)])
        _ = try channel.finish()
    }

    @Test func oversizeIsReportedOnceAndLaterBytesAreDropped() throws {
        let limit = 1024
        let channel = try channel(limit: limit)
        try channel.writeInbound(ByteBuffer(string: "{\"before\":1}\n"))
        try channel.writeInbound(ByteBuffer(repeating: UInt8(ascii: "x"), count: limit + 100))
        try channel.writeInbound(ByteBuffer(string: "\n{\"after\":1}\n"))
        #expect(try readAll(channel) == [line("{\"before\":1}"), .oversize(limit: limit)])
        _ = try channel.finish()
    }

    /// After an oversize line, 10 MiB more in 64 KiB reads never accumulate: the
    /// handler's own bound (limit + 64 KiB) would throw if the buffer grew.
    @Test func memoryStaysBoundedAfterOversize() throws {
        let limit = 4096
        let channel = try channel(limit: limit)
        try channel.writeInbound(ByteBuffer(repeating: UInt8(ascii: "x"), count: limit + 1))
        let chunk = ByteBuffer(repeating: UInt8(ascii: "y"), count: 64 << 10)
        for _ in 0..<(10 << 20) / chunk.readableBytes {
            try channel.writeInbound(chunk)
            try channel.writeInbound(ByteBuffer(string: "\n{\"ignored\":true}\n"))
        }
        #expect(try readAll(channel) == [.oversize(limit: limit)])
        _ = try channel.finish()
    }

    /// The same, looking at the decoder's buffer directly: nothing stays readable.
    @Test func theDecoderConsumesEverythingAfterOversize() {
        var decoder = LineFrameDecoder(maximumLineBytes: 16)
        var buffer = ByteBuffer(repeating: UInt8(ascii: "x"), count: 17)
        #expect(decoder.nextFrame(&buffer) == .oversize(limit: 16))
        #expect(buffer.readableBytes == 0)
        for _ in 0..<1000 {
            buffer.writeRepeatingByte(UInt8(ascii: "z"), count: 10 << 10)
            buffer.writeString("\n")
            #expect(decoder.nextFrame(&buffer) == nil)
            #expect(buffer.readableBytes == 0)
            buffer.discardReadBytes()
        }
        #expect(buffer.capacity < 64 << 10)
    }

    @Test func anUnterminatedLastLineIsDeliveredAtEOF() throws {
        let channel = try channel(limit: 64)
        try channel.writeInbound(ByteBuffer(string: "{\"a\":1}\n{\"last\":true}"))
        #expect(try readAll(channel) == [line("{\"a\":1}")])
        _ = try channel.finish()  // end of stream: decodeLast runs
        #expect(try readAll(channel) == [line("{\"last\":true}")])
    }

    @Test(arguments: ["", "   ", "\r", " \t\r"])
    func anUnterminatedBlankTailIsNotALine(tail: String) throws {
        let channel = try channel(limit: 64)
        try channel.writeInbound(ByteBuffer(string: "{\"a\":1}\n" + tail))
        _ = try channel.finish()
        #expect(try readAll(channel) == [line("{\"a\":1}")])
    }

    @Test func nothingIsDeliveredAtEOFAfterOversize() throws {
        let channel = try channel(limit: 16)
        try channel.writeInbound(ByteBuffer(repeating: UInt8(ascii: "x"), count: 17))
        try channel.writeInbound(ByteBuffer(string: "tail"))
        _ = try channel.finish()
        #expect(try readAll(channel) == [.oversize(limit: 16)])
    }
}
