import Foundation
import LLM

extension Agent {
    /// A reply whose calls were written as text (``ModelReply/recoveredFrom``) and
    /// repeat, with the same arguments, a call the model already made for the user's
    /// latest message is an echo, not a request: after a tool result, Qwen2.5-Coder-1.5B
    /// often rewrites the call it just made (`{{"name": "deposit_money", …}}}`), and
    /// running it would move the money a second time. Such calls are dropped; when
    /// nothing else is left, the turn ends and the answer is the results of the calls
    /// that ran, as in structured mode. Real tool calls are never second-guessed.
    /// - Parameters:
    ///   - reply: the model's turn.
    ///   - document: the run so far.
    /// - Returns: the reply with echoed calls removed.
    ///
    /// A turn that answers tool results with no text at all (Qwen2.5-Coder-1.5B does, now
    /// and then) ends the same way, so the user is not shown an empty answer.
    func withoutEchoes(_ reply: ModelReply, in document: RunDocument) -> ModelReply {
        let request = Self.sinceLatestUserMessage(document.messages)
        if reply.toolCalls.isEmpty, (reply.text ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            let results = Self.results(in: request)
            return results.isEmpty ? reply : ModelReply(text: results.joined(separator: " "), toolCalls: [])
        }
        guard let shape = reply.recoveredFrom else { return reply }
        let earlier = request.flatMap { message -> [ToolCall] in
            if case .assistant(_, let calls) = message { calls } else { [] }
        }
        let fresh = reply.toolCalls.filter { call in !earlier.contains { Self.same($0, call) } }
        guard fresh.count < reply.toolCalls.count else { return reply }
        logger.notice("a tool call written as text repeats one already made for this request; not run again", metadata: [
            "llm.shape": "\(shape.rawValue)", "llm.tools": "\(reply.toolCalls.filter { !fresh.contains($0) }.map(\.name).joined(separator: ","))",
        ])
        if !fresh.isEmpty { return ModelReply(text: nil, toolCalls: fresh, recoveredFrom: shape) }
        let results = Self.results(in: request)
        return ModelReply(text: results.isEmpty ? "There was nothing to do." : results.joined(separator: " "), toolCalls: [])
    }

    /// The tool results among these messages, in order.
    static func results(in messages: ArraySlice<ModelMessage>) -> [String] {
        messages.compactMap { message -> String? in
            if case .toolResult(_, let output) = message { output } else { nil }
        }
    }

    /// The messages after the user's latest message.
    static func sinceLatestUserMessage(_ messages: [ModelMessage]) -> ArraySlice<ModelMessage> {
        guard let index = messages.lastIndex(where: { if case .user = $0 { true } else { false } }) else { return messages[...] }
        return messages[(index + 1)...]
    }

    /// The same tool with the same arguments as the agent reads them: however the JSON
    /// was spaced or ordered, `"200"` and `"$200.00"` the same amount, `Bob` and `bob` the same payee.
    static func same(_ first: ToolCall, _ second: ToolCall) -> Bool {
        first.name == second.name && meaning(of: first.arguments) == meaning(of: second.arguments)
    }

    private static func meaning(of arguments: String) -> [String: String]? {
        guard case .object(let members)? = ExactJSON(parsing: arguments.isEmpty ? "{}" : arguments) else { return nil }
        var meaning: [String: String] = [:]
        for member in members {
            if member.key == "amount", let amount = try? ModelAmount.parse(member.value) {
                meaning[member.key] = amount.description
            } else if case .string(let text) = member.value {
                meaning[member.key] = text.trimmingCharacters(in: .whitespaces).lowercased()
            } else {
                meaning[member.key] = member.value.jsonText
            }
        }
        return meaning
    }
}
