import LLM
import RPC

extension Agent {
    /// The ActionPlan the model must return in structured mode.
    static let planSchema: JSONValue = [
        "type": "object", "required": ["actions"], "additionalProperties": false,
        "properties": [
            "actions": [
                "type": "array",
                "items": [
                    "type": "object", "required": ["action_type", "to_account", "amount", "memo"], "additionalProperties": false,
                    "properties": [
                        "action_type": ["type": "string", "enum": ["check_balance", "transfer", "deposit"], "description": "what to do"],
                        "to_account": [
                            "type": ["string", "null"],
                            "description": "for a transfer, the payee's name exactly as the user wrote it, such as \"Alice\"; null otherwise",
                        ],
                        "amount": ModelAmount.nullableSchema,
                        "memo": [
                            "type": ["string", "null"],
                            "description": "for a transfer or deposit, what it is for in the user's words (\"rent\"); null if they did not say",
                        ],
                    ],
                ],
            ]
        ],
    ]

    /// Structured mode: one plan from the model (one corrective retry), then each
    /// step in order through the same interception as tools mode; a pending step pauses the plan.
    ///
    /// The plan is saved before its first step runs, so a run that is continued after
    /// a failure carries on with the same plan (steps `step-N` keep their idempotency
    /// keys) instead of asking the model for a new one.
    func structuredLoop(_ run: inout RunHandle, document: inout RunDocument, emit: AgentEmitter) async throws {
        let runID = run.runID
        if document.plan == nil {
            let plan = try await requestPlan(document: &document)
            document.plan = plan
            emit(Self.event("plan", runID, ["actions": try JSONValue(encoding: plan)]))
            try await checkpoint(&run, document)
        }
        let plan = document.plan ?? []
        while document.pending.isEmpty && document.position < plan.count {
            guard document.position < Self.maximumCallsPerTurn else {
                document.results.append("ERROR: at most \(Self.maximumCallsPerTurn) actions run per request; the other \(plan.count - document.position) did not run.")
                document.position = plan.count
                break
            }
            let step = plan[document.position]
            let call = try Self.toolCall(for: step, id: "step-\(document.position + 1)")
            switch try await handle(call, runID: runID, document: &document, emit: emit) {
            case .done(let output):
                document.results.append(output)
                document.position += 1
            case .pending(let pending):
                document.pending.append(pending)
                return
            }
        }
        document.reply = document.results.isEmpty ? "There was nothing to do." : document.results.joined(separator: " ")
        document.messages.append(.assistant(text: document.reply, toolCalls: []))
        emit(Self.event("message", runID, ["text": .string(document.reply ?? "")]))
    }

    func requestPlan(document: inout RunDocument) async throws -> [PlanStep] {
        var messages = Self.withPlanInstruction(document.messages)
        var problem = ""
        for attempt in 0..<2 {
            let reply = try await llm.complete(ModelRequest(messages: messages, responseSchema: ("ActionPlan", Self.planSchema)))
            do {
                return try Self.parsePlan(reply.text ?? "")
            } catch let refusal as ToolRefusal {
                problem = refusal.message
                guard attempt == 0 else { break }
                let request = messages.last(where: { if case .user = $0 { true } else { false } }).flatMap { message -> String? in
                    if case .user(let text) = message { text } else { nil }
                } ?? ""
                messages.append(.assistant(text: reply.text, toolCalls: []))
                messages.append(.user("Your previous plan was invalid (\(problem)); return a corrected ActionPlan for this request: \(request)"))
            }
        }
        throw RPCError(.failedPrecondition, reason: "INVALID_PLAN", "the model returned an invalid plan twice (\(problem)); nothing was done")
    }

    /// Parses and validates an ActionPlan (inside a Markdown fence too, as a model writes
    /// it when the server does not apply the schema); any defect refuses the whole plan. Amounts
    /// are read exactly as written and forgiven what is unambiguous (``ModelAmount``);
    /// the steps keep them in the wire form (`"$50"` → `"50.00"`).
    static func parsePlan(_ text: String) throws -> [PlanStep] {
        guard let value = ExactJSON(parsing: TextToolCalls.withoutFence(text)), case .array(let actions)? = value["actions"] else {
            throw ToolRefusal(message: "the reply is not a JSON object with an actions array")
        }
        return try actions.enumerated().map { index, action in
            var step = PlanStep(actionType: action["action_type"]?.stringValue ?? "", toAccount: action["to_account"]?.stringValue, amount: nil)
            do {
                step.memo = try Agent.memo(action["memo"])
            } catch let refusal as ToolRefusal {
                throw ToolRefusal(message: "action \(index + 1): \(refusal.message)")
            }
            func amount() throws -> String {
                do {
                    return try ModelAmount.parse(action["amount"]).description
                } catch let refusal as ToolRefusal {
                    throw ToolRefusal(message: "action \(index + 1): \(refusal.message)")
                }
            }
            switch step.actionType {
            case "check_balance": break
            case "deposit": step.amount = try amount()
            case "transfer":
                step.amount = try amount()
                guard step.toAccount?.isEmpty == false else { throw ToolRefusal(message: "action \(index + 1): a transfer needs to_account") }
            default: throw ToolRefusal(message: "action \(index + 1): unknown action_type '\(step.actionType.prefix(64))'")
            }
            return step
        }
    }

    /// A plan step as the equivalent tool call, so both modes share one interception path.
    static func toolCall(for step: PlanStep, id: String) throws -> ToolCall {
        switch step.actionType {
        case "deposit":
            var arguments: [String: JSONValue] = ["amount": .string(step.amount ?? "")]
            if let memo = step.memo { arguments["memo"] = .string(memo) }
            return ToolCall(id: id, name: "deposit_money", arguments: JSONValue.object(arguments).jsonText())
        case "transfer":
            var arguments: [String: JSONValue] = ["to_account": .string(step.toAccount ?? ""), "amount": .string(step.amount ?? "")]
            if let memo = step.memo { arguments["memo"] = .string(memo) }
            return ToolCall(id: id, name: "transfer_money", arguments: JSONValue.object(arguments).jsonText())
        default:
            return ToolCall(id: id, name: "get_balance", arguments: "{}")
        }
    }
}
