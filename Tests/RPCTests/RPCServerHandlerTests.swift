import Foundation
import Logging
import NIOCore
import NIOEmbedded
import Testing
@testable import RPC

/// The connection handler on an in-memory channel: dispatch, batches,
/// notifications, access, deadlines and bad input, without a socket.
/// Only inline methods are used, so every answer is written synchronously.
struct RPCServerHandlerTests {
    struct AddParams: Codable, Sendable {
        let a: Int64
        let b: Int64
    }
    struct Boom: Error {}

    static let operatorToken = "operator-token"
    static let agentToken = "agent-token"

    private func makeChannel(limit: Int = 4096) throws -> EmbeddedChannel {
        var builder = RPCRouterBuilder(service: "t")
        builder.registerInline("t.add", params: AddParams.self) { params, _ in ["sum": params.a + params.b] }
        builder.registerInline("t.public", params: NoParams.self, options: .init(access: .public)) { _, _ in ["ok": true] }
        builder.registerInline("t.operator", params: AddParams.self, options: .init(access: .roles(["operator"]))) { _, _ in ["ok": true] }
        builder.registerInline("t.boom", params: NoParams.self, options: .init(access: .public)) { _, _ -> Bool in throw Boom() }
        builder.registerInline(BuiltinMethods.cancel, params: CancelParams.self, options: .init(access: .public)) { _, _ -> CancelResult in
            throw RPCError.internalError("placeholder")
        }
        let identities = IdentityRegistry(entries: [
            (IdentityRegistry.digest(of: Self.operatorToken), Identity(name: "operator", role: "operator")),
            (IdentityRegistry.digest(of: Self.agentToken), Identity(name: "agent", role: "agent")),
        ])
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

    /// Sends text, returns every line written back.
    private func exchange(_ channel: EmbeddedChannel, _ text: String) throws -> [String] {
        try channel.writeInbound(ByteBuffer(string: text))
        var lines: [String] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            let text = String(buffer: buffer)
            #expect(text.hasSuffix("\n"), "every response is one line: \(text)")
            lines.append(String(text.dropLast()))
        }
        return lines
    }

