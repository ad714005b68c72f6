import Banking
import Foundation
import SQLiteKit

/// An approval row, as stored.
struct ApprovalRecord: Sendable {
    let seq: Int64
    let approvalID: String
    let runID: String
    let callID: String
    var version: Int64
    var status: ApprovalStatus
    var action: Action
    let originalAction: Action
    let requestedBy: String
    let submittedBy: String
    var requiredApprovers: Int
    var policyVersion: String
    var policyRule: String
    let createdAt: Int64
    var updatedAt: Int64
    let expiresAt: Int64
    var reason: String?
    var outcome: Outcome?
    var grant: Grant?
    /// Whether the requester's own approval counts (set by the deciding rule).
    var requesterMayApprove: Bool
    /// The figures that decided the current version (amount, window total, limit, ...).
    var policyFigures: [String: String]
}

/// Reads and writes the approval tables on one connection (inside the caller's transaction).
enum ApprovalStore {
    static let columns = """
        seq, approval_id, run_id, call_id, version, status, action, original_action, requested_by, submitted_by,
        required_approvers, policy_version, policy_rule, created_at, updated_at, expires_at, reason, outcome, grant_json,
        requester_may_approve, policy_figures
        """

    static func find(_ approvalID: String, on connection: any SQLConnection) throws -> ApprovalRecord? {
        try connection.queryOne("SELECT \(columns) FROM approvals WHERE approval_id = ?", [.text(approvalID)], { try record($0) })
    }

    static func find(runID: String, callID: String, on connection: any SQLConnection) throws -> ApprovalRecord? {
        try connection.queryOne(
            "SELECT \(columns) FROM approvals WHERE run_id = ? AND call_id = ?", [.text(runID), .text(callID)], { try record($0) })
    }

