import Foundation
import Logging
import RPC
import Synchronization

/// Runs one streaming agent call (`agent.chat`, `agent.resume`) into the
/// journal and into one HTTP response. The call runs in its own task: a client
/// that disconnects stops reading, but the run goes on, its events are kept,
/// and `GET /runs/{run_id}/events` with `Last-Event-ID` picks them up.
///
/// When the call ends without saying where the run stands (agent-svc's own
/// follower resumed it first, or it stays paused for another approver), the
/// pump adds the event that does, from the call's result.
final class RunPump: Sendable {
    /// The events for the response, in order; finished when the run pauses or ends.
    let events: AsyncStream<ServerSentEvent>
    private let sink: AsyncStream<ServerSentEvent>.Continuation
    /// Whether the call got going (first event out) or failed before, and who waits to know.
    private struct Start {
        var outcome: Result<Void, GatewayError>?
        var waiter: CheckedContinuation<Void, any Error>?
    }
    private let start = Mutex(Start())

    private init() {
        (events, sink) = AsyncStream.makeStream(of: ServerSentEvent.self, bufferingPolicy: .bufferingOldest(4_096))
    }

    /// Starts `call`. `runID` is nil for a chat (its id arrives in `run_started`).
    /// - Parameters:
    ///   - runID: the run, when known (nil for a chat: its id arrives in `run_started`).
    ///   - settle: reads where the run stands after another process resumed it
    ///     concurrently (the call then ends with VERSION_CONFLICT or RUN_CLAIMED).
    ///   - call: the agent call; it passes each event to the closure it is given.
    static func start(
        runID: String?, journal: RunJournal, logger: Logger,
        settle: (@Sendable (String) async throws -> RunView)? = nil,
        call: @escaping @Sendable (@escaping @Sendable (JSONValue) -> Void) async throws -> RunView
    ) -> RunPump {
        let pump = RunPump()
        let (raw, rawSink) = AsyncStream.makeStream(of: Item.self)
        Task {
            do {
                let run = try await call { rawSink.yield(.event($0)) }
                rawSink.yield(.done(run))
            } catch {
                rawSink.yield(.failed(error))
            }
            rawSink.finish()
        }
        Task { await pump.drain(raw, runID: runID, journal: journal, logger: logger, settle: settle) }
        return pump
    }

    /// Waits until the first event is out, or throws the error that kept the
    /// call from starting (so it becomes a plain JSON error with a status).
    func started() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome = start.withLock { start -> Result<Void, GatewayError>? in
                if start.outcome == nil { start.waiter = continuation }
                return start.outcome
            }
            if let outcome { continuation.resume(with: outcome.mapError { $0 as any Error }) }
        }
    }

    private enum Item: Sendable {
        case event(JSONValue)
        case done(RunView)
        case failed(any Error)
    }

    private func signal(_ outcome: Result<Void, GatewayError>) {
        let waiting = start.withLock { start -> CheckedContinuation<Void, any Error>? in
            guard start.outcome == nil else { return nil }
            start.outcome = outcome
            defer { start.waiter = nil }
            return start.waiter
        }
        waiting?.resume(with: outcome.mapError { $0 as any Error })
    }

    /// Reasons that mean another process resumed the run at the same time: the
    /// run is fine, this call just lost the race; its outcome is read instead.
    static let preempted: Set<String> = ["VERSION_CONFLICT", "RUN_CLAIMED"]

    private func drain(
        _ items: AsyncStream<Item>, runID known: String?, journal: RunJournal, logger: Logger,
        settle: (@Sendable (String) async throws -> RunView)?
    ) async {
        var runID = known
        var paused = false
        var preempted = false
        if let runID { await journal.beginProducing(runID) }
        for await item in items {
            switch item {
            case .event(var event):
                guard case .object(var fields) = event, let name = fields["type"]?.stringValue else { continue }
                if runID == nil, let id = fields["run_id"]?.stringValue {
                    runID = id
                    await journal.beginProducing(id)
                }
                guard let runID else { continue }
                fields["request_id"] = nil
                event = .object(fields)
                if name == "error", let settle, let reason = fields["reason"]?.stringValue, Self.preempted.contains(reason) {
                    preempted = true
                    if let run = try? await settle(runID), !paused { paused = true; await appendOutcome(run, runID: runID, journal: journal) }
                    continue
                }
                paused = paused || ServerSentEvent.pausing.contains(name)
                emit(await journal.append(runID, name: name, data: event.jsonText(), outcome: Self.outcome(of: name, fields)))
            case .done(let run):
                let id = runID ?? run.runID
                if runID == nil { await journal.beginProducing(id) }
                runID = id
                if paused {
                    await journal.record(outcome: run.outcome, of: id)
                } else {
                    for event in run.pausingEvents() {
                        emit(await journal.append(id, name: event.name, data: event.data, outcome: run.outcome))
                    }
                }
            case .failed(let error):
                let failure = GatewayError.from(error)
                if let settle, let runID, Self.preempted.contains(failure.reason) {
                    if !paused, let run = try? await settle(runID) { paused = true; await appendOutcome(run, runID: runID, journal: journal) }
                    continue
                }
                if preempted && paused { continue }
                logger.warning("agent call failed", metadata: ["run.id": "\(runID ?? "-")", "error": "\(error)"])
                guard let runID else {
                    signal(.failure(failure))
                    continue
                }
                let data = JSONValue.object([
                    "type": "error", "run_id": .string(runID), "reason": .string(failure.reason), "message": .string(failure.message),
                ]).jsonText()
                emit(await journal.append(runID, name: "error", data: data))
            }
        }
        if let runID { await journal.endProducing(runID) }
        signal(.success(()))
        sink.finish()
    }

    private func appendOutcome(_ run: RunView, runID: String, journal: RunJournal) async {
        for event in run.pausingEvents() {
            emit(await journal.append(runID, name: event.name, data: event.data, outcome: run.outcome))
        }
    }

    private func emit(_ event: ServerSentEvent) {
        sink.yield(event)
        signal(.success(()))
    }

    /// The outcome an agent event records (see ``RunView/outcome``); approvals
    /// of one run arrive one by one, so only the end states are recorded here.
    private static func outcome(of name: String, _ fields: [String: JSONValue]) -> String? {
        switch name {
        case "run_completed": "completed"
        case "error": "failed"
        default: nil
        }
    }
}
