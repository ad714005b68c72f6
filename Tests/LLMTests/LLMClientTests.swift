import CurlKit
import Foundation
import LLM
import Logging
import RPC
import Synchronization
import Testing

/// A transport that answers from a script and records what it was sent.
final class ScriptedTransport: HTTPTransport {
    struct Step: Sendable {
        var status: Int
        var headers: [String: String] = [:]
        var body: String
    }

    private let steps: Mutex<[Step]>
    let sent = Mutex<[HTTPRequest]>([])

    init(_ steps: [Step]) { self.steps = Mutex(steps) }

    func send(_ request: HTTPRequest, onBody: (@Sendable (Data) -> Void)?) async throws -> HTTPResponse {
        sent.withLock { $0.append(request) }
        let step = steps.withLock { $0.isEmpty ? Step(status: 599, body: "script exhausted") : $0.removeFirst() }
        if let onBody, (200..<300).contains(step.status) {
            // Deliver in small pieces, as a network would.
            let bytes = Array(step.body.utf8)
            for start in stride(from: 0, to: bytes.count, by: 7) { onBody(Data(bytes[start..<min(start + 7, bytes.count)])) }
            return HTTPResponse(status: step.status, headers: step.headers, body: Data())
        }
        return HTTPResponse(status: step.status, headers: step.headers, body: Data(step.body.utf8))
    }
}

