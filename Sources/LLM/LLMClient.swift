import CurlKit
import Foundation
import Logging
import RPC
import Synchronization

/// Talks to any OpenAI-compatible endpoint: the Responses API or Chat
/// Completions, streaming or not, with timeouts and retries of 429 and 5xx
/// (honouring `Retry-After`). The API key is sent in a header and appears in
/// no log line and no error.
public struct LLMClient: Sendable {
    /// Where and how.
    public let configuration: LLMConfiguration
    private let transport: any HTTPTransport
    private let logger: Logger

    /// - Parameters:
    ///   - configuration: endpoint, model, API, limits.
    ///   - transport: how HTTP is sent (libcurl by default).
    ///   - logger: for one line per attempt that fails.
    public init(configuration: LLMConfiguration, transport: any HTTPTransport = CurlTransport.shared, logger: Logger) {
        self.configuration = configuration
        self.transport = transport
        self.logger = logger
    }

    /// Asks the model once (retrying transient failures) and returns its reply.
    /// - Parameters:
    ///   - request: the conversation, tools and schema.
    ///   - onTextDelta: streamed text pieces as they arrive (streaming only).
    /// - Returns: the reply.
    /// - Throws: ``LLMError``.
    public func complete(_ request: ModelRequest, onTextDelta: (@Sendable (String) -> Void)? = nil) async throws -> ModelReply {
        var body: JSONValue = switch configuration.api {
        case .responses: ResponsesCodec.body(request, model: configuration.model, stream: configuration.stream)
        case .chat: ChatCodec.body(request, model: configuration.model, stream: configuration.stream)
        }
        if case .object(var members) = body {
            if let limit = configuration.maxOutputTokens {
                members[configuration.api == .chat ? "max_tokens" : "max_output_tokens"] = .int(Int64(limit))
            }
            if let temperature = configuration.temperature { members["temperature"] = .double(temperature) }
            body = .object(members)
        }
        let bytes = try body.compactJSON() ?? JSONEncoder().encode(body)  // the direct writer unless a fraction needs JSONEncoder
        return recoveringTextToolCalls(try await send(bytes, onTextDelta: onTextDelta), for: request)
    }

    /// A Chat Completions reply with no `tool_calls` whose text is a tool call
    /// (``TextToolCalls``) becomes that call, when tools were offered and
    /// ``LLMConfiguration/textToolCalls`` is on. Call ids are `text_<turn>_<n>`,
    /// `<turn>` the conversation's length, so they are unique within a run.
    /// On the Responses API such a reply is left as text, with a warning: servers that
    /// ignore tools there (llama.cpp's) make models write calls that nothing runs.
    func recoveringTextToolCalls(_ reply: ModelReply, for request: ModelRequest) -> ModelReply {
        guard !request.tools.isEmpty, reply.toolCalls.isEmpty, let text = reply.text,
              let (calls, shape) = TextToolCalls.recover(from: text, idPrefix: "text_\(request.messages.count)")
        else { return reply }
        guard configuration.api == .chat else {
            logger.warning(
                "the model wrote a tool call as text on the Responses API; it was not run. The endpoint may ignore tools there: set HITL_LLM_API=chat (`hitl model check` tells)",
                metadata: ["llm.tools": "\(calls.map(\.name).joined(separator: ","))"])
            return reply
        }
        guard configuration.textToolCalls else { return reply }
        logger.notice("tool call recovered from the model's text", metadata: [
            "llm.shape": "\(shape.rawValue)", "llm.tools": "\(calls.map(\.name).joined(separator: ","))",
        ])
        return ModelReply(text: nil, toolCalls: calls, recoveredFrom: shape)
    }

    /// Sends one request body, retrying transient failures.
    private func send(_ bytes: Data, onTextDelta: (@Sendable (String) -> Void)?) async throws -> ModelReply {
        var attempt = 1
        while true {
            do {
                return try await once(bytes, onTextDelta: onTextDelta)
            } catch let failure as Retryable {
                guard attempt < configuration.maxAttempts else { throw failure.error }
                let pause = failure.retryAfter.map { min($0, configuration.maxBackoff) } ?? backoff(attempt)
                logger.warning("model call failed; retrying", metadata: [
                    "llm.attempt": "\(attempt)", "llm.pause_ms": "\(pause.components.seconds * 1000 + pause.components.attoseconds / 1_000_000_000_000_000)",
                    "error": "\(failure.error)",
                ])
                try await Task.sleep(for: pause)
                attempt += 1
            }
        }
    }

