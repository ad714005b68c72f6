import CurlKit
import Foundation
import LLM
import Logging
import RPC
import Testing

/// The LLM client recovers a tool call written as text on Chat Completions when tools
/// were offered, and only then; HITL_LLM_TEXT_TOOL_CALLS=0 turns it off.
struct TextToolCallRecoveryTests {
    let tools = [ToolDefinition(name: "deposit_money", description: "deposit", parameters: ["type": "object"])]
    static let fenced = "```json\n{\"name\": \"deposit_money\", \"arguments\": {\"amount\": \"200.00\"}}\n```"

    func chatReply(_ content: String) -> String {
        JSONValue.object(["choices": [["message": ["role": "assistant", "content": .string(content)]]]]).jsonText()
    }

    func complete(_ api: LLMAPI, body: String, tools: [ToolDefinition], textToolCalls: Bool = true, stream: Bool = false) async throws -> ModelReply {
        let configuration = LLMConfiguration(
            baseURL: "http://127.0.0.1:9/v1", apiKey: nil, model: "m", api: api, stream: stream, textToolCalls: textToolCalls)
        let client = LLMClient(configuration: configuration, transport: ScriptedTransport([.init(status: 200, body: body)]), logger: Logger(label: "test"))
        return try await client.complete(ModelRequest(messages: [.system("bank"), .user("Deposit $200 into my account")], tools: tools))
    }

    @Test func aChatReplyThatIsACallBecomesTheCall() async throws {
        let reply = try await complete(.chat, body: chatReply(Self.fenced), tools: tools)
        #expect(reply == ModelReply(
            text: nil, toolCalls: [ToolCall(id: "text_2_1", name: "deposit_money", arguments: #"{"amount":"200.00"}"#)], recoveredFrom: .fenced))
    }

    @Test func aStreamedChatReplyIsRecoveredToo() async throws {
        let chunk = JSONValue.object(["choices": [["index": 0, "delta": ["content": .string(Self.fenced)]]]]).jsonText()
        let reply = try await complete(.chat, body: "data: \(chunk)\n\ndata: [DONE]\n\n", tools: tools, stream: true)
        #expect(reply.toolCalls.map(\.name) == ["deposit_money"])
        #expect(reply.text == nil)
    }

    @Test func notWithoutToolsNotWhenOffNotOnResponses() async throws {
        let noTools = try await complete(.chat, body: chatReply(Self.fenced), tools: [])
        #expect(noTools == ModelReply(text: Self.fenced, toolCalls: []))
        let off = try await complete(.chat, body: chatReply(Self.fenced), tools: tools, textToolCalls: false)
        #expect(off == ModelReply(text: Self.fenced, toolCalls: []))
        let responses = JSONValue.object(["output": [["type": "message", "content": [["type": "output_text", "text": .string(Self.fenced)]]]]]).jsonText()
        let onResponses = try await complete(.responses, body: responses, tools: tools)
        #expect(onResponses == ModelReply(text: Self.fenced, toolCalls: []))
    }

    @Test func aMentionIsNotACall() async throws {
        let text = "I can call deposit_money with {\"amount\": \"200.00\"} if you confirm."
        let reply = try await complete(.chat, body: chatReply(text), tools: tools)
        #expect(reply == ModelReply(text: text, toolCalls: []))
    }

    @Test func nativeCallsAreLeftAlone() async throws {
        let body = JSONValue.object(["choices": [["message": [
            "role": "assistant", "content": .string(Self.fenced),
            "tool_calls": [["id": "call_9", "type": "function", "function": ["name": "deposit_money", "arguments": #"{"amount":"5"}"#]]],
        ]]]]).jsonText()
        let reply = try await complete(.chat, body: body, tools: tools)
        #expect(reply.toolCalls == [ToolCall(id: "call_9", name: "deposit_money", arguments: #"{"amount":"5"}"#)])
    }

    @Test(arguments: [("0", false), ("1", true), ("", true)])
    func theSwitch(value: String, enabled: Bool) throws {
        let configuration = try LLMConfiguration.fromEnvironment(["OPENAI_BASE_URL": "http://x/v1", "HITL_LLM_TEXT_TOOL_CALLS": value])
        #expect(configuration.textToolCalls == enabled)
    }

    @Test func aWrongSwitchValueSaysWhatToWrite() {
        #expect(throws: LLMError.configuration(
            "HITL_LLM_TEXT_TOOL_CALLS is 'yes'; use 1 (the default: recover tool calls written as text) or 0 (off)")) {
            try LLMConfiguration.fromEnvironment(["OPENAI_BASE_URL": "http://x/v1", "HITL_LLM_TEXT_TOOL_CALLS": "yes"])
        }
    }
}
