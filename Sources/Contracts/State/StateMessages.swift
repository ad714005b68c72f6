import Wire

// The params and results of the run methods, as they travel on the wire (events:
// StateEventMessages.swift; sessions and cursors: StateSessionMessages.swift). Keys
// are snake_case; timestamps are RFC 3339 UTC strings with milliseconds.

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