    static func insert(_ approval: ApprovalRecord, on connection: any SQLConnection) throws {
        try connection.execute(
            """
            INSERT INTO approvals (approval_id, run_id, call_id, version, status, action, original_action, requested_by,
                submitted_by, required_approvers, policy_version, policy_rule, created_at, updated_at, expires_at,
                reason, outcome, grant_json, requester_may_approve, policy_figures, kind, account, currency, amount_minor)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [.text(approval.approvalID), .text(approval.runID), .text(approval.callID)] + mutableValues(approval, leading: true)
                + [.text(approval.action.kind.rawValue), .text(approval.action.account), .text(approval.action.currency),
                   .integer(approval.action.amount.minorUnits)])
        try connection.execute(
            "INSERT INTO approval_versions (approval_id, version, action, edited_by, created_at) VALUES (?, 1, ?, ?, ?)",
            [.text(approval.approvalID), .text(json(approval.action)), .text(approval.submittedBy), .integer(approval.createdAt)])
    }

    /// Writes back everything that can change.
    static func update(_ approval: ApprovalRecord, on connection: any SQLConnection) throws {
        let changed = try connection.execute(
            """
            UPDATE approvals SET version = ?, status = ?, action = ?, required_approvers = ?, policy_version = ?,
                policy_rule = ?, updated_at = ?, reason = ?, outcome = ?, grant_json = ?, requester_may_approve = ?,
                policy_figures = ?, amount_minor = ?
            WHERE approval_id = ?
            """,
            mutableValues(approval, leading: false) + [.integer(approval.action.amount.minorUnits), .text(approval.approvalID)])
        precondition(changed == 1, "an approval that was read must be updatable")
    }

    private static func mutableValues(_ approval: ApprovalRecord, leading: Bool) -> [SQLiteValue] {
        let optional: (String?) -> SQLiteValue = { $0.map { .text($0) } ?? .null }
        if leading {
            return [
                .integer(approval.version), .text(approval.status.rawValue), .text(json(approval.action)),
                .text(json(approval.originalAction)), .text(approval.requestedBy), .text(approval.submittedBy),
                .integer(Int64(approval.requiredApprovers)), .text(approval.policyVersion), .text(approval.policyRule),
                .integer(approval.createdAt), .integer(approval.updatedAt), .integer(approval.expiresAt),
                optional(approval.reason), optional(approval.outcome.map { json($0) }), optional(approval.grant.map { json($0) }),
                .integer(approval.requesterMayApprove ? 1 : 0), .text(json(approval.policyFigures)),
            ]
        }
        return [
            .integer(approval.version), .text(approval.status.rawValue), .text(json(approval.action)),
            .integer(Int64(approval.requiredApprovers)), .text(approval.policyVersion), .text(approval.policyRule),
            .integer(approval.updatedAt), optional(approval.reason), optional(approval.outcome.map { json($0) }),
            optional(approval.grant.map { json($0) }), .integer(approval.requesterMayApprove ? 1 : 0),
            .text(json(approval.policyFigures)),
        ]
    }

    static func addVersion(_ approval: ApprovalRecord, editedBy: String, on connection: any SQLConnection) throws {
        try connection.execute(
            "INSERT INTO approval_versions (approval_id, version, action, edited_by, created_at) VALUES (?, ?, ?, ?, ?)",
            [.text(approval.approvalID), .integer(approval.version), .text(json(approval.action)), .text(editedBy),
             .integer(approval.updatedAt)])
    }

    /// The vote an approver cast on one version, if any.
    static func vote(of approver: String, on approval: ApprovalRecord, connection: any SQLConnection) throws -> Decision? {
        try connection.queryOne(
            "SELECT decision FROM votes WHERE approval_id = ? AND version = ? AND approver = ?",
            [.text(approval.approvalID), .integer(approval.version), .text(approver)]
        ) { Decision(rawValue: $0.text(0)) } ?? nil
    }

    static func recordVote(
        _ decision: Decision, by approver: String, reason: String?, on approval: ApprovalRecord, at: Int64,
        connection: any SQLConnection
    ) throws {
        try connection.execute(
            "INSERT INTO votes (approval_id, version, approver, decision, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
            [.text(approval.approvalID), .integer(approval.version), .text(approver), .text(decision.rawValue),
             reason.map { .text($0) } ?? .null, .integer(at)])
    }

    /// Approvers who approved the current version, sorted.
    static func approvers(of approval: ApprovalRecord, connection: any SQLConnection) throws -> [String] {
        try connection.query(
            "SELECT approver FROM votes WHERE approval_id = ? AND version = ? AND decision = 'approve' ORDER BY approver",
            [.text(approval.approvalID), .integer(approval.version)]) { $0.text(0) }
    }

    static func view(_ approval: ApprovalRecord, connection: any SQLConnection) throws -> ApprovalView {
        ApprovalView(
            approvalID: approval.approvalID, runID: approval.runID, callID: approval.callID, version: approval.version,
            status: approval.status, action: approval.action, originalAction: approval.originalAction,
            requestedBy: approval.requestedBy, submittedBy: approval.submittedBy,
            requiredApprovers: approval.requiredApprovers, approvedBy: try approvers(of: approval, connection: connection),
            policyVersion: approval.policyVersion, policyRule: approval.policyRule, policyFigures: approval.policyFigures,
            requesterMayApprove: approval.requesterMayApprove,
            createdAt: ApprovalTime.format(milliseconds: approval.createdAt),
            updatedAt: ApprovalTime.format(milliseconds: approval.updatedAt),
            expiresAt: ApprovalTime.format(milliseconds: approval.expiresAt),
            reason: approval.reason, outcome: approval.outcome, grant: approval.grant)
    }

    // MARK: history

    /// What the policy needs of `action`'s account over each window: the live total of
    /// its kind (pending, approved, executed; `excluding` the approval being re-decided)
    /// and what the policy approved by itself (the count and total of approvals that
    /// needed nobody and were not reported failed). Read inside the deciding
    /// transaction, so two submissions never both spend the same budget.
    static func history(
        of action: Action, windows: Set<PolicyWindow>, now: Int64, excluding approvalID: String?, connection: any SQLConnection
    ) throws -> PolicyHistory {
        var live: [PolicyWindow: Int64] = [:]
        var auto: [PolicyWindow: PolicyHistory.Usage] = [:]
        for window in windows {
            let since = now - window.seconds * 1000
            let row = try connection.queryOne(
                """
                SELECT
                    COALESCE(SUM(CASE WHEN status IN ('pending', 'approved', 'completed') THEN amount_minor END), 0),
                    COALESCE(SUM(CASE WHEN required_approvers = 0 AND status IN ('approved', 'completed') THEN amount_minor END), 0),
                    COUNT(CASE WHEN required_approvers = 0 AND status IN ('approved', 'completed') THEN 1 END)
                FROM approvals
                WHERE account = ? AND kind = ? AND currency = ? AND created_at > ? AND approval_id != ?
                """,
                [.text(action.account), .text(action.kind.rawValue), .text(action.currency), .integer(since),
                 .text(approvalID ?? "")]
            ) { ($0.int(0), $0.int(1), Int($0.int(2))) }
            live[window] = row?.0 ?? 0
            auto[window] = PolicyHistory.Usage(total: row?.1 ?? 0, count: row?.2 ?? 0)
        }
        return PolicyHistory(live: live, autoApproved: auto)
    }

    // MARK: order

    /// The channel on which a PostgreSQL write tells the other replicas that approvals changed.
    static let changes = "hitl_approval_changes"

    /// Starts a change (first statement of every write request). On PostgreSQL it
    /// locks the audit chain's head row until the commit: every change appends audit
    /// records to one hash chain, so changes are serial anyway, and holding the head
    /// from the start makes each the sole writer of its moment. Every other rule then
    /// holds as on SQLite's single writer: an approval read is the one to change (two
    /// replicas deciding it take turns and the second sees the first's decision), an
    /// event's seq is the last plus one and commits in seq order (the feed is
    /// gap-free and a watcher never sees seq 8 before 7), a window total read is
    /// what the policy judges. (Sent without waiting: the lock is taken before the
    /// request's next statement runs, and that one waits.)
    static func serialize(_ connection: any SQLConnection) throws {
        guard connection.dialect == .postgres else { return }
        try connection.executeLater("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
    }

    // MARK: events

    /// Appends an event with the next gap-free seq. The single writer assigns
    /// seqs in commit order, and a rolled-back request gives its seq back.
    static func appendEvent(
        _ type: String, for approval: ApprovalRecord, actor: String, at: Int64, reason: String? = nil,
        connection: any SQLConnection
    ) throws {
        try connection.execute(
            """
            INSERT INTO events (seq, type, approval_id, run_id, call_id, version, status, actor, at, reason)
            VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM events), ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [.text(type), .text(approval.approvalID), .text(approval.runID), .text(approval.callID),
             .integer(approval.version), .text(approval.status.rawValue), .text(actor), .integer(at),
             reason.map { .text($0) } ?? .null])
        // Other replicas' watchers follow the feed: tell them, at commit (one notice per
        // transaction however many events; none if the request is rolled back).
        if connection.dialect == .postgres { try connection.executeLater("SELECT pg_notify('\(changes)', '')") }
    }

    static func events(after seq: Int64, limit: Int, connection: any SQLConnection) throws -> [ApprovalEvent] {
        try connection.query(
            """
            SELECT seq, type, approval_id, run_id, call_id, version, status, actor, at, reason
            FROM events WHERE seq > ? ORDER BY seq LIMIT ?
            """,
            [.integer(seq), .integer(Int64(limit))]
        ) { row in
            ApprovalEvent(
                seq: row.int(0), type: row.text(1), approvalID: row.text(2), runID: row.text(3), callID: row.text(4),
                version: row.int(5), status: ApprovalStatus(rawValue: row.text(6)) ?? .pending, actor: row.text(7),
                at: ApprovalTime.format(milliseconds: row.int(8)), reason: row.optionalText(9))
        }
    }

    // MARK: rows

    private static func record(_ row: some SQLRow) throws -> ApprovalRecord {
        ApprovalRecord(
            seq: row.int(0), approvalID: row.text(1), runID: row.text(2), callID: row.text(3), version: row.int(4),
            status: try decodeStatus(row.text(5)), action: try decode(row.text(6)), originalAction: try decode(row.text(7)),
            requestedBy: row.text(8), submittedBy: row.text(9), requiredApprovers: Int(row.int(10)),
            policyVersion: row.text(11), policyRule: row.text(12), createdAt: row.int(13), updatedAt: row.int(14),
            expiresAt: row.int(15), reason: row.optionalText(16), outcome: try row.optionalText(17).map { try decode($0) },
            grant: try row.optionalText(18).map { try decode($0) }, requesterMayApprove: row.int(19) != 0,
            policyFigures: try decode(row.text(20)))
    }

    private static func decodeStatus(_ text: String) throws -> ApprovalStatus {
        guard let status = ApprovalStatus(rawValue: text) else {
            throw CorruptRowError(description: "approvals.status holds '\(text)'")
        }
        return status
    }

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Actions, outcomes and grants hold only strings and integers: encoding cannot fail.
        return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self)
    }

    private static func decode<T: Decodable>(_ text: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }
}

/// A stored row that no version of this service could have written.
struct CorruptRowError: Error, CustomStringConvertible {
    let description: String
}
