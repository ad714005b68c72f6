import RPC
import SQLiteKit

extension StateStore {
    /// Runs in creation order, optionally filtered, one page at a time.
    /// - Parameter params: filters (`status`, `session_id`), `cursor` from the previous page, `limit`.
    /// - Returns: the page and the cursor of the next one.
    /// - Throws: INVALID_ARGUMENT (INVALID_STATUS, INVALID_ID, INVALID_CURSOR, INVALID_FIELD).
    public func listRuns(_ params: ListRunsParams) async throws -> ListRunsResult {
        let status = try params.status.map { try RunStatus.parse($0, field: "status") }
        if let session = params.sessionID { try Validation.identifier(session, field: "session_id") }
        let limit = try Validation.limit(params.limit, default: StateLimits.defaultListLimit, maximum: StateLimits.maximumListLimit)
        let after = try params.cursor.map(Self.parseCursor) ?? 0
        var conditions = ["seq > ?"]
        var values: [SQLiteValue] = [.integer(after)]
        if let status {
            conditions.append("status = ?")
            values.append(.text(status.rawValue))
        }
        if let session = params.sessionID {
            conditions.append("session_id = ?")
            values.append(.text(session))
        }
        values.append(.integer(Int64(limit + 1)))
        let sql = "SELECT \(RunRow.columns) FROM runs WHERE \(conditions.joined(separator: " AND ")) ORDER BY seq LIMIT ?"
        let bound = values
        let rows = try await database.read { connection in try connection.query(sql, bound) { try RunRow($0) } }
        let now = Timestamp.nowMs()
        let page = rows.prefix(limit)
        return ListRunsResult(
            runs: page.map { $0.summary(now: now) },
            nextCursor: rows.count > limit ? page.last.map { "c\($0.seq)" } : nil)
    }

    private static func parseCursor(_ text: String) throws -> Int64 {
        guard text.first == "c", let seq = Int64(text.dropFirst()), seq >= 0 else {
            throw RPCError.invalidParams(field: "cursor", "is not a cursor this service returned", reason: "INVALID_CURSOR")
        }
        return seq
    }

    /// Every saved version of a run, oldest first, a page at a time.
    /// - Parameter params: the run, `after_version` from the previous page, `limit`.
    /// - Returns: the versions with their documents; a page stops early past
    ///   ``StateLimits/maximumResponseBytes`` of documents.
    /// - Throws: INVALID_ARGUMENT, NOT_FOUND/RUN_NOT_FOUND.
    public func runHistory(_ params: RunHistoryParams) async throws -> RunHistoryResult {
        try Validation.identifier(params.runID, field: "run_id")
        let limit = try Validation.limit(
            params.limit, default: StateLimits.defaultHistoryLimit, maximum: StateLimits.maximumHistoryLimit)
        let after = params.afterVersion ?? 0
        guard after >= 0 else { throw RPCError.invalidParams(field: "after_version", "must be 0 or more") }
        typealias Stored = (version: Int64, status: String, data: String, savedAt: Int64, savedBy: String?, owner: String?)
        let (head, stored) = try await database.read { connection -> (Int64, [Stored]) in
            try connection.execute("BEGIN")
            defer { _ = try? connection.execute("COMMIT") }
            guard let row = try RunRow.fetch(connection, params.runID) else { throw StateErrors.runNotFound(params.runID) }
            var budget = StateLimits.maximumResponseBytes
            var page: [Stored] = []
            for entry in try connection.query(
                """
                SELECT version, status, data, saved_at, saved_by, owner FROM run_versions
                WHERE run_id = ? AND version > ? ORDER BY version LIMIT ?
                """, [.text(params.runID), .integer(after), .integer(Int64(limit))],
                { (version: $0.int(0), status: $0.text(1), data: $0.text(2), savedAt: $0.int(3), savedBy: $0.optionalText(4), owner: $0.optionalText(5)) })
            {
                budget -= entry.data.utf8.count
                if budget < 0, !page.isEmpty { break }
                page.append(entry)
            }
            return (row.version, page)
        }
        let versions = try stored.map {
            RunVersion(
                version: $0.version, status: $0.status, data: try Validation.decode($0.data),
                savedAt: Timestamp.format($0.savedAt), savedBy: $0.savedBy, owner: $0.owner)
        }
        let last = versions.last?.version ?? head
        return RunHistoryResult(runID: params.runID, versions: versions, nextAfterVersion: last < head ? last : nil)
    }

    /// Deletes finished runs (completed, failed or cancelled) and their history.
    /// - Parameter completedBefore: runs that finished before this time (ms since 1970) go.
    /// - Returns: how many went, and whether more qualify.
    /// - Throws: ``SQLiteError``.
    public func prune(finishedBeforeMs completedBefore: Int64) async throws -> PruneResult {
        let result = try await database.write { connection -> PruneResult in
            let pruned = try connection.execute(
                """
                DELETE FROM runs WHERE run_id IN (
                    SELECT run_id FROM runs WHERE finished_at IS NOT NULL AND finished_at < ? LIMIT ?)
                """, [.integer(completedBefore), .integer(Int64(StateLimits.maximumPrunePerCall))])
            let more = try connection.queryOne(
                "SELECT 1 FROM runs WHERE finished_at IS NOT NULL AND finished_at < ? LIMIT 1", [.integer(completedBefore)]
            ) { _ in true } ?? false
            return PruneResult(pruned: pruned, more: more)
        }
        if result.pruned > 0 {
            logger.info("finished runs pruned", metadata: ["runs.pruned": "\(result.pruned)", "runs.more": "\(result.more)"])
        }
        return result
    }

    /// ``prune(finishedBeforeMs:)`` with an RFC 3339 time, as sent on the wire.
    /// - Throws: INVALID_ARGUMENT/INVALID_TIMESTAMP.
    public func prune(_ params: PruneParams) async throws -> PruneResult {
        try await prune(finishedBeforeMs: try Timestamp.parse(params.completedBefore, field: "completed_before"))
    }
}
