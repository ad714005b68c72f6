import Logging
import Synchronization
import PostgresNIO
import PostgresSupport
import RPC

/// The state store's rows in PostgreSQL, shared by any number of state-svc replicas.
///
/// Every rule that two replicas could race on is settled inside one transaction by
/// the database: a run's writes lock its row (`FOR UPDATE`) before the same checks
/// as SQLite's, so one save per version wins; a run id is taken by its unique
/// constraint; a session's appends and a cursor's compare-and-set take an advisory
/// lock on their name; prunes skip rows another replica holds. Times come from the
/// database's clock, so replicas on hosts whose clocks differ agree on leases. Each
/// change notifies ``PostgresStateSchema/changes`` with its run id, and every
/// replica's watchers wake.
final class PostgresStateStorage: StateStorage {
    let database: PostgresPool
    let logger: Logger
    let listener = Mutex<Task<Void, Never>?>(nil)
    var backend: String { "postgres" }

    init(database: PostgresPool, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    func close() async {
        listener.withLock { $0 }?.cancel()
        await database.close()
    }

    func followChanges(_ wake: @escaping @Sendable (String?) -> Void) {
        let task = database.listen(channel: PostgresStateSchema.changes, wakeAll: { wake(nil) }) { runID in wake(runID) }
        listener.withLock { $0 = task }
    }

    /// The database's clock, in milliseconds since 1970.
    static let clock = "(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT"

    func createRun(
        runID: String, sessionID: String?, document: String, events: [NewEvent], identity: String?
    ) async throws -> (createdAt: Int64, lastEventSeq: Int64) {
        try await database.transaction { connection in
            let inserted = try await connection.query(
                """
                WITH t AS (SELECT \(unescaped: Self.clock) AS now)
                INSERT INTO runs (run_id, session_id, version, status, created_at, updated_at)
                SELECT \(runID), \(sessionID), 1, 'running', t.now, t.now FROM t
                ON CONFLICT (run_id) DO NOTHING RETURNING created_at
                """ as PostgresQuery, logger: logger
            ).collect()
            guard let now = try inserted.first?.decode(Int64.self) else { throw StateErrors.runExists(runID) }
            try await Self.insertVersion(connection, runID, 1, .running, document, now, identity, owner: nil, logger)
            return (now, try await Self.appendEvents(connection, runID, after: 0, events, now: now, logger))
        }
    }

    func run(_ runID: String) async throws -> (row: RunRow, document: String) {
        try await database.read { connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: RunRow.qualifiedColumns), v.data FROM runs r
                LEFT JOIN run_versions v ON v.run_id = r.run_id AND v.version = r.version WHERE r.run_id = \(runID)
                """ as PostgresQuery, logger: logger
            ).collect()
            guard let row = rows.first else { throw StateErrors.runNotFound(runID) }
            let head = try RunRow(row)
            guard let document = try row.makeRandomAccess()[10].decode(String?.self) else {
                throw StateErrors.versionMissing(runID, head.version)
            }
            return (head, document)
        }
    }

    func saveRun(_ save: RunSave, maximumVersions: Int64) async throws -> (version: Int64, now: Int64, lastEventSeq: Int64) {
        try await database.transaction { connection in
            let (row, now) = try await Self.lockedRun(connection, save.runID, logger)
            try row.checkWrite(owner: save.owner, expectedVersion: save.expectedVersion, now: now)
            try row.checkRoom(maximumVersions: maximumVersions)
            let version = row.version + 1
            let finishedAt: Int64? = save.status.isTerminal ? now : nil
            let numbered = try NumberedEvents.make(save.runID, after: row.lastEventSeq, save.events, now: now)
            let last = numbered.last?.seq ?? row.lastEventSeq
            // The version, the events, the head and the notification in one statement: one
            // round trip after the locked read, where each was one.
            try await connection.query(
                """
                WITH saved AS (
                    INSERT INTO run_versions (run_id, version, status, data, saved_at, saved_by, owner)
                    VALUES (\(save.runID), \(version), \(save.status.rawValue), \(save.document), \(now), \(save.identity), \(save.owner))
                ), events AS (
                    INSERT INTO run_events (run_id, seq, event, at)
                    SELECT \(save.runID), s, e, \(now) FROM unnest(\(numbered.map(\.seq))::BIGINT[], \(numbered.map(\.text))::TEXT[]) AS t (s, e)
                )
                UPDATE runs SET version = \(version), status = \(save.status.rawValue), updated_at = \(now),
                    finished_at = \(finishedAt), last_event_seq = \(last),
                    lease_owner = CASE WHEN \(save.endsLease) THEN NULL ELSE lease_owner END,
                    lease_expires_at = CASE WHEN \(save.endsLease) THEN NULL ELSE lease_expires_at END
                WHERE run_id = \(save.runID)
                RETURNING pg_notify(\(PostgresStateSchema.changes), run_id)
                """ as PostgresQuery, logger: logger)
            return (version, now, last)
        }
    }

    func claimRun(_ params: ClaimRunParams, expectedStatus: RunStatus?) async throws -> (row: RunRow, document: String, now: Int64) {
        try await database.transaction { connection in
            var (row, now) = try await Self.lockedRun(connection, params.runID, logger)
            try row.checkClaim(params, expectedStatus: expectedStatus, now: now)
            row.leaseOwner = params.owner
            row.leaseExpiresAt = now + params.leaseMs
            // The lease and the document in one statement.
            let rows = try await connection.query(
                """
                WITH leased AS (
                    UPDATE runs SET lease_owner = \(params.owner), lease_expires_at = \(now + params.leaseMs) WHERE run_id = \(params.runID)
                )
                SELECT data FROM run_versions WHERE run_id = \(params.runID) AND version = \(row.version)
                """ as PostgresQuery, logger: logger)
            for try await document in rows.decode(String.self) { return (row, document, now) }
            throw StateErrors.versionMissing(params.runID, row.version)
        }
    }

    func releaseRun(_ runID: String, owner: String) async throws -> Bool {
        try await database.transaction { connection in
            let (row, now) = try await Self.lockedRun(connection, runID, logger)
            let held = try row.checkRelease(owner: owner, now: now)
            try await connection.query(
                """
                UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL WHERE run_id = \(runID)
                RETURNING pg_notify(\(PostgresStateSchema.changes), run_id)
                """ as PostgresQuery, logger: logger)
            return held
        }
    }

    func appendEvents(runID: String, expectedVersion: Int64, owner: String?, events: [NewEvent]) async throws -> Int64 {
        try await database.transaction { connection in
            let (row, now) = try await Self.lockedRun(connection, runID, logger)
            try row.checkWrite(owner: owner, expectedVersion: expectedVersion, now: now)
            return try await Self.appendEvents(connection, runID, after: row.lastEventSeq, events, now: now, logger)
        }
    }

    func events(runID: String, after: Int64, limit: Int) async throws -> (row: RunRow, events: [String]) {
        // One statement, so one snapshot and one round trip: watchers read here at every wake.
        try await database.read { connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: RunRow.qualifiedColumns), coalesce((
                    SELECT array_agg(e.event ORDER BY e.seq) FROM (
                        SELECT event, seq FROM run_events WHERE run_id = r.run_id AND seq > \(after) ORDER BY seq LIMIT \(Int64(limit))) e
                ), '{}') FROM runs r WHERE r.run_id = \(runID)
                """ as PostgresQuery, logger: logger
            ).collect()
            guard let row = rows.first else { throw StateErrors.runNotFound(runID) }
            return (try RunRow(row), try row.makeRandomAccess()[10].decode([String].self))
        }
    }

    func lastMatching(runID: String, type: String, field: String, anyOf: [String]) async throws -> Int64? {
        try await database.read { connection in
            // As SQLite's json_each reads `$.field`: an array's elements, an object's values, or
            // the value itself; and only strings equal the strings asked for.
            let rows = try await connection.query(
                """
                SELECT max(e.seq) FROM run_events e
                WHERE e.run_id = \(runID) AND e.event::jsonb ->> 'type' = \(type) AND EXISTS (
                    SELECT 1 FROM jsonb_array_elements(
                        CASE jsonb_typeof(e.event::jsonb -> \(field))
                        WHEN 'array' THEN e.event::jsonb -> \(field)
                        WHEN 'object' THEN (SELECT coalesce(jsonb_agg(o.value), '[]'::jsonb) FROM jsonb_each(e.event::jsonb -> \(field)) o)
                        ELSE jsonb_build_array(e.event::jsonb -> \(field)) END) AS v (value)
                    WHERE jsonb_typeof(v.value) = 'string' AND v.value #>> '{}' = ANY(\(anyOf)))
                """ as PostgresQuery, logger: logger)
            var newest: Int64?
            for try await seq in rows.decode(Int64?.self) { newest = seq }
            return newest
        }
    }

    func listRuns(after: Int64, status: RunStatus?, sessionID: String?, limit: Int) async throws -> [RunRow] {
        try await database.read { connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: RunRow.qualifiedColumns) FROM runs r
                WHERE r.seq > \(after) AND (\(status?.rawValue)::TEXT IS NULL OR r.status = \(status?.rawValue))
                    AND (\(sessionID)::TEXT IS NULL OR r.session_id = \(sessionID))
                ORDER BY r.seq LIMIT \(Int64(limit))
                """ as PostgresQuery, logger: logger
            ).collect()
            return try rows.map(RunRow.init)
        }
    }

    func history(runID: String, afterVersion: Int64, limit: Int, budget: Int) async throws -> (head: Int64, versions: [StoredVersion]) {
        try await database.snapshot { connection in
            guard let head = try await Self.run(connection, runID, lock: false, logger)?.row.version else {
                throw StateErrors.runNotFound(runID)
            }
            var versions: [StoredVersion] = []
            let rows = try await connection.query(
                """
                SELECT version, status, data, saved_at, saved_by, owner FROM run_versions
                WHERE run_id = \(runID) AND version > \(afterVersion) ORDER BY version LIMIT \(Int64(limit))
                """ as PostgresQuery, logger: logger)
            for try await (version, status, data, savedAt, savedBy, owner) in rows.decode((Int64, String, String, Int64, String?, String?).self) {
                versions.append((version, status, data, savedAt, savedBy, owner))
            }
            return (head, StateStore.withinBudget(versions, budget: budget) { $0.data.utf8.count })
        }
    }

    func prune(finishedBefore before: Int64, limit: Int) async throws -> (pruned: Int, more: Bool) {
        try await database.transaction { connection in
            // Rows another replica is pruning (or saving) are skipped, not waited for.
            let deleted = try await connection.query(
                """
                DELETE FROM runs WHERE run_id IN (
                    SELECT run_id FROM runs WHERE finished_at IS NOT NULL AND finished_at < \(before)
                    LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED)
                RETURNING 1
                """ as PostgresQuery, logger: logger
            ).collect()
            let more = try await connection.query(
                "SELECT 1 FROM runs WHERE finished_at IS NOT NULL AND finished_at < \(before) LIMIT 1", logger: logger
            ).collect()
            // As on SQLite: whether any finished run is still past the cutoff (some may be
            // another replica's to delete right now).
            return (deleted.count, !more.isEmpty)
        }
    }

    func appendSession(_ sessionID: String, messages: [String], maximum: Int64) async throws -> Int64 {
        try await database.transaction { connection in
            try await Self.lockName(connection, "session:" + sessionID, logger)
            var count: Int64 = 0
            let rows = try await connection.query(
                "SELECT coalesce(max(seq), 0)::BIGINT, \(unescaped: Self.clock) FROM session_messages WHERE session_id = \(sessionID)" as PostgresQuery,
                logger: logger)
            var now: Int64 = 0
            for try await (stored, clock) in rows.decode((Int64, Int64).self) { (count, now) = (stored, clock) }
            guard count + Int64(messages.count) <= maximum else { throw StateErrors.sessionFull(sessionID, maximum: maximum) }
            let seqs = (1...Int64(messages.count)).map { count + $0 }
            try await connection.query(
                """
                INSERT INTO session_messages (session_id, seq, message, appended_at)
                SELECT \(sessionID), s, m, \(now) FROM unnest(\(seqs)::BIGINT[], \(messages)::TEXT[]) AS t (s, m)
                """ as PostgresQuery, logger: logger)
            return count + Int64(messages.count)
        }
    }

    func loadSession(_ sessionID: String, limit: Int, budget: Int) async throws -> (total: Int64, messages: [String]) {
        try await database.snapshot { connection in
            var total: Int64 = 0
            for try await value in try await connection.query(
                "SELECT coalesce(max(seq), 0)::BIGINT FROM session_messages WHERE session_id = \(sessionID)", logger: logger
            ).decode(Int64.self) { total = value }
            var newestFirst: [String] = []
            for try await text in try await connection.query(
                "SELECT message FROM session_messages WHERE session_id = \(sessionID) ORDER BY seq DESC LIMIT \(Int64(limit))",
                logger: logger
            ).decode(String.self) { newestFirst.append(text) }
            return (total, StateStore.withinBudget(newestFirst, budget: budget) { $0.utf8.count }.reversed())
        }
    }

    func cursor(_ name: String) async throws -> (value: Int64, updatedAt: Int64)? {
        try await database.read { connection in
            var found: (value: Int64, updatedAt: Int64)?
            for try await (value, updatedAt) in try await connection.query(
                "SELECT value, updated_at FROM cursors WHERE name = \(name)", logger: logger
            ).decode((Int64, Int64).self) { found = (value, updatedAt) }
            return found
        }
    }

    func setCursor(_ name: String, value: Int64, expected: Int64?) async throws -> Int64 {
        try await database.transaction { connection in
            // A cursor never set has no row to lock; the name's lock covers both cases.
            try await Self.lockName(connection, "cursor:" + name, logger)
            if let expected {
                var current: Int64 = 0
                for try await stored in try await connection.query(
                    "SELECT value FROM cursors WHERE name = \(name)", logger: logger
                ).decode(Int64.self) { current = stored }
                guard current == expected else { throw StateErrors.cursorConflict(name, current: current, expected: expected) }
            }
            var now: Int64 = 0
            for try await stored in try await connection.query(
                """
                INSERT INTO cursors (name, value, updated_at) VALUES (\(name), \(value), \(unescaped: Self.clock))
                ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                RETURNING updated_at
                """ as PostgresQuery, logger: logger
            ).decode(Int64.self) { now = stored }
            return now
        }
    }

    // MARK: inside a transaction

    /// The run's head, locked until the transaction ends, and the database's time once
    /// the lock is held.
    static func lockedRun(_ connection: PostgresConnection, _ runID: String, _ logger: Logger) async throws -> (RunRow, Int64) {
        guard let found = try await run(connection, runID, lock: true, logger) else { throw StateErrors.runNotFound(runID) }
        return found
    }

    static func run(_ connection: PostgresConnection, _ runID: String, lock: Bool, _ logger: Logger) async throws -> (row: RunRow, now: Int64)? {
        let rows = try await connection.query(
            """
            SELECT \(unescaped: RunRow.qualifiedColumns), \(unescaped: clock) FROM runs r WHERE r.run_id = \(runID)
            \(unescaped: lock ? "FOR UPDATE" : "")
            """ as PostgresQuery, logger: logger
        ).collect()
        guard let row = rows.first else { return nil }
        return (try RunRow(row), try row.makeRandomAccess()[10].decode(Int64.self))
    }

    static func lockName(_ connection: PostgresConnection, _ name: String, _ logger: Logger) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(name), 0))", logger: logger)
    }

    static func insertVersion(
        _ connection: PostgresConnection, _ runID: String, _ version: Int64, _ status: RunStatus, _ text: String,
        _ now: Int64, _ identity: String?, owner: String?, _ logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO run_versions (run_id, version, status, data, saved_at, saved_by, owner)
            VALUES (\(runID), \(version), \(status.rawValue), \(text), \(now), \(identity), \(owner))
            """ as PostgresQuery, logger: logger)
    }

    static func document(_ connection: PostgresConnection, _ runID: String, _ version: Int64, _ logger: Logger) async throws -> String {
        for try await text in try await connection.query(
            "SELECT data FROM run_versions WHERE run_id = \(runID) AND version = \(version)", logger: logger
        ).decode(String.self) { return text }
        throw StateErrors.versionMissing(runID, version)
    }

    /// Appends `events` after seq `after`, moves the run's `last_event_seq` and notifies
    /// the run's watchers, in one statement; nothing without events.
    static func appendEvents(
        _ connection: PostgresConnection, _ runID: String, after: Int64, _ events: [NewEvent], now: Int64, _ logger: Logger
    ) async throws -> Int64 {
        guard !events.isEmpty else { return after }
        let numbered = try NumberedEvents.make(runID, after: after, events, now: now)
        let last = numbered.last?.seq ?? after
        try await connection.query(
            """
            WITH events AS (
                INSERT INTO run_events (run_id, seq, event, at)
                SELECT \(runID), s, e, \(now) FROM unnest(\(numbered.map(\.seq))::BIGINT[], \(numbered.map(\.text))::TEXT[]) AS t (s, e)
            )
            UPDATE runs SET last_event_seq = \(last) WHERE run_id = \(runID)
            RETURNING pg_notify(\(PostgresStateSchema.changes), run_id)
            """ as PostgresQuery, logger: logger)
        return last
    }
}

extension RunRow {
    /// ``columns`` of `runs r`, in the same order.
    static let qualifiedColumns = columns.split(separator: ",").map { "r." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")

    init(_ row: PostgresRow) throws {
        let (seq, runID, sessionID, version, status, createdAt, updatedAt, leaseOwner, leaseExpiresAt, lastEventSeq) = try row.decode(
            (Int64, String, String?, Int64, String, Int64, Int64, String?, Int64?, Int64).self)
        guard let known = RunStatus(rawValue: status) else {
            throw RPCError(.dataLoss, reason: "CORRUPT_RUN", "run \(runID) has an unknown status")
        }
        self.init(
            seq: seq, runID: runID, sessionID: sessionID, version: version, status: known, createdAt: createdAt,
            updatedAt: updatedAt, leaseOwner: leaseOwner, leaseExpiresAt: leaseExpiresAt, lastEventSeq: lastEventSeq)
    }
}
