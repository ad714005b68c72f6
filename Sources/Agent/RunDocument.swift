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
    /// Where the run stands, written with every save (nil in documents saved before
    /// phases were: ``phase(stored:)`` reads those as they were read then).
    var phase: RunPhase? = .chatting

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case mode, account, messages, pending, plan, position, results, executed, reply, phase
        case requestedBy = "requested_by"
        case sessionID = "session_id"
    }

    /// The run's phase; for a document without one, read off state-svc's status and
    /// the pending list (a paused run with nothing pending was a resume's checkpoint).
    func phase(stored status: String) -> RunPhase {
        if let phase { return phase }
        switch RunStatus(rawValue: status) {
        case .running?: return .chatting
        case .awaitingApproval?: return pending.isEmpty ? .continuing : .waitingForPeople
        case .completed?: return .completed
        case .failed?, .cancelled?, nil: return .failed
        }
    }
}

/// Where a run stands, as the agent means it. state-svc keeps a coarser status for
/// its own rules (who may save, which runs are finished); ``storedStatus`` is the one
/// place that maps the one to the other, so no reader infers a phase from a status.
enum RunPhase: String, Codable, Sendable {
    /// A chat is working on its new run. If its process dies, the sweeper ends the run.
    case chatting
    /// Paused: the calls in `pending` wait for people; the decision follower (or the
    /// reconciler) continues it once they decide.
    case waitingForPeople = "waiting_for_people"
    /// A resume is working on it under its lease. A checkpoint left in this phase by a
    /// resume that died is continued by the reconciler once the lease lapses.
    case continuing
    case completed
    case failed

    /// The status state-svc stores for this phase.
    var storedStatus: RunStatus {
        switch self {
        case .chatting: .running
        case .waitingForPeople, .continuing: .awaitingApproval  // both under state-svc's claim rules
        case .completed: .completed
        case .failed: .failed
        }
    }

    /// The status callers see (`agent.get_run`, `agent.watch_run`): a run someone is
    /// working on is `running`, whichever process.
    var shownStatus: String {
        switch self {
        case .chatting, .continuing: RunStatus.running.rawValue
        case .waitingForPeople: RunStatus.awaitingApproval.rawValue
        case .completed: RunStatus.completed.rawValue
        case .failed: RunStatus.failed.rawValue
        }
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
    /// What it is for, as the user said it (nil: not said).
    var memo: String?

    enum CodingKeys: String, CodingKey {
        case actionType = "action_type"
        case toAccount = "to_account"
        case amount, memo
    }
}

extension PendingView {
    /// A pending call as the caller sees it.
    init(_ call: PendingCall) {
        self.init(approvalID: call.approvalID, callID: call.callID, action: call.action, holdID: call.holdID)
    }
}
