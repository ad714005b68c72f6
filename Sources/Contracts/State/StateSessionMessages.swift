import Wire

// The params and results of sessions, consumer cursors and pruning.

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
