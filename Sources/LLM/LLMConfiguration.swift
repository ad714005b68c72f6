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
    /// The most tokens one reply may take (`max_tokens` on Chat Completions,
    /// `max_output_tokens` on Responses); nil sends no limit. `HITL_LLM_MAX_TOKENS`
    /// sets it, `0` for none (providers that refuse the field).
    public var maxOutputTokens: Int?
    /// The default output limit. The seed's requests take far less (a three-step plan is
    /// about 120 tokens, a tool turn about 40, an answer about 150), and at the 10 to 15
    /// tokens a second a small model makes on two cores, 512 tokens end within the
    /// default 60 s timeout: a model looping inside a grammar (Qwen2.5-Coder-1.5B on
    /// llama-server once wrote until its context was full) then returns, and its plan is
    /// corrected or refused, instead of the request timing out. A reasoning model may
    /// need more: HITL_LLM_MAX_TOKENS.
    public static let defaultMaxOutputTokens = 512
    /// The largest limit `HITL_LLM_MAX_TOKENS` may set (beyond any model's output).
    public static let maximumOutputTokensSetting = 1_000_000
    /// The sampling temperature sent with every request; nil sends none (the provider's
    /// default). `HITL_LLM_TEMPERATURE` sets it: `0` makes a small local model pick its
    /// likeliest tokens, which for a banking agent means the same plan for the same
    /// request instead of an occasional invented step. Not sent by default because
    /// reasoning models refuse any value but their own.
    public var temperature: Double?
    /// The highest temperature `HITL_LLM_TEMPERATURE` may set (OpenAI's own range).
    public static let maximumTemperature = 2.0
    /// Chat Completions only: a reply whose text is a tool call (no `tool_calls`) is
    /// taken as that call (``TextToolCalls``). `HITL_LLM_TEXT_TOOL_CALLS=0` turns it off.
    public var textToolCalls: Bool
    /// Reach the API through this Unix socket (the stack's simulator) instead
    /// of the base URL's host and port.
    public var unixSocketPath: String?

    /// - Parameters: see the properties.
    public init(
        baseURL: String, apiKey: String?, model: String, api: LLMAPI = .responses, stream: Bool = false,
        connectTimeout: Duration = .seconds(5), requestTimeout: Duration = .seconds(60), maxAttempts: Int = 4,
        initialBackoff: Duration = .milliseconds(250), maxBackoff: Duration = .seconds(20), unixSocketPath: String? = nil,
        textToolCalls: Bool = true, maxOutputTokens: Int? = LLMConfiguration.defaultMaxOutputTokens, temperature: Double? = nil
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
        self.unixSocketPath = unixSocketPath
        self.textToolCalls = textToolCalls
        self.maxOutputTokens = maxOutputTokens
        self.temperature = temperature
    }

    /// The base URL used for the stack's simulator, reached through its Unix socket (the host is never resolved).
    public static let simulatorBaseURL = "http://model-sim.local/v1"

    /// The variables that point the agent at a model of the user's own.
    public static let providerVariables = ["OPENAI_API_KEY", "OPENAI_BASE_URL", "HITL_LLM_UNIX_SOCKET"]

    /// From the environment: `OPENAI_API_KEY`, `OPENAI_BASE_URL` (default
    /// `https://api.openai.com/v1`), `HITL_LLM_UNIX_SOCKET` (reach the base URL
    /// through a Unix socket), `HITL_MODEL` (default `gpt-4o-mini`),
    /// `HITL_LLM_API` (`responses` or `chat`), `HITL_LLM_STREAM` (`1` to stream),
    /// `HITL_LLM_TEXT_TOOL_CALLS` (`0` to take tool calls written as text as text),
    /// `HITL_LLM_MAX_TOKENS` (the output limit per reply; `0` sends none),
    /// `HITL_LLM_TEMPERATURE` (the sampling temperature, 0 to 2; unset sends none).
    ///
    /// With none of ``providerVariables`` set, `simulatorSocket` (the stack's
    /// offline model simulator) is used; with no simulator either, this throws
    /// rather than calling a provider without a key.
    /// - Parameters:
    ///   - environment: the variables.
    ///   - simulatorSocket: the simulator's HTTP socket, when the stack runs one.
    /// - Throws: ``LLMError/configuration(_:)`` for an unknown API name or no model at all.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment, simulatorSocket: String? = nil
    ) throws -> LLMConfiguration {
        let apiName = environment["HITL_LLM_API"] ?? "responses"
        guard let api = LLMAPI(rawValue: apiName) else {
            throw LLMError.configuration("HITL_LLM_API is '\(apiName)'; use responses or chat")
        }
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let stream = environment["HITL_LLM_STREAM"] == "1"
        let textToolCalls: Bool
        switch environment["HITL_LLM_TEXT_TOOL_CALLS"] ?? "" {
        case "", "1": textToolCalls = true
        case "0": textToolCalls = false
        case let other:
            throw LLMError.configuration("HITL_LLM_TEXT_TOOL_CALLS is '\(other.prefix(40))'; use 1 (the default: recover tool calls written as text) or 0 (off)")
        }
        let model = value("HITL_MODEL") ?? "gpt-4o-mini"
        var maxOutputTokens: Int? = defaultMaxOutputTokens
        if let text = value("HITL_LLM_MAX_TOKENS") {
            guard let limit = Int(text), (0...maximumOutputTokensSetting).contains(limit) else {
                throw LLMError.configuration(
                    "HITL_LLM_MAX_TOKENS is '\(text.prefix(40))'; use a whole number of tokens up to \(maximumOutputTokensSetting), or 0 to send no limit")
            }
            maxOutputTokens = limit == 0 ? nil : limit
        }
        var temperature: Double?
        if let text = value("HITL_LLM_TEMPERATURE") {
            guard let setting = Double(text), setting.isFinite, (0...maximumTemperature).contains(setting) else {
                throw LLMError.configuration(
                    "HITL_LLM_TEMPERATURE is '\(text.prefix(40))'; use a number from 0 (always the likeliest token) to \(maximumTemperature), or leave it unset for the provider's default")
            }
            temperature = setting
        }
        if providerVariables.allSatisfy({ value($0) == nil }) {
            guard let simulatorSocket else {
                throw LLMError.configuration(
                    "no model is configured: set OPENAI_API_KEY (and OPENAI_BASE_URL for a provider other than OpenAI), "
                        + "or OPENAI_BASE_URL alone for a local server such as Ollama, or run the stack's model simulator")
            }
            return LLMConfiguration(
                baseURL: simulatorBaseURL, apiKey: nil, model: model, api: api, stream: stream,
                unixSocketPath: simulatorSocket, textToolCalls: textToolCalls, maxOutputTokens: maxOutputTokens, temperature: temperature)
        }
        return LLMConfiguration(
            baseURL: value("OPENAI_BASE_URL") ?? "https://api.openai.com/v1", apiKey: value("OPENAI_API_KEY"),
            model: model, api: api, stream: stream, unixSocketPath: value("HITL_LLM_UNIX_SOCKET"), textToolCalls: textToolCalls,
            maxOutputTokens: maxOutputTokens, temperature: temperature)
    }

    /// Where requests go, for logs: the endpoint and, if any, the Unix socket. Never the key.
    public var destination: String {
        unixSocketPath.map { "\(endpoint) via \($0)" } ?? endpoint
    }

    /// The endpoint for the chosen API.
    public var endpoint: String {
        switch api {
        case .responses: "\(baseURL)/responses"
        case .chat: "\(baseURL)/chat/completions"
        }
    }
}
