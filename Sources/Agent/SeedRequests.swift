import Banking
import Foundation
import LLM

/// The seed's three requests (`scripts/demo`) and what each must do, for
/// checking a model (`hitl model check`) and measuring one (`hitl model eval`).
public struct SeedRequest: Sendable, Equatable {
    /// One thing the request asks for.
    public enum Step: Sendable, Equatable {
        case checkBalance
        case deposit(Amount)
        case transfer(to: String, Amount)
    }

    /// A short name for tables.
    public let name: String
    /// The message, exactly as `scripts/demo` sends it.
    public let message: String
    /// What must happen, in order.
    public let steps: [Step]
    /// Whether the policy makes it wait for a human (`compose/policy.json`: a transfer over $100.00).
    public let needsApproval: Bool

    /// The three, in the demo's order. The amounts are the seed's, so the
    /// conversions cannot fail.
    public static let all: [SeedRequest] = [
        SeedRequest(
            name: "balance + $50 to Alice", message: "Check my balance and transfer $50 to Alice",
            steps: [.checkBalance, .transfer(to: "alice", Amount(minorUnits: 5_000)!)], needsApproval: false),
        SeedRequest(
            name: "deposit $200", message: "Deposit $200 into my account",
            steps: [.deposit(Amount(minorUnits: 20_000)!)], needsApproval: false),
        SeedRequest(
            name: "$500 to Bob (approval)", message: "Transfer $500 to Bob for rent",
            steps: [.transfer(to: "bob", Amount(minorUnits: 50_000)!)], needsApproval: true),
    ]
}

extension SeedRequest.Step {
    /// The step as the agent's tool call would be judged: `name` and the arguments the
    /// agent reads (payee lowercased and trimmed; amount forgiven as the agent forgives it).
    /// - Returns: whether `call` asks for exactly this step.
    func matches(_ call: ToolCall) -> Bool {
        switch self {
        case .checkBalance: return call.name == "get_balance"
        case .deposit(let amount): return call.name == "deposit_money" && (try? Agent.amount(in: call)) == amount
        case .transfer(let payee, let amount):
            guard call.name == "transfer_money", (try? Agent.amount(in: call)) == amount,
                  let arguments = try? Agent.arguments(call), case .string(let name)? = arguments["to_account"]
            else { return false }
            return name.trimmingCharacters(in: .whitespaces).lowercased() == payee
        }
    }

    /// Whether a validated plan step is exactly this step.
    func matches(_ step: PlanStep) -> Bool {
        switch self {
        case .checkBalance: step.actionType == "check_balance"
        case .deposit(let amount): step.actionType == "deposit" && step.amount == amount.description
        case .transfer(let payee, let amount):
            step.actionType == "transfer" && step.amount == amount.description
                && step.toAccount?.trimmingCharacters(in: .whitespaces).lowercased() == payee
        }
    }
}
