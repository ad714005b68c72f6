import Foundation
import RPC

/// The Chat Completions API (`POST /v1/chat/completions`) wire format.
enum ChatCodec {
    static func body(_ request: ModelRequest, model: String, stream: Bool) -> JSONValue {
        let messages: [JSONValue] = request.messages.map { message in
            switch message {
            case .system(let text): return ["role": "system", "content": .string(text)]
            case .user(let text): return ["role": "user", "content": .string(text)]
            case .assistant(let text, let calls):
                var object: [String: JSONValue] = ["role": "assistant", "content": text.map(JSONValue.string) ?? .null]
                if !calls.isEmpty {
                    object["tool_calls"] = .array(calls.map { call in
                        ["id": .string(call.id), "type": "function",
                         "function": ["name": .string(call.name), "arguments": .string(call.arguments)]]
                    })
                }
                return .object(object)
            case .toolResult(let callID, let output):
                return ["role": "tool", "tool_call_id": .string(callID), "content": .string(output)]
            }
        }
        var body: [String: JSONValue] = ["model": .string(model), "messages": .array(messages), "stream": .bool(stream)]
        if !request.tools.isEmpty {
            body["tools"] = .array(request.tools.map { tool in
                ["type": "function",
                 "function": ["name": .string(tool.name), "description": .string(tool.description), "parameters": tool.parameters]]
            })
        }
        if let schema = request.responseSchema {
            body["response_format"] = [
                "type": "json_schema", "json_schema": ["name": .string(schema.name), "schema": schema.schema, "strict": true],
            ]
        }
        return .object(body)
    }

    static func reply(from response: JSONValue) throws -> ModelReply {
        guard case .array(let choices)? = response["choices"], let message = choices.first?["message"] else {
            throw LLMError.malformed("a Chat Completions reply needs choices[0].message")
        }
        var calls: [ToolCall] = []
        if case .array(let toolCalls)? = message["tool_calls"] {
            for call in toolCalls {
                guard let id = call["id"]?.stringValue, let name = call["function"]?["name"]?.stringValue else {
                    throw LLMError.malformed("a tool call needs id and function.name")
                }
                calls.append(ToolCall(id: id, name: name, arguments: call["function"]?["arguments"]?.stringValue ?? ""))
            }
        }
        let text = message["content"]?.stringValue
        return ModelReply(text: text?.isEmpty == true ? nil : text, toolCalls: calls)
    }

    /// Follows a Chat Completions stream: content deltas as they come; tool
    /// call fragments joined by index; the reply at `[DONE]`.
    struct StreamState {
        private var text = ""
        private var calls: [Int: (id: String, name: String, arguments: String)] = [:]
        var reply: ModelReply?

        mutating func consume(_ event: SSEEvent, onTextDelta: (@Sendable (String) -> Void)?) throws {
            if event.data == "[DONE]" {
                let ordered = calls.keys.sorted().compactMap { calls[$0] }
                for call in ordered where call.id.isEmpty || call.name.isEmpty {
                    throw LLMError.malformed("a streamed tool call ended without an id or a name")
                }
                reply = ModelReply(
                    text: text.isEmpty ? nil : text,
                    toolCalls: ordered.map { ToolCall(id: $0.id, name: $0.name, arguments: $0.arguments) })
                return
            }
            let chunk = try JSONValue(parsing: event.data)
            if let message = chunk["error"]?["message"]?.stringValue { throw LLMError.provider(status: 200, message: message) }
            guard case .array(let choices)? = chunk["choices"], let delta = choices.first?["delta"] else { return }
            if let piece = delta["content"]?.stringValue, !piece.isEmpty {
                text += piece
                onTextDelta?(piece)
            }
            guard case .array(let fragments)? = delta["tool_calls"] else { return }
            for fragment in fragments {
                let index = Int(fragment["index"]?.intValue ?? 0)
                var call = calls[index] ?? (id: "", name: "", arguments: "")
                if let id = fragment["id"]?.stringValue, !id.isEmpty { call.id = id }
                if let name = fragment["function"]?["name"]?.stringValue { call.name += name }
                if let arguments = fragment["function"]?["arguments"]?.stringValue { call.arguments += arguments }
                calls[index] = call
            }
        }
    }
}
