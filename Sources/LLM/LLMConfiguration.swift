import Foundation

/// Where and how the agent reaches its model.
public struct LLMConfiguration: Sendable, Equatable {
    /// The API root, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`.
    public var baseURL: String
    /// Sent as `Authorization: Bearer …`; never logged, never in an error.
    public var apiKey: String?
    /// The model name.
    public var model: String
    /// Which API to speak.
    public var api: LLMAPI
    /// Stream replies (SSE) or not.
    public var stream: Bool
    /// Connecting may take this long.
    public var connectTimeout: Duration
    /// One model call may take this long, streaming included.
    public var requestTimeout: Duration
    /// Attempts for one call, counting the first; 429 and 5xx are retried.
    public var maxAttempts: Int
    /// The first pause between attempts (doubling, with jitter, capped at ``maxBackoff``),
    /// unless the provider says `Retry-After`.
    public var initialBackoff: Duration
    /// The longest pause between attempts, `Retry-After` included.
    public var maxBackoff: Duration

    /// - Parameters: see the properties.
    public init(
        baseURL: String, apiKey: String?, model: String, api: LLMAPI = .responses, stream: Bool = false,
        connectTimeout: Duration = .seconds(5), requestTimeout: Duration = .seconds(60), maxAttempts: Int = 4,
        initialBackoff: Duration = .milliseconds(250), maxBackoff: Duration = .seconds(20)
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.model = model
        self.api = api
        self.stream = stream
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    /// From the environment: `OPENAI_API_KEY`, `OPENAI_BASE_URL` (default
    /// `https://api.openai.com/v1`), `HITL_MODEL` (default `gpt-4o-mini`),
    /// `HITL_LLM_API` (`responses` or `chat`), `HITL_LLM_STREAM` (`1` to stream).
    /// - Parameter environment: the variables.
    /// - Throws: ``LLMError/configuration(_:)`` for an unknown API name.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> LLMConfiguration {
        let apiName = environment["HITL_LLM_API"] ?? "responses"
        guard let api = LLMAPI(rawValue: apiName) else {
            throw LLMError.configuration("HITL_LLM_API is '\(apiName)'; use responses or chat")
        }
        let key = environment["OPENAI_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        return LLMConfiguration(
            baseURL: environment["OPENAI_BASE_URL"] ?? "https://api.openai.com/v1", apiKey: key,
            model: environment["HITL_MODEL"] ?? "gpt-4o-mini", api: api, stream: environment["HITL_LLM_STREAM"] == "1")
    }

    /// The endpoint for the chosen API.
    public var endpoint: String {
        switch api {
        case .responses: "\(baseURL)/responses"
        case .chat: "\(baseURL)/chat/completions"
        }
    }
}
