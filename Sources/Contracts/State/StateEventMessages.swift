import Wire

// The params and results of a run's events: appending, reading and watching them.

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
