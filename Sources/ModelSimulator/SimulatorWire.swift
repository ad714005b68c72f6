import Foundation
import LLM
import RPC

/// A request as the simulator understands it, from either API.
public struct SimulatorRequest: Sendable {
    public let api: LLMAPI
    public let conversation: [ModelMessage]
    public let structured: Bool
    public let hasTools: Bool
    public let stream: Bool

    /// Reads a request body.
    /// - Parameters:
    ///   - body: the JSON body.
    ///   - api: which endpoint it came to.
    /// - Throws: ``SimulatorRequestError`` when the body is not a valid request.
    public init(body: JSONValue, api: LLMAPI) throws {
        self.api = api
        stream = body["stream"] == .bool(true)
        if case .array(let tools)? = body["tools"] { hasTools = !tools.isEmpty } else { hasTools = false }
        switch api {
        case .responses:
            structured = body["text"]?["format"]?["type"]?.stringValue == "json_schema"
            conversation = try Self.responsesInput(body["input"])
        case .chat:
            structured = body["response_format"]?["type"]?.stringValue == "json_schema"
            conversation = try Self.chatMessages(body["messages"])
        }
    }

    private static func responsesInput(_ input: JSONValue?) throws -> [ModelMessage] {
        if let text = input?.stringValue { return [.user(text)] }
        guard case .array(let items)? = input else { throw SimulatorRequestError("input must be a string or an array of items") }
        return try items.map { item in
            switch item["type"]?.stringValue {
            case "function_call":
                return .assistant(text: nil, toolCalls: [ToolCall(
                    id: item["call_id"]?.stringValue ?? "", name: item["name"]?.stringValue ?? "",
                    arguments: item["arguments"]?.stringValue ?? "")])
            case "function_call_output":
                return .toolResult(callID: item["call_id"]?.stringValue ?? "", output: item["output"]?.stringValue ?? "")
            default:
                let text = content(item["content"])
                switch item["role"]?.stringValue {
                case "system", "developer": return .system(text)
                case "user": return .user(text)
                case "assistant": return .assistant(text: text, toolCalls: [])
                default: throw SimulatorRequestError("an input item needs a role or a known type")
                }
            }
        }
    }

    private static func chatMessages(_ messages: JSONValue?) throws -> [ModelMessage] {
        guard case .array(let items)? = messages else { throw SimulatorRequestError("messages must be an array") }
        return try items.map { item in
            switch item["role"]?.stringValue {
            case "system", "developer": return .system(content(item["content"]))
            case "user": return .user(content(item["content"]))
            case "assistant":
                var calls: [ToolCall] = []
                if case .array(let toolCalls)? = item["tool_calls"] {
                    calls = toolCalls.map {
                        ToolCall(id: $0["id"]?.stringValue ?? "", name: $0["function"]?["name"]?.stringValue ?? "",
                                 arguments: $0["function"]?["arguments"]?.stringValue ?? "")
                    }
                }
                return .assistant(text: item["content"]?.stringValue, toolCalls: calls)
            case "tool":
                return .toolResult(callID: item["tool_call_id"]?.stringValue ?? "", output: content(item["content"]))
            default:
                throw SimulatorRequestError("a message needs a role of system, user, assistant or tool")
            }
        }
    }

    /// A string, or the text parts of a content array.
    private static func content(_ value: JSONValue?) -> String {
        if let text = value?.stringValue { return text }
        guard case .array(let parts)? = value else { return "" }
        return parts.compactMap { $0["text"]?.stringValue }.joined()
    }
}

/// A request the simulator cannot read.
public struct SimulatorRequestError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Writes replies in either API's format.
public enum SimulatorWire {
    /// The complete (non-streaming) reply body.
    public static func body(_ reply: ModelReply, api: LLMAPI, id: String) -> JSONValue {
        switch api {
        case .responses:
            return ["id": .string(id), "object": "response", "status": "completed",
                    "model": .string(SimulatedModel.modelName), "output": .array(responsesOutput(reply))]
        case .chat:
            var message: [String: JSONValue] = ["role": "assistant", "content": reply.text.map(JSONValue.string) ?? .null]
            if !reply.toolCalls.isEmpty {
                message["tool_calls"] = .array(reply.toolCalls.map { call in
                    ["id": .string(call.id), "type": "function",
                     "function": ["name": .string(call.name), "arguments": .string(call.arguments)]]
                })
            }
            return ["id": .string(id), "object": "chat.completion", "model": .string(SimulatedModel.modelName),
                    "choices": [["index": 0, "message": .object(message),
                                 "finish_reason": reply.toolCalls.isEmpty ? "stop" : "tool_calls"]]]
        }
    }

