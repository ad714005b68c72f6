import Foundation
import RPC

/// A run's events as data: appended with the save that makes them true (or, between
/// saves, by `append_events` under the same version check), numbered per run from 1
/// without gaps, and read or followed by anyone who may see the run.
extension StateStore {
    /// Appends events between two saves, under the saver's version and lease.
    /// - Throws: INVALID_ARGUMENT, NOT_FOUND/RUN_NOT_FOUND, ABORTED/RUN_CLAIMED,
    ///   ABORTED/VERSION_CONFLICT, FAILED_PRECONDITION/TERMINAL_STATUS, RESOURCE_EXHAUSTED/TOO_MANY_EVENTS.
    public func appendEvents(_ params: AppendEventsParams) async throws -> AppendEventsResult {
        try Validation.identifier(params.runID, field: "run_id")
        try Validation.version(params.expectedVersion, field: "expected_version")
        if let owner = params.owner { try Validation.owner(owner) }
        let events = try Validation.events(params.events)
        guard !events.isEmpty else { throw RPCError.invalidParams(field: "events", "must hold at least one event") }
        let last = try await storage.appendEvents(
            runID: params.runID, expectedVersion: params.expectedVersion, owner: params.owner, events: events)
        notifier.signal(topic: params.runID)
        return AppendEventsResult(runID: params.runID, lastEventSeq: last)
    }

    /// The run's events after `after_seq`, oldest first, with where the run stands.
    /// - Throws: INVALID_ARGUMENT, NOT_FOUND/RUN_NOT_FOUND.
    public func readEvents(_ params: ReadEventsParams) async throws -> ReadEventsResult {
        try Validation.identifier(params.runID, field: "run_id")
        let after = params.afterSeq ?? 0
        guard after >= 0 else { throw RPCError.invalidParams(field: "after_seq", "must be 0 or more") }
        let limit = params.limit ?? StateLimits.defaultEventLimit
        guard (1...StateLimits.maximumEventLimit).contains(limit) else {
            throw RPCError.invalidParams(field: "limit", "must be between 1 and \(StateLimits.maximumEventLimit)")
        }
        let runID = params.runID
        let (row, texts) = try await storage.events(runID: runID, after: after, limit: limit)
        var events: [JSONValue] = []
        var bytes = 0
        for text in texts {
            bytes += text.utf8.count
            if !events.isEmpty, bytes > StateLimits.maximumResponseBytes { break }
            events.append(try Validation.decode(text))
        }
        let lastSent = events.last?["seq"]?.intValue ?? after
        return ReadEventsResult(
            runID: runID, events: events, lastEventSeq: row.lastEventSeq, hasMore: lastSent < row.lastEventSeq,
            status: row.status.rawValue, version: row.version)
    }

    /// Sends the run's events after `after_seq` (as `state.event` notifications), then each
    /// new one as it is committed, until the run is finished and its last event sent (a
    /// finished run has no more: its final events commit with the save that finishes it),
    /// or the call is cancelled or its deadline passes. Ending by itself spares a watcher
    /// that followed a run to its end one `rpc.cancel` exchange.
    /// - Throws: INVALID_ARGUMENT, NOT_FOUND/RUN_NOT_FOUND, RESOURCE_EXHAUSTED/TOO_MANY_WATCHERS.
    public func watchEvents(_ params: ReadEventsParams, context: RPCContext) async throws -> WatchEventsResult {
        guard context.canStream else {
            throw RPCError(.failedPrecondition, reason: "STREAMING_REQUIRED", "state.watch_events streams events: call it with an id")
        }
        guard let subscription = notifier.subscribe(topic: params.runID) else {
            throw RPCError(.resourceExhausted, reason: "TOO_MANY_WATCHERS", "too many watchers; use state.read_events to poll")
        }
        defer { notifier.unsubscribe(subscription.id) }
        var wakeUps = subscription.stream.makeAsyncIterator()
        var cursor = params.afterSeq ?? 0
        let matched = try await params.afterSeq == nil ? lastMatching(params.afterLast, runID: params.runID) : nil
        if let matched { cursor = matched }
        if params.withRun == true {
            // Subscribed first, so nothing committed after this read goes unnoticed.
            let (record, last) = try await runWithLastSeq(params.runID)
            if params.afterSeq == nil, matched == nil { cursor = last }
            context.emit(RunSnapshot(run: record, lastEventSeq: last, startSeq: cursor))
        }
        var sent = 0
        while true {
            let page = try await readEvents(ReadEventsParams(runID: params.runID, afterSeq: cursor, limit: params.limit))
            for event in page.events {
                context.emit(event)
                cursor = event["seq"]?.intValue ?? cursor
                sent += 1
            }
            if page.hasMore { continue }
            if RunStatus(rawValue: page.status)?.isTerminal == true {
                return WatchEventsResult(runID: params.runID, lastSeq: cursor, sent: sent)
            }
            guard await wakeUps.next() != nil else { throw CancellationError() }
            try Task.checkCancellation()
        }
    }

    /// The most values `after_last.any_of` may name (a run pauses on at most a turn's calls).
    static let maximumMatchValues = 64

    /// The seq of the newest event of the run that matches, or nil (none, or no match asked).
    private func lastMatching(_ match: EventMatch?, runID: String) async throws -> Int64? {
        guard let match else { return nil }
        guard (1...Self.maximumMatchValues).contains(match.anyOf.count) else {
            throw RPCError.invalidParams(field: "after_last.any_of", "must name 1 to \(Self.maximumMatchValues) values")
        }
        guard !match.field.isEmpty, match.field.utf8.count <= 64,
            match.field.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || (0x61...0x7A).contains($0) })
        else { throw RPCError.invalidParams(field: "after_last.field", "must be a field name: lowercase letters and _") }
        try Validation.identifier(runID, field: "run_id")
        return try await storage.lastMatching(runID: runID, type: match.type, field: match.field, anyOf: match.anyOf)
    }
}
