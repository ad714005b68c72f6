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
        let order = params.order ?? .oldest
        let limit = params.limit ?? Validate.defaultPageSize
        guard (1...Validate.maximumPageSize).contains(limit) else {
            throw RPCError.invalidParams(field: "limit", "must be between 1 and \(Validate.maximumPageSize)")
        }
        let position = try params.cursor.map { try ListCursor(parsing: $0, order: order) }
        try Validate.optionalText(params.runID, field: "run_id", maximum: Validate.maximumIDLength)
        try Validate.optionalText(params.requestedBy, field: "requested_by", maximum: Validate.maximumIDLength)
        try Validate.optionalText(params.account, field: "account", maximum: Validate.maximumIDLength)
        try Validate.optionalText(params.query, field: "q", maximum: Validate.maximumQueryLength)
        if let kind = params.kind, Action.Kind(rawValue: kind) == nil {
            throw RPCError.invalidParams(field: "kind", "must be one of \(Action.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let minimum = try params.minAmount.map { try Validate.amount($0, field: "min_amount") }
        let maximum = try params.maxAmount.map { try Validate.amount($0, field: "max_amount") }
        if let minimum, let maximum, minimum > maximum {
            throw RPCError.invalidParams(field: "max_amount", "must not be below min_amount (\(minimum))")
        }
        return try await database.read { connection in
            var sql = "SELECT \(ApprovalStore.columns) FROM approvals WHERE 1 = 1"
            var values: [SQLiteValue] = []
            func add(_ clause: String, _ more: SQLiteValue...) {
                sql += " AND " + clause
                values += more
            }
            // kind, account (a transfer's payer, a deposit's receiver) and amount_minor are
            // the action's own fields as columns (an edit changes only amount, payee and memo).
            if let status = params.status { add("status = ?", .text(status.rawValue)) }
            if let runID = params.runID { add("run_id = ?", .text(runID)) }
            if let kind = params.kind { add("kind = ?", .text(kind)) }
            if let minimum { add("amount_minor >= ?", .integer(minimum.minorUnits)) }
            if let maximum { add("amount_minor <= ?", .integer(maximum.minorUnits)) }
            if let person = params.requestedBy { add("requested_by = ?", .text(person)) }
            if let account = params.account { add("account = ?", .text(account)) }
            if let query = params.query?.trimmingCharacters(in: .whitespaces), !query.isEmpty {
                let pattern = SQLiteValue.text("%" + Self.likeEscaped(query.lowercased()) + "%")
                let payee = connection.dialect.jsonText("action", "to")
                let memo = connection.dialect.jsonText("action", "memo")
                add(
                    "(lower(approval_id) LIKE ? ESCAPE '\\' OR lower(run_id) LIKE ? ESCAPE '\\' OR lower(requested_by) LIKE ? ESCAPE '\\' "
                        + "OR lower(\(payee)) LIKE ? ESCAPE '\\' OR lower(coalesce(\(memo), '')) LIKE ? ESCAPE '\\')",
                    pattern, pattern, pattern, pattern, pattern)
            }
            if let position {
                switch order {
                case .oldest: add("seq > ?", .integer(position.seq))
                case .newest: add("seq < ?", .integer(position.seq))
                case .expiry:
                    add("(expires_at > ? OR (expires_at = ? AND seq > ?))",
                        .integer(position.expiresAt), .integer(position.expiresAt), .integer(position.seq))
                }
            }
            let ordering = switch order {
            case .oldest: " ORDER BY seq"
            case .newest: " ORDER BY seq DESC"
            case .expiry: " ORDER BY expires_at, seq"
            }
            sql += ordering
            sql += " LIMIT ?"
            values.append(.integer(Int64(limit + 1)))
            let ids = try connection.query(sql, values) { $0.text(1) }
            let page = try ids.prefix(limit).map { try self.load($0, connection: connection) }
            let views = try page.map { try ApprovalStore.view($0, connection: connection) }
            let next = ids.count > limit ? page.last.map { ListCursor(order: order, seq: $0.seq, expiresAt: $0.expiresAt).text } : nil
            return ListResult(approvals: views, nextCursor: next)
        }
    }

    /// `text` for a LIKE pattern: `%`, `_` and the escape itself match only themselves.
    static func likeEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
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

    /// The audit records of a period (`since` inclusive, `until` exclusive), in chain order.
    func auditLog(_ params: AuditLogParams) async throws -> AuditLogResult {
        let limit = params.limit ?? Validate.defaultPageSize
        guard (1...Validate.maximumPageSize).contains(limit) else {
            throw RPCError.invalidParams(field: "limit", "must be between 1 and \(Validate.maximumPageSize)")
        }
        let since = try params.since.map { try Validate.time($0, field: "since") }
        let until = try params.until.map { try Validate.time($0, field: "until") }
        if let since, let until, since >= until { throw RPCError.invalidParams(field: "until", "must be after since") }
        if let after = params.afterSeq, after < 0 { throw RPCError.invalidParams(field: "after_seq", "must be 0 or more") }
        return try await database.read { connection in
            let records = try AuditLog.records(
                after: params.afterSeq ?? 0, since: since.map(ApprovalTime.format), until: until.map(ApprovalTime.format), limit: limit + 1,
                on: connection)
            let page = Array(records.prefix(limit))
            return AuditLogResult(records: page, nextAfterSeq: records.count > limit ? page.last?.seq : nil)
        }
    }

    func verifyAudit() async throws -> AuditVerification {
        // One snapshot: records appended during the walk must not look like a broken head.
        try await database.snapshot { connection in try AuditLog.verify(on: connection) }
    }

    /// Stops the database threads once queued work is done.
}

/// Where a page of `approval.list` ends, in the page's order: `c<seq>` (oldest first),
/// `n<seq>` (newest first), `e<expires_at ms>.<seq>` (soonest to expire first).
struct ListCursor: Equatable {
    let order: ListOrder
    let seq: Int64
    let expiresAt: Int64

    init(order: ListOrder, seq: Int64, expiresAt: Int64) {
        self.order = order
        self.seq = seq
        self.expiresAt = expiresAt
    }

    var text: String {
        switch order {
        case .oldest: "c\(seq)"
        case .newest: "n\(seq)"
        case .expiry: "e\(expiresAt).\(seq)"
        }
    }

    /// - Throws: INVALID_ARGUMENT/INVALID_CURSOR when it is not one this order returns.
    init(parsing text: String, order: ListOrder) throws {
        let invalid = RPCError.invalidParams(field: "cursor", "is not a cursor this service returned", reason: "INVALID_CURSOR")
        let expected: Character = switch order {
        case .oldest: "c"
        case .newest: "n"
        case .expiry: "e"
        }
        guard let first = text.first, "cne".contains(first) else { throw invalid }
        guard first == expected else {
            throw RPCError.invalidParams(field: "cursor", "belongs to another order than '\(order.rawValue)'", reason: "INVALID_CURSOR")
        }
        let body = text.dropFirst()
        if order == .expiry {
            let parts = body.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, let at = Int64(parts[0]), let seq = Int64(parts[1]), seq >= 0 else { throw invalid }
            self.init(order: order, seq: seq, expiresAt: at)
        } else {
            guard let seq = Int64(body), seq >= 0 else { throw invalid }
            self.init(order: order, seq: seq, expiresAt: 0)
        }
    }
}
