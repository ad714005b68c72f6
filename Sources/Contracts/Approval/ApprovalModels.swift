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
    /// Who caused it (an identity, `policy:auto` or `system:expiry`).
    public let actor: String
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

// MARK: - Params and results

public struct SubmitParams: Codable, Sendable {
    public let runID: String
    public let callID: String
    public let action: Action
    public let requestedBy: String
    public let expiresIn: Int64?
    enum CodingKeys: String, CodingKey {
        case runID = "run_id", callID = "call_id", action, requestedBy = "requested_by", expiresIn = "expires_in"
    }

    /// - Parameters: the wire fields.
    public init(runID: String, callID: String, action: Action, requestedBy: String, expiresIn: Int64? = nil) {
        self.runID = runID
        self.callID = callID
        self.action = action
        self.requestedBy = requestedBy
        self.expiresIn = expiresIn
    }
}

public struct ApprovalIDParams: Codable, Sendable {
    public let approvalID: String
    enum CodingKeys: String, CodingKey { case approvalID = "approval_id" }

    /// - Parameters: the wire fields.
    public init(approvalID: String) {
        self.approvalID = approvalID
    }
}

public struct ListParams: Codable, Sendable {
    public let status: ApprovalStatus?
    public let runID: String?
    public let cursor: String?
    public let limit: Int?
    /// `transfer` or `deposit`.
    public let kind: String?
    /// Amounts from (inclusive), a decimal string like `100.00`.
    public let minAmount: String?
    /// Amounts up to (inclusive).
    public let maxAmount: String?
    /// Only approvals requested for this person.
    public let requestedBy: String?
    /// Only approvals whose current action pays from (or deposits into) this account.
    public let account: String?
    /// Text found in the approval's id, run, requester, payee or memo (case-insensitive).
    public let query: String?
    /// `oldest` (submission order, the default), `newest`, or `expiry` (soonest to expire first).
    public let order: ListOrder?
    enum CodingKeys: String, CodingKey {
        case status, runID = "run_id", cursor, limit, kind, minAmount = "min_amount", maxAmount = "max_amount"
        case requestedBy = "requested_by", account, query = "q", order
    }

    /// - Parameters: the wire fields.
    public init(
        status: ApprovalStatus? = nil, runID: String? = nil, cursor: String? = nil, limit: Int? = nil, kind: String? = nil,
        minAmount: String? = nil, maxAmount: String? = nil, requestedBy: String? = nil, account: String? = nil, query: String? = nil,
        order: ListOrder? = nil
    ) {
        self.status = status
        self.runID = runID
        self.cursor = cursor
        self.limit = limit
        self.kind = kind
        self.minAmount = minAmount
        self.maxAmount = maxAmount
        self.requestedBy = requestedBy
        self.account = account
        self.query = query
        self.order = order
    }
}

/// The order of `approval.list`.
public enum ListOrder: String, Codable, Sendable, CaseIterable {
    case oldest, newest, expiry
}

public struct ListResult: Codable, Sendable {
    public let approvals: [ApprovalView]
    public let nextCursor: String?
    enum CodingKeys: String, CodingKey { case approvals, nextCursor = "next_cursor" }

    /// - Parameters: the wire fields.
    public init(approvals: [ApprovalView], nextCursor: String? = nil) {
        self.approvals = approvals
        self.nextCursor = nextCursor
    }
}

/// An approver's decision.
public enum Decision: String, Sendable, Codable {
    case approve, reject
}

public struct DecideParams: Codable, Sendable {
    public let approvalID: String
    public let decision: Decision
    public let reason: String?
    public let editedAction: Action?
    /// The version the approver reviewed; a stale one is refused (VERSION_MISMATCH).
    public let version: Int64?
    enum CodingKeys: String, CodingKey {
        case approvalID = "approval_id", decision, reason, editedAction = "edited_action", version
    }

    /// - Parameters: the wire fields.
    public init(approvalID: String, decision: Decision, reason: String? = nil, editedAction: Action? = nil, version: Int64? = nil) {
        self.approvalID = approvalID
        self.decision = decision
        self.reason = reason
        self.editedAction = editedAction
        self.version = version
    }
}

public struct CancelParams: Codable, Sendable {
    public let approvalID: String
    public let reason: String
    enum CodingKeys: String, CodingKey { case approvalID = "approval_id", reason }

    /// - Parameters: the wire fields.
    public init(approvalID: String, reason: String) {
        self.approvalID = approvalID
        self.reason = reason
    }
}

public struct CompleteParams: Codable, Sendable {
    public let approvalID: String
    public let outcome: Outcome
    enum CodingKeys: String, CodingKey { case approvalID = "approval_id", outcome }

    /// - Parameters: the wire fields.
    public init(approvalID: String, outcome: Outcome) {
        self.approvalID = approvalID
        self.outcome = outcome
    }
}

public struct EventsParams: Codable, Sendable {
    public let afterSeq: Int64?
    public let limit: Int?
    enum CodingKeys: String, CodingKey { case afterSeq = "after_seq", limit }

    /// - Parameters: the wire fields.
    public init(afterSeq: Int64? = nil, limit: Int? = nil) {
        self.afterSeq = afterSeq
        self.limit = limit
    }
}

