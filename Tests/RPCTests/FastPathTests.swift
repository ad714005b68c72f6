import Foundation
import NIOCore
import Testing
@testable import RPC

/// The hand-read request envelope (``FastEnvelope``) and the client's hand-written
/// wire (``ClientWire``) must say exactly what the full `Codable` path says, or
/// step aside for it.
struct FastPathTests {
    struct AddParams: Decodable, Sendable, Equatable {
        let a: Int64
        let b: Int64
    }

    static let router: RPCRouter = {
        var builder = RPCRouterBuilder(service: "t")
        builder.registerInline("t.add", params: AddParams.self) { params, _ in params.a + params.b }
        builder.registerInline("t.none", params: NoParams.self) { _, _ in true }
        return builder.build()
    }()

    private static func full(_ text: String) throws -> IncomingCall? {
        let decoder = JSONDecoder()
        decoder.userInfo[.rpcRouter] = router
        guard case .call(let call) = try decoder.decode(DecodedEntry.self, from: Data(text.utf8)).entry else { return nil }
        return call
    }

    private static func fast(_ text: String) -> IncomingCall? {
        FastEnvelope.call(in: ByteBuffer(string: text), router: router, decoder: JSONDecoder()) { _, _ in nil }
    }

    /// Lines the fast path takes: its answer must equal the full decoder's.
    @Test(arguments: [
        #"{"jsonrpc":"2.0","id":1,"method":"t.add","params":{"a":1,"b":2}}"#,
        #"{"jsonrpc":"2.0","id":"x-1","method":"t.add","params":{"a":1,"b":2,"_meta":{"deadline_ms":500,"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","token":"abc"}}}"#,
        #" { "method" : "t.add" , "params" : { "_meta" : { } , "b" : -2 , "a" : 40 } , "jsonrpc" : "2.0" , "id" : -7 } "#,
        #"{"jsonrpc":"2.0","method":"t.add","params":{"a":1,"b":2}}"#,
        #"{"jsonrpc":"2.0","id":2,"method":"t.none"}"#,
        #"{"jsonrpc":"2.0","id":3,"method":"t.missing","params":{"a":1}}"#,
        #"{"jsonrpc":"2.0","id":6,"method":"t.add","params":{"a":1,"b":2,"extra":[1,{"k":"v\n\u00e9"},true,null,1.5e3]}}"#,
    ])
    func fastAgreesWithFull(_ line: String) throws {
        let fast = try #require(Self.fast(line), "the fast path should take \(line)")
        let full = try #require(try Self.full(line))
        #expect(fast.id == full.id)
        #expect(fast.method == full.method)
        #expect(fast.meta == full.meta)
        #expect((fast.entry == nil) == (full.entry == nil))
        switch (fast.params, full.params) {
        case (.success(let a), .success(let b)):
            #expect(String(describing: a) == String(describing: b))
        case (.failure(let a), .failure(let b)):
            #expect(a.reason == b.reason && a.message == b.message)
        default:
            Issue.record("fast \(fast.params) but full \(full.params)")
        }
    }

    /// Anything unusual is left to the full decoder, which knows every answer.
    @Test(arguments: [
        #"[{"jsonrpc":"2.0","id":1,"method":"t.add","params":{"a":1,"b":2}}]"#,
        #"{"jsonrpc":"2.0","id":null,"method":"t.add","params":{"a":1,"b":2}}"#,
        #"{"jsonrpc":"2.0","id":1.5,"method":"t.add","params":{"a":1,"b":2}}"#,
        #"{"jsonrpc":"2.0","id":1,"id":2,"method":"t.add","params":{"a":1,"b":2}}"#,
        #"{"jsonrpc":"1.0","id":1,"method":"t.add","params":{"a":1,"b":2}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"t.\u0061dd","params":{"a":1,"b":2}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"t.add","params":[1,2]}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"t.add","params":{"a":1,"b":2},"extra":1}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"t.add","params":{"a":1,"b":2,"_meta":{"deadline_ms":"soon"}}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"t.add","params":{"a":1,"b":2,"_meta":{"other":1}}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"t.add","params":{"a":01,"b":2}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"t.add","params":{"a":1,"b":2}} x"#,
        #"{"jsonrpc":"2.0","id":1,"method":"t.add","params":{"a":1,"b":"\ud800"}}"#,
        #"{"jsonrpc":"2.0","id":1,"method":"t.add","params":{"a":1,"b":2}"#,
        #"{"jsonrpc":"2.0","id":99999999999999999999,"method":"t.add"}"#,
        #"{}"#,
        #"{"jsonrpc":"2.0","id":4,"method":"t.add","params":{"a":"one","b":2}}"#,
        #"{"jsonrpc":"2.0","id":5,"method":"t.add","params":{"a":1.5,"b":2}}"#,
    ])
    func unusualLinesFallBack(_ line: String) {
        #expect(Self.fast(line).map { _ in true } == nil)
    }

