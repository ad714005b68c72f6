import Foundation
import Logging
import PostgresSupport
import RPC
import SQLiteKit

/// Versioned agent runs, conversation sessions and consumer cursors, in SQLite (one
/// file with group commit, the default) or PostgreSQL (shared by any number of
/// state-svc replicas).
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

    let storage: any StateStorage
    let logger: Logger
    let limits: Limits
    /// Wakes `state.watch_events` streams when events are committed.
    let notifier = ChangeNotifier()

    /// Opens (creating and migrating if needed) the SQLite state database.
    /// - Parameters:
    ///   - path: the file, normally `<home>/data/state.sqlite`.
    ///   - limits: per-run and per-session bounds (tests lower them).
    ///   - logger: where start-up and notable events are logged.
    /// - Throws: ``SQLiteError`` or ``SQLiteIntegrityError``.
    public convenience init(path: String, limits: Limits = Limits(), logger: Logger) throws {
        self.init(storage: try SQLiteStateStorage(path: path, logger: logger), limits: limits, logger: logger)
    }

    /// Opens (migrating if needed) a PostgreSQL state database, which other state-svc
    /// processes may share: their changes wake this one's watchers.
    /// - Throws: ``PostgresURLError``; UNAVAILABLE/DATABASE_UNAVAILABLE when it cannot be reached.
    public static func postgres(
        _ url: PostgresURL, limits: Limits = Limits(), pool: PostgresPool.Limits = .init(), logger: Logger
    ) async throws -> StateStore {
        let database = try PostgresPool(url: url, limits: pool, logger: logger)
        do {
            try await database.migrate(PostgresStateSchema.migrations, name: "state")
        } catch {
            await database.close()
            throw error
        }
        return StateStore(storage: PostgresStateStorage(database: database, logger: logger), limits: limits, logger: logger)
    }

    init(storage: any StateStorage, limits: Limits, logger: Logger) {
        self.storage = storage
        self.logger = logger
        self.limits = limits
        let notifier = self.notifier
        storage.followChanges { runID in
            if let runID { notifier.signal(topic: runID) } else { notifier.signal() }
        }
    }

    /// `sqlite` or `postgres`.
    public var backend: String { storage.backend }

    /// Finishes queued writes and closes the database.
    public func close() async {
        await storage.close()
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
        let (createdAt, lastEventSeq) = try await storage.createRun(
            runID: runID, sessionID: params.sessionID, document: text, events: events, identity: identity)
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
        let (row, text) = try await storage.run(runID)
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
        let save = RunSave(
            runID: params.runID, expectedVersion: params.expectedVersion, status: status,
            document: try Validation.document(params.data), events: try Validation.events(params.events ?? []),
            owner: params.owner, release: params.release == true, identity: identity)
        let (version, now, lastEventSeq) = try await storage.saveRun(save, maximumVersions: limits.maximumVersionsPerRun)
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
        let (row, text, now) = try await storage.claimRun(params, expectedStatus: expectedStatus)
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
        let released = try await storage.releaseRun(params.runID, owner: params.owner)
        notifier.signal(topic: params.runID)
        return ReleaseRunResult(runID: params.runID, released: released)
    }

    /// The first items of `items` whose sizes fit in `budget` (always at least one).
    static func withinBudget<T>(_ items: [T], budget: Int, size: (T) -> Int) -> [T] {
        var left = budget
        var kept: [T] = []
        for item in items {
            left -= size(item)
            if left < 0, !kept.isEmpty { break }
            kept.append(item)
        }
        return kept
    }
}
