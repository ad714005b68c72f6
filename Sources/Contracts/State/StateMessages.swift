import Wire

// The params and results of every state method, as they travel on the wire
// (snake_case keys). Timestamps are RFC 3339 UTC strings with milliseconds.

/// `state.create_run` params.
/// `state.create_run` params as state-svc reads them: the document as JSON.
public typealias CreateRunParams = CreateRunParamsOf<JSONValue>

public struct CreateRunParamsOf<Document: Codable & Sendable>: Codable, Sendable {
    public var runID: String?
    public var sessionID: String?
    public var data: Document
    /// The run's first events, numbered from 1 (each a JSON object).
    public var events: [JSONValue]?
    enum CodingKeys: String, CodingKey {
        case runID = "run_id", sessionID = "session_id", data, events
    }
    public init(runID: String? = nil, sessionID: String? = nil, data: Document, events: [JSONValue]? = nil) {
        self.runID = runID
        self.sessionID = sessionID
        self.data = data
        self.events = events
    }
}

/// `state.create_run` result.
public struct CreateRunResult: Codable, Sendable {
    public var runID: String
    public var version: Int64
    public var status: String
    public var createdAt: String
    /// The seq of the run's newest event (0: none).
    public var lastEventSeq: Int64
    enum CodingKeys: String, CodingKey {
        case runID = "run_id", version, status, createdAt = "created_at", lastEventSeq = "last_event_seq"
    }

    /// - Parameters: the wire fields.
    public init(runID: String, version: Int64, status: String, createdAt: String, lastEventSeq: Int64) {
        self.runID = runID
        self.version = version
        self.status = status
        self.createdAt = createdAt
        self.lastEventSeq = lastEventSeq
    }
}

/// Params naming one run.
public struct RunRef: Codable, Sendable {
    public var runID: String
    enum CodingKeys: String, CodingKey { case runID = "run_id" }
    public init(runID: String) { self.runID = runID }
}

/// A lease on a run.
public struct Lease: Codable, Sendable, Equatable {
    public var owner: String
    public var expiresAt: String
    enum CodingKeys: String, CodingKey { case owner, expiresAt = "expires_at" }

    /// - Parameters: the wire fields.
    public init(owner: String, expiresAt: String) {
        self.owner = owner
        self.expiresAt = expiresAt
    }
}

/// A run as `load_run` and `claim_run` return it.
/// A run as state-svc returns it: the document as JSON.
public typealias RunRecord = RunRecordOf<JSONValue>

public struct RunRecordOf<Document: Codable & Sendable>: Codable, Sendable {
    public var runID: String
    public var sessionID: String?
    public var version: Int64
    public var status: String
    public var data: Document
    public var createdAt: String
    public var updatedAt: String
    /// The lease in force, if any (expired leases are not shown).
    public var lease: Lease?
    enum CodingKeys: String, CodingKey {
        case runID = "run_id", sessionID = "session_id", version, status, data
        case createdAt = "created_at", updatedAt = "updated_at", lease
    }

    /// - Parameters: the wire fields.
    public init(runID: String, sessionID: String? = nil, version: Int64, status: String, data: Document, createdAt: String, updatedAt: String, lease: Lease? = nil) {
        self.runID = runID
        self.sessionID = sessionID
        self.version = version
        self.status = status
        self.data = data
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.lease = lease
    }
}

/// `state.save_run` params.
/// `state.save_run` params as state-svc reads them: the document as JSON.
public typealias SaveRunParams = SaveRunParamsOf<JSONValue>

public struct SaveRunParamsOf<Document: Codable & Sendable>: Codable, Sendable {
    public var runID: String
    public var expectedVersion: Int64
    public var status: String
    public var data: Document
    /// The lease owner saving; required while a lease is held.
    public var owner: String?
    /// Events to append with this version, in order (each a JSON object).
    public var events: [JSONValue]?
    /// End the saver's lease with this save (a resume that leaves the run paused):
    /// whoever watches sees the pause and the release as one change.
    public var release: Bool?
    enum CodingKeys: String, CodingKey {
        case runID = "run_id", expectedVersion = "expected_version", status, data, owner, events, release
    }
    public init(
        runID: String, expectedVersion: Int64, status: String, data: Document, owner: String? = nil, events: [JSONValue]? = nil,
        release: Bool? = nil
    ) {
        self.runID = runID
        self.expectedVersion = expectedVersion
        self.status = status
        self.data = data
        self.owner = owner
        self.events = events
        self.release = release
    }
}

/// `state.save_run` result.
public struct SaveRunResult: Codable, Sendable {
    public var runID: String
    public var version: Int64
    public var status: String
    public var updatedAt: String
    /// The seq of the run's newest event (the last one appended by this save, if any).
    public var lastEventSeq: Int64
    enum CodingKeys: String, CodingKey {
        case runID = "run_id", version, status, updatedAt = "updated_at", lastEventSeq = "last_event_seq"
    }

