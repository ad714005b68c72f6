import Foundation
import RPC

/// The events of recent runs, so a client that lost its stream can reconnect
/// with `Last-Event-ID` and get what it missed, and follow a run that is still
/// being streamed. Bounded: runs least recently used are forgotten first, and
/// a run keeps its latest events only. It lives in memory: after a restart the
/// gateway rebuilds a run's outcome from agent-svc (see ``reconcile(_:with:after:)``).
actor RunJournal {
    private struct Run {
        var events: [ServerSentEvent] = []
        var nextID = 1
        /// Streams producing events for this run right now (chat, execute).
        var producers = 0
        var followers: [UUID: AsyncStream<ServerSentEvent>.Continuation] = [:]
        /// What the run's latest pausing event said: `completed`, `failed` or `awaiting:<approval ids>`.
        var outcome: String?
        var touched = ContinuousClock.now
    }

    private var runs: [String: Run] = [:]
    private let maximumRuns: Int
    private let maximumEvents: Int

    init(maximumRuns: Int, maximumEvents: Int) {
        self.maximumRuns = maximumRuns
        self.maximumEvents = maximumEvents
    }

    /// A stream starts producing this run's events.
    func beginProducing(_ runID: String) {
        update(runID) { $0.producers += 1 }
    }

    /// A producing stream is done; when it was the last, followers are told the end.
    func endProducing(_ runID: String) {
        update(runID) { run in
            run.producers = max(0, run.producers - 1)
            if run.producers == 0 {
                for follower in run.followers.values { follower.finish() }
                run.followers = [:]
            }
        }
    }

    /// Records an event, gives it the run's next id, and passes it to followers.
    func append(_ runID: String, name: String, data: String, outcome: String? = nil) -> ServerSentEvent {
        var appended = ServerSentEvent(id: 0, name: name, data: data)
        update(runID) { run in
            appended = ServerSentEvent(id: run.nextID, name: name, data: data)
            run.nextID += 1
            run.events.append(appended)
            if run.events.count > maximumEvents { run.events.removeFirst(run.events.count - maximumEvents) }
            if let outcome { run.outcome = outcome }
            for follower in run.followers.values { follower.yield(appended) }
        }
        return appended
    }

    /// Records where the run stands (its events already said so).
    func record(outcome: String?, of runID: String) {
        guard let outcome else { return }
        update(runID) { $0.outcome = outcome }
    }

    /// Events after `lastEventID`, and, while a stream is producing the run,
    /// a stream of the ones still to come. `known` is false for a run this
    /// gateway has no events of.
    func follow(_ runID: String, after lastEventID: Int) -> (known: Bool, missed: [ServerSentEvent], live: AsyncStream<ServerSentEvent>?) {
        guard runs[runID] != nil else { return (false, [], nil) }
        var result: (Bool, [ServerSentEvent], AsyncStream<ServerSentEvent>?) = (true, [], nil)
        update(runID) { run in
            result.1 = run.events.filter { $0.id > lastEventID }
            guard run.producers > 0 else { return }
            let (stream, continuation) = AsyncStream.makeStream(of: ServerSentEvent.self, bufferingPolicy: .bufferingOldest(maximumEvents))
            let key = UUID()
            run.followers[key] = continuation
            continuation.onTermination = { [weak self] _ in
                Task { await self?.dropFollower(runID, key) }
            }
            result.2 = stream
        }
        return result
    }

    /// Whether a stream is producing the run now.
    func isProducing(_ runID: String) -> Bool { (runs[runID]?.producers ?? 0) > 0 }

    /// Brings the journal up to date with a run as agent-svc reports it (it may
    /// have moved on elsewhere: resumed by agent-svc's own follower after a
    /// decision made in a notification link or in `hitl`). Appends the events
    /// that say so when the outcome differs from the last one recorded, and
    /// returns them. A run unknown here starts its ids after `lastEventID`, so a
    /// client reconnecting after a gateway restart does not skip them.
    func reconcile(_ runID: String, with run: RunView, after lastEventID: Int) -> [ServerSentEvent] {
        let outcome = run.outcome
        if runs[runID] == nil { update(runID) { $0.nextID = lastEventID + 1 } }
        guard let outcome, runs[runID]?.outcome != outcome, runs[runID]?.producers == 0 else { return [] }
        return run.pausingEvents().map { append(runID, name: $0.name, data: $0.data, outcome: outcome) }
    }

    private func dropFollower(_ runID: String, _ key: UUID) {
        runs[runID]?.followers[key] = nil
    }

    private func update(_ runID: String, _ change: (inout Run) -> Void) {
        var run = runs[runID] ?? Run()
        change(&run)
        run.touched = .now
        runs[runID] = run
        if runs.count > maximumRuns, let oldest = runs.filter({ $0.value.producers == 0 }).min(by: { $0.value.touched < $1.value.touched }) {
            for follower in oldest.value.followers.values { follower.finish() }
            runs[oldest.key] = nil
        }
    }
}
