import RPC

/// A tool call the model asked for. `id` is the provider's call id
/// (`call_id` in the Responses API, `tool_calls[].id` in Chat Completions).
public struct ToolCall: Sendable, Codable, Equatable {
    /// The call id results must echo.
    public let id: String
    /// The tool's name.
    public let name: String
    /// The arguments, as the JSON text the model wrote (validated by the caller).
    public let arguments: String

    /// - Parameters: see the properties.
    public init(id: String, name: String, arguments: String) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}

/// One message of a conversation, in a provider-neutral form that is also the
/// form runs are persisted in (`role` + fields).
public enum ModelMessage: Sendable, Codable, Equatable {
    case system(String)
    case user(String)
    case assistant(text: String?, toolCalls: [ToolCall])
    case toolResult(callID: String, output: String)

    enum CodingKeys: String, CodingKey {
        case role, content
        case toolCalls = "tool_calls"
        case callID = "call_id"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(String.self, forKey: .role) {
        case "system": self = .system(try container.decode(String.self, forKey: .content))
        case "user": self = .user(try container.decode(String.self, forKey: .content))
        case "assistant":
            self = .assistant(
                text: try container.decodeIfPresent(String.self, forKey: .content),
                toolCalls: try container.decodeIfPresent([ToolCall].self, forKey: .toolCalls) ?? [])
        case "tool":
            self = .toolResult(
                callID: try container.decode(String.self, forKey: .callID), output: try container.decode(String.self, forKey: .content))
        case let role:
            throw DecodingError.dataCorruptedError(forKey: .role, in: container, debugDescription: "unknown role \(role)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .system(let text):
            try container.encode("system", forKey: .role)
            try container.encode(text, forKey: .content)
        case .user(let text):
            try container.encode("user", forKey: .role)
            try container.encode(text, forKey: .content)
        case .assistant(let text, let calls):
            try container.encode("assistant", forKey: .role)
            try container.encodeIfPresent(text, forKey: .content)
            if !calls.isEmpty { try container.encode(calls, forKey: .toolCalls) }
        case .toolResult(let callID, let output):
            try container.encode("tool", forKey: .role)
            try container.encode(callID, forKey: .callID)
            try container.encode(output, forKey: .content)
        }
    }
}

/// A function the model may call.
public struct ToolDefinition: Sendable, Equatable {
    /// The tool's name.
    public let name: String
    /// What it does, for the model.
    public let description: String
    /// Its JSON Schema for arguments.
    public let parameters: JSONValue

    /// - Parameters: see the properties.
    public init(name: String, description: String, parameters: JSONValue) {
        self.name = name
        self.description = description
        self.parameters = parameters
    }
}

/// What the agent asks of the model.
public struct ModelRequest: Sendable {
    /// The conversation so far.
    public var messages: [ModelMessage]
    /// Tools offered (tools mode).
    public var tools: [ToolDefinition]
    /// A JSON Schema the reply must follow (structured mode): name and schema.
    public var responseSchema: (name: String, schema: JSONValue)?

    /// - Parameters: see the properties.
    public init(messages: [ModelMessage], tools: [ToolDefinition] = [], responseSchema: (name: String, schema: JSONValue)? = nil) {
        self.messages = messages
        self.tools = tools
        self.responseSchema = responseSchema
    }
}

/// What the model answered.
public struct ModelReply: Sendable, Equatable {
    /// Text (the JSON document in structured mode); nil when it only called tools.
    public let text: String?
    /// Tool calls, in order.
    public let toolCalls: [ToolCall]
    /// How the model wrote the calls when they were recovered from its text
    /// (``TextToolCalls``); nil for real tool calls and for text.
    public let recoveredFrom: TextToolCalls.Shape?

    /// - Parameters: see the properties.
    public init(text: String?, toolCalls: [ToolCall], recoveredFrom: TextToolCalls.Shape? = nil) {
        self.text = text
        self.toolCalls = toolCalls
        self.recoveredFrom = recoveredFrom
    }

    /// The reply as the assistant message to append to the conversation.
    public var message: ModelMessage { .assistant(text: text, toolCalls: toolCalls) }
}

/// Which OpenAI-compatible API to speak.
public enum LLMAPI: String, Sendable, Codable, CaseIterable {
    /// `POST /v1/responses` (what the seed uses).
    case responses
    /// `POST /v1/chat/completions` (Ollama, vLLM, llama.cpp and most providers).
    case chat
}
