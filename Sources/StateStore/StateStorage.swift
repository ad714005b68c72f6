import RPC

/// Where a ``StateStore`` keeps its rows: SQLite (one process, the default) or
/// PostgreSQL (any number of state-svc replicas on one database).
///
/// The store validates every input and shapes every answer; a storage runs the
/// transactions. Both storages make the same checks in the same order (``RunRow``'s
/// `check…` methods) inside one transaction each, so the two backends refuse and
/// accept exactly the same calls.
protocol StateStorage: Sendable {
    /// A short name for logs and errors: `sqlite` or `postgres`.
    var backend: String { get }

    /// Inserts a run at version 1 with its first events. Throws RUN_EXISTS.
    func createRun(
        runID: String, sessionID: String?, document: String, events: [NewEvent], identity: String?
    ) async throws -> (createdAt: Int64, lastEventSeq: Int64)

    /// The run's head and its current document.
    func run(_ runID: String) async throws -> (row: RunRow, document: String)

    /// Checks (``RunRow/checkWrite(owner:expectedVersion:now:)``, the version limit) and
    /// writes version `expectedVersion + 1`.
    func saveRun(
        _ save: RunSave, maximumVersions: Int64
    ) async throws -> (version: Int64, now: Int64, lastEventSeq: Int64)

    /// Checks (``RunRow/checkClaim(_:expectedStatus:now:)``) and takes the lease.
    func claimRun(_ params: ClaimRunParams, expectedStatus: RunStatus?) async throws -> (row: RunRow, document: String, now: Int64)

    /// Ends `owner`'s lease; whether one was in force.
    func releaseRun(_ runID: String, owner: String) async throws -> Bool

    /// Checks (``RunRow/checkWrite(owner:expectedVersion:now:)``) and appends.
    func appendEvents(runID: String, expectedVersion: Int64, owner: String?, events: [NewEvent]) async throws -> Int64

    /// The run's head and its events' texts after `after`, at most `limit`.
    func events(runID: String, after: Int64, limit: Int) async throws -> (row: RunRow, events: [String])

    /// The seq of the newest event of `type` whose `field` is (or holds) one of `anyOf`.
    func lastMatching(runID: String, type: String, field: String, anyOf: [String]) async throws -> Int64?

    /// Runs after creation-order position `after`, filtered, at most `limit`.
    func listRuns(after: Int64, status: RunStatus?, sessionID: String?, limit: Int) async throws -> [RunRow]

    /// The head version and a page of stored versions (documents within `budget` bytes).
    func history(runID: String, afterVersion: Int64, limit: Int, budget: Int) async throws -> (head: Int64, versions: [StoredVersion])

    /// Deletes at most `limit` runs finished before `before`; whether more qualify.
    func prune(finishedBefore before: Int64, limit: Int) async throws -> (pruned: Int, more: Bool)

    /// Appends messages to a session unless it would pass `maximum`; its length after.
    func appendSession(_ sessionID: String, messages: [String], maximum: Int64) async throws -> Int64

    /// The session's length and its newest messages, oldest first, within `budget` bytes.
    func loadSession(_ sessionID: String, limit: Int, budget: Int) async throws -> (total: Int64, messages: [String])

    /// A cursor's value and when it moved, or nil when never set.
    func cursor(_ name: String) async throws -> (value: Int64, updatedAt: Int64)?

    /// Moves a cursor (from `expected`, when given; CURSOR_CONFLICT otherwise); when it moved.
    func setCursor(_ name: String, value: Int64, expected: Int64?) async throws -> Int64

    /// Calls `wake` with a run id whenever a run changes, in this process or, for a
    /// shared database, in another replica (and with nil when changes may have been
    /// missed: wake every watcher).
    func followChanges(_ wake: @escaping @Sendable (String?) -> Void)

    func close() async
}

/// An event to append: the validated object and its size.
typealias NewEvent = (object: [String: JSONValue], bytes: Int)

/// What a save writes.
struct RunSave: Sendable {
    var runID: String
    var expectedVersion: Int64
    var status: RunStatus
    var document: String
    var events: [NewEvent]
    var owner: String?
    var release: Bool
    var identity: String?

    /// Entering a terminal status, or asking to, ends any lease.
    var endsLease: Bool { status.isTerminal || release }
}

/// One stored version of a run, as `state.run_history` shows it.
typealias StoredVersion = (version: Int64, status: String, data: String, savedAt: Int64, savedBy: String?, owner: String?)

/// The rules both storages apply inside their transactions, in this order.
extension RunRow {
    /// For a save and an event append: nobody else holds a lease (RUN_CLAIMED), the
    /// version matches (VERSION_CONFLICT), the run is not finished (TERMINAL_STATUS).
    func checkWrite(owner: String?, expectedVersion: Int64, now: Int64) throws {
        if let holder = leaseHolder(at: now), holder.owner != owner { throw StateErrors.claimed(self, holder) }
        guard version == expectedVersion else {
            throw StateErrors.versionConflict(runID, expected: expectedVersion, current: version)
        }
        guard !status.isTerminal else { throw StateErrors.terminal(self) }
    }

    /// For a save: the run has room for another version.
    func checkRoom(maximumVersions: Int64) throws {
        guard version < maximumVersions else { throw StateErrors.tooManyVersions(runID, maximumVersions) }
    }

    /// For a claim: nobody else holds it, a renewal finds its lease, the version and the
    /// status are the expected ones, the run is not finished.
    func checkClaim(_ params: ClaimRunParams, expectedStatus: RunStatus?, now: Int64) throws {
        let holder = leaseHolder(at: now)
        if let holder, holder.owner != params.owner { throw StateErrors.claimed(self, holder) }
        if params.renewOnly == true, holder == nil { throw StateErrors.leaseNotHeld(runID, owner: params.owner) }
        if let expected = params.expectedVersion, expected != version {
            throw StateErrors.versionConflict(runID, expected: expected, current: version)
        }
        guard !status.isTerminal else { throw StateErrors.terminal(self) }
        if let expectedStatus, status != expectedStatus { throw StateErrors.unexpectedStatus(self, expected: expectedStatus) }
    }

    /// For a release: nobody else holds it. Whether `owner` held it.
    func checkRelease(owner: String, now: Int64) throws -> Bool {
        let holder = leaseHolder(at: now)
        if let holder, holder.owner != owner { throw StateErrors.claimed(self, holder) }
        return holder != nil
    }
}

/// Events numbered on from a run's newest: what both storages insert.
enum NumberedEvents {
    /// `events` as stored texts with their seqs after `after`, stamped `now`.
    /// - Throws: RESOURCE_EXHAUSTED/TOO_MANY_EVENTS past ``StateLimits/maximumEventsPerRun``.
    static func make(_ runID: String, after: Int64, _ events: [NewEvent], now: Int64) throws -> [(seq: Int64, text: String)] {
        guard after + Int64(events.count) <= StateLimits.maximumEventsPerRun else {
            throw StateErrors.tooManyEvents(runID, StateLimits.maximumEventsPerRun)
        }
        var seq = after
        return try events.map { event in
            seq += 1
            var object = event.object
            object["seq"] = .int(seq)
            object["at"] = .string(Timestamp.format(now))
            return (seq, try Validation.encode(.object(object)))
        }
    }
}
