import Foundation
import Testing
@testable import RPC

/// Decoding of request lines and batches: the envelope, ids, params and `_meta`,
/// in the single pass the server uses.
struct RequestDecodingTests {
    struct AddParams: Decodable, Sendable {
        let a: Int64
        let b: Int64
    }

    static let router: RPCRouter = {
        var builder = RPCRouterBuilder(service: "t")
        builder.registerInline("t.add", params: AddParams.self) { params, _ in params.a + params.b }
        builder.registerInline("t.none", params: NoParams.self) { _, _ in true }
        return builder.build()
    }()

    private func decode(_ text: String) throws -> IncomingMessage {
        let decoder = JSONDecoder()
        decoder.userInfo[.rpcRouter] = Self.router
        return try decoder.decode(IncomingMessage.self, from: Data(text.utf8))
    }

    private func single(_ text: String) throws -> IncomingEntry {
        guard case .single(let entry) = try decode(text) else {
            Issue.record("expected a single request, got a batch")
            throw CancellationError()
        }
        return entry
    }

    /// The call inside a valid entry, or nil (with an issue) when the entry is invalid.
    private func call(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> IncomingCall? {
        switch try single(text) {
        case .call(let call): return call
        case .invalid(_, let error):
            Issue.record("expected a call, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// The id and error of an invalid entry, or nil (with an issue) when it is a call.
    private func invalid(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> (RPCID, RPCError)? {
        switch try single(text) {
        case .invalid(let id, let error): return (id, error)
        case .call(let call):
            Issue.record("expected an invalid request, got a call of \(call.method)", sourceLocation: sourceLocation)
            return nil
        }
    }

    private func paramsError(_ call: IncomingCall?) -> RPCError? {
        guard case .failure(let error)? = call?.params else { return nil }
        return error
    }

    // MARK: ids

    @Test(arguments: [
        ("\"abc\"", RPCID.string("abc")),
        ("\"\"", .string("")),
        ("7", .int(7)),
        ("-7", .int(-7)),
        ("0", .int(0)),
        ("9007199254740993", .int(9_007_199_254_740_993)),  // 2^53 + 1: not representable as a Double
        ("9223372036854775807", .int(.max)),
        ("18446744073709551615", .uint(.max)),
        ("1.5", .double(1.5)),
        ("-0.25", .double(-0.25)),
        ("null", .null),
    ])
    func idsAreKeptExactly(idText: String, expected: RPCID) throws {
        let call = try call("{\"jsonrpc\":\"2.0\",\"id\":\(idText),\"method\":\"t.none\"}")
        #expect(call?.id == expected)
        #expect(call?.isNotification == false)
    }

    @Test func anIdAboveUInt64IsReadAsANumberNotRejected() throws {
        // 2^64: JSON allows it; it can only be kept as a Double.
        let call = try call("{\"jsonrpc\":\"2.0\",\"id\":18446744073709551616,\"method\":\"t.none\"}")
        #expect(call?.id == .double(18_446_744_073_709_551_616))
    }

    @Test func noIdMakesANotification() throws {
        let call = try call("{\"jsonrpc\":\"2.0\",\"method\":\"t.none\"}")
        #expect(call?.id == nil)
        #expect(call?.isNotification == true)
    }

    @Test(arguments: ["true", "false", "{}", "{\"a\":1}", "[]", "[1]"])
    func idsOfOtherTypesAreInvalidRequests(idText: String) throws {
        let result = try invalid("{\"jsonrpc\":\"2.0\",\"id\":\(idText),\"method\":\"t.none\"}")
        #expect(result?.0 == .null)
        #expect(result?.1.code == -32600)
        #expect(result?.1.reason == "INVALID_REQUEST")
    }

    @Test func theIDEncodesBackExactly() throws {
        let ids: [RPCID] = [.int(9_007_199_254_740_993), .uint(.max), .string("x\"y"), .null, .double(1.5), .int(-1)]
        let texts = try ids.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        #expect(texts == ["9007199254740993", "18446744073709551615", "\"x\\\"y\"", "null", "1.5", "-1"])
    }

    // MARK: the envelope

    @Test(arguments: [
        "{\"id\":1,\"method\":\"t.none\"}",
        "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"t.none\"}",
        "{\"jsonrpc\":2.0,\"id\":1,\"method\":\"t.none\"}",
        "{\"jsonrpc\":null,\"id\":1,\"method\":\"t.none\"}",
    ])
    func jsonrpcMustBeExactly2_0(text: String) throws {
        let result = try invalid(text)
        #expect(result?.0 == .int(1), "the id is still answered when it could be read")
        #expect(result?.1.code == -32600)
        #expect(result?.1.status == .invalidArgument)
    }

    @Test(arguments: ["1", "null", "true", "[\"t.none\"]", "{}"])
    func methodMustBeAString(methodText: String) throws {
        let result = try invalid("{\"jsonrpc\":\"2.0\",\"id\":\"m\",\"method\":\(methodText)}")
        #expect(result?.0 == .string("m"))
        #expect(result?.1.code == -32600)
    }

    @Test func aMissingMethodIsAnInvalidRequest() throws {
        #expect(try invalid("{\"jsonrpc\":\"2.0\",\"id\":2}")?.1.code == -32600)
    }

    @Test(arguments: ["1", "\"x\"", "null", "true"])
    func aRequestMustBeAnObject(text: String) throws {
        let result = try invalid(text)
        #expect(result?.0 == .null)
        #expect(result?.1.code == -32600)
    }

    // MARK: params

    @Test(arguments: ["\"bar\"", "42", "true", "null"])
    func paramsThatAreNotStructuredAreAnInvalidRequest(paramsText: String) throws {
        let result = try invalid("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"t.add\",\"params\":\(paramsText)}")
        #expect(result?.0 == .int(3))
        #expect(result?.1.code == -32600)
    }

    @Test func positionalParamsAreInvalidParams() throws {
        // Every method here takes named params, so an array is a -32602, not a -32600.
        let error = paramsError(try call("{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"t.add\",\"params\":[1,2]}"))
        #expect(error?.code == -32602)
        #expect(error?.status == .invalidArgument)
        #expect(error?.details["field"] == .string("params"))
    }

    @Test func typedParamsAreDecodedInTheSamePass() throws {
        let call = try call("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"t.add\",\"params\":{\"a\":2,\"b\":3}}")
        guard case .success(let params)? = call?.params, let add = params as? AddParams else {
            Issue.record("params were not decoded as AddParams")
            return
        }
        #expect(add.a == 2 && add.b == 3)
    }

    @Test(arguments: [
        ("{\"a\":1}", "b", "MISSING_FIELD"),
        ("{\"a\":\"one\",\"b\":2}", "a", "INVALID_FIELD"),
        ("{\"a\":null,\"b\":2}", "a", "INVALID_FIELD"),
        ("{\"a\":true,\"b\":2}", "a", "INVALID_FIELD"),
        ("{\"a\":{},\"b\":2}", "a", "INVALID_FIELD"),
    ])
    func badTypedParamsNameTheField(paramsText: String, field: String, reason: String) throws {
        let error = paramsError(try call("{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"t.add\",\"params\":\(paramsText)}"))
        #expect(error?.code == -32602)
        #expect(error?.details["field"] == .string(field))
        #expect(error?.reason == reason)
    }

    /// Foundation throws an internal error, without a coding path, for a number that
    /// does not fit an integer field (a fraction, or beyond Int64). It is still a
    /// -32602 INVALID_ARGUMENT, but only `params` can be named, and the message
    /// quotes the number.
    @Test(arguments: [
        ("{\"a\":1.5,\"b\":2}", "1.5"),
        ("{\"a\":18446744073709551616,\"b\":2}", "18446744073709551616"),
        ("{\"a\":9223372036854775808,\"b\":2}", "9223372036854775808"),
        ("{\"a\":1,\"b\":2,\"_meta\":{\"deadline_ms\":1.5}}", "1.5"),
    ])
    func numbersThatDoNotFitTheirFieldAreInvalidParams(paramsText: String, number: String) throws {
        let error = paramsError(try call("{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"t.add\",\"params\":\(paramsText)}"))
        #expect(error?.code == -32602)
        #expect(error?.status == .invalidArgument)
        #expect(error?.details["field"] == .string("params"))
        #expect(error?.message.contains(number) == true, "\(error?.message ?? "")")
    }

    @Test func missingParamsDecodeAsAnEmptyObject() throws {
        let call = try call("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"t.none\"}")
        guard case .success? = call?.params else {
            Issue.record("a method without params must accept a request without params")
            return
        }
    }

    // MARK: _meta

    @Test func metaIsReadBesideTheTypedParams() throws {
        let call = try call("""
            {"jsonrpc":"2.0","id":8,"method":"t.add","params":{"a":1,"b":2,"_meta":{"deadline_ms":250,"token":"tok",\
            "traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}}
            """)
        #expect(call?.meta == RequestMeta(
            deadlineMs: 250, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", token: "tok"))
        guard case .success? = call?.params else {
            Issue.record("_meta must not disturb the typed params")
            return
        }
    }

    @Test(arguments: [
        ("{\"deadline_ms\":\"soon\"}", "_meta.deadline_ms"),
        ("{\"deadline_ms\":[1]}", "_meta.deadline_ms"),
        ("{\"token\":42}", "_meta.token"),
        ("\"not an object\"", "_meta"),
    ])
    func aBadMetaIsInvalidParamsNamingTheField(metaText: String, field: String) throws {
        let error = paramsError(try call("{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"t.none\",\"params\":{\"_meta\":\(metaText)}}"))
        #expect(error?.code == -32602)
        #expect(error?.status == .invalidArgument)
        #expect(error?.details["field"] == .string(field))
    }

    // MARK: unknown methods

    @Test(arguments: [
        "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"t.nope\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"t.nope\",\"params\":{\"x\":1}}",
        // The method is looked up before params are judged: an unknown method is -32601
        // however its params look (JSON-RPC 2.0 section 7's "subtract" examples).
        "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"t.nope\",\"params\":[42,23]}",
        "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"t.nope\",\"params\":{\"_meta\":{\"deadline_ms\":\"x\"}}}",
    ])
    func anUnknownMethodIsMethodNotFound(text: String) throws {
        let error = paramsError(try call(text))
        #expect(error?.code == -32601)
        #expect(error?.reason == "METHOD_NOT_FOUND")
        #expect(error?.details["method"] == .string("t.nope"))
    }

    // MARK: batches

    @Test func aBatchKeepsEachEntrysOwnOutcome() throws {
        guard case .batch(let entries) = try decode("""
            [{"jsonrpc":"2.0","id":1,"method":"t.none"},1,{"jsonrpc":"2.0","method":"t.none"},{"jsonrpc":"2.0","id":"x","method":"t.add","params":[1]}]
            """) else {
            Issue.record("expected a batch")
            return
        }
        #expect(entries.count == 4)
        if case .call(let first) = entries[0] { #expect(first.id == .int(1)) } else { Issue.record("entry 0 must be a call") }
        if case .invalid(let id, let error) = entries[1] { #expect(id == .null && error.code == -32600) } else { Issue.record("entry 1 must be invalid") }
        if case .call(let third) = entries[2] { #expect(third.isNotification) } else { Issue.record("entry 2 must be a notification") }
        if case .call(let fourth) = entries[3] { #expect(paramsError(fourth)?.code == -32602) } else { Issue.record("entry 3 must be a call") }
    }

    @Test func anEmptyBatchDecodesAsAnEmptyBatch() throws {
        guard case .batch(let entries) = try decode("[]") else {
            Issue.record("expected a batch")
            return
        }
        #expect(entries.isEmpty)  // the handler answers it with one -32600
    }

    @Test func aBatchOverTheLimitIsRefused() {
        let entry = "{\"jsonrpc\":\"2.0\",\"method\":\"t.none\"}"
        let exact = "[" + Array(repeating: entry, count: RPCLimits.maximumBatchEntries).joined(separator: ",") + "]"
        let over = "[" + Array(repeating: entry, count: RPCLimits.maximumBatchEntries + 1).joined(separator: ",") + "]"
        #expect(throws: Never.self) { try decode(exact) }
        #expect(throws: BatchTooLarge.self) { try decode(over) }
    }

    @Test(arguments: ["{\"jsonrpc\":\"2.0\",\"method\":", "[{\"jsonrpc\":\"2.0\",\"method\":\"t.none\"},", "\u{FEFF}nope"])
    func textThatIsNotJSONThrows(text: String) {
        #expect(throws: (any Error).self) { try decode(text) }
    }
}
