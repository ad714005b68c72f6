import NIOCore
import NIOTestUtils
import Testing
@testable import RPC

struct LineFrameDecoderTests {
    private func line(_ text: String) -> InboundFrame { .line(ByteBuffer(string: text)) }

    @Test func everyChunkingYieldsTheSameLines() throws {
        let input = ByteBuffer(string: "{\"a\":1}\n\r\n\n{\"b\":2}\r\n  \n{\"c\":3}\n")
        try ByteToMessageDecoderVerifier.verifyDecoder(
            inputOutputPairs: [(input, [line("{\"a\":1}"), line("{\"b\":2}"), line("{\"c\":3}")])],
            decoderFactory: { LineFrameDecoder(maximumLineBytes: 64) })
    }
}