    private func once(_ body: Data, onTextDelta: (@Sendable (String) -> Void)?) async throws -> ModelReply {
        var headers = [("Content-Type", "application/json"), ("Accept", configuration.stream ? "text/event-stream" : "application/json")]
        if let key = configuration.apiKey { headers.append(("Authorization", "Bearer \(key)")) }
        let request = HTTPRequest(
            url: configuration.endpoint, headers: headers, body: body,
            connectTimeout: configuration.connectTimeout, totalTimeout: configuration.requestTimeout,
            unixSocketPath: configuration.unixSocketPath)
        let collector = configuration.stream ? StreamCollector(api: configuration.api, onTextDelta: onTextDelta) : nil
        var onBody: (@Sendable (Data) -> Void)?
        if let collector { onBody = { bytes in collector.feed(bytes) } }
        let response: HTTPResponse
        do {
            response = try await transport.send(request, onBody: onBody)
        } catch let error as TransportError {
            if error.timedOut { throw LLMError.timedOut("no complete answer within \(configuration.requestTimeout)") }
            let failure = LLMError.unreachable(redact("\(configuration.endpoint): \(error.message)"))
            if error.couldNotConnect { throw Retryable(error: failure, retryAfter: nil) }
            throw failure
        }
        guard (200..<300).contains(response.status) else { throw providerFailure(response) }
        if let collector { return try collector.finish() }
        let parsed: JSONValue
        do {
            parsed = try JSONValue(parsing: String(decoding: response.body, as: UTF8.self))
        } catch {
            throw LLMError.malformed("the reply is not JSON: \(redact(String(decoding: response.body.prefix(120), as: UTF8.self)))")
        }
        switch configuration.api {
        case .responses: return try ResponsesCodec.reply(from: parsed)
        case .chat: return try ChatCodec.reply(from: parsed)
        }
    }

    private func providerFailure(_ response: HTTPResponse) -> any Error {
        let text = String(decoding: response.body.prefix(2048), as: UTF8.self)
        let message = (try? JSONValue(parsing: text))?["error"]?["message"]?.stringValue ?? String(text.prefix(200))
        let failure = LLMError.provider(status: response.status, message: redact(message))
        guard response.status == 429 || response.status >= 500 else { return failure }
        let retryAfter = response.headers["retry-after"].flatMap(Double.init).map { Duration.milliseconds(Int64($0 * 1000)) }
        return Retryable(error: failure, retryAfter: retryAfter)
    }

    private func backoff(_ attempt: Int) -> Duration {
        let base = configuration.initialBackoff * (1 << min(attempt - 1, 16))
        let capped = min(base, configuration.maxBackoff)
        return capped * Double.random(in: 0.5...1.0)
    }

    /// Removes the API key from text that came from elsewhere (some providers echo it).
    private func redact(_ text: String) -> String {
        guard let key = configuration.apiKey, key.count >= 8 else { return text }
        return text.replacingOccurrences(of: key, with: "[redacted]")
    }
}

/// A failure worth another attempt.
struct Retryable: Error {
    let error: LLMError
    let retryAfter: Duration?
}

/// Turns streamed bytes into events, events into a reply. Fed on the transfer's
/// thread, finished on the caller's, so its state sits behind a lock.
final class StreamCollector: Sendable {
    private struct State {
        var parser = SSEParser()
        var responses = ResponsesCodec.StreamState()
        var chat = ChatCodec.StreamState()
        var failure: LLMError?
    }

    private let api: LLMAPI
    private let onTextDelta: (@Sendable (String) -> Void)?
    private let state = Mutex(State())

    init(api: LLMAPI, onTextDelta: (@Sendable (String) -> Void)?) {
        self.api = api
        self.onTextDelta = onTextDelta
    }

    func feed(_ bytes: Data) {
        state.withLock { state in
            guard state.failure == nil else { return }
            do {
                for event in try state.parser.feed(bytes) { try consume(event, &state) }
            } catch {
                state.failure = (error as? LLMError) ?? .malformed("the stream could not be read: \(error)")
            }
        }
    }

    func finish() throws -> ModelReply {
        try state.withLock { state in
            if state.failure == nil, let last = state.parser.finish() {
                do { try consume(last, &state) } catch { state.failure = (error as? LLMError) ?? .malformed("\(error)") }
            }
            if let failure = state.failure { throw failure }
            let reply = api == .responses ? state.responses.reply : state.chat.reply
            guard let reply else { throw LLMError.malformed("the stream ended before the reply was complete") }
            return reply
        }
    }

    private func consume(_ event: SSEEvent, _ state: inout State) throws {
        switch api {
        case .responses: try state.responses.consume(event, onTextDelta: onTextDelta)
        case .chat: try state.chat.consume(event, onTextDelta: onTextDelta)
        }
    }
}
