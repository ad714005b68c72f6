import Foundation
import SQLiteKit

/// Pending approvals whose time has passed: expired in batches by the expiry timer.
extension ApprovalEngine {
    /// Expires every pending approval whose time has passed.
    /// - Returns: how many expired.
    /// - Throws: ``SQLiteError``.
    @discardableResult
    public func expireDue() async throws -> Int {
        // Most sweeps find nothing due: look on a reader before taking the writer (and,
        // on PostgreSQL, the chain's head, which every replica's sweep would otherwise
        // take every second).
        let now = ApprovalTime.milliseconds(clock.now())
        guard try await database.read({ connection in
            try connection.queryOne("""
                SELECT 1 FROM approvals WHERE status = 'pending' AND expires_at <= ?
                UNION ALL SELECT 1 FROM batch_approvals WHERE status = 'pending' AND expires_at <= ? LIMIT 1
                """, [.integer(now), .integer(now)]) { _ in true } ?? false
        }) else { return 0 }
        var total = 0
        while true {
            let count = try await change { [self] connection in
                let now = clock.now()
                let due = try connection.query(
                    "SELECT approval_id FROM approvals WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at LIMIT ?",
                    [.integer(ApprovalTime.milliseconds(now)), .integer(Int64(Self.expiryBatch))]) { $0.text(0) }
                for approvalID in due {
                    var record = try load(approvalID, connection: connection)
                    _ = try expireIfDue(&record, now: now, connection: connection)
                }
                return due.count + (try expireDueBatches(now: now, connection: connection))
            }
            total += count
            if count < Self.expiryBatch { break }
        }
        if total > 0 {
            notifier.signal()
            logger.info("approvals expired", metadata: ["approval.count": "\(total)"])
        }
        return total
    }

    /// When the next pending approval expires, if any is pending.
    public func nextExpiry() async throws -> Date? {
        try await database.read { connection in
            try connection.queryOne("""
                SELECT MIN(expires_at) FROM (
                    SELECT MIN(expires_at) AS expires_at FROM approvals WHERE status = 'pending'
                    UNION ALL SELECT MIN(expires_at) FROM batch_approvals WHERE status = 'pending') AS due
                """) { $0.optionalInt(0) } ?? nil
        }.map { ApprovalTime.date(milliseconds: $0) }
    }

    /// Expires `record` if it is pending and past its time. Returns whether it did.
    func expireIfDue(_ record: inout ApprovalRecord, now: Date, connection: any SQLConnection) throws -> Bool {
        let nowMs = ApprovalTime.milliseconds(now)
        guard record.status == .pending, record.expiresAt <= nowMs else { return false }
        record.status = .expired
        record.reason = "no decision before \(ApprovalTime.format(milliseconds: record.expiresAt))"
        record.updatedAt = nowMs
        try ApprovalStore.update(record, on: connection)
        try ApprovalStore.appendEvent("expired", for: record, actor: "system:expiry", at: nowMs, reason: record.reason, connection: connection)
        try audit("expired", record, actor: "system:expiry", at: now, connection: connection, detail: [
            "expires_at": ApprovalTime.format(milliseconds: record.expiresAt),
        ])
        return true
    }
}
