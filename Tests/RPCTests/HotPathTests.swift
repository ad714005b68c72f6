import Foundation
import NIOCore
import NIOFoundationCompat
import Testing
@testable import RPC

/// The per-call helpers rewritten for speed keep their exact outputs.
struct HotPathTests {
    @Test func hexIsLowercaseTwoDigitsPerByte() {
        #expect(Hex.encode([UInt8]()) == "")
        #expect(Hex.encode([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
    }

    @Test func tokenDigestIsHexSHA256() {
        #expect(IdentityRegistry.digest(of: "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func traceparentParses() throws {
        let trace = try #require(TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
        #expect(trace.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(trace.spanID == "00f067aa0ba902b7")
        #expect(trace.flags == "01")
        #expect(trace.description == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    }

    @Test(arguments: [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  // no flags
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // unknown version
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // uppercase
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero span id
        "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",  // dash moved
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",  // trailing part
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",  // not hex
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-é",  // not ASCII
    ])
    func malformedTraceparentIsRejected(_ text: String) {
        #expect(TraceContext(traceparent: text) == nil)
    }

    @Test func randomTracesAreWellFormedAndDistinct() throws {
        let first = TraceContext.random()
        let parsed = try #require(TraceContext(traceparent: first.description))
        #expect(parsed == first)
        let child = first.child()
        #expect(child.traceID == first.traceID)
        #expect(child.spanID != first.spanID)
        #expect(TraceContext(traceparent: child.description) == child)
        #expect(TraceContext.random().traceID != first.traceID)
    }
}

/// The hand-written response envelope, and the client's reading of it.
struct ResponseEnvelopeTests {
    private struct Silent: Encodable {
        func encode(to encoder: any Encoder) throws {}
    }