    private func one(_ channel: EmbeddedChannel, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONValue {
        let lines = try exchange(channel, text + "\n")
        try #require(lines.count == 1, "expected one line, got \(lines)", sourceLocation: sourceLocation)
        return try JSONValue(parsing: lines[0])
    }

    @Test func aCallIsAnswered() throws {
        let channel = try makeChannel()
        let response = try one(channel, #"{"jsonrpc":"2.0","id":1,"method":"t.add","params":{"a":2,"b":3,"_meta":{"token":"operator-token"}}}"#)
        #expect(response == .object(["jsonrpc": .string("2.0"), "id": .int(1), "result": .object(["sum": .int(5)])]))
    }

    @Test func aParseErrorHasANullIDAndKeepsTheConnection() throws {
        let channel = try makeChannel()
        let lines = try exchange(channel, "{\"jsonrpc\":\"2.0\",\"method\":\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains("\"id\":null") == true)
        #expect(try JSONValue(parsing: lines[0])["error"]?["code"] == .int(-32700))
        #expect(channel.isActive)
        #expect(try one(channel, #"{"jsonrpc":"2.0","id":2,"method":"t.public"}"#)["result"] == .object(["ok": .bool(true)]))
    }

    @Test func anOversizeLineIsAnsweredOnceThenTheConnectionCloses() throws {
        let channel = try makeChannel(limit: 64)
        let lines = try exchange(channel, String(repeating: "x", count: 100) + "\n" + #"{"jsonrpc":"2.0","id":1,"method":"t.public"}"# + "\n")
        #expect(lines.count == 1)
        let error = try JSONValue(parsing: lines[0])
        #expect(error["id"] == .null)
        #expect(error["error"]?["code"] == .int(-32600))
        #expect(error["error"]?["data"]?["status"] == .string("RESOURCE_EXHAUSTED"))
        #expect(error["error"]?["data"]?["reason"] == .string("LINE_TOO_LONG"))
        #expect(!channel.isActive)
    }

    @Test func aBatchIsAnsweredInOrderWithoutNotifications() throws {
        let channel = try makeChannel()
        let response = try one(channel, """
            [{"jsonrpc":"2.0","id":"a","method":"t.public"},{"jsonrpc":"2.0","method":"t.public"},\
            {"jsonrpc":"2.0","id":"b","method":"t.nope"},7,{"jsonrpc":"2.0","id":"c","method":"t.public","params":[1]}]
            """)
        guard case .array(let answers) = response else {
            Issue.record("a batch is answered with an array: \(response)")
            return
        }
        #expect(answers.map { $0["id"] } == [.string("a"), .string("b"), .null, .string("c")])
        #expect(answers.map { $0["error"]?["code"] } == [nil, .int(-32601), .int(-32600), .int(-32602)])
    }

    @Test func anAllNotificationBatchGetsNoAnswer() throws {
        let channel = try makeChannel()
        #expect(try exchange(channel, #"[{"jsonrpc":"2.0","method":"t.public"},{"jsonrpc":"2.0","method":"t.nope"},{"jsonrpc":"2.0","method":"t.boom"}]"# + "\n").isEmpty)
    }

    @Test func anEmptyBatchIsOneInvalidRequest() throws {
        let channel = try makeChannel()
        let response = try one(channel, "[]")
        #expect(response["id"] == .null)
        #expect(response["error"]?["code"] == .int(-32600))
        #expect(response["error"]?["data"]?["reason"] == .string("EMPTY_BATCH"))
    }

    @Test func aBatchOverTheLimitIsOneInvalidRequest() throws {
        let channel = try makeChannel(limit: 1 << 20)
        let entry = #"{"jsonrpc":"2.0","method":"t.public"}"#
        let response = try one(channel, "[" + Array(repeating: entry, count: RPCLimits.maximumBatchEntries + 1).joined(separator: ",") + "]")
        #expect(response["error"]?["code"] == .int(-32600))
        #expect(response["error"]?["data"]?["reason"] == .string("BATCH_TOO_LARGE"))
    }

    @Test func notificationsAreNeverAnswered() throws {
        let channel = try makeChannel()
        for line in [
            #"{"jsonrpc":"2.0","method":"t.public"}"#,
            #"{"jsonrpc":"2.0","method":"t.nope"}"#,
            #"{"jsonrpc":"2.0","method":"t.boom"}"#,
            #"{"jsonrpc":"2.0","method":"t.add","params":{"a":"x"}}"#,
            #"{"jsonrpc":"2.0","method":"t.public","params":{"_meta":{"deadline_ms":0}}}"#,
        ] {
            #expect(try exchange(channel, line + "\n").isEmpty, "\(line)")
        }
    }

    @Test(arguments: [0, -1, -60_000])
    func noBudgetLeftIsDeadlineExceededAtOnce(budget: Int) throws {
        let channel = try makeChannel()
        let response = try one(channel, #"{"jsonrpc":"2.0","id":1,"method":"t.public","params":{"_meta":{"deadline_ms":\#(budget)}}}"#)
        #expect(response["error"]?["code"] == .int(-32004))
        #expect(response["error"]?["data"]?["reason"] == .string("DEADLINE_EXCEEDED"))
    }

    @Test func aThrownErrorIsInternalAndDoesNotLeak() throws {
        let channel = try makeChannel()
        let response = try one(channel, #"{"jsonrpc":"2.0","id":1,"method":"t.boom"}"#)
        #expect(response["error"]?["code"] == .int(-32603))
        #expect(response["error"]?["data"]?["status"] == .string("INTERNAL"))
        #expect(response["error"]?["message"]?.stringValue?.contains("Boom") == false)
    }

    // Access is decided before params are judged: a caller who may not call a
    // method learns nothing about its params.
    @Test(arguments: [
        (nil, "t.add", -32016, "UNAUTHENTICATED"),
        ("nope", "t.add", -32016, "UNKNOWN_TOKEN"),
        (agentToken, "t.operator", -32007, "ROLE_NOT_ALLOWED"),
        (operatorToken, "t.operator", -32602, "MISSING_FIELD"),
        (agentToken, "t.add", -32602, "MISSING_FIELD"),
    ])
    func accessIsCheckedBeforeParams(token: String?, method: String, code: Int, reason: String) throws {
        let channel = try makeChannel()
        let meta = token.map { #","params":{"_meta":{"token":"\#($0)"}}"# } ?? ""
        let response = try one(channel, #"{"jsonrpc":"2.0","id":1,"method":"\#(method)"\#(meta)}"#)
        #expect(response["error"]?["code"] == .int(Int64(code)))
        #expect(response["error"]?["data"]?["reason"] == .string(reason))
    }

    @Test func anEmptyTokenIsNoToken() throws {
        let channel = try makeChannel()
        let response = try one(channel, #"{"jsonrpc":"2.0","id":1,"method":"t.add","params":{"a":1,"b":2,"_meta":{"token":""}}}"#)
        #expect(response["error"]?["data"]?["reason"] == .string("UNAUTHENTICATED"))
    }

    @Test func cancellingNothingSaysSo() throws {
        let channel = try makeChannel()
        let response = try one(channel, #"{"jsonrpc":"2.0","id":1,"method":"rpc.cancel","params":{"id":99}}"#)
        #expect(response["result"] == .object(["cancelled": .bool(false)]))
    }

    @Test func invalidUTF8IsAParseErrorEvenInAFieldNobodyReads() throws {
        let channel = try makeChannel()
        try channel.writeInbound(ByteBuffer(bytes: Array(#"{"jsonrpc":"2.0","id":1,"method":"t.public","params":{"ignored":""#.utf8) + [0xFF] + Array("\"}}\n".utf8)))
        let response = try #require(try channel.readOutbound(as: ByteBuffer.self))
        let error = try JSONValue(parsing: String(buffer: response))
        #expect(error["id"] == .null)
        #expect(error["error"]?["code"] == .int(-32700))
        #expect(error["error"]?["data"]?["reason"] == .string("PARSE_ERROR"))
        #expect(channel.isActive)
    }

    @Test func badBytesNeverCloseTheConnection() throws {
        let channel = try makeChannel()
        try channel.writeInbound(ByteBuffer(bytes: [0xFF, 0xFE, 0x00, 0x7B, 0x0A]))  // not UTF-8
        let lines = try exchange(channel, "[[[[[[[[[[[[\n\"\\uD800\"\n{\"a\":1}\n")
        #expect(lines.count == 4)
        #expect(channel.isActive)
        #expect(try one(channel, #"{"jsonrpc":"2.0","id":1,"method":"t.public"}"#)["result"] != nil)
    }
}

/// JSON text must be UTF-8: checked on the whole line, not only decoded strings.
struct UTF8CheckTests {
    @Test(arguments: [
        [UInt8](#"{"a":"plain"}"#.utf8), Array("{\"a\":\"é ✓ \u{1F600}\"}".utf8), [],
    ])
    func validUTF8Passes(bytes: [UInt8]) {
        #expect(RPCServerHandler.isUTF8(ByteBuffer(bytes: bytes)))
    }

    @Test(arguments: [
        [0xFF], [0xC3, 0x28], [0xED, 0xA0, 0x80] /* a UTF-16 surrogate */, [0xC0, 0xAF] /* overlong "/" */,
        [0xF4, 0x90, 0x80, 0x80] /* above U+10FFFF */, [0xE2, 0x82] /* truncated */,
    ] as [[UInt8]])
    func invalidUTF8Fails(bad: [UInt8]) {
        #expect(!RPCServerHandler.isUTF8(ByteBuffer(bytes: Array(#"{"a":""#.utf8) + bad + Array(#""}"#.utf8))))
    }
}
