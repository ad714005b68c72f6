import Foundation
import LLM
import Logging
import Synchronization

/// What an OpenAI-compatible endpoint does with the agent's requests, found by
/// asking it the seed's requests the way the agent does (`hitl model check`,
/// and agent-svc's start-up log): whether it serves Chat Completions and the
/// Responses API, returns real tool calls (or writes them as text), honours a
/// `json_schema` response format, and streams. Each probe is one model turn.
public struct ModelCheck: Sendable {
    /// How many of the seed's requests each probe asks.
    public enum Depth: String, Sendable, Codable {
        /// All three (`hitl model check`).
        case full
        /// The first that covers each probe, one request each (agent-svc at start-up: a local
        /// model spends seconds on every request, and the user's first chat waits behind them).
        case quick
    }

    /// A probe's turn may take this long: a small local model on two cores needs up to 25 s
    /// for its first request after start-up; a long answer at 10 tokens/s takes a minute.
    public static let probeTimeout: Duration = .seconds(120)
    /// Attempts per probe: one retry for a 429/5xx, not the agent's four (a check should be quick to say no).
    public static let probeAttempts = 2

    let configuration: LLMConfiguration
    let depth: Depth
    let logger: Logger

    /// - Parameters:
    ///   - configuration: the endpoint, key and model to check (its `api` and `stream` are ignored: both are probed).
    ///   - depth: how many requests per probe.
    ///   - logger: for the LLM client's retry lines.
    public init(configuration: LLMConfiguration, depth: Depth = .full, logger: Logger) {
        self.configuration = configuration
        self.depth = depth
        self.logger = logger
    }

    /// Probes both APIs.
    /// - Parameter progress: called with a line before each request (for people watching a slow model).
    /// - Returns: what was found and what to set.
    public func run(progress: (@Sendable (String) -> Void)? = nil) async -> ModelCheckReport {
        var reports: [ModelCheckReport.APIReport] = []
        for api in [LLMAPI.chat, .responses] {
            reports.append(await probe(api, progress: progress))
        }
        return ModelCheckReport(
            baseURL: configuration.baseURL, model: configuration.model, keySet: configuration.apiKey != nil, depth: depth,
            configuredAPI: configuration.api, textToolCallsEnabled: configuration.textToolCalls, apis: reports)
    }

    /// Runs the check and logs what it found (agent-svc at start-up): one line per
    /// API, a warning per note (an API that ignores tools, tool calls written as
    /// text, a better API than the configured one), and the recommendation.
    /// - Parameter logger: where the lines go.
    public func log(to logger: Logger) async {
        let report = await run()
        for api in report.apis {
            logger.notice("model check", metadata: report.logFields(api).mapValues { .string($0) })
        }
        for note in report.notes { logger.warning("model check: \(note)") }
        logger.notice("model check: \(report.recommendationText)", metadata: report.environment.map { ["env": .string($0)] } ?? [:])
    }

    private var requests: [SeedRequest] {
        depth == .full ? SeedRequest.all : [SeedRequest.all[0]]
    }

    private func client(_ api: LLMAPI, stream: Bool) -> LLMClient {
        var settings = configuration
        settings.api = api
        settings.stream = stream
        settings.textToolCalls = false  // the check sees what the model wrote, then judges it itself
        settings.requestTimeout = Self.probeTimeout
        settings.maxAttempts = Self.probeAttempts
        return LLMClient(configuration: settings, logger: logger)
    }

