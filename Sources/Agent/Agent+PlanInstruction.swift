import LLM
import RPC

extension Agent {
    /// The ActionPlan in words, from ``planSchema``'s descriptions, for the model.
    ///
    /// OpenAI shows a `json_schema` response format to the model; servers that only turn
    /// it into a grammar (llama.cpp) do not, and the model then fills the fields it is
    /// forced to write by guessing from their names: Qwen2.5-Coder-1.5B wrote
    /// `"to_account": "alice_account_number"` for "transfer $50 to Alice". Said in the
    /// conversation, the schema reaches every model. Built from the schema, so a field
    /// added there (with its description) is described here too.
    static let planInstruction: String = {
        let item = planSchema["properties"]?["actions"]?["items"]
        let fields = (item?["required"]?.arrayValues ?? []).compactMap(\.stringValue).map { name -> String in
            let property = item?["properties"]?[name]
            let choices = property?["enum"]?.arrayValues?.compactMap(\.stringValue).joined(separator: ", ")
            let description = property?["description"]?.stringValue ?? ""
            return "\(name): " + [choices.map { "\($0)" }, description.isEmpty ? nil : description].compactMap { $0 }.joined(separator: "; ")
        }
        return "Answer with an ActionPlan in JSON: one action for each thing the user asks for, in the order asked, "
            + "and nothing the user did not ask for. Each action has " + fields.joined(separator: ". ") + "."
    }()

    /// The conversation for a plan request: the plan's instruction as a system message
    /// just before the user's latest message (where a small model heeds it). Not saved
    /// in the run; each plan request adds it again.
    static func withPlanInstruction(_ messages: [ModelMessage]) -> [ModelMessage] {
        var messages = messages
        let index = messages.lastIndex(where: { if case .user = $0 { true } else { false } }) ?? messages.endIndex
        messages.insert(.system(planInstruction), at: index)
        return messages
    }
}