    /// The streamed reply: SSE frames, text split into words, arguments into pieces.
    public static func events(_ reply: ModelReply, api: LLMAPI, id: String) -> [String] {
        switch api {
        case .responses: responsesEvents(reply, id: id)
        case .chat: chatEvents(reply, id: id)
        }
    }

    private static func responsesOutput(_ reply: ModelReply) -> [JSONValue] {
        var output: [JSONValue] = reply.toolCalls.map { call in
            ["type": "function_call", "id": .string("fc_" + call.id), "call_id": .string(call.id),
             "name": .string(call.name), "arguments": .string(call.arguments), "status": "completed"]
        }
        if let text = reply.text {
            output.append(["type": "message", "role": "assistant", "status": "completed",
                           "content": [["type": "output_text", "text": .string(text), "annotations": []]]])
        }
        return output
    }

    private static func responsesEvents(_ reply: ModelReply, id: String) -> [String] {
        var sequence: Int64 = 0
        var frames: [String] = []
        func emit(_ type: String, _ fields: [String: JSONValue]) {
            var payload = fields
            payload["type"] = .string(type)
            payload["sequence_number"] = .int(sequence)
            sequence += 1
            frames.append("event: \(type)\ndata: \(JSONValue.object(payload).jsonText())\n\n")
        }
        emit("response.created", ["response": ["id": .string(id), "object": "response", "status": "in_progress", "output": []]])
        for (index, call) in reply.toolCalls.enumerated() {
            for piece in halves(call.arguments) {
                emit("response.function_call_arguments.delta", ["item_id": .string("fc_" + call.id), "output_index": .int(Int64(index)), "delta": .string(piece)])
            }
        }
        if let text = reply.text {
            for piece in words(text) {
                emit("response.output_text.delta", ["output_index": .int(Int64(reply.toolCalls.count)), "content_index": 0, "delta": .string(piece)])
            }
        }
        emit("response.completed", ["response": body(reply, api: .responses, id: id)])
        return frames
    }

    private static func chatEvents(_ reply: ModelReply, id: String) -> [String] {
        func chunk(_ delta: JSONValue, finish: String? = nil) -> String {
            let choice: JSONValue = ["index": 0, "delta": delta, "finish_reason": finish.map(JSONValue.string) ?? .null]
            let object: JSONValue = ["id": .string(id), "object": "chat.completion.chunk", "model": .string(SimulatedModel.modelName), "choices": [choice]]
            return "data: \(object.jsonText())\n\n"
        }
        var frames = [chunk(["role": "assistant"])]
        if let text = reply.text { frames += words(text).map { chunk(["content": .string($0)]) } }
        for (index, call) in reply.toolCalls.enumerated() {
            frames.append(chunk(["tool_calls": [["index": .int(Int64(index)), "id": .string(call.id), "type": "function",
                                                 "function": ["name": .string(call.name), "arguments": ""]]]]))
            for piece in halves(call.arguments) {
                frames.append(chunk(["tool_calls": [["index": .int(Int64(index)), "function": ["arguments": .string(piece)]]]]))
            }
        }
        frames.append(chunk([:], finish: reply.toolCalls.isEmpty ? "stop" : "tool_calls"))
        frames.append("data: [DONE]\n\n")
        return frames
    }

    private static func words(_ text: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        for character in text {
            current.append(character)
            if character == " " {
                pieces.append(current)
                current = ""
            }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    private static func halves(_ text: String) -> [String] {
        guard text.count > 1 else { return [text] }
        let middle = text.index(text.startIndex, offsetBy: text.count / 2)
        return [String(text[..<middle]), String(text[middle...])]
    }
}