public struct EventsResult: Codable, Sendable {
    public let events: [ApprovalEvent]
    /// The cursor to pass next: the last event's seq, or `after_seq` when none.
    public let lastSeq: Int64
    public let hasMore: Bool
    enum CodingKeys: String, CodingKey { case events, lastSeq = "last_seq", hasMore = "has_more" }

    /// - Parameters: the wire fields.
    public init(events: [ApprovalEvent], lastSeq: Int64, hasMore: Bool) {
        self.events = events
        self.lastSeq = lastSeq
        self.hasMore = hasMore
    }
}

public struct WatchParams: Codable, Sendable {
    public let afterSeq: Int64?
    public let maxEvents: Int?
    /// Decision events carry the approval too (what a resumer would otherwise fetch).
    public let withApproval: Bool?
    enum CodingKeys: String, CodingKey { case afterSeq = "after_seq", maxEvents = "max_events", withApproval = "with_approval" }

    /// - Parameters: the wire fields.
    public init(afterSeq: Int64? = nil, maxEvents: Int? = nil, withApproval: Bool? = nil) {
        self.afterSeq = afterSeq
        self.maxEvents = maxEvents
        self.withApproval = withApproval
    }
}

/// An `approval.watch` event with the approval it decided (`with_approval`).
public struct DecidedEvent: Codable, Sendable {
    public let event: ApprovalEvent
    /// Present on the decision types (``decisions``) when the watch asked for it.
    public let approval: ApprovalView?

    /// The types that decide an approval: a resumer acts on these.
    public static let decisions: Set<String> = ["approved", "rejected", "expired", "cancelled"]

    enum CodingKeys: String, CodingKey { case approval }

    /// The event's own fields, then `approval`, in one object.
    public func encode(to encoder: any Encoder) throws {
        try event.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(approval, forKey: .approval)
    }

    /// Reads what ``encode(to:)`` writes (and a plain event, without `approval`).
    public init(from decoder: any Decoder) throws {
        event = try ApprovalEvent(from: decoder)
        approval = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(ApprovalView.self, forKey: .approval)
    }

    /// - Parameters: the event and the approval it decided.
    public init(event: ApprovalEvent, approval: ApprovalView?) {
        self.event = event
        self.approval = approval
    }
}

public struct WatchResult: Codable, Sendable {
    public let lastSeq: Int64
    public let sent: Int
    enum CodingKeys: String, CodingKey { case lastSeq = "last_seq", sent }

    /// - Parameters: the wire fields.
    public init(lastSeq: Int64, sent: Int) {
        self.lastSeq = lastSeq
        self.sent = sent
    }
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

    /// - Parameters: the wire fields.
    public init(seq: Int64, at: String, approvalID: String, step: String, actor: String, version: Int64, policyVersion: String, actionHash: String, detail: String, prevHash: String, hash: String) {
        self.seq = seq
        self.at = at
        self.approvalID = approvalID
        self.step = step
        self.actor = actor
        self.version = version
        self.policyVersion = policyVersion
        self.actionHash = actionHash
        self.detail = detail
        self.prevHash = prevHash
        self.hash = hash
    }
}

public struct AuditResult: Codable, Sendable {
    public let records: [AuditRecord]

    /// - Parameters: the wire fields.
    public init(records: [AuditRecord]) {
        self.records = records
    }
}

/// `approval.audit_log` params: the audit records of a period, in chain order.
public struct AuditLogParams: Codable, Sendable {
    /// Records at or after this time (RFC 3339).
    public let since: String?
    /// Records before this time (RFC 3339).
    public let until: String?
    /// Records after this seq (the previous page's `next_after_seq`).
    public let afterSeq: Int64?
    public let limit: Int?
    enum CodingKeys: String, CodingKey { case since, until, afterSeq = "after_seq", limit }

    /// - Parameters: the wire fields.
    public init(since: String? = nil, until: String? = nil, afterSeq: Int64? = nil, limit: Int? = nil) {
        self.since = since
        self.until = until
        self.afterSeq = afterSeq
        self.limit = limit
    }
}

/// `approval.audit_log` result.
public struct AuditLogResult: Codable, Sendable {
    public let records: [AuditRecord]
    /// Pass as `after_seq` for the next page; absent on the last.
    public let nextAfterSeq: Int64?
    enum CodingKeys: String, CodingKey { case records, nextAfterSeq = "next_after_seq" }

    /// - Parameters: the wire fields.
    public init(records: [AuditRecord], nextAfterSeq: Int64?) {
        self.records = records
        self.nextAfterSeq = nextAfterSeq
    }
}

/// What `approval.verify_audit` found.
public struct AuditVerification: Sendable, Codable, Equatable {
    /// One thing wrong with the chain.
    public struct Problem: Sendable, Codable, Equatable {
        public let seq: Int64
        public let problem: String

        /// - Parameters: the wire fields.
        public init(seq: Int64, problem: String) {
            self.seq = seq
            self.problem = problem
        }
    }
    public let ok: Bool
    public let records: Int64
    public let headSeq: Int64
    public let headHash: String
    public let problems: [Problem]

    enum CodingKeys: String, CodingKey { case ok, records, headSeq = "head_seq", headHash = "head_hash", problems }

    /// - Parameters: the wire fields.
    public init(ok: Bool, records: Int64, headSeq: Int64, headHash: String, problems: [Problem]) {
        self.ok = ok
        self.records = records
        self.headSeq = headSeq
        self.headHash = headHash
        self.problems = problems
    }
}
