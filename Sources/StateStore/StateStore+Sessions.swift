import RPC
import SQLiteKit

extension StateStore {
    /// Appends messages to a conversation (created by its first append).
    /// - Parameter params: the session and 1…1000 messages, each a JSON object.
    /// - Returns: how many were appended and the session's length now.
    /// - Throws: INVALID_ARGUMENT (INVALID_ID, INVALID_MESSAGE, INVALID_FIELD),
    ///   RESOURCE_EXHAUSTED (MESSAGES_TOO_LARGE, SESSION_FULL).
    public func appendSession(_ params: AppendSessionParams) async throws -> AppendSessionResult {
        try Validation.identifier(params.sessionID, field: "session_id")
        guard (1...StateLimits.maximumMessagesPerAppend).contains(params.messages.count) else {
            throw RPCError.invalidParams(field: "messages", "must hold 1 to \(StateLimits.maximumMessagesPerAppend) messages")
        }
        var encoded: [String] = []
        var bytes = 0
        for (index, message) in params.messages.enumerated() {
            guard case .object = message else {
                throw RPCError.invalidParams(field: "messages.\(index)", "must be a JSON object", reason: "INVALID_MESSAGE")
            }
            let text = try Validation.encode(message)
            bytes += text.utf8.count
            encoded.append(text)
        }
        let texts = encoded
        guard bytes <= StateLimits.maximumAppendBytes else {
            throw RPCError(
                .resourceExhausted, reason: "MESSAGES_TOO_LARGE",
                "the messages are \(bytes) bytes; one append takes at most \(StateLimits.maximumAppendBytes)",
                details: ["field": .string("messages"), "limit": .int(Int64(StateLimits.maximumAppendBytes))])
        }
        let session = params.sessionID
        let maximumMessages = limits.maximumSessionMessages
        let total = try await database.write { connection -> Int64 in
            let now = Timestamp.nowMs()
            let count = try connection.queryOne(
                "SELECT coalesce(max(seq), 0) FROM session_messages WHERE session_id = ?", [.text(session)]) { $0.int(0) } ?? 0
            guard count + Int64(texts.count) <= maximumMessages else {
                throw RPCError(
                    .resourceExhausted, reason: "SESSION_FULL",
                    "session \(session) would exceed \(maximumMessages) messages; start a new session",
                    details: ["session_id": .string(session)])
            }
            for (offset, text) in texts.enumerated() {
                try connection.execute(
                    "INSERT INTO session_messages (session_id, seq, message, appended_at) VALUES (?, ?, ?, ?)",
                    [.text(session), .integer(count + Int64(offset) + 1), .text(text), .integer(now)])
            }
            return count + Int64(texts.count)
        }
        return AppendSessionResult(sessionID: session, appended: texts.count, total: total)
    }

    /// The newest messages of a conversation, oldest first. An unknown session is empty.
    /// - Parameter params: the session and how many messages at most.
    /// - Returns: the messages (fewer past ``StateLimits/maximumResponseBytes``) and the session's length.
    /// - Throws: INVALID_ARGUMENT.
    public func loadSession(_ params: LoadSessionParams) async throws -> LoadSessionResult {
        try Validation.identifier(params.sessionID, field: "session_id")
        let limit = try Validation.limit(
            params.limit, default: StateLimits.defaultSessionLimit, maximum: StateLimits.maximumSessionLimit)
        let session = params.sessionID
        let (total, texts) = try await database.read { connection -> (Int64, [String]) in
            try connection.execute("BEGIN")
            defer { _ = try? connection.execute("COMMIT") }
            let total = try connection.queryOne(
                "SELECT coalesce(max(seq), 0) FROM session_messages WHERE session_id = ?", [.text(session)]) { $0.int(0) } ?? 0
            var budget = StateLimits.maximumResponseBytes
            var newestFirst: [String] = []
            for text in try connection.query(
                "SELECT message FROM session_messages WHERE session_id = ? ORDER BY seq DESC LIMIT ?",
                [.text(session), .integer(Int64(limit))], { $0.text(0) })
            {
                budget -= text.utf8.count
                if budget < 0, !newestFirst.isEmpty { break }
                newestFirst.append(text)
            }
            return (total, newestFirst.reversed())
        }
        return LoadSessionResult(sessionID: session, messages: try texts.map(Validation.decode), total: total)
    }

    // MARK: cursors

    /// A consumer cursor; one never set reads as 0.
    /// - Parameter name: the cursor.
    /// - Throws: INVALID_ARGUMENT/INVALID_ID.
    public func getCursor(_ name: String) async throws -> CursorResult {
        try Validation.identifier(name, field: "name")
        let stored = try await database.read { connection in
            try connection.queryOne("SELECT value, updated_at FROM cursors WHERE name = ?", [.text(name)]) { ($0.int(0), $0.int(1)) }
        }
        return CursorResult(name: name, value: stored?.0 ?? 0, updatedAt: stored.map { Timestamp.format($0.1) })
    }

    /// Moves a consumer cursor, optionally only from an expected value.
    /// - Parameter params: the cursor, its new value (0 or more), and the value it must have now.
    /// - Returns: the cursor as stored.
    /// - Throws: INVALID_ARGUMENT, ABORTED/CURSOR_CONFLICT.
    public func setCursor(_ params: SetCursorParams) async throws -> CursorResult {
        try Validation.identifier(params.name, field: "name")
        guard params.value >= 0 else { throw RPCError.invalidParams(field: "value", "must be 0 or more") }
        if let expected = params.expected, expected < 0 {
            throw RPCError.invalidParams(field: "expected", "must be 0 or more")
        }
        let now = try await database.write { connection -> Int64 in
            let now = Timestamp.nowMs()
            if let expected = params.expected {
                let current = try connection.queryOne(
                    "SELECT value FROM cursors WHERE name = ?", [.text(params.name)]) { $0.int(0) } ?? 0
                guard current == expected else {
                    throw RPCError(
                        .aborted, reason: "CURSOR_CONFLICT",
                        "cursor \(params.name) is at \(current), not \(expected); read it again",
                        details: ["name": .string(params.name), "current": .int(current), "expected": .int(expected)])
                }
            }
            try connection.execute(
                """
                INSERT INTO cursors (name, value, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """, [.text(params.name), .integer(params.value), .integer(now)])
            return now
        }
        return CursorResult(name: params.name, value: params.value, updatedAt: Timestamp.format(now))
    }
}