    /// - Parameters: the wire fields.
    public init(runID: String, version: Int64, status: String, updatedAt: String, lastEventSeq: Int64) {
        self.runID = runID
        self.version = version
        self.status = status
        self.updatedAt = updatedAt
        self.lastEventSeq = lastEventSeq
    }
}

/// `state.append_events` params: events that happened while the run is worked on,
/// between two saves (the tool calls of a turn, before the next model call).
public struct AppendEventsParams: Codable, Sendable {
    public var runID: String
    /// The version the appender works from: appending fails with VERSION_CONFLICT otherwise.
    public var expectedVersion: Int64
    /// The lease owner appending; required while a lease is held.
    public var owner: String?
    public var events: [JSONValue]
    enum CodingKeys: String, CodingKey {
        case runID = "run_id", expectedVersion = "expected_version", owner, events
    }
    public init(runID: String, expectedVersion: Int64, owner: String? = nil, events: [JSONValue]) {
        self.runID = runID
        self.expectedVersion = expectedVersion
        self.owner = owner
        self.events = events
    }
}

/// `state.append_events` result.
public struct AppendEventsResult: Codable, Sendable {
    public var runID: String
    public var lastEventSeq: Int64
    enum CodingKeys: String, CodingKey { case runID = "run_id", lastEventSeq = "last_event_seq" }

    /// - Parameters: the wire fields.
    public init(runID: String, lastEventSeq: Int64) {
        self.runID = runID
        self.lastEventSeq = lastEventSeq
    }
}

/// `state.read_events` and `state.watch_events` params.
public struct ReadEventsParams: Codable, Sendable {
    public var runID: String
    /// Events after this seq (0: from the first).
    public var afterSeq: Int64?
    public var limit: Int?
    /// `state.watch_events` only: send the run itself first (a `run_snapshot` event);
    /// without `after_seq`, the events after that snapshot follow.
    public var withRun: Bool?
    /// `state.watch_events` only, without `after_seq`: start after the newest event that
    /// matches (a watcher that just decided starts at the pause that waited for it, so a
    /// resume that ran before the watch began is not missed).
    public var afterLast: EventMatch?
    enum CodingKeys: String, CodingKey {
        case runID = "run_id", afterSeq = "after_seq", limit, withRun = "with_run", afterLast = "after_last"
    }
    public init(runID: String, afterSeq: Int64? = nil, limit: Int? = nil, withRun: Bool? = nil, afterLast: EventMatch? = nil) {
        self.runID = runID
        self.afterSeq = afterSeq
        self.limit = limit
        self.withRun = withRun
        self.afterLast = afterLast
    }
}

/// Events whose `type` is `type` and whose array `field` holds any of `anyOf`.
public struct EventMatch: Codable, Sendable {
    public var type: String
    public var field: String
    public var anyOf: [String]
    enum CodingKeys: String, CodingKey { case type, field, anyOf = "any_of" }
    public init(type: String, field: String, anyOf: [String]) {
        self.type = type
        self.field = field
        self.anyOf = anyOf
    }
}

/// The first event of `state.watch_events` with `with_run`: the run as it stood when the
/// watch began, and its newest event then. A watcher decides from it whether to wait at
/// all, without a `state.load_run` of its own.
/// `state.watch_events`' first event with the document as JSON.
public typealias RunSnapshot = RunSnapshotOf<JSONValue>

public struct RunSnapshotOf<Document: Codable & Sendable>: Codable, Sendable {
    public var type = "run_snapshot"
    public var run: RunRecordOf<Document>
    public var lastEventSeq: Int64
    /// The events that follow are those after this seq.
    public var startSeq: Int64
    enum CodingKeys: String, CodingKey { case type, run, lastEventSeq = "last_event_seq", startSeq = "start_seq" }

    /// - Parameters: the wire fields.
    public init(run: RunRecordOf<Document>, lastEventSeq: Int64, startSeq: Int64) {
        self.run = run
        self.lastEventSeq = lastEventSeq
        self.startSeq = startSeq
    }
}

/// `state.read_events` result: the events after `after_seq`, oldest first, and where the run stands.
public struct ReadEventsResult: Codable, Sendable {
    public var runID: String
    /// Each event as appended, with its `seq` and `at` (RFC 3339) added.
    public var events: [JSONValue]
    /// The run's newest event seq (more may follow it later).
    public var lastEventSeq: Int64
    /// True when this page stopped early: read again after its last event.
    public var hasMore: Bool
    public var status: String
    public var version: Int64
    enum CodingKeys: String, CodingKey {
        case runID = "run_id", events, lastEventSeq = "last_event_seq", hasMore = "has_more", status, version
    }

