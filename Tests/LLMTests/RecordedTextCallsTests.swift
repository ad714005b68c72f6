import Foundation
import LLM
import RPC
import Testing

/// Every reply Qwen2.5-Coder-1.5B wrote to a request for tools, as recorded in
/// Tests/Fixtures/models, read the way the agent reads it on Chat Completions.
struct RecordedTextCallsTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/models/qwen2.5-coder-1.5b")

    /// (file under the folder, exchange, the calls its text is, or nil when it is an answer).
    static let expected: [(String, Int, [String]?)] = [
        ("before/tools/019-chat-tools-check-my-balance-and-transfer-50-to-alice.json", 0, ["get_balance", "transfer_money"]),
        ("before/tools/020-chat-tools-deposit-200-into-my-account.json", 0, ["deposit_money"]),
        ("before/tools/021-chat-tools-transfer-500-to-bob-for-rent.json", 0, ["transfer_money"]),
        ("runs/016-chat-tools-check-my-balance-and-transfer-50-to-alice.json", 0, ["get_balance"]),
        ("runs/016-chat-tools-check-my-balance-and-transfer-50-to-alice.json", 1, ["transfer_money"]),
        ("runs/016-chat-tools-check-my-balance-and-transfer-50-to-alice.json", 2, ["transfer_money"]),
        ("runs/017-chat-tools-deposit-200-into-my-account.json", 0, ["deposit_money"]),
        ("runs/017-chat-tools-deposit-200-into-my-account.json", 1, ["deposit_money"]),
        ("runs/018-chat-tools-transfer-500-to-bob-for-rent.json", 0, ["transfer_money"]),
        ("runs/018-chat-tools-transfer-500-to-bob-for-rent.json", 1, ["transfer_money"]),
        ("check/001-chat-tools-check-my-balance-and-transfer-50-to-alice.json", 0, ["get_balance", "transfer_money"]),
        ("check/002-chat-tools-deposit-200-into-my-account.json", 0, ["deposit_money"]),
        ("check/003-chat-tools-transfer-500-to-bob-for-rent.json", 0, ["transfer_money"]),
    ]

    @Test(arguments: expected)
    func eachRecordedReplyIsReadAsItIs(file: String, exchange: Int, calls: [String]?) throws {
        let transcript = try JSONValue(parsing: Data(contentsOf: Self.folder.appendingPathComponent(file)))
        let recorded = try #require(transcript["exchanges"]?.arrayValues?[exchange])
        let response = try JSONValue(parsing: try #require(recorded["response"]?.stringValue))
        let message = try #require(response["choices"]?.arrayValues?.first?["message"])
        #expect(message["tool_calls"] == nil, "the server returned real tool calls")
        let text = try #require(message["content"]?.stringValue)
        let recovered = TextToolCalls.recover(from: text, idPrefix: "t")
        #expect(recovered?.calls.map(\.name) == calls, "\(file) #\(exchange): \(text)")
        for call in recovered?.calls ?? [] {
            #expect(call.name == "get_balance" || (try? JSONValue(parsing: call.arguments))?["amount"] != nil, "\(call.arguments)")
        }
    }

    /// Every tools-mode reply in the fixtures is either a call of the agent's tools or prose: none is half-read.
    @Test func noRecordedReplyIsACallOfAnotherTool() throws {
        let walker = try #require(FileManager.default.enumerator(atPath: Self.folder.path))
        var seen = 0
        while let path = walker.nextObject() as? String {
            guard path.hasSuffix(".json"), let json = try? JSONValue(parsing: Data(contentsOf: Self.folder.appendingPathComponent(path))) else { continue }
            for exchange in json["exchanges"]?.arrayValues ?? [] where exchange["path"]?.stringValue == "/v1/chat/completions" {
                guard let request = try? JSONValue(parsing: exchange["request"]?.stringValue ?? ""), request["tools"] != nil,
                      let response = try? JSONValue(parsing: exchange["response"]?.stringValue ?? ""),
                      let text = response["choices"]?.arrayValues?.first?["message"]?["content"]?.stringValue
                else { continue }
                seen += 1
                let names = TextToolCalls.recover(from: text, idPrefix: "t")?.calls.map(\.name) ?? []
                #expect(names.allSatisfy { ["get_balance", "deposit_money", "transfer_money"].contains($0) }, "\(path): \(names)")
            }
        }
        #expect(seen >= 13)
    }
}
