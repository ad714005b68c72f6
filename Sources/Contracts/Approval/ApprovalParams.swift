import Banking
import Foundation
import Wire

// The params and results of approval-svc's methods, and the events its watch sends.

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
