import LLM

/// What ``ModelCheck`` found, and what to set.
public struct ModelCheckReport: Sendable, Equatable {
    /// One probe's answer to a request offering the agent's tools.
    public enum ToolsOutcome: Sendable, Equatable {
        /// Real `tool_calls` (`function_call` items); correct: the request's steps with the right arguments.
        case native(correct: Bool)
        /// No tool calls, but the text is one (``TextToolCalls``): recovered on Chat Completions.
        case text(correct: Bool)
        /// A text answer that is not a call (the text's start).
        case noCall(String)
        /// The request failed (HTTP status if any).
        case failed(status: Int?, String)
    }

    /// One probe's answer to a request with the ActionPlan `json_schema`.
    public enum PlanOutcome: Sendable, Equatable {
        /// A plan the agent accepts; correct: exactly the request's steps.
        case valid(correct: Bool)
        /// JSON, but a plan the agent refuses (why).
        case invalid(String)
        /// Not an object with an `actions` array (prose, another shape): the server did
        /// not apply the schema, which a grammar-constrained one always does (the text's start).
        case offSchema(String)
        case failed(status: Int?, String)
    }

    /// Whether a streamed request came back as a stream.
    public enum StreamOutcome: Sendable, Equatable {
        case yes(deltas: Int)
        case no(String)
    }

    /// Everything found about one API.
    public struct APIReport: Sendable, Equatable {
        public let api: LLMAPI
        /// Nil until the first request answered.
        public var served: Bool?
        /// Why it is not served.
        public var failure: String?
        public var tools: [ToolsOutcome] = []
        public var plans: [PlanOutcome] = []
        public var streams: StreamOutcome?

        init(api: LLMAPI) { self.api = api }

        var nativeCalls: Int { tools.filter { if case .native = $0 { true } else { false } }.count }
        var textCalls: Int { tools.filter { if case .text = $0 { true } else { false } }.count }
        var correctNative: Int { tools.filter { $0 == .native(correct: true) }.count }
        var correctText: Int { tools.filter { $0 == .text(correct: true) }.count }
        var validPlans: Int { plans.filter { if case .valid = $0 { true } else { false } }.count }
        var correctPlans: Int { plans.filter { $0 == .valid(correct: true) }.count }

        /// Tools the endpoint accepted and never passed to the model: it answered, but with no call in any reply.
        public var ignoresTools: Bool {
            served == true && nativeCalls == 0 && !tools.isEmpty
                && tools.allSatisfy { if case .failed = $0 { false } else { true } }
        }

        /// A schema the endpoint accepted and never applied: no reply had its shape.
        public var ignoresSchema: Bool {
            served == true && !plans.isEmpty && plans.allSatisfy { if case .offSchema = $0 { true } else { false } }
        }

        /// Correct first turns in tools mode as the agent would see them
        /// (text calls count on Chat Completions, where the agent recovers them).
        func toolsScore(textToolCalls: Bool) -> Int {
            correctNative + (api == .chat && textToolCalls ? correctText : 0)
        }
    }

    public let baseURL: String
    public let model: String
    public let keySet: Bool
    public let depth: ModelCheck.Depth
    /// What the agent is configured with now, to say whether to change it.
    public let configuredAPI: LLMAPI
    public let textToolCallsEnabled: Bool
    public let apis: [APIReport]

    /// What to use: the API and mode with the most correct first turns.
    public struct Recommendation: Sendable, Equatable {
        public let api: LLMAPI
        public let mode: AgentMode
        /// Correct first turns in that mode, out of ``asked``.
        public let correct: Int
        public let asked: Int
    }

    /// The best API and mode, or nil when nothing was correct. Ties go to the
    /// Responses API (the default, nothing to set) and to structured mode (the seed's recommendation).
    public var recommendation: Recommendation? {
        var best: Recommendation?
        for report in apis.sorted(by: { $0.api == .responses && $1.api != .responses }) where report.served == true {
            let candidates = [
                Recommendation(api: report.api, mode: .structured, correct: report.correctPlans, asked: report.plans.count),
                Recommendation(api: report.api, mode: .tools, correct: report.toolsScore(textToolCalls: true), asked: report.tools.count),
            ]
            for candidate in candidates where candidate.correct > (best?.correct ?? 0) { best = candidate }
        }
        return best
    }

    /// Whether this is the stack's own simulator (reached through its socket; nothing to set).
    public var isStackSimulator: Bool { baseURL == LLMConfiguration.simulatorBaseURL }

    /// The environment that selects the recommendation (the key, if any, is never printed);
    /// nil for the stack's simulator, which needs none.
    public var environment: String? {
        guard let recommendation, !isStackSimulator else { return nil }
        var settings = ["OPENAI_BASE_URL=\(baseURL)", "HITL_MODEL=\(model)", "HITL_LLM_API=\(recommendation.api.rawValue)"]
        if keySet { settings.insert("OPENAI_API_KEY=<your key>", at: 0) }
        if recommendation.mode == .tools, recommendation.api == .chat, !textToolCallsEnabled,
           let chat = apis.first(where: { $0.api == .chat }), chat.correctText > 0 {
            settings.append("HITL_LLM_TEXT_TOOL_CALLS=1")
        }
        return "export " + settings.joined(separator: " ")
    }
}
