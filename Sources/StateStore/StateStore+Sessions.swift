import RPC

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
        let total = try await storage.appendSession(session, messages: texts, maximum: maximumMessages)
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
        let (total, texts) = try await storage.loadSession(session, limit: limit, budget: StateLimits.maximumResponseBytes)
        return LoadSessionResult(sessionID: session, messages: try texts.map(Validation.decode), total: total)
    }

    // MARK: cursors

    /// A consumer cursor; one never set reads as 0.
    /// - Parameter name: the cursor.
    /// - Throws: INVALID_ARGUMENT/INVALID_ID.
    public func getCursor(_ name: String) async throws -> CursorResult {
        try Validation.identifier(name, field: "name")
        let stored = try await storage.cursor(name)
        return CursorResult(name: name, value: stored?.value ?? 0, updatedAt: stored.map { Timestamp.format($0.updatedAt) })
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
        let now = try await storage.setCursor(params.name, value: params.value, expected: params.expected)
        return CursorResult(name: params.name, value: params.value, updatedAt: Timestamp.format(now))
    }
}
