import RPC

/// Why a model call failed, said so an operator knows what to do.
public enum LLMError: Error, Equatable, CustomStringConvertible, RPCErrorConvertible {
    /// The provider answered with an error status (after retries, if retryable).
    case provider(status: Int, message: String)
    /// The provider could not be reached or the exchange broke.
    case unreachable(String)
    /// The call ran past its timeout.
    case timedOut(String)
    /// The reply did not follow the API's format.
    case malformed(String)
    /// The configuration is wrong.
    case configuration(String)

    public var description: String {
        switch self {
        case .provider(let status, let message): "the model provider answered \(status): \(message)"
        case .unreachable(let message): "the model provider could not be reached: \(message)"
        case .timedOut(let message): "the model did not answer in time: \(message)"
        case .malformed(let message): "the model's reply was malformed: \(message)"
        case .configuration(let message): "the model configuration is wrong: \(message)"
        }
    }

    public var rpcError: RPCError {
        switch self {
        case .provider(let status, _) where status == 401 || status == 403:
            RPCError(.failedPrecondition, reason: "LLM_AUTH_FAILED", description + " (check OPENAI_API_KEY)")
        case .provider(let status, _) where status == 429:
            RPCError(.resourceExhausted, reason: "LLM_RATE_LIMITED", description + " (retried; try again later)")
        case .provider:
            RPCError(.unavailable, reason: "LLM_PROVIDER_ERROR", description)
        case .unreachable:
            RPCError(.unavailable, reason: "LLM_UNREACHABLE", description + " (check OPENAI_BASE_URL)")
        case .timedOut:
            RPCError(.deadlineExceeded, reason: "LLM_TIMEOUT", description)
        case .malformed:
            RPCError(.internal, reason: "LLM_BAD_REPLY", description)
        case .configuration:
            RPCError(.failedPrecondition, reason: "LLM_MISCONFIGURED", description)
        }
    }
}
