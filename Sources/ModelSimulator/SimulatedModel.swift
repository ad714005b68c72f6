import Foundation
import LLM
import RPC

/// What the simulator does with one request.
public enum SimulatorOutcome: Sendable, Equatable {
    /// Answer normally.
    case reply(ModelReply)
    /// Answer with an HTTP error.
    case failure(status: Int, message: String, retryAfterSeconds: Int?)
    /// Answer 200 with a body that is not JSON.
    case malformed
}

/// Fault modes, chosen per request with a `[sim:NAME]` marker in the user's
/// message (or for every request with `model-sim --fault NAME`).
public enum SimulatorFault: String, Sendable, CaseIterable {
    /// Wait `--slow-ms` (default 1500 ms) before answering.
    case slow
    /// 429 with `Retry-After: 1` the first time a conversation is seen, then normal.
    case rateLimitOnce = "429-once"
    /// Always 500.
    case serverError = "500"
    /// 200 with a body that is not JSON.
    case malformed
    /// Call a tool that does not exist (`wire_money`).
    case unknownTool = "unknown-tool"
    /// Call `transfer_money` with arguments that break its schema.
    case badArguments = "bad-args"
    /// Write the tool calls as text (in a ```` ```json ```` fence) instead of `tool_calls`, and
    /// after their results write the last call again with its braces doubled, as
    /// Qwen2.5-Coder-1.5B does on llama-server.
    case textCalls = "text-calls"
    /// Write a call to a tool that does not exist (`wire_money`) as text.
    case textUnknownTool = "text-unknown-tool"
    /// Name a tool and its arguments in a sentence, without calling it.
    case textMention = "text-mention"
}

/// The simulator's deterministic brain: the same request always gets the same answer.
public struct SimulatedModel: Sendable {
    /// Reported as the model name, so nobody mistakes it for a language model.
    public static let modelName = "hitl-sim-1 (rule-based simulator, not a language model)"

    /// A fault applied to every request, if any.
    public let globalFault: SimulatorFault?

    /// - Parameter globalFault: a fault for every request.
    public init(globalFault: SimulatorFault? = nil) { self.globalFault = globalFault }