    private func text(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

    @Test func successHasAFixedKeyOrder() throws {
        let encoder = ResponseEncoder()
        #expect(text(try encoder.success(id: .int(7), result: HealthEvent(status: .serving)))
            == #"{"jsonrpc":"2.0","id":7,"result":{"status":"SERVING"}}"# + "\n")
        #expect(text(try encoder.success(id: .string("a/b"), result: 5)) == #"{"jsonrpc":"2.0","id":"a/b","result":5}"# + "\n")
        #expect(text(try encoder.success(id: .null, result: "x")) == #"{"jsonrpc":"2.0","id":null,"result":"x"}"# + "\n")
        #expect(text(try encoder.success(id: .int(-3), result: [1, 2])) == #"{"jsonrpc":"2.0","id":-3,"result":[1,2]}"# + "\n")
    }

    @Test func failureKeepsIdNullAndTheErrorObject() throws {
        let line = ResponseEncoder().failure(id: .null, error: .parseError("bad"))
        #expect(text(line).hasPrefix(#"{"jsonrpc":"2.0","id":null,"error":{"#))
        #expect(text(line).hasSuffix("}\n"))
        let parsed = try JSONValue(parsing: text(line))
        #expect(parsed["error"]?["code"] == .int(-32700))
        #expect(parsed["error"]?["data"]?["reason"] == .string("PARSE_ERROR"))
    }

    @Test func aResultThatEncodesNothingStillGetsAnEnvelope() throws {
        let line = try ResponseEncoder().success(id: .int(1), result: Silent())
        let parsed = try JSONValue(parsing: text(line))
        #expect(parsed["id"] == .int(1))
        #expect(parsed["jsonrpc"] == .string("2.0"))
        #expect(text(line).hasSuffix("\n"))
    }

    @Test(arguments: [
        (#"{"jsonrpc":"2.0","id":42,"result":{}}"#, Int64?(42)),
        (#"{"jsonrpc":"2.0","id":0,"error":{"code":1}}"#, 0),
        (#"{"jsonrpc":"2.0","id":9223372036854775807,"result":1}"#, Int64.max),
        (#"{"jsonrpc":"2.0","id":9223372036854775808,"result":1}"#, nil),  // overflow: full decode decides
        (#"{"jsonrpc":"2.0","id":01,"result":1}"#, nil),  // not JSON
        (#"{"jsonrpc":"2.0","id":-1,"result":1}"#, nil),
        (#"{"jsonrpc":"2.0","id":"7","result":1}"#, nil),
        (#"{"jsonrpc":"2.0","id":7,"method":"x","params":{}}"#, nil),
        (#"{"id":7,"jsonrpc":"2.0","result":1}"#, nil),  // another order: full decode decides
        (#"{"jsonrpc":"2.0","method":"echo.event","params":{"request_id":7}}"#, nil),
        (#"{"jsonrpc":"2.0","id":"#, nil),
    ])
    func clientReadsTheIdOfAnEnvelope(_ line: String, _ id: Int64?) {
        #expect(RPCClientHandler.responseID(in: ByteBuffer(string: line)) == id)
    }

    @Test func encodedResponsesAreReadByTheClient() throws {
        let line = try ResponseEncoder().success(id: .int(12345), result: HealthEvent(status: .serving))
        #expect(RPCClientHandler.responseID(in: ByteBuffer(data: line)) == 12345)
    }

    /// An event line is the event's members with the call's `request_id`, whatever the
    /// event held under that name, and the client finds the id without parsing the rest.
    @Test func eventLinesCarryTheCallsIdFirstAndTheClientReadsIt() throws {
        let event: JSONValue = ["type": "run_completed", "seq": 3, "request_id": "forged", "run": ["note": #"say "request_id":9"#]]
        let line = try #require(try EventLine.write(method: "state.event", requestID: 42, event: event))
        let parsed = try JSONValue(parsing: String(decoding: line, as: UTF8.self))
        #expect(parsed == ["jsonrpc": "2.0", "method": "state.event", "params": [
            "request_id": 42, "type": "run_completed", "seq": 3, "run": ["note": #"say "request_id":9"#],
        ]])
        #expect(line.withUnsafeBytes(EventLine.requestID(in:)) == 42)
        let empty = try #require(try EventLine.write(method: "echo.event", requestID: 0, event: [String: String]()))
        #expect(String(decoding: empty, as: UTF8.self) == #"{"jsonrpc":"2.0","method":"echo.event","params":{"request_id":0}}"#)
        #expect(empty.withUnsafeBytes(EventLine.requestID(in:)) == 0)
        // What the fast path cannot write goes the general way.
        #expect(try EventLine.write(method: "state.event", requestID: 1, event: ["share": 0.5] as JSONValue) == nil)
        #expect(try EventLine.write(method: #"odd"name"#, requestID: 1, event: [String: String]()) == nil)
    }

    @Test(arguments: [
        (#"{"jsonrpc":"2.0","method":"state.event","params":{"request_id":7,"type":"x"}}"#, Int64?.some(7)),
        (#"{"jsonrpc":"2.0","method":"state.event","params":{"request_id":7}}"#, 7),
        (#"{"jsonrpc":"2.0","method":"state.event","params":{"type":"x","request_id":7}}"#, nil),  // another order: full decode
        (#"{"jsonrpc":"2.0","method":"state.event","params":{"request_id":"7"}}"#, nil),
        (#"{"jsonrpc":"2.0","method":"state.event","params":{"request_id":07}}"#, nil),
        (#"{"jsonrpc":"2.0","method":"st\"ate","params":{"request_id":7}}"#, nil),
        (#"{"jsonrpc":"2.0","method":"state.event","params":{"request_id":99999999999999999999}}"#, nil),
        (#"{"jsonrpc":"2.0","id":7,"result":1}"#, nil),
        (#"{"jsonrpc":"2.0","method":"state.ev"#, nil),
    ])
    func clientReadsTheRequestIdOfAnEvent(_ line: String, _ id: Int64?) {
        #expect(Array(line.utf8).withUnsafeBytes(EventLine.requestID(in:)) == id)
    }
}

/// Request ids decode to the same case whatever order the decoder tries them in.
struct RPCIDDecodingTests {
    @Test(arguments: [
        ("7", RPCID?.some(.int(7))),
        ("-7", .int(-7)),
        (#""7""#, .string("7")),
        (#""a/b""#, .string("a/b")),
        ("null", .null),
        ("18446744073709551615", .uint(UInt64.max)),
        ("1.5", .double(1.5)),
        ("true", nil),
        ("{}", nil),
    ])
    func idsDecode(_ json: String, _ expected: RPCID?) {
        let decoded = try? JSONDecoder().decode(RPCID.self, from: Data(json.utf8))
        #expect(decoded == expected)
    }
}
