import Foundation
import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import Testing
@testable import RPC

/// What a caller without a valid token can make the server spend, and what a caller
/// who does not read can make it hold: checked on an in-memory channel, by counting
/// the params a handler's type decodes and watching the channel's reads.
@Suite(.serialized)
struct BoundedResourcesTests {
    /// Params that count their decodes: a refused call must decode none.
    struct CountedParams: Decodable, Sendable {
        static let decodes = Atomic<Int>(0)
        let value: String

        init(from decoder: any Decoder) throws {
            Self.decodes.wrappingAdd(1, ordering: .relaxed)
            value = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .value)
        }

        enum CodingKeys: String, CodingKey { case value }
    }

    static let token = "operator-token"

    private func makeChannel(limit: Int = 2 << 20) throws -> EmbeddedChannel {
        var builder = RPCRouterBuilder(service: "t")
        builder.registerInline("t.echo", params: CountedParams.self) { params, _ in ["length": params.value.count] }
        builder.registerInline("t.big", params: NoParams.self, options: .init(access: .public)) { _, _ in
            ["text": String(repeating: "x", count: 64 << 10)]
        }
        let identities = IdentityRegistry(entries: [(IdentityRegistry.digest(of: Self.token), Identity(name: "operator", role: "operator"))])
        let core = ServerCore(
            router: builder.build(), identities: LiveIdentities(identities), state: ServerState(),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(LineFrameDecoder(maximumLineBytes: limit), maximumBufferSize: limit + 65_536))
        try channel.pipeline.syncOperations.addHandler(RPCServerHandler(core: core))
        try channel.connect(to: SocketAddress(unixDomainSocketPath: "/tmp/unused.sock")).wait()
        return channel
    }

    private func answers(_ channel: EmbeddedChannel) throws -> [JSONValue] {
        var lines: [JSONValue] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            lines.append(try JSONValue(parsing: String(buffer: buffer)))
        }
        return lines
    }

    /// A megabyte of `\u` escapes, in the params or in `_meta`, from a caller without a
    /// valid token: refused, and not one params object decoded.
    @Test(arguments: [
        #"{"jsonrpc":"2.0","id":1,"method":"t.echo","params":{"value":"ESCAPES"}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"t.echo","params":{"value":"ESCAPES","_meta":{"token":"forged"}}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"t.echo","params":{"_meta":{"x":"ESCAPES"},"value":"v"}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"t.ech\u006f","params":{"value":"ESCAPES"}}"#,
        #"[{"jsonrpc":"2.0","id":1,"method":"t.echo","params":{"value":"ESCAPES"}},{"jsonrpc":"2.0","id":2,"method":"t.echo","params":{"value":"x"}}]"#,
    ])
    func aLargeLineWithoutAValidTokenIsRefusedBeforeItsParamsAreDecoded(template: String) throws {
        let channel = try makeChannel()
        let escapes = String(repeating: #"\u0041\ud83d\ude00"#, count: 40_000)
        let line = template.replacingOccurrences(of: "ESCAPES", with: escapes)
        #expect(line.utf8.count > RPCLimits.preAuthorizationThreshold)
        let before = CountedParams.decodes.load(ordering: .relaxed)
        try channel.writeInbound(ByteBuffer(string: line + "\n"))
        let answer = try #require(try answers(channel).first)
        let first = answer.arrayValues?.first ?? answer
        #expect(["UNAUTHENTICATED", "UNKNOWN_TOKEN"].contains(first["error"]?["data"]?["reason"]?.stringValue ?? ""), "\(answer.jsonText().prefix(300))")
        #expect(first["id"] == 1)
        #expect(CountedParams.decodes.load(ordering: .relaxed) == before, "params were decoded for a caller who may not call")
    }

    /// The same line with a valid token is decoded and answered as always.
    @Test func aLargeLineWithAValidTokenIsServed() throws {
        let channel = try makeChannel()
        let value = String(repeating: #"\u0041"#, count: 40_000)
        let line = #"{"jsonrpc":"2.0","id":7,"method":"t.echo","params":{"value":"\#(value)","_meta":{"token":"\#(Self.token)"}}}"#
        try channel.writeInbound(ByteBuffer(string: line + "\n"))
        let answer = try #require(try answers(channel).first)
        #expect(answer["result"]?["length"] == 40_000)
    }

    /// A small line without a token is refused as before, without decoding its params either.
    @Test func aSmallLineWithoutATokenDecodesNothing() throws {
        let channel = try makeChannel()
        let before = CountedParams.decodes.load(ordering: .relaxed)
        try channel.writeInbound(ByteBuffer(string: #"{"jsonrpc":"2.0","id":3,"method":"t.echo","params":{"value":"hi"}}"# + "\n"))
        #expect(try answers(channel).first?["error"]?["data"]?["reason"] == "UNAUTHENTICATED")
        #expect(CountedParams.decodes.load(ordering: .relaxed) == before)
    }

    /// While the connection's unsent output is over the watermark, the server neither
    /// reads nor handles what it already read; once it drains, it goes on in order.
    @Test func aClientThatDoesNotReadIsNotReadFrom() throws {
        let channel = try makeChannel()
        let reads = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(reads, position: .first)
        channel.isWritable = false
        try channel.writeInbound(ByteBuffer(string: #"{"jsonrpc":"2.0","id":1,"method":"t.big"}"# + "\n" + #"{"jsonrpc":"2.0","id":2,"method":"t.big"}"# + "\n"))
        #expect(try answers(channel).isEmpty, "nothing is handled while the output waits")
        let before = reads.count
        channel.read()
        #expect(reads.count == before, "no read is passed on while the output waits")
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        let ids = try answers(channel).compactMap { $0["id"]?.intValue }
        #expect(ids == [1, 2], "handled in order once it drained")
        #expect(reads.count == before + 1, "the held read goes through")
    }

    /// A batch's answer stops growing at the limit: past it, entries say RESPONSE_TOO_LARGE.
    @Test func aBatchAnswerIsBounded() throws {
        let channel = try makeChannel()
        let entries = (1...300).map { #"{"jsonrpc":"2.0","id":\#($0),"method":"t.big"}"# }
        try channel.writeInbound(ByteBuffer(string: "[" + entries.joined(separator: ",") + "]\n"))
        let answer = try #require(try answers(channel).first?.arrayValues)
        #expect(answer.count == 300)
        let tooLarge = answer.filter { $0["error"]?["data"]?["reason"] == "RESPONSE_TOO_LARGE" }
        #expect(!tooLarge.isEmpty && tooLarge.count < 300)
        let bytes = answer.map { $0.jsonText().utf8.count }.reduce(0, +)
        #expect(bytes <= RPCLimits.maximumBatchResponseBytes + 300)
    }
}

/// Counts the reads that reach the head of the pipeline.
final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
    // @unchecked: used on the embedded channel's one thread only.
    typealias OutboundIn = Never
    private(set) var count = 0

    func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}
