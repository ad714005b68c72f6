import RPC
import RPCTesting
import Testing

/// The JSON-RPC 2.0 specification's own examples (section 7), as golden cases.
///
/// Adaptations, each deliberate:
/// - The examples are pretty-printed in the specification; on this wire a message
///   is one line, so each is sent compacted to one line, otherwise byte for byte.
/// - The examples call `subtract`, `sum`, `update`, `foobar`…, which no service
///   here has: those calls get -32601 instead of the specification's results.
///   Each such example is paired with an adapted one calling methods every
///   service has (`health.check`, `rpc.discover`), so results appear too.
/// - Methods here take named params only (`paramStructure: by-name` in every
///   contract), so positional params to an existing method get -32602 naming
///   `params`, where the specification's `subtract` would compute 19.
struct SpecExample: Sendable, CustomTestStringConvertible {
    /// What the service must send back.
    enum Answer: Sendable {
        /// Nothing at all (notifications).
        case nothing
        /// One response object with this id: `code` nil for a result.
        case single(id: JSONValue, code: Int?)
        /// One array of responses, in any order (the specification allows any).
        case batch([(id: JSONValue, code: Int?)])
    }

    let name: String
    let line: String
    let answer: Answer
    var testDescription: String { name }

    static let all: [SpecExample] = [
        SpecExample(
            name: "positional params (spec: subtract → 19; no subtract here)",
            line: #"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#,
            answer: .single(id: .int(1), code: -32601)),
        SpecExample(
            name: "positional params to an existing method: -32602, methods are by-name",
            line: #"{"jsonrpc": "2.0", "method": "rpc.discover", "params": [42, 23], "id": 1}"#,
            answer: .single(id: .int(1), code: -32602)),
        SpecExample(
            name: "named params (spec: subtract → 19; no subtract here)",
            line: #"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}"#,
            answer: .single(id: .int(3), code: -32601)),
        SpecExample(
            name: "named params to an existing method",
            line: #"{"jsonrpc": "2.0", "method": "health.check", "params": {"subtrahend": 23, "minuend": 42}, "id": 4}"#,
            answer: .single(id: .int(4), code: nil)),
        SpecExample(
            name: "notification update",
            line: #"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#,
            answer: .nothing),
        SpecExample(
            name: "notification foobar",
            line: #"{"jsonrpc": "2.0", "method": "foobar"}"#,
            answer: .nothing),
        SpecExample(
            name: "notification of an existing method",
            line: #"{"jsonrpc": "2.0", "method": "health.check"}"#,
            answer: .nothing),
        SpecExample(
            name: "non-existent method",
            line: #"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#,
            answer: .single(id: .string("1"), code: -32601)),
        SpecExample(
            name: "invalid JSON",
            line: #"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#,
            answer: .single(id: .null, code: -32700)),
        SpecExample(
            name: "invalid Request object",
            line: #"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#,
            answer: .single(id: .null, code: -32600)),
        SpecExample(
            name: "batch, invalid JSON",
            line: #"[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method" ]"#,
            answer: .single(id: .null, code: -32700)),
        SpecExample(
            name: "empty array",
            line: "[]",
            answer: .single(id: .null, code: -32600)),
        SpecExample(
            name: "invalid batch, not empty",
            line: "[1]",
            answer: .batch([(.null, -32600)])),
        SpecExample(
            name: "invalid batch",
            line: "[1,2,3]",
            answer: .batch([(.null, -32600), (.null, -32600), (.null, -32600)])),
        SpecExample(
            name: "mixed batch (spec's methods: none exist here)",
            line: """
                [{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, \
                {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}, \
                {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"}, \
                {"foo": "boo"}, \
                {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"}, \
                {"jsonrpc": "2.0", "method": "get_data", "id": "9"}]
                """,
            answer: .batch([
                (.string("1"), -32601), (.string("2"), -32601), (.null, -32600), (.string("5"), -32601), (.string("9"), -32601),
            ])),
        SpecExample(
            name: "mixed batch with existing methods",
            line: """
                [{"jsonrpc": "2.0", "method": "health.check", "params": [1,2,4], "id": "1"}, \
                {"jsonrpc": "2.0", "method": "health.check", "params": {}}, \
                {"jsonrpc": "2.0", "method": "health.check", "params": {}, "id": "2"}, \
                {"foo": "boo"}, \
                {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"}, \
                {"jsonrpc": "2.0", "method": "rpc.discover", "id": "9"}]
                """,
            answer: .batch([(.string("1"), -32602), (.string("2"), nil), (.null, -32600), (.string("5"), -32601), (.string("9"), nil)])),
        SpecExample(
            name: "batch of notifications",
            line: #"[{"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]}, {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}]"#,
            answer: .nothing),
        SpecExample(
            name: "batch of notifications of existing methods",
            line: #"[{"jsonrpc": "2.0", "method": "health.check"}, {"jsonrpc": "2.0", "method": "rpc.discover", "params": {}}]"#,
            answer: .nothing),
    ]
}

@Suite(.sharedService)
struct JSONRPCSpecExampleTests {
    @Test(arguments: ConformanceTarget.all, SpecExample.all)
    func specExample(target: ConformanceTarget, example: SpecExample) async throws {
        let service = try await sharedService(target)
        let connection = try await service.connect()
        defer { Task { await connection.close() } }

        switch example.answer {
        case .nothing:
            try await connection.send(example.line + "\n")
            try await connection.expectNothingPending()
        case .single(let id, let code):
            let response = try #require(try await connection.next(after: example.line))
            if case .array = response { Issue.record("expected one response object, got an array: \(response.jsonText())") }
            if let code { expectError(response, code: code, id: id) } else { expectResult(response, id: id) }
            try await connection.expectNothingPending()
        case .batch(let expected):
            let response = try #require(try await connection.next(after: example.line))
            guard case .array(let answers) = response else {
                Issue.record("a batch is answered with an array: \(response.jsonText())")
                return
            }
            let wanted = expected.map { "\($0.id.jsonText()) -> \($0.code.map(String.init) ?? "result")" }.sorted()
            #expect(outcomes(answers) == wanted)
            try await connection.expectNothingPending()
        }
    }

    /// The parse error's `"id": null` is really written (synthesized Codable would drop it).
    @Test(arguments: ConformanceTarget.all)
    func aParseErrorWritesIdNull(target: ConformanceTarget) async throws {
        let connection = try await sharedService(target).connect()
        defer { Task { await connection.close() } }
        try await connection.send("{\"jsonrpc\": \"2.0\", \"method\": \"foobar, \"params\": \"bar\", \"baz]\n")
        let line = try #require(try await connection.readLine())
        #expect(line.contains("\"id\":null"), "\(line)")
        #expect(!line.contains("\n"))
    }
}
