import Foundation
import Logging
import RPC
import SQLiteKit

/// Versioned agent runs, conversation sessions and consumer cursors, in one
/// SQLite database with group commit.
///
/// A run is saved by compare-and-swap on its version, and resumed under an
/// exclusive, expiring lease, so that however many agent processes race, each
/// version is written by exactly one of them and no update is lost. The store
/// validates a document's envelope (a JSON object with a positive integer
/// `schema_version`, at most ``StateLimits/maximumDocumentBytes``) and never
/// interprets the rest.
public final class StateStore: Sendable {
    /// The per-run and per-session bounds that are counted in the database.
    public struct Limits: Sendable {
        /// Saved versions per run (``StateLimits/maximumVersionsPerRun``).
        public var maximumVersionsPerRun = StateLimits.maximumVersionsPerRun
        /// Messages per session (``StateLimits/maximumSessionMessages``).
        public var maximumSessionMessages = StateLimits.maximumSessionMessages

        public init() {}
    }

    let database: SQLiteDatabase
    let logger: Logger
    let limits: Limits
    /// Wakes `state.watch_events` streams when events are committed.
    let notifier = ChangeNotifier()

    /// Opens (creating and migrating if needed) the state database.
    /// - Parameters:
    ///   - path: the file, normally `<home>/data/state.sqlite`.
    ///   - limits: per-run and per-session bounds (tests lower them).
    ///   - logger: where start-up and notable events are logged.
    /// - Throws: ``SQLiteError`` or ``SQLiteIntegrityError``.
    public init(path: String, limits: Limits = Limits(), logger: Logger) throws {
        self.database = try SQLiteDatabase(path: path, migrations: StateSchema.migrations, logger: logger)
        self.logger = logger
        self.limits = limits
    }

    /// Finishes queued writes and closes the database.
    public func close() async {
        await database.close()
    }

    // MARK: runs

    /// Creates a run at version 1, status `running`.
    /// - Parameters:
    ///   - params: an optional caller-chosen id, an optional session, the document.
    ///   - identity: who creates it (recorded in the history).
    /// - Returns: the run id and version 1.
    /// - Throws: INVALID_ARGUMENT, RESOURCE_EXHAUSTED/DOCUMENT_TOO_LARGE, ALREADY_EXISTS/RUN_EXISTS.
    public func createRun(_ params: CreateRunParams, identity: String?) async throws -> CreateRunResult {
        if let runID = params.runID { try Validation.identifier(runID, field: "run_id") }
        if let session = params.sessionID { try Validation.identifier(session, field: "session_id") }
        let text = try Validation.document(params.data)
        let events = try Validation.events(params.events ?? [])
        let runID = params.runID ?? RunID.generate()
        let (createdAt, lastEventSeq) = try await database.write { connection -> (Int64, Int64) in
            let now = Timestamp.nowMs()
            guard try RunRow.fetch(connection, runID) == nil else { throw StateErrors.runExists(runID) }
            try connection.execute(
                "INSERT INTO runs (run_id, session_id, version, status, created_at, updated_at) VALUES (?, ?, 1, 'running', ?, ?)",
                [.text(runID), params.sessionID.map(SQLiteValue.text) ?? .null, .integer(now), .integer(now)])
            try Self.insertVersion(connection, runID, 1, .running, text, now, identity, owner: nil)
            return (now, try Self.appendEvents(connection, runID, after: 0, events, now: now))
        }
        if !events.isEmpty { notifier.signal(topic: runID) }
        logger.debug("run created", metadata: ["run.id": "\(runID)"])
        return CreateRunResult(
            runID: runID, version: 1, status: RunStatus.running.rawValue, createdAt: Timestamp.format(createdAt),
            lastEventSeq: lastEventSeq)
    }

    /// The run's current version, status and document.
    /// - Parameter runID: the run.
    /// - Throws: INVALID_ARGUMENT/INVALID_ID, NOT_FOUND/RUN_NOT_FOUND.
    public func loadRun(_ runID: String) async throws -> RunRecord {
        try await runWithLastSeq(runID).run
    }