    private func probe(_ api: LLMAPI, progress: (@Sendable (String) -> Void)?) async -> ModelCheckReport.APIReport {
        var report = ModelCheckReport.APIReport(api: api)
        let plain = client(api, stream: false)
        for seed in requests {
            progress?("\(api.rawValue): tools, '\(seed.message)'")
            let outcome = await toolsOutcome(plain, seed)
            if case .failed(let status, _) = outcome, report.tools.isEmpty, let status, Self.notServed.contains(status) {
                report.served = false
                report.failure = "HTTP \(status)"
                return report
            }
            if case .failed(nil, let message) = outcome, report.tools.isEmpty {
                report.served = false
                report.failure = message
                return report
            }
            report.tools.append(outcome)
        }
        report.served = true
        for seed in requests {
            progress?("\(api.rawValue): json_schema plan, '\(seed.message)'")
            report.plans.append(await planOutcome(plain, seed))
        }
        progress?("\(api.rawValue): streaming")
        report.streams = await streams(client(api, stream: true))
        return report
    }

    /// HTTP statuses that mean "this server has no such endpoint".
    static let notServed: Set<Int> = [404, 405, 501]

    private func toolsOutcome(_ client: LLMClient, _ seed: SeedRequest) async -> ModelCheckReport.ToolsOutcome {
        let reply: ModelReply
        do {
            reply = try await client.complete(ModelRequest(messages: [.system(Agent.systemPrompt), .user(seed.message)], tools: Agent.tools))
        } catch {
            return Self.failure(error)
        }
        if !reply.toolCalls.isEmpty { return .native(correct: Self.correct(reply.toolCalls, seed)) }
        if let text = reply.text, let (calls, _) = TextToolCalls.recover(from: text, idPrefix: "check") {
            return .text(correct: Self.correct(calls, seed))
        }
        return .noCall(String((reply.text ?? "").prefix(120)))
    }

    /// A first turn is correct when every call is one of the request's steps, in
    /// order, with the right arguments (a model may leave later steps for later turns).
    static func correct(_ calls: [ToolCall], _ seed: SeedRequest) -> Bool {
        var remaining = seed.steps[...]
        for call in calls {
            guard let index = remaining.firstIndex(where: { $0.matches(call) }) else { return false }
            remaining = remaining[(index + 1)...]
        }
        return !calls.isEmpty
    }

    private func planOutcome(_ client: LLMClient, _ seed: SeedRequest) async -> ModelCheckReport.PlanOutcome {
        let reply: ModelReply
        do {
            reply = try await client.complete(ModelRequest(
                messages: Agent.withPlanInstruction([.system(Agent.systemPrompt), .user(seed.message)]),
                responseSchema: ("ActionPlan", Agent.planSchema)))
        } catch {
            if case .failed(let status, let message) = Self.failure(error) { return .failed(status: status, message) }
            return .failed(status: nil, "\(error)")
        }
        let text = reply.text ?? ""
        guard case .array? = ExactJSON(parsing: TextToolCalls.withoutFence(text))?["actions"] else { return .offSchema(String(text.prefix(120))) }
        do {
            let plan = try Agent.parsePlan(text)
            return .valid(correct: plan.count == seed.steps.count && zip(seed.steps, plan).allSatisfy { $0.matches($1) })
        } catch let refusal as ToolRefusal {
            return .invalid(refusal.message)
        } catch {
            return .invalid("\(error)")
        }
    }

    private func streams(_ client: LLMClient) async -> ModelCheckReport.StreamOutcome {
        let deltas = DeltaCounter()
        do {
            _ = try await client.complete(
                ModelRequest(messages: [.system(Agent.systemPrompt), .user(SeedRequest.all[1].message)]),
                onTextDelta: { _ in deltas.add() })
            return .yes(deltas: deltas.count)
        } catch {
            return .no("\(error)".prefix(160).description)
        }
    }

    static func failure(_ error: any Error) -> ModelCheckReport.ToolsOutcome {
        switch error {
        case LLMError.provider(let status, let message): .failed(status: status, String(message.prefix(160)))
        case let error as LLMError: .failed(status: nil, String(error.description.prefix(200)))
        default: .failed(status: nil, String("\(error)".prefix(200)))
        }
    }
}

/// Counts streamed text pieces (they arrive on the transfer's thread).
private final class DeltaCounter: Sendable {
    private let value = Mutex(0)
    func add() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}
