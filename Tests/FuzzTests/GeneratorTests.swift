import Foundation
import RPC
@testable import RPCFuzz
import Testing

/// The generator on its own: reproducible, and every line's expectation is
/// what JSON-RPC says (no service needed).
struct GeneratorTests {
    static func contract() throws -> ContractModel {
        let own = try JSONValue(parsing: String(contentsOf: repositoryRoot.appendingPathComponent("Protocols/echo.openrpc.json"), encoding: .utf8))
        return ContractModel(document: own)
    }

    @Test func theSameSeedGivesTheSameLines() throws {
        let contract = try Self.contract()
        var first = LineGenerator(service: "echo", contract: contract, tokens: ["operator": "t"], seed: 42, lane: 0)
        var second = LineGenerator(service: "echo", contract: contract, tokens: ["operator": "t"], seed: 42, lane: 0)
        var other = LineGenerator(service: "echo", contract: contract, tokens: ["operator": "t"], seed: 43, lane: 0)
        var same = true
        var differs = false
        for _ in 0..<500 {
            let line = first.next().bytes
            same = same && line == second.next().bytes
            differs = differs || line != other.next().bytes
        }
        #expect(same)
        #expect(differs)
    }

    @Test func noPlaceholderIsLeftInALine() throws {
        var generator = LineGenerator(service: "echo", contract: try Self.contract(), tokens: ["operator": "t"], seed: 1, lane: 0)
        for _ in 0..<5_000 {
            let line = generator.next()
            let text = String(decoding: line.bytes, as: UTF8.self)
            #expect(!text.contains("@@RAW"), "\(line.kind): \(text.prefix(400))")
        }
    }

    @Test(arguments: [
        (#"{"jsonrpc":"2.0","id":1,"method":"a"}"#, ExpectedAnswer.reply(.integer("1"))),
        (#"{"jsonrpc":"2.0","id":"x","method":"a","params":5}"#, .reply(.string("x"))),
        (#"{"jsonrpc":"2.0","method":"a"}"#, .none),
        (#"{"jsonrpc":"2.0","method":"a","params":5}"#, .nullError),
        (#"{"jsonrpc":"2.0","id":true,"method":"a"}"#, .nullError),
        (#"{"jsonrpc":"2.0","id":1.5,"method":"a"}"#, .loose),
        (#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"a"}"#, .reply(.integer("18446744073709551615"))),
        (#"{"jsonrpc":"2.0","id":1e400,"method":"a"}"#, .loose),
        (#"{"jsonrpc":"2.0","id":"a","method":"a","params":{"x":1e400}}"#, .reply(.string("a"))),
        (#"[]"#, .nullError),
        (#"[1,{"jsonrpc":"2.0","id":2,"method":"a"},{"jsonrpc":"2.0","method":"a"}]"#, .batch([.integer("2")], nulls: 1)),
        (#"[{"jsonrpc":"2.0","method":"a"}]"#, .none),
        (#"{"jsonrpc":"2.0","id":1,"#, .nullError),
        ("   ", .none),
        (#""just a string""#, .nullError),
    ])
    func expectationsFollowJSONRPC(line: String, expected: ExpectedAnswer) {
        #expect(ExpectedAnswer.of(Array(line.utf8)) == expected)
    }
}