    @Test func scannerChecksGrammar() {
        for (text, valid) in [
            (#"{"a":[1,-0.5,2e-3,true,false,null,"\"\\\/\b\f\n\r\t\u0041"]}"#, true),
            ("[1,]", false), ("{\"a\"1}", false), ("-", false), ("1.", false), ("1e", false), ("\"a\tb\"", false),
            ("\"\\x\"", false), ("tru", false), ("[", false), (String(repeating: "[", count: 100) + String(repeating: "]", count: 100), false),
        ] {
            let ok = Array(text.utf8).withUnsafeBytes { bytes -> Bool in
                var scanner = JSONScanner(bytes)
                guard scanner.skipValue() else { return false }
                scanner.skipWhitespace()
                return scanner.isAtEnd
            }
            #expect(ok == valid, "\(text)")
        }
    }

    struct Params: Codable, Sendable, Equatable {
        let name: String
        let count: Int
    }

    /// The hand-written request decodes, by the full decoder, to the same call as the encoder's.
    @Test(arguments: [
        RequestMeta(), RequestMeta(deadlineMs: 250, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", token: "t\"k"),
        RequestMeta(deadlineMs: 0), RequestMeta(token: "a\\b\u{01}\n\u{e9}"), RequestMeta(deadlineMs: -5, token: ""),
    ])
    func handWrittenRequestMatchesEncoder(meta: RequestMeta) throws {
        let encoder = JSONEncoder()
        for params in [try encoder.encode(Params(name: "a\"b\n", count: 3)), Data("{}".utf8)] {
            let buffer = try #require(ClientWire.request(id: 42, method: "svc.do\"it", params: params, meta: meta))
            let bytes = Data(buffer.readableBytesView)
            #expect(bytes.last == UInt8(ascii: "\n"))
            let decoded = try JSONDecoder().decode(JSONValue.self, from: bytes)
            #expect(decoded["jsonrpc"] == "2.0")
            #expect(decoded["id"] == 42)
            #expect(decoded["method"] == "svc.do\"it")
            let sent = try #require(decoded["params"])
            #expect(sent["_meta"] == (meta.isEmpty ? JSONValue?.none : try JSONValue(encoding: meta)))
            #expect(sent["name"] == (params.count > 2 ? JSONValue.string("a\"b\n") : JSONValue?.none))
        }
        #expect(ClientWire.request(id: 1, method: "m", params: Data("[1]".utf8), meta: meta) == nil)
    }

    @Test func responsesAreReadFromTheirPayload() throws {
        let encoder = ResponseEncoder()
        let ok = try encoder.success(id: .int(7), result: Params(name: "x", count: 1))
        let line = ByteBuffer(data: ok.dropLast())
        #expect(try ClientWire.response(line, as: Params.self, decoder: JSONDecoder())?.get() == Params(name: "x", count: 1))
        let failed = encoder.failure(id: .int(8), error: RPCError(.notFound, reason: "NOPE", "no such thing"))
        let error = try #require(ClientWire.response(ByteBuffer(data: failed.dropLast()), as: Params.self, decoder: JSONDecoder()))
        guard case .failure(let rpc) = error else { Issue.record("expected an error"); return }
        #expect(rpc.reason == "NOPE" && rpc.status == .notFound && rpc.message == "no such thing")
        // A payload of the wrong shape, or another envelope, is left to the full decoder.
        #expect(ClientWire.response(line, as: [Int].self, decoder: JSONDecoder()).map { _ in true } == nil)
        #expect(ClientWire.response(ByteBuffer(string: #"{"id":7,"jsonrpc":"2.0","result":1}"#), as: Int.self, decoder: JSONDecoder()).map { _ in true } == nil)
    }

    /// The direct JSONValue parser gives what JSONDecoder gives, or steps aside for it.
    @Test(arguments: [
        #"{"a":[1,-2,0,true,false,null,"x"],"b":{"c":"q\"uote\\ \/ \b\f\n\r\t \u00e9\u0041 é"},"d":[]}"#,
        #" [ {} , [ ] , "" , -0 , 9223372036854775807 ] "#,
        #"{"arguments":"{\"to_account\":\"bob\",\"amount\":\"150.00\"}"}"#,
        #"[1.5, 2e3]"#, #""\ud83d\ude00""#, #"{"a":1,"a":2}"#, #"18446744073709551615"#,
    ])
    func directParserAgreesWithJSONDecoder(_ text: String) throws {
        let expected = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(try JSONValue(parsing: text) == expected)
        #expect(try JSONValue(parsing: Data(text.utf8)) == expected)
    }

    /// (Where JSONDecoder is lenient, as with `[1,]`, the fallback keeps it so.)
    @Test(arguments: [#"{"a":}"#, #""\x""#, "01", "", "[1"])
    func directParserRefusesWhatJSONDecoderRefuses(_ text: String) {
        #expect(throws: (any Error).self) { try JSONValue(parsing: text) }
    }

    /// The direct writer's text parses back to the same value; fractions are left to JSONEncoder.
    @Test func compactTextRoundTrips() throws {
        let value: JSONValue = [
            "s": "q\"uote\\ / \u{8}\u{c}\n\r\t\u{1} é 😀", "i": -9_223_372_036_854_775_807, "b": [true, false, nil],
            "o": ["nested": [[:], []]], "schema_version": 1,
        ]
        let text = try #require(value.compactJSON())
        #expect(try JSONDecoder().decode(JSONValue.self, from: text) == value)
        #expect(JSONValue.array([.double(1.5)]).compactJSON() == nil)
    }
}
