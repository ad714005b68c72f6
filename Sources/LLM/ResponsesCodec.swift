import Foundation
import RPC

/// The Responses API (`POST /v1/responses`) wire format.
enum ResponsesCodec {
    static func body(_ request: ModelRequest, model: String, stream: Bool) -> JSONValue {
        var input: [JSONValue] = []
        for message in request.messages {
            switch message {
            case .system(let text): input.append(["role": "system", "content": .string(text)])
            case .user(let text): input.append(["role": "user", "content": .string(text)])
            case .assistant(let text, let calls):
                if let text, !text.isEmpty { input.append(["role": "assistant", "content": .string(text)]) }
                for call in calls {
                    input.append([
                        "type": "function_call", "call_id": .string(call.id), "name": .string(call.name),
                        "arguments": .string(call.arguments),
                    ])
                }
            case .toolResult(let callID, let output):
                input.append(["type": "function_call_output", "call_id": .string(callID), "output": .string(output)])
            }
        }
        var body: [String: JSONValue] = ["model": .string(model), "input": .array(input), "stream": .bool(stream)]
        if !request.tools.isEmpty {
            body["tools"] = .array(request.tools.map { tool in
                ["type": "function", "name": .string(tool.name), "description": .string(tool.description), "parameters": tool.parameters]
            })
        }
        if let schema = request.responseSchema {
            body["text"] = ["format": ["type": "json_schema", "name": .string(schema.name), "schema": schema.schema, "strict": true]]
        }
        return .object(body)
    }

    /// Parses a complete response object.
    static func reply(from response: JSONValue) throws -> ModelReply {
        if let status = response["status"]?.stringValue, status == "failed" || status == "incomplete" {
            let detail = response["error"]?["message"]?.stringValue ?? response["incomplete_details"]?["reason"]?.stringValue ?? status
            let hint = detail == "max_output_tokens" ? " (the output limit; raise it with HITL_LLM_MAX_TOKENS, or 0 for none)" : ""
            throw LLMError.provider(status: 200, message: "the response ended \(status): \(detail)\(hint)")
        }
        guard case .array(let output)? = response["output"] else {
            throw LLMError.malformed("a Responses API reply needs an output array")
        }
        var text: [String] = []
        var calls: [ToolCall] = []
        for item in output {
            switch item["type"]?.stringValue {
            case "message":
                guard case .array(let parts)? = item["content"] else { continue }
                for part in parts where part["type"]?.stringValue == "output_text" {
                    if let piece = part["text"]?.stringValue { text.append(piece) }
                }
            case "function_call":
                guard let id = item["call_id"]?.stringValue, let name = item["name"]?.stringValue else {
                    throw LLMError.malformed("a function_call item needs call_id and name")
                }
                calls.append(ToolCall(id: id, name: name, arguments: item["arguments"]?.stringValue ?? ""))
            default:
                continue  // reasoning and other items carry nothing the agent acts on
            }
        }
        return ModelReply(text: text.isEmpty ? nil : text.joined(), toolCalls: calls)
    }

    /// Follows a Responses stream: text deltas as they come; the reply from
    /// `response.completed`.
    struct StreamState {
        var reply: ModelReply?

        mutating func consume(_ event: SSEEvent, onTextDelta: (@Sendable (String) -> Void)?) throws {
            let payload = try JSONValue(parsing: event.data)
            let type = payload["type"]?.stringValue ?? event.event
            switch type {
            case "response.output_text.delta":
                if let delta = payload["delta"]?.stringValue { onTextDelta?(delta) }
            case "response.completed", "response.incomplete", "response.failed":
                guard let response = payload["response"] else { throw LLMError.malformed("\(type ?? "") without a response") }
                reply = try ResponsesCodec.reply(from: response)
            case "error":
                throw LLMError.provider(status: 200, message: payload["message"]?.stringValue ?? "the stream reported an error")
            default:
                break
            }
        }
    }
}
