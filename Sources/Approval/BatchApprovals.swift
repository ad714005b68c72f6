import Banking
import Foundation
import RPC
import SQLiteKit

/// One transfer of a batch, as submitted: exactly the fields the batch grant
/// binds (the ledger's `transfer_batch` element without `grant` and `linked`).
public struct BatchTransfer: Sendable, Codable, Equatable {
    public let from: String
    public let to: String
    public let amount: Amount
    public let currency: String?
    /// What it is for ("December salary"): part of what the grant binds.
    public let memo: String?
    public let idempotencyKey: String

    enum CodingKeys: String, CodingKey {
        case from, to, amount, currency, memo
        case idempotencyKey = "idempotency_key"
    }

    /// What the ledger will be asked to execute for this element.
    var item: BatchItem {
        BatchItem(action: Action(kind: .transfer, from: from, to: to, amount: amount, currency: currency ?? "USD", memo: memo),
                  idempotencyKey: idempotencyKey)
    }
}

/// A batch approval as callers see it (`approval.submit_batch`, `decide_batch`, `get_batch`, `list_batches`).
public struct BatchApprovalView: Sendable, Codable, Equatable {
    public let approvalID: String
    /// The submitter's id for the batch: submitting it again returns this approval.
    public let batchID: String
    /// pending, approved, rejected, expired, completed (executed) or failed (the executor
    /// reported that it could not run it all; `reason` says why).
    public let status: ApprovalStatus
    /// Count, total, currency and digest: what the grant signs.
    public let batch: BatchSummary
    /// The transfers, in order (omitted by `list_batches`).
    public let transfers: [BatchTransfer]?
    public let requestedBy: String
    public let submittedBy: String
    /// Distinct approvers the batch needs: at least one.
    public let requiredApprovers: Int
    /// Approvers who approved it, sorted.
    public let approvedBy: [String]
    public let policyVersion: String
    public let policyRule: String
    public let createdAt: String
    public let updatedAt: String
    public let expiresAt: String
    public let reason: String?
    /// What the executor reported (`completed` and `failed` only).
    public let outcome: Outcome?
    /// The signed batch grant (`approved` and after), shown only to the roles that execute.
    public let grant: BatchGrant?

    enum CodingKeys: String, CodingKey {
        case approvalID = "approval_id", batchID = "batch_id", status, batch, transfers
        case requestedBy = "requested_by", submittedBy = "submitted_by"
        case requiredApprovers = "required_approvers", approvedBy = "approved_by"
        case policyVersion = "policy_version", policyRule = "policy_rule"
        case createdAt = "created_at", updatedAt = "updated_at", expiresAt = "expires_at"
        case reason, outcome, grant
    }

    /// The same view without its grant.
    func withoutGrant() -> BatchApprovalView {
        BatchApprovalView(
            approvalID: approvalID, batchID: batchID, status: status, batch: batch, transfers: transfers, requestedBy: requestedBy,
            submittedBy: submittedBy, requiredApprovers: requiredApprovers, approvedBy: approvedBy, policyVersion: policyVersion,
            policyRule: policyRule, createdAt: createdAt, updatedAt: updatedAt, expiresAt: expiresAt, reason: reason,
            outcome: outcome, grant: nil)
    }
}

struct SubmitBatchParams: Decodable, Sendable {
    let batchID: String
    let requestedBy: String
    let transfers: [BatchTransfer]
    let expiresIn: Int64?
    enum CodingKeys: String, CodingKey {
        case batchID = "batch_id", requestedBy = "requested_by", transfers, expiresIn = "expires_in"
    }
}

struct DecideBatchParams: Decodable, Sendable {
    let approvalID: String
    let decision: Decision
    let reason: String?
    enum CodingKeys: String, CodingKey { case approvalID = "approval_id", decision, reason }
}

struct ListBatchesParams: Decodable, Sendable {
    let status: ApprovalStatus?
    let cursor: String?
    let limit: Int?
}

struct ListBatchesResult: Encodable, Sendable {
    let batches: [BatchApprovalView]
    let nextCursor: String?
    enum CodingKeys: String, CodingKey { case batches, nextCursor = "next_cursor" }
}

/// A batch approval row, as stored.
struct BatchApprovalRecord: Sendable {
    let seq: Int64
    let approvalID: String
    let batchID: String
    var status: ApprovalStatus
    let transfers: [BatchTransfer]
    let summary: BatchSummary
    let requestedBy: String
    let submittedBy: String
    let requiredApprovers: Int
    let policyVersion: String
    let policyRule: String
    let createdAt: Int64
    var updatedAt: Int64
    let expiresAt: Int64
    var reason: String?
    var grant: BatchGrant?
    var outcome: Outcome?

    /// Batches have one version: a changed payroll is a new batch.
    static let version: Int64 = 1
}

/// Reads and writes the batch tables on one connection (inside the caller's transaction).
enum BatchApprovalStore {
    static let columns = """
        seq, approval_id, batch_id, status, transfers, count, total, currency, digest, requested_by, submitted_by,
        required_approvers, policy_version, policy_rule, created_at, updated_at, expires_at, reason, grant_json, outcome
        """

