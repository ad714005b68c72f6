import Banking
import Foundation
import Logging
import RPC
import SQLiteKit

/// Reads: one approval, lists, events and the audit log.
extension ApprovalEngine {
    // MARK: reads

    func get(_ approvalID: String) async throws -> ApprovalView {
        try Validate.text(approvalID, field: "approval_id", maximum: Validate.maximumIDLength)
        return try await database.read { [self] connection in
            try ApprovalStore.view(try load(approvalID, connection: connection), connection: connection)
        }
    }

    func list(_ params: ListParams) async throws -> ListResult {
        let (limit, start) = try Validate.page(limit: params.limit, cursor: params.cursor)
        try Validate.optionalText(params.runID, field: "run_id", maximum: Validate.maximumIDLength)
        return try await database.read { connection in
            var sql = "SELECT \(ApprovalStore.columns) FROM approvals WHERE seq > ?"
            var values: [SQLiteValue] = [.integer(start)]
            if let status = params.status {
                sql += " AND status = ?"
                values.append(.text(status.rawValue))
            }
            if let runID = params.runID {
                sql += " AND run_id = ?"
                values.append(.text(runID))
            }
            sql += " ORDER BY seq LIMIT ?"
            values.append(.integer(Int64(limit + 1)))
            let seqs = try connection.query(sql, values) { $0.text(1) }
            let page = try seqs.prefix(limit).map { try self.load($0, connection: connection) }
            let views = try page.map { try ApprovalStore.view($0, connection: connection) }
            let next = seqs.count > limit ? page.last.map { "c\($0.seq)" } : nil
            return ListResult(approvals: views, nextCursor: next)
        }
    }

    func events(after seq: Int64, limit: Int) async throws -> [ApprovalEvent] {
        try await database.read { connection in try ApprovalStore.events(after: seq, limit: limit, connection: connection) }
    }

    func audit(of approvalID: String) async throws -> [AuditRecord] {
        try Validate.text(approvalID, field: "approval_id", maximum: Validate.maximumIDLength)
        return try await database.read { [self] connection in
            if approvalID.hasPrefix(Self.batchPrefix) {
                _ = try loadBatch(approvalID, connection: connection)
            } else {
                _ = try load(approvalID, connection: connection)
            }
            return try AuditLog.records(of: approvalID, on: connection)
        }
    }

    func verifyAudit() async throws -> AuditVerification {
        try await database.read { connection in
            // One snapshot: records appended during the walk must not look like a broken head.
            try connection.executeScript("BEGIN")
            defer { try? connection.executeScript("COMMIT") }
            return try AuditLog.verify(on: connection)
        }
    }

    /// Stops the database threads once queued work is done.
}
