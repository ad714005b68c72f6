import Banking
import Foundation
import RPC
import SQLiteKit

/// Batches of transfers (a payroll) approved as a whole: people decide once,
/// and the approval issues one ``BatchGrant`` that `ledger.transfer_batch`
/// accepts for exactly these transfers, in this order, once.
///
/// The rules are those of single approvals: the policy sets how many distinct
/// approvers are needed (for a batch, at least one: see ``Policy/evaluate(batch:)``),
/// the submitter and the requester cannot decide, an approver counts once, any
/// rejection rejects, and a batch nobody decided in time expires. Every step
/// goes into the audit chain, with the batch's digest as what was decided.
extension ApprovalEngine {
    /// Approval ids of batches start with this, single approvals' with `ap_`.
    static let batchPrefix = "ab_"

    func submitBatch(_ params: SubmitBatchParams, by identity: Identity) async throws -> BatchApprovalView {
        try Validate.text(params.batchID, field: "batch_id", maximum: Validate.maximumIDLength)
        try Validate.text(params.requestedBy, field: "requested_by", maximum: Validate.maximumNameLength)
        let transfers = try Self.validated(params.transfers)
        let expiresIn = try expiry(params.expiresIn)
        return try await change { [self] connection in
            if let existing = try BatchApprovalStore.find(batchID: params.batchID, on: connection) {
                guard existing.transfers == transfers else {
                    throw RPCError(.alreadyExists, reason: "IDEMPOTENCY_KEY_REUSED",
                        "batch \(params.batchID) was already submitted with other transfers (approval \(existing.approvalID)); give a changed batch a new batch_id")
                }
                return try BatchApprovalStore.view(existing, connection: connection)
            }
            let now = clock.now()
            let nowMs = ApprovalTime.milliseconds(now)
            let items = transfers.map(\.item)
            let decision = policies.current.evaluate(batch: items.map(\.action))
            let record = BatchApprovalRecord(
                seq: 0, approvalID: Identifiers.make(prefix: Self.batchPrefix, bytes: 15), batchID: params.batchID,
                status: .pending, transfers: transfers, summary: BatchSummary(of: items), requestedBy: params.requestedBy,
                submittedBy: identity.name, requiredApprovers: decision.approvers, policyVersion: decision.version,
                policyRule: decision.rule, createdAt: nowMs, updatedAt: nowMs,
                expiresAt: ApprovalTime.milliseconds(now.addingTimeInterval(expiresIn)))
            try BatchApprovalStore.insert(record, on: connection)
            try audit("submitted", record, actor: identity.name, at: now, connection: connection, detail: [
                "batch_id": record.batchID, "count": "\(record.summary.count)", "total": record.summary.total,
                "currency": record.summary.currency, "requested_by": record.requestedBy,
                "required_approvers": "\(record.requiredApprovers)", "policy_rule": record.policyRule,
                "expires_at": ApprovalTime.format(milliseconds: record.expiresAt),
            ])
            logger.info("batch submitted", metadata: [
                "approval.id": "\(record.approvalID)", "batch.count": "\(record.summary.count)", "batch.total": "\(record.summary.total)",
            ])
            return try BatchApprovalStore.view(record, connection: connection)
        }
    }

    func decideBatch(_ params: DecideBatchParams, by identity: Identity) async throws -> BatchApprovalView {
        try Validate.text(params.approvalID, field: "approval_id", maximum: Validate.maximumIDLength)
        try Validate.optionalText(params.reason, field: "reason", maximum: Validate.maximumReasonLength)
        // An approval found past its expiry is expired in this transaction, which
        // must commit: the refusal is returned, not thrown.
        let outcome = try await change { [self] connection -> Result<BatchApprovalView, RPCError> in
            var record = try loadBatch(params.approvalID, connection: connection)
            let now = clock.now()
            if try expireIfDue(&record, now: now, connection: connection) { return .failure(Self.notDecidable(record)) }
            guard record.status == .pending else { throw Self.notDecidable(record) }
            guard identity.name != record.submittedBy, identity.name != record.requestedBy else {
                throw RPCError(.permissionDenied, reason: "REQUESTER_CANNOT_DECIDE",
                    "\(identity.name) requested this batch and cannot decide it; another approver must")
            }
            if let previous = try BatchApprovalStore.vote(of: identity.name, on: record.approvalID, connection: connection) {
                guard previous == params.decision else {
                    throw RPCError(.failedPrecondition, reason: "APPROVER_ALREADY_VOTED",
                        "\(identity.name) already voted '\(previous.rawValue)' on this batch; a vote cannot be changed")
                }
                return .success(try BatchApprovalStore.view(record, connection: connection))  // a retry counts once
            }
            let nowMs = ApprovalTime.milliseconds(now)
            try BatchApprovalStore.recordVote(params.decision, by: identity.name, reason: params.reason, on: record.approvalID,
                                              at: nowMs, connection: connection)
            try audit("vote", record, actor: identity.name, at: now, connection: connection, detail: [
                "decision": params.decision.rawValue, "reason": params.reason ?? "",
            ])
            switch params.decision {
            case .reject:
                record.status = .rejected
                record.reason = params.reason
                record.updatedAt = nowMs
                try BatchApprovalStore.update(record, on: connection)
                try audit("rejected", record, actor: identity.name, at: now, connection: connection, detail: ["reason": params.reason ?? ""])
            case .approve:
                let approvers = try BatchApprovalStore.approvers(of: record.approvalID, connection: connection)
                if approvers.count >= record.requiredApprovers {
                    try approve(&record, approvers: approvers, actor: identity.name, at: now, connection: connection)
                }
            }
            return .success(try BatchApprovalStore.view(record, connection: connection))
        }
        return try outcome.get()
    }