    static func find(_ approvalID: String, on connection: any SQLConnection) throws -> BatchApprovalRecord? {
        try connection.queryOne("SELECT \(columns) FROM batch_approvals WHERE approval_id = ?", [.text(approvalID)], { try record($0) })
    }

    static func find(batchID: String, on connection: any SQLConnection) throws -> BatchApprovalRecord? {
        try connection.queryOne("SELECT \(columns) FROM batch_approvals WHERE batch_id = ?", [.text(batchID)], { try record($0) })
    }

    static func insert(_ batch: BatchApprovalRecord, on connection: any SQLConnection) throws {
        try connection.execute(
            """
            INSERT INTO batch_approvals (approval_id, batch_id, status, transfers, count, total, currency, digest, requested_by,
                submitted_by, required_approvers, policy_version, policy_rule, created_at, updated_at, expires_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [.text(batch.approvalID), .text(batch.batchID), .text(batch.status.rawValue), .text(ApprovalStore.json(batch.transfers)),
             .integer(Int64(batch.summary.count)), .text(batch.summary.total), .text(batch.summary.currency),
             .text(batch.summary.digest), .text(batch.requestedBy), .text(batch.submittedBy),
             .integer(Int64(batch.requiredApprovers)), .text(batch.policyVersion), .text(batch.policyRule),
             .integer(batch.createdAt), .integer(batch.updatedAt), .integer(batch.expiresAt)])
    }

    /// Writes back what a decision or expiry changes.
    static func update(_ batch: BatchApprovalRecord, on connection: any SQLConnection) throws {
        let changed = try connection.execute(
            "UPDATE batch_approvals SET status = ?, updated_at = ?, reason = ?, grant_json = ?, outcome = ? WHERE approval_id = ?",
            [.text(batch.status.rawValue), .integer(batch.updatedAt), batch.reason.map { .text($0) } ?? .null,
             batch.grant.map { .text(ApprovalStore.json($0)) } ?? .null, batch.outcome.map { .text(ApprovalStore.json($0)) } ?? .null,
             .text(batch.approvalID)])
        precondition(changed == 1, "a batch approval that was read must be updatable")
    }

    static func vote(of approver: String, on approvalID: String, connection: any SQLConnection) throws -> Decision? {
        try connection.queryOne(
            "SELECT decision FROM batch_votes WHERE approval_id = ? AND approver = ?", [.text(approvalID), .text(approver)]
        ) { Decision(rawValue: $0.text(0)) } ?? nil
    }

    static func recordVote(_ decision: Decision, by approver: String, reason: String?, on approvalID: String, at: Int64,
                           connection: any SQLConnection) throws {
        try connection.execute(
            "INSERT INTO batch_votes (approval_id, approver, decision, reason, at) VALUES (?, ?, ?, ?, ?)",
            [.text(approvalID), .text(approver), .text(decision.rawValue), reason.map { .text($0) } ?? .null, .integer(at)])
    }

    static func approvers(of approvalID: String, connection: any SQLConnection) throws -> [String] {
        try connection.query(
            "SELECT approver FROM batch_votes WHERE approval_id = ? AND decision = 'approve' ORDER BY approver",
            [.text(approvalID)]) { $0.text(0) }
    }

    static func view(_ batch: BatchApprovalRecord, withTransfers: Bool = true, connection: any SQLConnection) throws -> BatchApprovalView {
        BatchApprovalView(
            approvalID: batch.approvalID, batchID: batch.batchID, status: batch.status, batch: batch.summary,
            transfers: withTransfers ? batch.transfers : nil, requestedBy: batch.requestedBy, submittedBy: batch.submittedBy,
            requiredApprovers: batch.requiredApprovers, approvedBy: try approvers(of: batch.approvalID, connection: connection),
            policyVersion: batch.policyVersion, policyRule: batch.policyRule,
            createdAt: ApprovalTime.format(milliseconds: batch.createdAt), updatedAt: ApprovalTime.format(milliseconds: batch.updatedAt),
            expiresAt: ApprovalTime.format(milliseconds: batch.expiresAt), reason: batch.reason, outcome: batch.outcome,
            grant: batch.grant)
    }

    private static func record(_ row: some SQLRow) throws -> BatchApprovalRecord {
        guard let status = ApprovalStatus(rawValue: row.text(3)) else {
            throw CorruptRowError(description: "batch_approvals.status holds '\(row.text(3))'")
        }
        return BatchApprovalRecord(
            seq: row.int(0), approvalID: row.text(1), batchID: row.text(2), status: status,
            transfers: try JSONDecoder().decode([BatchTransfer].self, from: Data(row.text(4).utf8)),
            summary: BatchSummary(count: Int(row.int(5)), total: row.text(6), currency: row.text(7), digest: row.text(8)),
            requestedBy: row.text(9), submittedBy: row.text(10), requiredApprovers: Int(row.int(11)),
            policyVersion: row.text(12), policyRule: row.text(13), createdAt: row.int(14), updatedAt: row.int(15),
            expiresAt: row.int(16), reason: row.optionalText(17),
            grant: try row.optionalText(18).map { try JSONDecoder().decode(BatchGrant.self, from: Data($0.utf8)) },
            outcome: try row.optionalText(19).map { try JSONDecoder().decode(Outcome.self, from: Data($0.utf8)) })
    }
}
