import Logging
import RPC
import SQLiteKit

/// The state store's rows in one SQLite file with group commit: the embedded default,
/// one state-svc process per file.
final class SQLiteStateStorage: StateStorage {
    let database: SQLiteDatabase
    var backend: String { "sqlite" }

    init(path: String, logger: Logger) throws {
        database = try SQLiteDatabase(path: path, migrations: StateSchema.migrations, logger: logger)
    }

    func close() async { await database.close() }

    /// One process writes the file, so the store's own signals are every change.
    func followChanges(_ wake: @escaping @Sendable (String?) -> Void) {}

    func createRun(
        runID: String, sessionID: String?, document: String, events: [NewEvent], identity: String?
    ) async throws -> (createdAt: Int64, lastEventSeq: Int64) {
        try await database.write { connection in
            let now = Timestamp.nowMs()
            guard try RunRow.fetch(connection, runID) == nil else { throw StateErrors.runExists(runID) }
            try connection.execute(
                "INSERT INTO runs (run_id, session_id, version, status, created_at, updated_at) VALUES (?, ?, 1, 'running', ?, ?)",
                [.text(runID), sessionID.map(SQLiteValue.text) ?? .null, .integer(now), .integer(now)])
            try Self.insertVersion(connection, runID, 1, .running, document, now, identity, owner: nil)
            return (now, try Self.appendEvents(connection, runID, after: 0, events, now: now))
        }
    }

    func run(_ runID: String) async throws -> (row: RunRow, document: String) {
        try await database.read { connection in
            guard let row = try RunRow.fetch(connection, runID) else { throw StateErrors.runNotFound(runID) }
            return (row, try Self.document(connection, runID, row.version))
        }
    }

    func saveRun(_ save: RunSave, maximumVersions: Int64) async throws -> (version: Int64, now: Int64, lastEventSeq: Int64) {
        try await database.write { connection in
            let now = Timestamp.nowMs()
            guard let row = try RunRow.fetch(connection, save.runID) else { throw StateErrors.runNotFound(save.runID) }
            try row.checkWrite(owner: save.owner, expectedVersion: save.expectedVersion, now: now)
            try row.checkRoom(maximumVersions: maximumVersions)
            let version = row.version + 1
            try Self.insertVersion(connection, save.runID, version, save.status, save.document, now, save.identity, owner: save.owner)
            let changed = try connection.execute(
                """
                UPDATE runs SET version = ?, status = ?, updated_at = ?,
                    finished_at = CASE WHEN ? THEN ? ELSE NULL END,
                    lease_owner = CASE WHEN ? THEN NULL ELSE lease_owner END,
                    lease_expires_at = CASE WHEN ? THEN NULL ELSE lease_expires_at END
                WHERE run_id = ? AND version = ?
                """,
                [
                    .integer(version), .text(save.status.rawValue), .integer(now),
                    .integer(save.status.isTerminal ? 1 : 0), .integer(now),
                    .integer(save.endsLease ? 1 : 0), .integer(save.endsLease ? 1 : 0),
                    .text(save.runID), .integer(row.version),
                ])
            assert(changed == 1, "the head row was read in this transaction, so exactly one row moves")
            return (version, now, try Self.appendEvents(connection, save.runID, after: row.lastEventSeq, save.events, now: now))
        }
    }

    func claimRun(_ params: ClaimRunParams, expectedStatus: RunStatus?) async throws -> (row: RunRow, document: String, now: Int64) {
        try await database.write { connection in
            let now = Timestamp.nowMs()
            guard var row = try RunRow.fetch(connection, params.runID) else { throw StateErrors.runNotFound(params.runID) }
            try row.checkClaim(params, expectedStatus: expectedStatus, now: now)
            row.leaseOwner = params.owner
            row.leaseExpiresAt = now + params.leaseMs
            try connection.execute(
                "UPDATE runs SET lease_owner = ?, lease_expires_at = ? WHERE run_id = ?",
                [.text(params.owner), .integer(now + params.leaseMs), .text(params.runID)])
            return (row, try Self.document(connection, params.runID, row.version), now)
        }
    }

