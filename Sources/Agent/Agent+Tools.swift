import Banking
import Contracts
import Foundation
import LLM
import RPC

/// What became of one tool call (or plan step).
enum CallOutcome: Sendable {
    /// A result for the model now.
    case done(String)
    /// Waiting for a human; the result comes at resume.
    case pending(PendingCall)
}

/// A model request the agent refuses before anything happens; its text goes back to the model.
struct ToolRefusal: Error {
    let message: String
}

extension Agent {
    /// The three tools the model may call.
    static let tools: [ToolDefinition] = [
        ToolDefinition(
            name: "get_balance", description: "Get the user's current account balance.",
            parameters: ["type": "object", "properties": [:], "additionalProperties": false]),
        ToolDefinition(
            name: "deposit_money", description: "Deposit money into the user's account. Amount as a decimal string, e.g. \"200.00\".",
            parameters: [
                "type": "object", "required": ["amount"], "additionalProperties": false,
                "properties": ["amount": ModelAmount.schema, "memo": Agent.memoSchema],
            ]),
        ToolDefinition(
            name: "transfer_money",
            description: "Transfer money from the user's account to a payee by name. Amount as a decimal string, e.g. \"50.00\".",
            parameters: [
                "type": "object", "required": ["to_account", "amount"], "additionalProperties": false,
                "properties": [
                    "to_account": ["type": "string", "description": "the payee's name as the user wrote it, such as \"Alice\""],
                    "amount": ModelAmount.schema,
                    "memo": Agent.memoSchema,
                ],
            ]),
    ]

    /// What a transfer or deposit is for, as the user said it: it travels with the action
    /// to the approver, the grant and the statement.
    static let memoSchema: JSONValue = [
        "type": "string",
        "description": "what it is for, in the user's words (\"rent\"), if they said; leave it out otherwise",
    ]

    /// A memo as the model gave it: trimmed, nil when absent or empty; refused (for the
    /// model to correct) when it is not text, too long or not one line.
    static func memo(_ value: JSONValue?) throws -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?:
            let memo = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !memo.isEmpty else { return nil }
            if let problem = Action.memoProblem(memo) { throw ToolRefusal(message: "memo \(problem)") }
            return memo
        default: throw ToolRefusal(message: "memo must be a string")
        }
    }

    /// ``memo(_:)`` for a plan read exactly (``ExactJSON``).
    static func memo(_ value: ExactJSON?) throws -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?: return try memo(JSONValue.string(text))
        default: throw ToolRefusal(message: "memo must be a string")
        }
    }

    /// Intercepts one tool call: validates it, reads, or submits the mutation for approval.
    /// Validation failures become an `ERROR:` result for the model, never an action.
    func handle(_ call: ToolCall, runID: String, document: inout RunDocument, emit: AgentEmitter) async throws -> CallOutcome {
        emit(Self.event("tool_call", runID, ["call_id": .string(call.id), "name": .string(call.name), "arguments": .string(call.arguments)]))
        let outcome: CallOutcome
        do {
            outcome = try await perform(call, runID: runID, document: &document, emit: emit)
        } catch let refusal as ToolRefusal {
            outcome = .done("ERROR: \(refusal.message)")
        }
        if case .done(let output) = outcome {
            emit(Self.event("tool_result", runID, ["call_id": .string(call.id), "output": .string(output)]))
        }
        return outcome
    }

    private func perform(_ call: ToolCall, runID: String, document: inout RunDocument, emit: AgentEmitter) async throws -> CallOutcome {
        let arguments = try Self.arguments(call)
        switch call.name {
        case "get_balance":
            let balance = try await ledger.balance(AccountParams(account: document.account))
            return .done("Your balance is \(MoneyText.display(balance.available, currency: balance.currency)).")
        case "deposit_money":
            let amount = try Self.amount(in: call)
            let action = Action(kind: .deposit, from: nil, to: document.account, amount: amount, memo: try Self.memo(arguments["memo"]))
            return try await submit(action, callID: call.id, runID: runID, document: &document, emit: emit)
        case "transfer_money":
            let amount = try Self.amount(in: call)
            let payee = try await resolvePayee(arguments["to_account"], own: document.account)
            let action = Action(kind: .transfer, from: document.account, to: payee, amount: amount, memo: try Self.memo(arguments["memo"]))
            return try await submit(action, callID: call.id, runID: runID, document: &document, emit: emit)
        default:
            throw ToolRefusal(message: "unknown tool '\(call.name.prefix(64))'; the tools are get_balance, deposit_money and transfer_money")
        }
    }

    static func arguments(_ call: ToolCall) throws -> [String: JSONValue] {
        let text = call.arguments.isEmpty ? "{}" : call.arguments
        guard let value = try? JSONValue(parsing: text), case .object(let members) = value else {
            throw ToolRefusal(message: "the arguments of \(call.name.prefix(64)) are not a JSON object")
        }
        return members
    }

    /// The call's `amount`, read exactly as the model wrote it (a string or a
    /// number's decimal text, never a `Double`), forgiving what is unambiguous
    /// (``ModelAmount``).
    static func amount(in call: ToolCall) throws -> Amount {
        try ModelAmount.parse(ExactJSON(parsing: call.arguments.isEmpty ? "{}" : call.arguments)?["amount"])
    }

    /// A payee by name (`Alice` → `alice`), only if that ledger account exists; never created.
    func resolvePayee(_ value: JSONValue?, own: String) async throws -> String {
        guard case .string(let name) = value else { throw ToolRefusal(message: "to_account is missing") }
        let account = name.trimmingCharacters(in: .whitespaces).lowercased()
        guard (try? AccountName.validate(account, field: "to_account")) != nil else {
            throw ToolRefusal(message: "unknown payee '\(name.prefix(64))'")
        }
        guard account != own else { throw ToolRefusal(message: "cannot transfer to the user's own account") }
        guard !knownPayees.contains(account) else { return account }
        do {
            _ = try await ledger.balance(AccountParams(account: account))
        } catch let error as RPCError where error.status == .notFound {
            throw ToolRefusal(message: "unknown payee '\(name.prefix(64))'; no such account")
        }
        knownPayees.insert(account)
        return account
    }
}
