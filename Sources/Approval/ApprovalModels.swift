import Banking
import Foundation
import RPC

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
    func withoutGrant() -> ApprovalView {
        ApprovalView(
            approvalID: approvalID, runID: runID, callID: callID, version: version, status: status, action: action,
            originalAction: originalAction, requestedBy: requestedBy, submittedBy: submittedBy, requiredApprovers: requiredApprovers,
            approvedBy: approvedBy, policyVersion: policyVersion, policyRule: policyRule, policyFigures: policyFigures,
            requesterMayApprove: requesterMayApprove, createdAt: createdAt, updatedAt: updatedAt, expiresAt: expiresAt,
            reason: reason, outcome: outcome, grant: nil)
    }
}

/// Roles that see grants in what approval-svc returns: those that execute approved actions.
enum GrantReaders {
    static let roles: Set<String> = ["agent", "operator"]

    /// Whether `identity` may see grants.
    static func allows(_ identity: Identity?) -> Bool { identity.map { roles.contains($0.role) } ?? false }
}

/// What the executor reports after running an approved action.
public struct Outcome: Sendable, Codable, Equatable {
    /// `succeeded` or `failed`.
    public let status: String
    /// Free text: a journal entry id, an error message.
    public let detail: String?
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
    /// Who caused it (an identity, `policy:auto` or `system:expiry`).
    public let actor: String
    public let at: String
    public let reason: String?

    enum CodingKeys: String, CodingKey {
        case seq, type, approvalID = "approval_id", runID = "run_id", callID = "call_id", version, status, actor, at, reason
    }
}

// MARK: - Params and results

struct SubmitParams: Decodable, Sendable {
    let runID: String
    let callID: String
    let action: Action
    let requestedBy: String
    let expiresIn: Int64?
    enum CodingKeys: String, CodingKey {
        case runID = "run_id", callID = "call_id", action, requestedBy = "requested_by", expiresIn = "expires_in"
    }
}

struct ApprovalIDParams: Decodable, Sendable {
    let approvalID: String
    enum CodingKeys: String, CodingKey { case approvalID = "approval_id" }
}

struct ListParams: Decodable, Sendable {
    let status: ApprovalStatus?
    let runID: String?
    let cursor: String?
    let limit: Int?
    enum CodingKeys: String, CodingKey { case status, runID = "run_id", cursor, limit }
}

struct ListResult: Encodable, Sendable {
    let approvals: [ApprovalView]
    let nextCursor: String?
    enum CodingKeys: String, CodingKey { case approvals, nextCursor = "next_cursor" }
}

/// An approver's decision.
public enum Decision: String, Sendable, Codable {
    case approve, reject
}

struct DecideParams: Decodable, Sendable {
    let approvalID: String
    let decision: Decision
    let reason: String?
    let editedAction: Action?
    /// The version the approver reviewed; a stale one is refused (VERSION_MISMATCH).
    let version: Int64?
    enum CodingKeys: String, CodingKey {
        case approvalID = "approval_id", decision, reason, editedAction = "edited_action", version
    }
}

struct CancelParams: Decodable, Sendable {
    let approvalID: String
    let reason: String
    enum CodingKeys: String, CodingKey { case approvalID = "approval_id", reason }
}

struct CompleteParams: Decodable, Sendable {
    let approvalID: String
    let outcome: Outcome
    enum CodingKeys: String, CodingKey { case approvalID = "approval_id", outcome }
}

struct EventsParams: Decodable, Sendable {
    let afterSeq: Int64?
    let limit: Int?
    enum CodingKeys: String, CodingKey { case afterSeq = "after_seq", limit }
}

struct EventsResult: Encodable, Sendable {
    let events: [ApprovalEvent]
    /// The cursor to pass next: the last event's seq, or `after_seq` when none.
    let lastSeq: Int64
    let hasMore: Bool
    enum CodingKeys: String, CodingKey { case events, lastSeq = "last_seq", hasMore = "has_more" }
}

struct WatchParams: Decodable, Sendable {
    let afterSeq: Int64?
    let maxEvents: Int?
    /// Decision events carry the approval too (what a resumer would otherwise fetch).
    let withApproval: Bool?
    enum CodingKeys: String, CodingKey { case afterSeq = "after_seq", maxEvents = "max_events", withApproval = "with_approval" }
}

/// An `approval.watch` event with the approval it decided (`with_approval`).
struct DecidedEvent: Encodable, Sendable {
    let event: ApprovalEvent
    let approval: ApprovalView

    /// The types that decide an approval: a resumer acts on these.
    static let decisions: Set<String> = ["approved", "rejected", "expired", "cancelled"]

    enum CodingKeys: String, CodingKey { case approval }

    /// The event's own fields, then `approval`, in one object.
    func encode(to encoder: any Encoder) throws {
        try event.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(approval, forKey: .approval)
    }
}

struct WatchResult: Encodable, Sendable {
    let lastSeq: Int64
    let sent: Int
    enum CodingKeys: String, CodingKey { case lastSeq = "last_seq", sent }
}

/// One record of the hash-chained audit log.
public struct AuditRecord: Sendable, Codable, Equatable {
    public let seq: Int64
    public let at: String
    public let approvalID: String
    /// submitted, vote, edited, approved, rejected, expired, cancelled, completed, notified.
    public let step: String
    public let actor: String
    public let version: Int64
    public let policyVersion: String
    /// SHA-256 (hex) of the action's canonical JSON at this step.
    public let actionHash: String
    /// Step-specific facts (grant id, reason, outcome), as canonical JSON text.
    public let detail: String
    public let prevHash: String
    public let hash: String

    enum CodingKeys: String, CodingKey {
        case seq, at, approvalID = "approval_id", step, actor, version, policyVersion = "policy_version"
        case actionHash = "action_hash", detail, prevHash = "prev_hash", hash
    }
}

struct AuditResult: Encodable, Sendable {
    let records: [AuditRecord]
}

/// What `approval.verify_audit` found.
public struct AuditVerification: Sendable, Codable, Equatable {
    /// One thing wrong with the chain.
    public struct Problem: Sendable, Codable, Equatable {
        public let seq: Int64
        public let problem: String
    }
    public let ok: Bool
    public let records: Int64
    public let headSeq: Int64
    public let headHash: String
    public let problems: [Problem]

    enum CodingKeys: String, CodingKey { case ok, records, headSeq = "head_seq", headHash = "head_hash", problems }
}