    func releaseRun(_ runID: String, owner: String) async throws -> Bool {
        try await database.write { connection in
            guard let row = try RunRow.fetch(connection, runID) else { throw StateErrors.runNotFound(runID) }
            let held = try row.checkRelease(owner: owner, now: Timestamp.nowMs())
            try connection.execute("UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL WHERE run_id = ?", [.text(runID)])
            return held
        }
    }

    func appendEvents(runID: String, expectedVersion: Int64, owner: String?, events: [NewEvent]) async throws -> Int64 {
        try await database.write { connection in
            let now = Timestamp.nowMs()
            guard let row = try RunRow.fetch(connection, runID) else { throw StateErrors.runNotFound(runID) }
            try row.checkWrite(owner: owner, expectedVersion: expectedVersion, now: now)
            return try Self.appendEvents(connection, runID, after: row.lastEventSeq, events, now: now)
        }
    }

    func events(runID: String, after: Int64, limit: Int) async throws -> (row: RunRow, events: [String]) {
        try await database.read { connection in
            guard let row = try RunRow.fetch(connection, runID) else { throw StateErrors.runNotFound(runID) }
            let texts = try connection.query(
                "SELECT event FROM run_events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                [.text(runID), .integer(after), .integer(Int64(limit))]) { $0.text(0) }
            return (row, texts)
        }
    }

    func lastMatching(runID: String, type: String, field: String, anyOf: [String]) async throws -> Int64? {
        let marks = Array(repeating: "?", count: anyOf.count).joined(separator: ", ")
        let values: [SQLiteValue] = [.text(runID), .text(type), .text("$." + field)] + anyOf.map { .text($0) }
        return try await database.read { connection in
            try connection.queryOne(
                """
                SELECT MAX(e.seq) FROM run_events e, json_each(e.event, ?3) v
                WHERE e.run_id = ?1 AND json_extract(e.event, '$.type') = ?2 AND v.value IN (\(marks))
                """, values
            ) { $0.optionalInt(0) } ?? nil
        }
    }

    func listRuns(after: Int64, status: RunStatus?, sessionID: String?, limit: Int) async throws -> [RunRow] {
        var conditions = ["seq > ?"]
        var values: [SQLiteValue] = [.integer(after)]
        if let status {
            conditions.append("status = ?")
            values.append(.text(status.rawValue))
        }
        if let sessionID {
            conditions.append("session_id = ?")
            values.append(.text(sessionID))
        }
        values.append(.integer(Int64(limit)))
        let sql = "SELECT \(RunRow.columns) FROM runs WHERE \(conditions.joined(separator: " AND ")) ORDER BY seq LIMIT ?"
        let bound = values
        return try await database.read { connection in try connection.query(sql, bound) { try RunRow($0) } }
    }

    func history(runID: String, afterVersion: Int64, limit: Int, budget: Int) async throws -> (head: Int64, versions: [StoredVersion]) {
        try await database.read { connection in
            try connection.execute("BEGIN")
            defer { _ = try? connection.execute("COMMIT") }
            guard let row = try RunRow.fetch(connection, runID) else { throw StateErrors.runNotFound(runID) }
            let versions: [StoredVersion] = try connection.query(
                """
                SELECT version, status, data, saved_at, saved_by, owner FROM run_versions
                WHERE run_id = ? AND version > ? ORDER BY version LIMIT ?
                """, [.text(runID), .integer(afterVersion), .integer(Int64(limit))],
                { (version: $0.int(0), status: $0.text(1), data: $0.text(2), savedAt: $0.int(3), savedBy: $0.optionalText(4), owner: $0.optionalText(5)) })
            return (row.version, StateStore.withinBudget(versions, budget: budget) { $0.data.utf8.count })
        }
    }

    func prune(finishedBefore before: Int64, limit: Int) async throws -> (pruned: Int, more: Bool) {
        try await database.write { connection in
            let pruned = try connection.execute(
                """
                DELETE FROM runs WHERE run_id IN (
                    SELECT run_id FROM runs WHERE finished_at IS NOT NULL AND finished_at < ? LIMIT ?)
                """, [.integer(before), .integer(Int64(limit))])
            let more = try connection.queryOne(
                "SELECT 1 FROM runs WHERE finished_at IS NOT NULL AND finished_at < ? LIMIT 1", [.integer(before)]
            ) { _ in true } ?? false
            return (pruned, more)
        }
    }

    func appendSession(_ sessionID: String, messages: [String], maximum: Int64) async throws -> Int64 {
        try await database.write { connection in
            let now = Timestamp.nowMs()
            let count = try connection.queryOne(
                "SELECT coalesce(max(seq), 0) FROM session_messages WHERE session_id = ?", [.text(sessionID)]) { $0.int(0) } ?? 0
            guard count + Int64(messages.count) <= maximum else { throw StateErrors.sessionFull(sessionID, maximum: maximum) }
            for (offset, text) in messages.enumerated() {
                try connection.execute(
                    "INSERT INTO session_messages (session_id, seq, message, appended_at) VALUES (?, ?, ?, ?)",
                    [.text(sessionID), .integer(count + Int64(offset) + 1), .text(text), .integer(now)])
            }
            return count + Int64(messages.count)
        }
    }

    func loadSession(_ sessionID: String, limit: Int, budget: Int) async throws -> (total: Int64, messages: [String]) {
        try await database.read { connection in
            try connection.execute("BEGIN")
            defer { _ = try? connection.execute("COMMIT") }
            let total = try connection.queryOne(
                "SELECT coalesce(max(seq), 0) FROM session_messages WHERE session_id = ?", [.text(sessionID)]) { $0.int(0) } ?? 0
            let newestFirst = try connection.query(
                "SELECT message FROM session_messages WHERE session_id = ? ORDER BY seq DESC LIMIT ?",
                [.text(sessionID), .integer(Int64(limit))], { $0.text(0) })
            return (total, StateStore.withinBudget(newestFirst, budget: budget) { $0.utf8.count }.reversed())
        }
    }

    func cursor(_ name: String) async throws -> (value: Int64, updatedAt: Int64)? {
        try await database.read { connection in
            try connection.queryOne("SELECT value, updated_at FROM cursors WHERE name = ?", [.text(name)]) { ($0.int(0), $0.int(1)) }
        }
    }

    func setCursor(_ name: String, value: Int64, expected: Int64?) async throws -> Int64 {
        try await database.write { connection in
            let now = Timestamp.nowMs()
            if let expected {
                let current = try connection.queryOne("SELECT value FROM cursors WHERE name = ?", [.text(name)]) { $0.int(0) } ?? 0
                guard current == expected else { throw StateErrors.cursorConflict(name, current: current, expected: expected) }
            }
            try connection.execute(
                """
                INSERT INTO cursors (name, value, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """, [.text(name), .integer(value), .integer(now)])
            return now
        }
    }

    // MARK: inside a transaction

    static func insertVersion(
        _ connection: SQLiteConnection, _ runID: String, _ version: Int64, _ status: RunStatus, _ text: String,
        _ now: Int64, _ identity: String?, owner: String?
    ) throws {
        try connection.execute(
            "INSERT INTO run_versions (run_id, version, status, data, saved_at, saved_by, owner) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                .text(runID), .integer(version), .text(status.rawValue), .text(text), .integer(now),
                identity.map(SQLiteValue.text) ?? .null, owner.map(SQLiteValue.text) ?? .null,
            ])
    }

    static func document(_ connection: SQLiteConnection, _ runID: String, _ version: Int64) throws -> String {
        guard let text = try connection.queryOne(
            "SELECT data FROM run_versions WHERE run_id = ? AND version = ?", [.text(runID), .integer(version)], { $0.text(0) })
        else { throw StateErrors.versionMissing(runID, version) }
        return text
    }

    /// Appends `events` after seq `after` (the run's newest) and moves the run's `last_event_seq`.
    /// - Returns: the new newest seq.
    static func appendEvents(_ connection: SQLiteConnection, _ runID: String, after: Int64, _ events: [NewEvent], now: Int64) throws -> Int64 {
        guard !events.isEmpty else { return after }
        let numbered = try NumberedEvents.make(runID, after: after, events, now: now)
        for event in numbered {
            try connection.execute(
                "INSERT INTO run_events (run_id, seq, event, at) VALUES (?, ?, ?, ?)",
                [.text(runID), .integer(event.seq), .text(event.text), .integer(now)])
        }
        let last = numbered.last?.seq ?? after
        try connection.execute("UPDATE runs SET last_event_seq = ? WHERE run_id = ?", [.integer(last), .text(runID)])
        return last
    }
}
