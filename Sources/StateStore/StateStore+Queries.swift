import RPC

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
        let rows = try await storage.listRuns(after: after, status: status, sessionID: params.sessionID, limit: limit + 1)
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
        let (head, stored) = try await storage.history(
            runID: params.runID, afterVersion: after, limit: limit, budget: StateLimits.maximumResponseBytes)
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
    /// - Throws: the database's errors.
    public func prune(finishedBeforeMs completedBefore: Int64) async throws -> PruneResult {
        let (pruned, more) = try await storage.prune(finishedBefore: completedBefore, limit: StateLimits.maximumPrunePerCall)
        let result = PruneResult(pruned: pruned, more: more)
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