struct LLMClientTests {
    let tools = [ToolDefinition(name: "get_balance", description: "balance", parameters: ["type": "object"])]
    let conversation: [ModelMessage] = [
        .system("bank"), .user("Transfer $150 to Alice"),
        .assistant(text: nil, toolCalls: [ToolCall(id: "call_1", name: "transfer_money", arguments: #"{"to":"alice","amount":"150"}"#)]),
        .toolResult(callID: "call_1", output: "PENDING"),
    ]

    func client(_ api: LLMAPI, stream: Bool = false, _ steps: [ScriptedTransport.Step], key: String? = "sk-secret-key-123") -> (LLMClient, ScriptedTransport) {
        let transport = ScriptedTransport(steps)
        let configuration = LLMConfiguration(
            baseURL: "http://127.0.0.1:9/v1/", apiKey: key, model: "m", api: api, stream: stream,
            initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(50))
        return (LLMClient(configuration: configuration, transport: transport, logger: Logger(label: "test")), transport)
    }

    @Test func responsesRequestCarriesToolCallsAndOutputs() async throws {
        let reply = #"{"output":[{"type":"function_call","call_id":"c2","name":"get_balance","arguments":"{}"},{"type":"message","content":[{"type":"output_text","text":"ok"}]}]}"#
        let (client, transport) = client(.responses, [.init(status: 200, body: reply)])
        let answer = try await client.complete(ModelRequest(messages: conversation, tools: tools))
        #expect(answer == ModelReply(text: "ok", toolCalls: [ToolCall(id: "c2", name: "get_balance", arguments: "{}")]))
        let request = try #require(transport.sent.withLock { $0.first })
        #expect(request.url == "http://127.0.0.1:9/v1/responses")
        #expect(request.headers.contains { $0 == ("Authorization", "Bearer sk-secret-key-123") })
        let body = try JSONValue(parsing: String(decoding: request.body, as: UTF8.self))
        guard case .array(let input)? = body["input"] else { Issue.record("no input"); return }
        #expect(input.count == 4)
        #expect(input[2]["type"] == "function_call")
        #expect(input[2]["call_id"] == "call_1")
        #expect(input[3] == ["type": "function_call_output", "call_id": "call_1", "output": "PENDING"])
        #expect(body["tools"]?.jsonText().contains("\"type\":\"function\"") == true)
    }

    @Test func chatRequestAndStructuredFormat() async throws {
        let reply = #"{"choices":[{"message":{"role":"assistant","content":"{\"actions\":[]}"}}]}"#
        let (client, transport) = client(.chat, [.init(status: 200, body: reply)])
        let answer = try await client.complete(ModelRequest(messages: [.user("hi")], responseSchema: ("ActionPlan", ["type": "object"])))
        #expect(answer.text == #"{"actions":[]}"#)
        let request = try #require(transport.sent.withLock { $0.first })
        #expect(request.url.hasSuffix("/chat/completions"))
        let body = try JSONValue(parsing: String(decoding: request.body, as: UTF8.self))
        #expect(body["response_format"]?["type"] == "json_schema")
        #expect(body["response_format"]?["json_schema"]?["name"] == "ActionPlan")
    }

    @Test func chatStreamJoinsToolCallFragments() async throws {
        let chunks = [
            #"{"choices":[{"delta":{"role":"assistant","content":"Sure"}}]}"#,
            #"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"transfer_money","arguments":"{\"to\":"}}]}}]}"#,
            #"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"bob\"}"}}]}}]}"#,
            #"{"choices":[{"delta":{"tool_calls":[{"index":1,"id":"c2","function":{"name":"get_balance","arguments":"{}"}}]}}]}"#,
            "[DONE]",
        ]
        let body = chunks.map { "data: \($0)\n\n" }.joined()
        let (client, _) = client(.chat, stream: true, [.init(status: 200, body: body)])
        let deltas = Mutex<[String]>([])
        let answer = try await client.complete(ModelRequest(messages: [.user("x")])) { piece in deltas.withLock { $0.append(piece) } }
        #expect(answer.text == "Sure")
        #expect(answer.toolCalls == [
            ToolCall(id: "c1", name: "transfer_money", arguments: #"{"to":"bob"}"#), ToolCall(id: "c2", name: "get_balance", arguments: "{}"),
        ])
        #expect(deltas.withLock { $0 } == ["Sure"])
    }

    @Test func responsesStreamUsesTheCompletedResponse() async throws {
        let events = [
            ("response.created", #"{"type":"response.created","response":{"output":[]}}"#),
            ("response.output_text.delta", #"{"type":"response.output_text.delta","delta":"Hel"}"#),
            ("response.output_text.delta", #"{"type":"response.output_text.delta","delta":"lo"}"#),
            ("response.completed", #"{"type":"response.completed","response":{"status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"Hello"}]}]}}"#),
        ]
        let body = events.map { "event: \($0.0)\ndata: \($0.1)\n\n" }.joined()
        let (client, _) = client(.responses, stream: true, [.init(status: 200, body: body)])
        let deltas = Mutex<[String]>([])
        let answer = try await client.complete(ModelRequest(messages: [.user("x")])) { piece in deltas.withLock { $0.append(piece) } }
        #expect(answer.text == "Hello")
        #expect(deltas.withLock { $0 } == ["Hel", "lo"])
    }

    @Test func rateLimitsAreRetriedThenSucceed() async throws {
        let ok = #"{"output":[{"type":"message","content":[{"type":"output_text","text":"done"}]}]}"#
        let (client, transport) = client(.responses, [
            .init(status: 429, headers: ["retry-after": "0.01"], body: #"{"error":{"message":"slow down"}}"#),
            .init(status: 503, body: "unavailable"), .init(status: 200, body: ok),
        ])
        #expect(try await client.complete(ModelRequest(messages: [.user("x")])).text == "done")
        #expect(transport.sent.withLock { $0.count } == 3)
    }

    @Test func persistentServerErrorsEndInAClearErrorAfterTheAttempts() async throws {
        let (client, transport) = client(.responses, Array(repeating: .init(status: 500, body: #"{"error":{"message":"boom"}}"#), count: 6))
        await #expect(throws: LLMError.provider(status: 500, message: "boom")) {
            try await client.complete(ModelRequest(messages: [.user("x")]))
        }
        #expect(transport.sent.withLock { $0.count } == 4)
    }

    @Test func authErrorsAreNotRetriedAndNeverShowTheKey() async throws {
        let (client, transport) = client(.chat, [
            .init(status: 401, body: #"{"error":{"message":"Incorrect API key provided: sk-secret-key-123"}}"#),
        ])
        do {
            _ = try await client.complete(ModelRequest(messages: [.user("x")]))
            Issue.record("expected a failure")
        } catch let error as LLMError {
            #expect(!error.description.contains("sk-secret-key-123"))
            #expect(error.description.contains("[redacted]"))
            #expect(error.rpcError.reason == "LLM_AUTH_FAILED")
        }
        #expect(transport.sent.withLock { $0.count } == 1)
    }

    @Test func malformedRepliesAreReportedNotGuessed() async throws {
        let (plain, _) = client(.chat, [.init(status: 200, body: "{not json")])
        await #expect(throws: LLMError.self) { try await plain.complete(ModelRequest(messages: [.user("x")])) }
        let (streaming, _) = client(.chat, stream: true, [.init(status: 200, body: "data: {\"choices\":[]}\n\n")])
        await #expect(throws: LLMError.malformed("the stream ended before the reply was complete")) {
            try await streaming.complete(ModelRequest(messages: [.user("x")]))
        }
    }

    @Test func messagesPersistInARoleTaggedForm() throws {
        let data = try JSONEncoder().encode(conversation)
        #expect(try JSONDecoder().decode([ModelMessage].self, from: data) == conversation)
        #expect(String(decoding: data, as: UTF8.self).contains(#""role":"tool""#))
    }
}