    /// The fault a request asks for.
    /// - Parameter conversation: the request's messages.
    public func fault(in conversation: [ModelMessage]) -> SimulatorFault? {
        if let globalFault { return globalFault }
        guard let text = lastUserText(conversation),
              let range = text.range(of: #"\[sim:([a-z0-9-]+)\]"#, options: .regularExpression)
        else { return nil }
        let name = text[range].dropFirst(5).dropLast()
        return SimulatorFault(rawValue: String(name))
    }

    /// Decides the answer to a conversation.
    /// - Parameters:
    ///   - conversation: the messages.
    ///   - structured: whether a JSON-schema plan was asked for.
    ///   - hasTools: whether tools were offered.
    ///   - seenBefore: for `429-once`: whether this conversation was already answered 429.
    public func answer(_ conversation: [ModelMessage], structured: Bool, hasTools: Bool, seenBefore: Bool) -> SimulatorOutcome {
        switch fault(in: conversation) {
        case .serverError: return .failure(status: 500, message: "simulated server error", retryAfterSeconds: nil)
        case .rateLimitOnce where !seenBefore:
            return .failure(status: 429, message: "simulated rate limit", retryAfterSeconds: 1)
        case .malformed: return .malformed
        default: break
        }
        let intents = IntentParser.parse(lastUserText(conversation) ?? "")
        if structured { return .reply(ModelReply(text: plan(intents), toolCalls: [])) }
        guard hasTools else { return .reply(ModelReply(text: summary(intents), toolCalls: [])) }
        let fault = fault(in: conversation)
        if case .toolResult = conversation.last {
            if fault == .textCalls, let echo = lastCall(conversation) {
                return .reply(ModelReply(text: "{{\"name\": \"\(echo.name)\", \"arguments\": \(echo.arguments)}}", toolCalls: []))
            }
            return .reply(ModelReply(text: finalAnswer(conversation), toolCalls: []))
        }
        switch fault {
        case .textUnknownTool:
            return .reply(ModelReply(text: #"{"name": "wire_money", "arguments": {"to_account": "mallory", "amount": "1.00"}}"#, toolCalls: []))
        case .textMention:
            let text = #"I can do that with transfer_money and {"to_account": "alice", "amount": "50.00"} once you confirm."#
            return .reply(ModelReply(text: text, toolCalls: []))
        case .textCalls:
            return .reply(asText(toolCalls(intents, fault: nil, seed: conversation.count)))
        default:
            return .reply(toolCalls(intents, fault: fault, seed: conversation.count))
        }
    }

    /// The calls as a model that writes them as text would: one object, or a list, in a fence.
    private func asText(_ reply: ModelReply) -> ModelReply {
        guard !reply.toolCalls.isEmpty else { return reply }
        let objects = reply.toolCalls.map { call in "{\"name\": \"\(call.name)\", \"arguments\": \(call.arguments)}" }
        let json = objects.count == 1 ? objects[0] : "[" + objects.joined(separator: ", ") + "]"
        return ModelReply(text: "```json\n\(json)\n```", toolCalls: [])
    }

    private func lastCall(_ conversation: [ModelMessage]) -> ToolCall? {
        for message in conversation.reversed() {
            if case .assistant(_, let calls) = message, let last = calls.last { return last }
        }
        return nil
    }

    private func lastUserText(_ conversation: [ModelMessage]) -> String? {
        for message in conversation.reversed() { if case .user(let text) = message { return text } }
        return nil
    }

    private func plan(_ intents: [BankingIntent]) -> String {
        let actions: [JSONValue] = intents.map { intent in
            var object: [String: JSONValue] = ["action_type": .string(intent.kind.rawValue)]
            if let amount = intent.amount { object["amount"] = .string(amount) }
            if let payee = intent.payee { object["to_account"] = .string(payee) }
            if let memo = intent.memo { object["memo"] = .string(memo) }
            return .object(object)
        }
        return JSONValue.object(["actions": .array(actions)]).jsonText()
    }

    private func toolCalls(_ intents: [BankingIntent], fault: SimulatorFault?, seed: Int) -> ModelReply {
        guard !intents.isEmpty else {
            return ModelReply(text: "I can check your balance, deposit money, or transfer money to a payee. What would you like to do?", toolCalls: [])
        }
        var calls: [ToolCall] = []
        for (index, intent) in intents.enumerated() {
            let id = "call_\(seed)_\(index + 1)"
            switch (intent.kind, fault) {
            case (.transfer, .unknownTool):
                calls.append(ToolCall(id: id, name: "wire_money", arguments: #"{"to_account":"mallory","amount":"1"}"#))
            case (.transfer, .badArguments):
                calls.append(ToolCall(id: id, name: "transfer_money", arguments: #"{"to_account":5,"amount":150.5}"#))
            case (.checkBalance, _):
                calls.append(ToolCall(id: id, name: "get_balance", arguments: "{}"))
            case (.deposit, _):
                calls.append(ToolCall(id: id, name: "deposit_money", arguments: arguments(["amount": intent.amount, "memo": intent.memo])))
            case (.transfer, _):
                calls.append(ToolCall(id: id, name: "transfer_money", arguments: arguments(["to_account": intent.payee, "amount": intent.amount, "memo": intent.memo])))
            }
        }
        return ModelReply(text: nil, toolCalls: calls)
    }

    private func arguments(_ fields: [String: String?]) -> String {
        JSONValue.object(fields.compactMapValues { $0.map(JSONValue.string) }).jsonText()
    }

    /// After tool results: restate each one, in order.
    private func finalAnswer(_ conversation: [ModelMessage]) -> String {
        var outputs: [String] = []
        for message in conversation.reversed() {
            guard case .toolResult(_, let output) = message else { break }
            outputs.insert(output, at: 0)
        }
        return outputs.joined(separator: " ")
    }

    private func summary(_ intents: [BankingIntent]) -> String {
        intents.isEmpty ? "I can check your balance, deposit money, or transfer money." : "I understood \(intents.count) request(s)."
    }
}