    /// - Parameters: the wire fields.
    public init(runID: String, events: [JSONValue], lastEventSeq: Int64, hasMore: Bool, status: String, version: Int64) {
        self.runID = runID
        self.events = events
        self.lastEventSeq = lastEventSeq
        self.hasMore = hasMore
        self.status = status
        self.version = version
    }
}

/// `state.watch_events` result: where it stopped.
public struct WatchEventsResult: Codable, Sendable {
    public var runID: String
    public var lastSeq: Int64
    public var sent: Int
    enum CodingKeys: String, CodingKey { case runID = "run_id", lastSeq = "last_seq", sent }

    /// - Parameters: the wire fields.
    public init(runID: String, lastSeq: Int64, sent: Int) {
        self.runID = runID
        self.lastSeq = lastSeq
        self.sent = sent
    }
}

/// `state.claim_run` params.
public struct ClaimRunParams: Codable, Sendable {
    public var runID: String
    public var owner: String
    public var leaseMs: Int64
    /// When given, the claim fails with VERSION_CONFLICT unless the run is at this version.
    public var expectedVersion: Int64?
    /// When given, the claim fails with UNEXPECTED_STATUS unless the run has this status
    /// (a resumer claims only paused runs, without reading the run first).
    public var expectedStatus: String?
    /// Only extend a lease the owner holds now (LEASE_NOT_HELD otherwise): a renewal that
    /// arrives after its owner released the run must not take it again.
    public var renewOnly: Bool?
    enum CodingKeys: String, CodingKey {
        case runID = "run_id", owner, leaseMs = "lease_ms", expectedVersion = "expected_version", expectedStatus = "expected_status"
        case renewOnly = "renew_only"
    }
    public init(
        runID: String, owner: String, leaseMs: Int64, expectedVersion: Int64? = nil, expectedStatus: String? = nil, renewOnly: Bool? = nil
    ) {
        self.runID = runID
        self.owner = owner
        self.leaseMs = leaseMs
        self.expectedVersion = expectedVersion
        self.expectedStatus = expectedStatus
        self.renewOnly = renewOnly
    }
}

/// `state.release_run` params.
public struct ReleaseRunParams: Codable, Sendable {
    public var runID: String
    public var owner: String
    enum CodingKeys: String, CodingKey { case runID = "run_id", owner }
    public init(runID: String, owner: String) {
        self.runID = runID
        self.owner = owner
    }
}

/// `state.release_run` result.
public struct ReleaseRunResult: Codable, Sendable {
    public var runID: String
    /// False when there was no lease in force (already released or expired).
    public var released: Bool
    enum CodingKeys: String, CodingKey { case runID = "run_id", released }

    /// - Parameters: the wire fields.
    public init(runID: String, released: Bool) {
        self.runID = runID
        self.released = released
    }
}

/// `state.list_runs` params.
public struct ListRunsParams: Codable, Sendable {
    public var status: String?
    public var sessionID: String?
    public var cursor: String?
    public var limit: Int?
    enum CodingKeys: String, CodingKey { case status, sessionID = "session_id", cursor, limit }
    public init(status: String? = nil, sessionID: String? = nil, cursor: String? = nil, limit: Int? = nil) {
        self.status = status
        self.sessionID = sessionID
        self.cursor = cursor
        self.limit = limit
    }
}

/// A run without its document, for listings.
public struct RunSummary: Codable, Sendable {
    public var runID: String
    public var sessionID: String?
    public var version: Int64
    public var status: String
    public var createdAt: String
    public var updatedAt: String
    public var lease: Lease?
    enum CodingKeys: String, CodingKey {
        case runID = "run_id", sessionID = "session_id", version, status
        case createdAt = "created_at", updatedAt = "updated_at", lease
    }

    /// - Parameters: the wire fields.
    public init(runID: String, sessionID: String? = nil, version: Int64, status: String, createdAt: String, updatedAt: String, lease: Lease? = nil) {
        self.runID = runID
        self.sessionID = sessionID
        self.version = version
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.lease = lease
    }
}

/// `state.list_runs` result, oldest run first.
public struct ListRunsResult: Codable, Sendable {
    public var runs: [RunSummary]
    /// Pass as `cursor` for the next page; absent on the last page.
    public var nextCursor: String?
    enum CodingKeys: String, CodingKey { case runs, nextCursor = "next_cursor" }

    /// - Parameters: the wire fields.
    public init(runs: [RunSummary], nextCursor: String? = nil) {
        self.runs = runs
        self.nextCursor = nextCursor
    }
}

/// `state.run_history` params.
public struct RunHistoryParams: Codable, Sendable {
    public var runID: String
    public var afterVersion: Int64?
    public var limit: Int?
    enum CodingKeys: String, CodingKey { case runID = "run_id", afterVersion = "after_version", limit }
    public init(runID: String, afterVersion: Int64? = nil, limit: Int? = nil) {
        self.runID = runID
        self.afterVersion = afterVersion
        self.limit = limit
    }
}

