import Banking
import Contracts
import LLM
import RPC

/// Everything needed to continue a run, saved in state-svc as the run's data.
/// The agent keeps nothing else between calls.
struct RunDocument: Codable, Sendable {
    var schemaVersion: Int = 1
    /// `tools` or `structured`.
    var mode: AgentMode
    /// The user's own account.
    var account: String
    /// Who asked (the caller's identity name), recorded on every approval.
    var requestedBy: String
    var sessionID: String?
    /// The conversation in ModelMessage form.
    var messages: [ModelMessage]
    /// Mutations waiting for a human decision.
    var pending: [PendingCall] = []
    /// Structured mode: the validated plan and the next step to run.
    var plan: [PlanStep]?
    var position: Int = 0
    /// Structured mode: each step's outcome, in order.
    var results: [String] = []
    /// Approvals executed in this run (each reported with approval.complete as it ran).
    var executed: [String] = []
    var reply: String?

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case mode, account, messages, pending, plan, position, results, executed, reply
        case requestedBy = "requested_by"
        case sessionID = "session_id"
    }
}

/// How the model is asked to act.
public enum AgentMode: String, Codable, Sendable {
    case tools
    case structured
}

/// One tool call (or plan step) deferred until a human decides.
struct PendingCall: Codable, Sendable, Equatable {
    var callID: String
    var approvalID: String
    var action: Action
    var holdID: String?

    enum CodingKeys: String, CodingKey {
        case callID = "call_id"
        case approvalID = "approval_id"
        case action
        case holdID = "hold_id"
    }
}

/// One step of a structured ActionPlan, already validated.
struct PlanStep: Codable, Sendable, Equatable {
    var actionType: String
    var toAccount: String?
    var amount: String?

    enum CodingKeys: String, CodingKey {
        case actionType = "action_type"
        case toAccount = "to_account"
        case amount
    }
}

extension PendingView {
    /// A pending call as the caller sees it.
    init(_ call: PendingCall) {
        self.init(approvalID: call.approvalID, callID: call.callID, action: call.action, holdID: call.holdID)
    }
}
