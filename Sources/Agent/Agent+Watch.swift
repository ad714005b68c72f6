import Banking
import Contracts
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
        // One call: state-svc sends the run as it stands (`run_snapshot`), then the events
        // after `after_seq` (or after the snapshot), then each new one as it commits.
        var request = ReadEventsParams(runID: runID, afterSeq: params.afterSeq, withRun: true)
        if params.afterSeq == nil, !waitFor.isEmpty {
            // A client that just decided: from the pause that waited for its decision, so a
            // resume that finished before this watch began is still told in full.
            request.afterLast = EventMatch(type: "run_paused", field: "pending", anyOf: waitFor.sorted())
        }
        let (stream, continuation) = AsyncStream.makeStream(of: RunWatchEvent<DocumentReading<RunDocument>>.self)
        let state = self.state
        let follow = Task {
            defer { continuation.finish() }
            try? await state.watchEvents(request, as: DocumentReading<RunDocument>.self, timeout: .seconds(600)) { continuation.yield($0) }
        }
        defer { follow.cancel() }
        var endWait: Task<Void, Never>?
        defer { endWait?.cancel() }
        var snapshot: RunSnapshotOf<DocumentReading<RunDocument>>?
        var latestStop: JSONValue?
        // A finished run's watch is ended by state-svc once its last event is sent: its
        // result waits for that end rather than cancelling the call (an rpc.cancel more).
        var finished: RunResult?
        var required: [String: PendingView] = [:]  // approval_required seen, by approval id
        for await message in stream {
            let event: JSONValue
            switch message {
            case .snapshot(let view):
                snapshot = view
                // Nothing after the cursor: the run itself says whether to wait at all.
                if view.startSeq >= view.lastEventSeq, try isAtRest(view.run, waitFor: waitFor) {
                    return Self.result(runID: runID, status: view.run.status, document: try view.run.document())
                }
                continue
            case .event(let received): event = received
            }
            var fields = event
            if case .object(var object) = event {
                object["request_id"] = nil
                fields = .object(object)
            }
            emit(fields)
            if Self.isStop(fields) { latestStop = fields }
            if fields["type"] == "approval_required", let view = Self.pendingView(fields) { required[view.approvalID] = view }
            // Judged once caught up with the snapshot: an older stop says nothing of now.
            guard let snapshot, (fields["seq"]?.intValue ?? 0) >= snapshot.lastEventSeq else { continue }
            if let stop = latestStop {
                if Self.isAtRest(after: stop, waitFor: waitFor) {
                    // The stop event says what agent.get_run would; only an error, or a pause
                    // on calls whose approval_required this watcher did not see, is read.
                    guard let result = Self.result(runID: runID, stop: stop, required: required) else { break }
                    guard Self.endsTheRun(stop) else { return result }
                    finished = result
                    // Bounded: a state-svc from before this rule (a rolling upgrade) never ends it.
                    endWait = Task {
                        try? await Task.sleep(for: Self.finishedWatchEndWait)
                        follow.cancel()
                    }
                    continue
                }
            } else if try isAtRest(snapshot.run, waitFor: waitFor) {
                break
            }
        }
        try Task.checkCancellation()
        if let finished { return finished }
        return try await getRun(runID: runID)
    }

    /// The run as `agent.get_run` shows it, from the stop event it was saved with, when
    /// the events carry all of it.
    private static func result(runID: String, stop: JSONValue, required: [String: PendingView]) -> RunResult? {
        switch stop["type"]?.stringValue {
        case "run_completed":
            return RunResult(runID: runID, status: "completed", reply: stop["reply"]?.stringValue, pending: [])
        case "run_paused":
            guard let ids = stop["pending"]?.arrayValues?.compactMap(\.stringValue), !ids.isEmpty else { return nil }
            let views = ids.compactMap { required[$0] }
            guard views.count == ids.count else { return nil }
            return RunResult(runID: runID, status: "awaiting_approval", reply: stop["reply"]?.stringValue, pending: views)
        default:
            return nil
        }
    }

    /// A pending call as an `approval_required` event describes it.
    private static func pendingView(_ event: JSONValue) -> PendingView? {
        guard let approvalID = event["approval_id"]?.stringValue, let callID = event["call_id"]?.stringValue,
            let actionValue = event["action"], let action = try? actionValue.decode(as: Action.self)
        else { return nil }
        return PendingView(approvalID: approvalID, callID: callID, action: action, holdID: event["hold_id"]?.stringValue)
    }

    /// How long a watch of a finished run waits for state-svc to end it before cancelling it.
    static let finishedWatchEndWait: Duration = .seconds(2)

    /// Stop events after which a run never has another: it completed or failed.
    private static func endsTheRun(_ stop: JSONValue) -> Bool {
        ["run_completed", "error"].contains(stop["type"]?.stringValue ?? "")
    }

    /// Events after which a run is no longer being worked on: it paused, completed or failed.
    static func isStop(_ event: JSONValue) -> Bool {
        ["run_paused", "run_completed", "error"].contains(event["type"]?.stringValue ?? "")
    }

    /// Whether a stop event leaves the run at rest for a watcher waiting past `waitFor`:
    /// completed or failed, or paused on approvals none of which it waits for.
    private static func isAtRest(after stop: JSONValue, waitFor: Set<String>) -> Bool {
        guard stop["type"]?.stringValue == "run_paused" else { return true }
        guard case .array(let pending)? = stop["pending"] else { return true }
        return waitFor.isDisjoint(with: pending.compactMap(\.stringValue))
    }

    /// Whether the run as stored is at rest for such a watcher (one that came after the
    /// run's last stop event, or saw none).
    private func isAtRest(_ record: AgentRun, waitFor: Set<String>) throws -> Bool {
        let document = try record.document()
        switch record.status {
        case "completed", "failed", "cancelled": return true
        case "awaiting_approval":
            // Paused on people, unclaimed: at rest unless it waits on what the watcher decided.
            // A resume's checkpoint (`continuing`) will be continued: not at rest.
            guard record.lease == nil, document.phase(stored: record.status) == .waitingForPeople else { return false }
            return waitFor.isDisjoint(with: document.pending.map(\.approvalID))
        default: return false
        }
    }
}