    /// The run and its newest event seq, read together.
    func runWithLastSeq(_ runID: String) async throws -> (run: RunRecord, lastEventSeq: Int64) {
        try Validation.identifier(runID, field: "run_id")
        let (row, text) = try await database.read { connection -> (RunRow, String) in
            guard let row = try RunRow.fetch(connection, runID) else { throw StateErrors.runNotFound(runID) }
            return (row, try Self.document(connection, runID, row.version))
        }
        return (row.record(data: try Validation.decode(text), now: Timestamp.nowMs()), row.lastEventSeq)
    }

    /// Saves a new version if the run is still at `expected_version`.
    ///
    /// Checked in this order: the run exists; no one else holds a lease
    /// (RUN_CLAIMED); the version matches (VERSION_CONFLICT); the run is not
    /// finished (TERMINAL_STATUS); the run has room for another version.
    /// Entering a terminal status ends any lease.
    /// - Parameters:
    ///   - params: the run, the version the caller read, the new status and document, the lease owner.
    ///   - identity: who saves (recorded in the history).
    /// - Returns: the new version.
    /// - Throws: INVALID_ARGUMENT, NOT_FOUND/RUN_NOT_FOUND, ABORTED/RUN_CLAIMED,
    ///   ABORTED/VERSION_CONFLICT, FAILED_PRECONDITION/TERMINAL_STATUS,
    ///   RESOURCE_EXHAUSTED/DOCUMENT_TOO_LARGE or TOO_MANY_VERSIONS.
    public func saveRun(_ params: SaveRunParams, identity: String?) async throws -> SaveRunResult {
        try Validation.identifier(params.runID, field: "run_id")
        try Validation.version(params.expectedVersion, field: "expected_version")
        let status = try RunStatus.parse(params.status, field: "status")
        if let owner = params.owner { try Validation.owner(owner) }
        let text = try Validation.document(params.data)
        let events = try Validation.events(params.events ?? [])
        let maximumVersions = limits.maximumVersionsPerRun
        let (version, now, lastEventSeq) = try await database.write { connection -> (Int64, Int64, Int64) in
            let now = Timestamp.nowMs()
            guard let row = try RunRow.fetch(connection, params.runID) else { throw StateErrors.runNotFound(params.runID) }
            if let holder = row.leaseHolder(at: now), holder.owner != params.owner { throw StateErrors.claimed(row, holder) }
            guard row.version == params.expectedVersion else {
                throw StateErrors.versionConflict(params.runID, expected: params.expectedVersion, current: row.version)
            }
            guard !row.status.isTerminal else { throw StateErrors.terminal(row) }
            guard row.version < maximumVersions else { throw StateErrors.tooManyVersions(params.runID, maximumVersions) }
            let version = row.version + 1
            let endsLease = status.isTerminal || params.release == true
            try Self.insertVersion(connection, params.runID, version, status, text, now, identity, owner: params.owner)
            let changed = try connection.execute(
                """
                UPDATE runs SET version = ?, status = ?, updated_at = ?,
                    finished_at = CASE WHEN ? THEN ? ELSE NULL END,
                    lease_owner = CASE WHEN ? THEN NULL ELSE lease_owner END,
                    lease_expires_at = CASE WHEN ? THEN NULL ELSE lease_expires_at END
                WHERE run_id = ? AND version = ?
                """,
                [
                    .integer(version), .text(status.rawValue), .integer(now),
                    .integer(status.isTerminal ? 1 : 0), .integer(now),
                    .integer(endsLease ? 1 : 0), .integer(endsLease ? 1 : 0),
                    .text(params.runID), .integer(row.version),
                ])
            assert(changed == 1, "the head row was read in this transaction, so exactly one row moves")
            return (version, now, try Self.appendEvents(connection, params.runID, after: row.lastEventSeq, events, now: now))
        }
        // Every save may end a watcher's wait (a paused run released), so its watchers wake.
        notifier.signal(topic: params.runID)
        return SaveRunResult(
            runID: params.runID, version: version, status: status.rawValue, updatedAt: Timestamp.format(now), lastEventSeq: lastEventSeq)
    }