    /// Records how a batch's execution ended: `succeeded` → completed; `failed` (some
    /// transfers did not run) → failed, with the detail as the reason. Reporting the same
    /// outcome again returns the batch unchanged.
    func completeBatch(_ params: CompleteParams, by identity: Identity) async throws -> BatchApprovalView {
        try Validate.text(params.approvalID, field: "approval_id", maximum: Validate.maximumIDLength)
        guard ["succeeded", "failed"].contains(params.outcome.status) else {
            throw RPCError.invalidParams(field: "outcome.status", "must be 'succeeded' or 'failed'")
        }
        try Validate.optionalText(params.outcome.detail, field: "outcome.detail", maximum: Validate.maximumReasonLength)
        return try await change { [self] connection in
            var record = try loadBatch(params.approvalID, connection: connection)
            if [.completed, .failed].contains(record.status), record.outcome == params.outcome {
                return try BatchApprovalStore.view(record, connection: connection)  // a retry
            }
            guard record.status == .approved else {
                throw RPCError(.failedPrecondition, reason: record.status == .pending ? "NOT_APPROVED" : "ALREADY_COMPLETED",
                    "batch \(record.approvalID) is \(record.status.rawValue); only an approved batch can be completed, once",
                    details: ["approval_status": .string(record.status.rawValue)])
            }
            let now = clock.now()
            record.status = params.outcome.status == "succeeded" ? .completed : .failed
            record.outcome = params.outcome
            if record.status == .failed { record.reason = params.outcome.detail ?? "the executor reported a failure" }
            record.updatedAt = ApprovalTime.milliseconds(now)
            try BatchApprovalStore.update(record, on: connection)
            try audit(record.status.rawValue, record, actor: identity.name, at: now, connection: connection, detail: [
                "outcome": params.outcome.status, "detail": params.outcome.detail ?? "", "grant_id": record.grant?.grantID ?? "",
            ])
            logger.info("batch completed", metadata: [
                "approval.id": "\(record.approvalID)", "batch.outcome": "\(params.outcome.status)",
            ])
            return try BatchApprovalStore.view(record, connection: connection)
        }
    }

    func getBatch(_ approvalID: String) async throws -> BatchApprovalView {
        try Validate.text(approvalID, field: "approval_id", maximum: Validate.maximumIDLength)
        return try await database.read { [self] connection in
            try BatchApprovalStore.view(try loadBatch(approvalID, connection: connection), connection: connection)
        }
    }

    func listBatches(_ params: ListBatchesParams) async throws -> ListBatchesResult {
        let (limit, start) = try Validate.page(limit: params.limit, cursor: params.cursor)
        return try await database.read { connection in
            var sql = "SELECT approval_id FROM batch_approvals WHERE seq > ?"
            var values: [SQLiteValue] = [.integer(start)]
            if let status = params.status {
                sql += " AND status = ?"
                values.append(.text(status.rawValue))
            }
            sql += " ORDER BY seq LIMIT ?"
            values.append(.integer(Int64(limit + 1)))
            let ids = try connection.query(sql, values) { $0.text(0) }
            let page = try ids.prefix(limit).map { try self.loadBatch($0, connection: connection) }
            // Summaries only: 500 transfers a batch would not fit a page in one line.
            let views = try page.map { try BatchApprovalStore.view($0, withTransfers: false, connection: connection) }
            return ListBatchesResult(batches: views, nextCursor: ids.count > limit ? page.last.map { "c\($0.seq)" } : nil)
        }
    }

