import Foundation
import Logging
import RPC
import Synchronization

/// One streaming agent call (`agent.chat`, `agent.watch_run`) turned into Server-Sent
/// Events for one HTTP response. Every agent event is already stored with its run and
/// numbered (`seq`), so that number is the event's SSE id: a client that reconnects
/// with `Last-Event-ID` is sent exactly what it missed, by `agent.watch_run`.
///
/// A chat runs in its own task: a client that disconnects stops reading, but the run
/// goes on (money may be moving) and its events are still stored. A watch only reads,
/// and ends with its client.
final class AgentStream: Sendable {
    /// The events for the response, in order; finished when the call ends.
    let events: AsyncStream<ServerSentEvent>
    private let sink: AsyncStream<ServerSentEvent>.Continuation
    /// Whether the call got going (first event out) or failed first, and who waits to know.
    private struct Start {
        var outcome: Result<Void, GatewayError>?
        var waiter: CheckedContinuation<Void, any Error>?
    }
    private let start = Mutex(Start())
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Events buffered for a client that reads slowly: a run has a few dozen; past
    /// this the oldest are kept and the client reconnects with Last-Event-ID for the rest.
    static let bufferedEvents = 4_096

    private init() {
        (events, sink) = AsyncStream.makeStream(of: ServerSentEvent.self, bufferingPolicy: .bufferingOldest(Self.bufferedEvents))
    }

    /// Starts `call`, which passes each agent event to the closure it is given.
    /// - Parameters:
    ///   - outlivesClient: keep the call going when the client goes away (a chat).
    ///   - logger: where a failed call is logged.
    /// - Parameter first: events sent before the call's own (what the gateway itself has to say).
    static func start(
        outlivesClient: Bool, logger: Logger, first: [ServerSentEvent] = [],
        call: @escaping @Sendable (@escaping @Sendable (JSONValue) -> Void) async throws -> Void
    ) -> AgentStream {
        let stream = AgentStream()
        for event in first { stream.sink.yield(event) }
        let work = Task {
            do {
                try await call { event in stream.forward(event) }
            } catch {
                stream.fail(GatewayError.from(error), logger: logger)
            }
            stream.signal(.success(()))
            stream.sink.finish()
        }
        if !outlivesClient {
            stream.task.withLock { $0 = work }
            stream.sink.onTermination = { _ in work.cancel() }
        }
        return stream
    }

    /// The response is done with the stream (finished, or its client went away): a
    /// watch stops; a chat goes on.
    func stop() {
        task.withLock { $0 }?.cancel()
    }

    /// Waits until the first event is out, or throws the error that kept the call
    /// from starting (so it becomes a plain JSON error with a status).
    func started() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome = start.withLock { start -> Result<Void, GatewayError>? in
                if start.outcome == nil { start.waiter = continuation }
                return start.outcome
            }
            if let outcome { continuation.resume(with: outcome.mapError { $0 as any Error }) }
        }
    }

    private func forward(_ event: JSONValue) {
        guard case .object(var fields) = event, let name = fields["type"]?.stringValue else { return }
        fields["request_id"] = nil
        sink.yield(ServerSentEvent(id: fields["seq"]?.intValue, name: name, data: JSONValue.object(fields).jsonText()))
        signal(.success(()))
    }

    /// A call that failed before its first event answers with the error; one that
    /// failed later ends its stream with an `error` event that has no id (it is not
    /// one of the run's stored events, so it does not move `Last-Event-ID`).
    private func fail(_ failure: GatewayError, logger: Logger) {
        let started = start.withLock { $0.outcome != nil }
        guard started else { return signal(.failure(failure)) }
        logger.warning("agent call failed mid-stream", metadata: ["reason": "\(failure.reason)", "error": "\(failure.message)"])
        let data = JSONValue.object(["type": "error", "reason": .string(failure.reason), "message": .string(failure.message)]).jsonText()
        sink.yield(ServerSentEvent(id: nil, name: "error", data: data))
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
}