/// One saved version of a run.
public struct RunVersion: Codable, Sendable {
    public var version: Int64
    public var status: String
    public var data: JSONValue
    public var savedAt: String
    /// The identity that saved it.
    public var savedBy: String?
    /// The lease owner named by the save, if any.
    public var owner: String?
    enum CodingKeys: String, CodingKey {
        case version, status, data, savedAt = "saved_at", savedBy = "saved_by", owner
    }

    /// - Parameters: the wire fields.
    public init(version: Int64, status: String, data: JSONValue, savedAt: String, savedBy: String? = nil, owner: String? = nil) {
        self.version = version
        self.status = status
        self.data = data
        self.savedAt = savedAt
        self.savedBy = savedBy
        self.owner = owner
    }
}

/// `state.run_history` result, oldest version first.
public struct RunHistoryResult: Codable, Sendable {
    public var runID: String
    public var versions: [RunVersion]
    /// Pass as `after_version` for the next page; absent on the last page.
    public var nextAfterVersion: Int64?
    enum CodingKeys: String, CodingKey {
        case runID = "run_id", versions, nextAfterVersion = "next_after_version"
    }

    /// - Parameters: the wire fields.
    public init(runID: String, versions: [RunVersion], nextAfterVersion: Int64? = nil) {
        self.runID = runID
        self.versions = versions
        self.nextAfterVersion = nextAfterVersion
    }
}

/// `state.append_session` params.
public struct AppendSessionParams: Codable, Sendable {
    public var sessionID: String
    public var messages: [JSONValue]
    enum CodingKeys: String, CodingKey { case sessionID = "session_id", messages }
    public init(sessionID: String, messages: [JSONValue]) {
        self.sessionID = sessionID
        self.messages = messages
    }
}

/// `state.append_session` result.
public struct AppendSessionResult: Codable, Sendable {
    public var sessionID: String
    public var appended: Int
    /// Messages in the session now.
    public var total: Int64
    enum CodingKeys: String, CodingKey { case sessionID = "session_id", appended, total }

    /// - Parameters: the wire fields.
    public init(sessionID: String, appended: Int, total: Int64) {
        self.sessionID = sessionID
        self.appended = appended
        self.total = total
    }
}

/// `state.load_session` params.
public struct LoadSessionParams: Codable, Sendable {
    public var sessionID: String
    public var limit: Int?
    enum CodingKeys: String, CodingKey { case sessionID = "session_id", limit }
    public init(sessionID: String, limit: Int? = nil) {
        self.sessionID = sessionID
        self.limit = limit
    }
}

/// `state.load_session` result: the newest `limit` messages, oldest first.
public struct LoadSessionResult: Codable, Sendable {
    public var sessionID: String
    public var messages: [JSONValue]
    /// Messages in the session (more than returned when limited).
    public var total: Int64
    enum CodingKeys: String, CodingKey { case sessionID = "session_id", messages, total }

    /// - Parameters: the wire fields.
    public init(sessionID: String, messages: [JSONValue], total: Int64) {
        self.sessionID = sessionID
        self.messages = messages
        self.total = total
    }
}

/// `state.get_cursor` params.
public struct GetCursorParams: Codable, Sendable {
    public var name: String
    public init(name: String) { self.name = name }
}

/// `state.set_cursor` params.
public struct SetCursorParams: Codable, Sendable {
    public var name: String
    public var value: Int64
    /// When given, the cursor moves only if it is at this value now (0 if never set).
    public var expected: Int64?
    public init(name: String, value: Int64, expected: Int64? = nil) {
        self.name = name
        self.value = value
        self.expected = expected
    }
}

/// A consumer cursor. A cursor never set reads as 0 with no `updated_at`.
public struct CursorResult: Codable, Sendable {
    public var name: String
    public var value: Int64
    public var updatedAt: String?
    enum CodingKeys: String, CodingKey { case name, value, updatedAt = "updated_at" }

    /// - Parameters: the wire fields.
    public init(name: String, value: Int64, updatedAt: String? = nil) {
        self.name = name
        self.value = value
        self.updatedAt = updatedAt
    }
}

/// `state.prune` params.
public struct PruneParams: Codable, Sendable {
    public var completedBefore: String
    enum CodingKeys: String, CodingKey { case completedBefore = "completed_before" }
    public init(completedBefore: String) { self.completedBefore = completedBefore }
}

/// `state.prune` result.
public struct PruneResult: Codable, Sendable {
    /// Runs deleted (with their history).
    public var pruned: Int
    /// True when more runs qualify: call again.
    public var more: Bool

    /// - Parameters: the wire fields.
    public init(pruned: Int, more: Bool) {
        self.pruned = pruned
        self.more = more
    }
}
