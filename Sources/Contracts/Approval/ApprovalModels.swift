import Banking
import Foundation
import Wire

/// Where an approval is in its life. Only `pending` can change by a decision;
/// `approved` can only become `completed` (executed) or `failed` (it could not be
/// executed: an unknown payee, a batch that failed part-way; the reason says why);
/// the rest are final.
public enum ApprovalStatus: String, Sendable, Codable, CaseIterable {
    case pending, approved, rejected, expired, cancelled, completed, failed
}

/// An approval as callers see it (`approval.get`, `submit`, `decide`, ...).
public struct ApprovalView: Sendable, Codable, Equatable {
    public let approvalID: String
    public let runID: String
    public let callID: String
    /// 1 at submission; each edit by an approver makes a new version.
    public let version: Int64
    public let status: ApprovalStatus
    /// The action of the current version: what a grant binds.
    public let action: Action
    /// The action as the agent submitted it.
    public let originalAction: Action
    /// Who the agent acts for (free text from the submitter).
    public let requestedBy: String
    /// The identity that submitted it.
    public let submittedBy: String
    /// Distinct approvers the current version needs (0: approved by policy).
    public let requiredApprovers: Int
    /// Approvers who approved the current version, sorted.
    public let approvedBy: [String]
    public let policyVersion: String
    /// The rule (tier or budget) that set ``requiredApprovers``.
    public let policyRule: String
    /// The figures that decided: `amount`, and for a window `window`, `window_total`
    /// (or `window_count`) and `limit`; after an edit, `edited_by` and why a second person is needed.
    public let policyFigures: [String: String]
    /// Whether the requester's own approval counts at this tier (never at a two-person tier).
    public let requesterMayApprove: Bool
    public let createdAt: String
    public let updatedAt: String
    /// When a pending approval expires.
    public let expiresAt: String
    /// The reason given with a rejection, cancellation, expiry or failed execution.
    public let reason: String?
    /// What the executor reported (`completed` and `failed` only).
    public let outcome: Outcome?
    /// The signed grant (`approved`, `completed` and `failed` only), shown only to the
    /// roles that execute (agent, operator): a grant is for the ledger, not for people's screens.
    public let grant: Grant?

    enum CodingKeys: String, CodingKey {
        case approvalID = "approval_id", runID = "run_id", callID = "call_id", version, status, action
        case originalAction = "original_action", requestedBy = "requested_by", submittedBy = "submitted_by"
        case requiredApprovers = "required_approvers", approvedBy = "approved_by"
        case policyVersion = "policy_version", policyRule = "policy_rule", policyFigures = "policy_figures"
        case requesterMayApprove = "requester_may_approve"
        case createdAt = "created_at", updatedAt = "updated_at", expiresAt = "expires_at"
        case reason, outcome, grant
    }

    /// The same view without its grant.
    public func withoutGrant() -> ApprovalView {
        ApprovalView(
            approvalID: approvalID, runID: runID, callID: callID, version: version, status: status, action: action,
            originalAction: originalAction, requestedBy: requestedBy, submittedBy: submittedBy, requiredApprovers: requiredApprovers,
            approvedBy: approvedBy, policyVersion: policyVersion, policyRule: policyRule, policyFigures: policyFigures,
            requesterMayApprove: requesterMayApprove, createdAt: createdAt, updatedAt: updatedAt, expiresAt: expiresAt,
            reason: reason, outcome: outcome, grant: nil)
    }

    /// - Parameters: the wire fields.
    public init(approvalID: String, runID: String, callID: String, version: Int64, status: ApprovalStatus, action: Action, originalAction: Action, requestedBy: String, submittedBy: String, requiredApprovers: Int, approvedBy: [String], policyVersion: String, policyRule: String, policyFigures: [String: String], requesterMayApprove: Bool, createdAt: String, updatedAt: String, expiresAt: String, reason: String? = nil, outcome: Outcome? = nil, grant: Grant? = nil) {
        self.approvalID = approvalID
        self.runID = runID
        self.callID = callID
        self.version = version
        self.status = status
        self.action = action
        self.originalAction = originalAction
        self.requestedBy = requestedBy
        self.submittedBy = submittedBy
        self.requiredApprovers = requiredApprovers
        self.approvedBy = approvedBy
        self.policyVersion = policyVersion
        self.policyRule = policyRule
        self.policyFigures = policyFigures
        self.requesterMayApprove = requesterMayApprove
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.expiresAt = expiresAt
        self.reason = reason
        self.outcome = outcome
        self.grant = grant
    }
}

/// What the executor reports after running an approved action.
public struct Outcome: Sendable, Codable, Equatable {
    /// `succeeded` or `failed`.
    public let status: String
    /// Free text: a journal entry id, an error message.
    public let detail: String?

    /// - Parameters: the wire fields.
    public init(status: String, detail: String? = nil) {
        self.status = status
        self.detail = detail
    }
}

/// One state change, with a gap-free sequence number.
public struct ApprovalEvent: Sendable, Codable, Equatable {
    public let seq: Int64
    /// submitted, edited, approved, rejected, expired, cancelled, completed, failed, notified.
    public let type: String
    public let approvalID: String
    public let runID: String
    public let callID: String
    public let version: Int64
    /// The approval's status after the change.
    public let status: ApprovalStatus
    /// Who caused it (an identity, ``policyActor`` or `system:expiry`).
    public let actor: String
    /// The actor of an approval the policy granted by itself, at submission: the
    /// submitter got it approved in its answer and runs it at once.
    public static let policyActor = "policy:auto"
    public let at: String
    public let reason: String?

    enum CodingKeys: String, CodingKey {
        case seq, type, approvalID = "approval_id", runID = "run_id", callID = "call_id", version, status, actor, at, reason
    }

    /// - Parameters: the wire fields.
    public init(seq: Int64, type: String, approvalID: String, runID: String, callID: String, version: Int64, status: ApprovalStatus, actor: String, at: String, reason: String? = nil) {
        self.seq = seq
        self.type = type
        self.approvalID = approvalID
        self.runID = runID
        self.callID = callID
        self.version = version
        self.status = status
        self.actor = actor
        self.at = at
        self.reason = reason
    }
}
