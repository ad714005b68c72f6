import LLM
import Testing

/// Tool calls written as text are recovered in each common shape, exactly; anything else stays text.
struct TextToolCallsTests {
    static let deposit = #"{"name": "deposit_money", "arguments": {"amount": "200.00"}}"#
    static let balance = #"{"name": "get_balance", "arguments": {}}"#
    static let transfer = #"{"name": "transfer_money", "arguments": {"to_account": "alice", "amount": "50.00"}}"#

    @Test(arguments: [
        (deposit, TextToolCalls.Shape.json),
        ("\n  \(deposit)\n", .json),
        ("```json\n\(deposit)\n```", .fenced),
        ("```\n\(deposit)\n```", .fenced),
        ("```JSON\n\(deposit)\n```\n", .fenced),
        ("<tool_call>\n\(deposit)\n</tool_call>", .tags),
        ("<tool_call>\n\(deposit)", .tags),
        (#"{{"name": "deposit_money", "arguments": {"amount": "200.00"}}}"#, .doubledBraces),
        (#"{{"name": "deposit_money", "arguments": {"amount": "200.00"}}}}"#, .doubledBraces),
        ("<response>\n\(deposit)\n</response>", .tags),
        ("\(deposit)\n<tool_response>\nDeposited $200.00 into checking.\n</tool_response>", .json),
        (#"{{"name": "deposit_money", "arguments": {"amount": "200.00"}}}}"# + "\n<tool_response>\nDeposited $200.00 into checking.\n</tool_response>", .doubledBraces),
        ("<tool_response>\n\(deposit)\n</tool_response>", .tags),
        ("<tools></tools>\n" + #"{{"name": "deposit_money", "arguments": {"amount": "200.00"}}}"#, .doubledBraces),
        ("\(deposit)\n```", .json),
        (#"{"name": "deposit_money", "arguments": {"properties": {"amount": "200.00"}}}"#, .json),
        (#"{"name": "deposit_money", "arguments": {"type": "object", "properties": {"amount": "200.00"}}}"#, .json),
    ])
    func oneCallInEachShape(text: String, shape: TextToolCalls.Shape) throws {
        let (calls, found) = try #require(TextToolCalls.recover(from: text, idPrefix: "text_3"))
        #expect(found == shape)
        #expect(calls == [ToolCall(id: "text_3_1", name: "deposit_money", arguments: #"{"amount":"200.00"}"#)])
    }

    @Test(arguments: [
        "[\(balance), \(transfer)]",
        "```json\n[\(balance), \(transfer)]\n```",
        "```json\n\(balance)\n```\n\n```json\n\(transfer)\n```",
        "\(balance)\n\(transfer)",
        "<tool_call>\n\(balance)\n</tool_call>\n<tool_call>\n\(transfer)\n</tool_call>",
        "<response>\n\(balance)\n\(transfer)\n</response>",
        #"{{"name": "get_balance", "arguments": null}}"# + "\n" + #"{{"name": "transfer_money", "arguments": {"to_account": "alice", "amount": "50.00"}}}"#,
    ])
    func severalCallsInOrder(text: String) throws {
        let (calls, _) = try #require(TextToolCalls.recover(from: text, idPrefix: "t"))
        #expect(calls.map(\.name) == ["get_balance", "transfer_money"])
        #expect(calls.map(\.id) == ["t_1", "t_2"])
        #expect(calls[1].arguments == #"{"to_account":"alice","amount":"50.00"}"#)
    }

    /// Arguments keep what the model wrote: numbers as their text, a string of JSON as it is.
    @Test func argumentsAreKeptExactly() throws {
        let number = try #require(TextToolCalls.recover(from: #"{"name": "deposit_money", "arguments": {"amount": 200.10}}"#, idPrefix: "t"))
        #expect(number.calls[0].arguments == #"{"amount":200.10}"#)
        let string = try #require(TextToolCalls.recover(from: #"{"name": "deposit_money", "arguments": "{\"amount\": \"5\"}"}"#, idPrefix: "t"))
        #expect(string.calls[0].arguments == #"{"amount": "5"}"#)
        let llama = try #require(TextToolCalls.recover(from: #"{"name": "get_balance", "parameters": {}}"#, idPrefix: "t"))
        #expect(llama.calls[0] == ToolCall(id: "t_1", name: "get_balance", arguments: "{}"))
        let bare = try #require(TextToolCalls.recover(from: #"{"name": "get_balance"}"#, idPrefix: "t"))
        #expect(bare.calls[0].arguments == "{}")
    }

    /// A name the agent does not have is still recovered: the agent refuses it with an
    /// error result, as it does a native call to an unknown tool.
    @Test func unknownToolsAreRecoveredForTheAgentToRefuse() throws {
        let (calls, _) = try #require(TextToolCalls.recover(from: #"{"name": "wire_money", "arguments": {"to": "mallory"}}"#, idPrefix: "t"))
        #expect(calls.map(\.name) == ["wire_money"])
    }

    /// Text that mentions a tool, shows a call among prose, or is JSON of another shape is an answer, not a call.
    @Test(arguments: [
        "I will call deposit_money to deposit $200.",
        "Calling transfer_money with to_account alice and amount 50.00",
        "Here is the call: \(deposit)",
        "\(deposit)\nI have deposited $200 for you.",
        "```json\n\(deposit)\n```\nThis deposits $200 into your account.",
        "To deposit, you could send:\n```json\n\(deposit)\n```",
        #"{"name": "Alice", "balance": "50.00"}"#,
        #"{"arguments": {"amount": "200.00"}}"#,
        #"{"name": "", "arguments": {}}"#,
        #"{"name": 5, "arguments": {}}"#,
        "[\(deposit), {\"answer\": \"done\"}]",
        #"["deposit_money"]"#,
        #"{"actions": [{"action_type": "deposit", "amount": "200.00"}]}"#,
        "```python\nprint(1)\n```",
        "<tool_call>\nnot json\n</tool_call>",
        "<b>\(deposit)</b> is what I would send",
        "<tool_response>\nDeposited $200.00 into checking.\n</tool_response>",
        "\(deposit)\n<tool_response>\nDeposited $200.00 into checking.\n</tool_response>\nDone!",
        #"{{"name": "deposit_money", "arguments": {"amount": "200.00"}}} and then"#,
        #"{{"name": "deposit_money", "arguments": {"amount": "200.00"}}"#,
        "<tool_response>\nDeposited $200.00 into checking.\n</tool_response>\n\(deposit)",
        "<tools></tools>",
        "```\n\(deposit)",
        "",
        "{}",
        "[]",
    ])
    func textThatIsNotACallStaysText(text: String) {
        #expect(TextToolCalls.recover(from: text, idPrefix: "t") == nil)
    }

    @Test(arguments: [
        ("```json\n{\"a\": 1}\n```", "{\"a\": 1}\n"),
        ("\n```\n[1]\n```\n", "[1]\n"),
        ("{\"a\": 1}", "{\"a\": 1}"),
        ("```python\nx = 1\n```", "```python\nx = 1\n```"),
        ("```json\n{}\n```\n```json\n{}\n```", "```json\n{}\n```\n```json\n{}\n```"),
        ("Here: ```json\n{}\n```", "Here: ```json\n{}\n```"),
    ])
    func oneFenceAroundTheWholeTextIsTakenOff(text: String, inside: String) {
        #expect(TextToolCalls.withoutFence(text) == inside)
    }

    @Test func limitsBoundWhatIsExamined() {
        let many = "[" + Array(repeating: Self.balance, count: TextToolCalls.maximumCalls + 1).joined(separator: ",") + "]"
        #expect(TextToolCalls.recover(from: many, idPrefix: "t") == nil)
        let padded = Self.deposit + String(repeating: " ", count: TextToolCalls.maximumTextBytes)
        #expect(TextToolCalls.recover(from: padded, idPrefix: "t") == nil)
    }
}