    /// Takes (or renews) the exclusive lease on a run and returns the run.
    /// - Parameter params: the run, the owner, the lease length, optionally the version the caller expects.
    /// - Returns: the run at the moment of the claim, with the lease.
    /// - Throws: INVALID_ARGUMENT, NOT_FOUND/RUN_NOT_FOUND, ABORTED/RUN_CLAIMED,
    ///   ABORTED/VERSION_CONFLICT, FAILED_PRECONDITION/TERMINAL_STATUS.
    public func claimRun(_ params: ClaimRunParams) async throws -> RunRecord {
        try Validation.identifier(params.runID, field: "run_id")
        try Validation.owner(params.owner)
        guard (StateLimits.minimumLeaseMs...StateLimits.maximumLeaseMs).contains(params.leaseMs) else {
            throw RPCError.invalidParams(
                field: "lease_ms", "must be between \(StateLimits.minimumLeaseMs) and \(StateLimits.maximumLeaseMs)")
        }
        if let expected = params.expectedVersion { try Validation.version(expected, field: "expected_version") }
        let expectedStatus = try params.expectedStatus.map { try RunStatus.parse($0, field: "expected_status") }
        let (row, text, now) = try await database.write { connection -> (RunRow, String, Int64) in
            let now = Timestamp.nowMs()
            guard var row = try RunRow.fetch(connection, params.runID) else { throw StateErrors.runNotFound(params.runID) }
            let holder = row.leaseHolder(at: now)
            if let holder, holder.owner != params.owner { throw StateErrors.claimed(row, holder) }
            if params.renewOnly == true, holder == nil { throw StateErrors.leaseNotHeld(params.runID, owner: params.owner) }
            if let expected = params.expectedVersion, expected != row.version {
                throw StateErrors.versionConflict(params.runID, expected: expected, current: row.version)
            }
            guard !row.status.isTerminal else { throw StateErrors.terminal(row) }
            if let expectedStatus, row.status != expectedStatus { throw StateErrors.unexpectedStatus(row, expected: expectedStatus) }
            row.leaseOwner = params.owner
            row.leaseExpiresAt = now + params.leaseMs
            try connection.execute(
                "UPDATE runs SET lease_owner = ?, lease_expires_at = ? WHERE run_id = ?",
                [.text(params.owner), .integer(now + params.leaseMs), .text(params.runID)])
            return (row, try Self.document(connection, params.runID, row.version), now)
        }
        logger.debug("run claimed", metadata: ["run.id": "\(params.runID)", "run.owner": "\(params.owner)"])
        return row.record(data: try Validation.decode(text), now: now)
    }

    /// Ends the caller's lease on a run.
    /// - Parameter params: the run and the owner releasing.
    /// - Returns: whether a lease was in force.
    /// - Throws: INVALID_ARGUMENT, NOT_FOUND/RUN_NOT_FOUND, ABORTED/RUN_CLAIMED (someone else holds it).
    public func releaseRun(_ params: ReleaseRunParams) async throws -> ReleaseRunResult {
        try Validation.identifier(params.runID, field: "run_id")
        try Validation.owner(params.owner)
        let released = try await database.write { connection -> Bool in
            let now = Timestamp.nowMs()
            guard let row = try RunRow.fetch(connection, params.runID) else { throw StateErrors.runNotFound(params.runID) }
            let holder = row.leaseHolder(at: now)
            if let holder, holder.owner != params.owner { throw StateErrors.claimed(row, holder) }
            try connection.execute(
                "UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL WHERE run_id = ?", [.text(params.runID)])
            return holder != nil
        }
        notifier.signal(topic: params.runID)
        return ReleaseRunResult(runID: params.runID, released: released)
    }

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
        else {
            throw RPCError(.dataLoss, reason: "VERSION_MISSING", "run \(runID) has no document for its version \(version)")
        }
        return text
    }
}