    /// Expires every pending batch past its time; returns how many.
    func expireDueBatches(now: Date, connection: any SQLConnection) throws -> Int {
        let due = try connection.query(
            "SELECT approval_id FROM batch_approvals WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at LIMIT ?",
            [.integer(ApprovalTime.milliseconds(now)), .integer(Int64(Self.expiryBatch))]) { $0.text(0) }
        for approvalID in due {
            var record = try loadBatch(approvalID, connection: connection)
            _ = try expireIfDue(&record, now: now, connection: connection)
        }
        return due.count
    }

    func loadBatch(_ approvalID: String, connection: any SQLConnection) throws -> BatchApprovalRecord {
        guard let record = try BatchApprovalStore.find(approvalID, on: connection) else {
            throw RPCError(.notFound, reason: "APPROVAL_NOT_FOUND", "no batch approval \(approvalID)")
        }
        return record
    }

    // MARK: steps

    /// Signs the batch grant and marks the batch approved.
    private func approve(
        _ record: inout BatchApprovalRecord, approvers: [String], actor: String, at now: Date, connection: any SQLConnection
    ) throws {
        precondition(record.status == .pending && approvers.count >= record.requiredApprovers, "only enough approvers approve a pending batch")
        let grant = try signer.sign(BatchGrant(
            grantID: Identifiers.make(prefix: "gr_", bytes: 18), approvalID: record.approvalID,
            approvalVersion: BatchApprovalRecord.version, batch: record.summary, approvers: approvers,
            policyVersion: record.policyVersion, issuedAt: now, expiresAt: now.addingTimeInterval(configuration.grantTTL),
            keyID: signer.keyID))
        precondition(grant.batch == BatchSummary(of: record.transfers.map(\.item)), "a batch grant binds exactly the approved transfers")
        record.grant = grant
        record.status = .approved
        record.updatedAt = ApprovalTime.milliseconds(now)
        try BatchApprovalStore.update(record, on: connection)
        try audit("approved", record, actor: actor, at: now, connection: connection, detail: [
            "grant_id": grant.grantID, "approvers": approvers.joined(separator: ","), "grant_expires_at": grant.expiresAt,
        ])
    }

    private func expireIfDue(_ record: inout BatchApprovalRecord, now: Date, connection: any SQLConnection) throws -> Bool {
        let nowMs = ApprovalTime.milliseconds(now)
        guard record.status == .pending, record.expiresAt <= nowMs else { return false }
        record.status = .expired
        record.reason = "no decision before \(ApprovalTime.format(milliseconds: record.expiresAt))"
        record.updatedAt = nowMs
        try BatchApprovalStore.update(record, on: connection)
        try audit("expired", record, actor: "system:expiry", at: now, connection: connection, detail: [
            "expires_at": ApprovalTime.format(milliseconds: record.expiresAt),
        ])
        return true
    }

    private func audit(
        _ step: String, _ record: BatchApprovalRecord, actor: String, at now: Date, connection: any SQLConnection,
        detail: [String: String]
    ) throws {
        try AuditLog.append(
            .init(at: now, approvalID: record.approvalID, step: step, actor: actor, version: BatchApprovalRecord.version,
                  policyVersion: record.policyVersion, actionHash: record.summary.digest, detail: detail),
            on: connection)
    }

    private static func notDecidable(_ record: BatchApprovalRecord) -> RPCError {
        notDecidable(approvalID: record.approvalID, status: record.status, expiresAt: record.expiresAt)
    }

    // MARK: validation

    /// The transfers with their currency filled in, or INVALID_ARGUMENT naming the element's field.
    static func validated(_ transfers: [BatchTransfer]) throws -> [BatchTransfer] {
        guard (1...BatchSummary.maximumCount).contains(transfers.count) else {
            throw RPCError.invalidParams(field: "transfers", "must hold 1 to \(BatchSummary.maximumCount) transfers")
        }
        var keys = Set<String>()
        let currency = transfers[0].currency ?? "USD"
        return try transfers.enumerated().map { index, transfer in
            let field = "transfers[\(index)]"
            let normalized = BatchTransfer(from: transfer.from, to: transfer.to, amount: transfer.amount,
                                           currency: transfer.currency ?? "USD", memo: transfer.memo, idempotencyKey: transfer.idempotencyKey)
            try Validate.action(normalized.item.action, field: field)
            guard normalized.currency == currency else {
                throw RPCError.invalidParams(field: "\(field).currency",
                    "every transfer of a batch is in one currency; transfers[0] is in \(currency)")
            }
            try Validate.text(transfer.idempotencyKey, field: "\(field).idempotency_key", maximum: Validate.maximumIdempotencyKeyLength)
            guard keys.insert(transfer.idempotencyKey).inserted else {
                throw RPCError.invalidParams(field: "\(field).idempotency_key",
                    "repeats an earlier transfer's key; every transfer of a batch needs its own", reason: "DUPLICATE_IDEMPOTENCY_KEY")
            }
            return normalized
        }
    }
}
