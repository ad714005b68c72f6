import Foundation
import RPC

/// `agent.watch_run` params.
public struct WatchRunParams: Codable, Sendable {
    public var runID: String
    /// Send the run's events after this seq (nil: only events from now on).
    public var afterSeq: Int64?
    /// Keep watching until none of these approvals is what the run waits for (the
    /// approvals a client just decided); empty: until the run is at rest.
    public var waitFor: [String]?

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case afterSeq = "after_seq"
        case waitFor = "wait_for"
    }

    public init(runID: String, afterSeq: Int64? = nil, waitFor: [String]? = nil) {
        self.runID = runID
        self.afterSeq = afterSeq
        self.waitFor = waitFor
    }
}

extension Agent {
    /// The longest list of approvals one watch may wait for: a run pauses on at most a
    /// turn's calls (``maximumCallsPerTurn``), so more is not a run's.
    static let maximumWatchedApprovals = 64

    /// Follows a run, whichever process works on it: sends its events after
    /// `after_seq` (each with its seq, as `agent.event`), then each new one as it is
    /// written, until the run is at rest where the watcher cares: completed or failed,
    /// or paused on approvals none of which is in `wait_for`. Clients decide, then
    /// watch; agent-svc alone resumes.
    /// - Returns: the run as it stands when the watch ends.
    /// - Throws: INVALID_ARGUMENT, NOT_FOUND/RUN_NOT_FOUND, FAILED_PRECONDITION/NOT_AN_AGENT_RUN.
    public func watchRun(_ params: WatchRunParams, emit: @escaping AgentEmitter) async throws -> RunResult {
        let waitFor = Set(params.waitFor ?? [])
        guard waitFor.count <= Self.maximumWatchedApprovals else {
            throw RPCError.invalidParams(field: "wait_for", "must name at most \(Self.maximumWatchedApprovals) approvals")
        }
        if let after = params.afterSeq, after < 0 { throw RPCError.invalidParams(field: "after_seq", "must be 0 or more") }
        let runID = params.runID
        // Catch up from the store, then decide whether to wait at all.
        var cursor = params.afterSeq
        var latestStop: JSONValue?
        while true {
            let page = try await state.request(
                "state.read_events", ["run_id": .string(runID), "after_seq": .int(cursor ?? 0), "limit": 500], as: EventPage.self,
                idempotent: true)
            if cursor == nil {
                cursor = page.lastEventSeq  // "from now on": nothing before this is sent
                break
            }
            for event in page.events {
                emit(event)
                cursor = event["seq"]?.intValue ?? cursor
                if Self.isStop(event) { latestStop = event }
            }
            if !page.hasMore { break }
        }
        if try await isAtRest(runID, latestStop: latestStop, waitFor: waitFor) { return try await getRun(runID: runID) }
        // Then follow what is written next, until a stop the watcher does not wait past.
        let (stream, continuation) = AsyncStream.makeStream(of: JSONValue.self)
        let state = self.state
        let start = cursor ?? 0
        let follow = Task {
            defer { continuation.finish() }
            _ = try? await state.stream(
                "state.watch_events", ["run_id": .string(runID), "after_seq": .int(start)] as JSONValue, event: JSONValue.self,
                as: JSONValue.self, options: .init(timeout: .seconds(600), idempotent: true)
            ) { continuation.yield($0) }
        }
        defer { follow.cancel() }
        for await event in stream {
            var fields = event
            if case .object(var object) = event {
                object["request_id"] = nil
                fields = .object(object)
            }
            emit(fields)
            if Self.isStop(fields), try await isAtRest(runID, latestStop: fields, waitFor: waitFor) { break }
        }
        try Task.checkCancellation()
        return try await getRun(runID: runID)
    }

    /// Events after which a run is no longer being worked on: it paused, completed or failed.
    static func isStop(_ event: JSONValue) -> Bool {
        ["run_paused", "run_completed", "error"].contains(event["type"]?.stringValue ?? "")
    }

    /// Whether the run is at rest for a watcher waiting past `waitFor`. The newest stop
    /// event says it when the watcher saw one; otherwise the run itself does (a watcher
    /// that came after the last event).
    private func isAtRest(_ runID: String, latestStop: JSONValue?, waitFor: Set<String>) async throws -> Bool {
        if let stop = latestStop {
            guard stop["type"]?.stringValue == "run_paused" else { return true }
            guard case .array(let pending)? = stop["pending"] else { return true }
            return waitFor.isDisjoint(with: pending.compactMap(\.stringValue))
        }
        let record = try await state.request("state.load_run", ["run_id": .string(runID)], as: RunRecord.self, idempotent: true)
        let document = try record.document()
        switch record.status {
        case "completed", "failed", "cancelled": return true
        case "awaiting_approval":
            // Paused on people, unclaimed: at rest unless it waits on what the watcher decided.
            // With nothing pending it is a checkpoint that will be continued: not at rest.
            guard record.lease == nil || record.lease == .null, !document.pending.isEmpty else { return false }
            return waitFor.isDisjoint(with: document.pending.map(\.approvalID))
        default: return false
        }
    }
}

/// `state.read_events`, as much as the watcher reads.
struct EventPage: Decodable, Sendable {
    let events: [JSONValue]
    let lastEventSeq: Int64
    let hasMore: Bool

    enum CodingKeys: String, CodingKey {
        case events
        case lastEventSeq = "last_event_seq"
        case hasMore = "has_more"
    }
}
