import Contracts
import Foundation
import LLM
import RPC
import Synchronization

// Tools mode: the model's turns and the loop that runs its calls (structured mode's
// plan is in Agent+Structured.swift).
extension Agent {
    /// Asks the model for its next turn and appends it; a text answer becomes the reply.
    /// - Returns: whether the model asked for tools (its calls are then unanswered).
    func modelTurn(_ document: inout RunDocument) async throws -> Bool {
        let reply = withoutEchoes(try await llm.complete(ModelRequest(messages: document.messages, tools: Self.tools)), in: document)
        document.messages.append(reply.message)
        guard reply.toolCalls.isEmpty else { return true }
        document.reply = reply.text ?? ""
        return false
    }

    /// How long a model turn may take before the events recorded ahead of it are written
    /// on their own. A watcher then sees the calls that just ran while a slow (real) model
    /// thinks; a turn that answers sooner carries them in the save that follows it, one
    /// exchange and one durable write fewer.
    static let eventWriteDelay: Duration = .milliseconds(50)

    /// ``modelTurn(_:)``, writing the run's recorded events (``flushEvents(_:)``) if the
    /// model has not answered within ``eventWriteDelay``. A write that began is awaited,
    /// never cancelled: cancelled mid-call, it might have committed with its answer lost,
    /// and the next save would then write the same events twice.
    func modelTurn(_ document: inout RunDocument, writingEventsOf run: RunHandle) async throws -> Bool {
        guard !run.events.pending.isEmpty else { return try await modelTurn(&document) }
        let phase = Mutex(EventWritePhase.waiting)
        let write = Task { [self] in
            try await Task.sleep(for: Self.eventWriteDelay)
            guard phase.withLock({ phase in
                guard phase == .waiting else { return false }
                phase = .writing
                return true
            }) else { return }
            try await flushEvents(run)
        }
        let answered: Result<Bool, any Error>
        do {
            answered = .success(try await modelTurn(&document))
        } catch {
            answered = .failure(error)
        }
        let began = phase.withLock { phase in
            defer { if phase == .waiting { phase = .skipped } }
            return phase == .writing
        }
        if began {
            do {
                try await write.value
            } catch where (try? answered.get()) == nil {
                // The model failed too: its error says why the run stops (a write's
                // events are still pending and go with the run's next save).
            }
        } else {
            write.cancel()  // still asleep: nothing was sent
        }
        return try answered.get()
    }

    /// Tools mode: model turns until it answers in text or a call waits for a human.
    ///
    /// A turn that asks for tools is saved before any of its calls runs. If this
    /// process dies (or a service goes away) while they run, the next attempt finds
    /// the turn's unanswered calls and runs those, with the same call ids and so the
    /// same idempotency keys, instead of asking the model again: a real model would
    /// answer with new call ids, and its actions would run a second time under new keys.
    func toolsLoop(_ run: inout RunHandle, document: inout RunDocument, emit: AgentEmitter) async throws {
        for _ in 0..<maxTurns {
            guard document.pending.isEmpty else { return }
            var calls = document.unansweredToolCalls ?? []
            if calls.isEmpty {
                if document.reply == nil {
                    if try await modelTurn(&document, writingEventsOf: run) {
                        try await checkpoint(&run, document)
                        calls = document.unansweredToolCalls ?? []
                    }
                }
                guard !calls.isEmpty else {
                    emit(Self.event("message", run.runID, ["text": .string(document.reply ?? "")]))
                    return
                }
            }
            for (index, call) in calls.enumerated() {
                guard index < Self.maximumCallsPerTurn else {
                    let output = "ERROR: at most \(Self.maximumCallsPerTurn) tool calls run per turn; this one did not run. Ask for the rest in a later turn if they are really wanted."
                    emit(Self.event("tool_result", run.runID, ["call_id": .string(call.id), "output": .string(output)]))
                    document.messages.append(.toolResult(callID: call.id, output: output))
                    continue
                }
                switch try await handle(call, runID: run.runID, document: &document, emit: emit) {
                case .done(let output): document.messages.append(.toolResult(callID: call.id, output: output))
                case .pending(let pending): document.pending.append(pending)
                }
            }
        }
        throw RPCError(.resourceExhausted, reason: "TOO_MANY_TURNS", "the model did not answer within \(maxTurns) turns")
    }
}

extension RunDocument {
    /// The calls of the newest model turn that have neither a result nor a pending
    /// approval: a turn saved by a checkpoint whose calls did not all run. Nil when
    /// every call was answered (the model speaks next).
    var unansweredToolCalls: [ToolCall]? {
        guard let index = messages.lastIndex(where: { if case .assistant = $0 { true } else { false } }),
              case .assistant(_, let calls) = messages[index], !calls.isEmpty else { return nil }
        var answered = Set(pending.map(\.callID))
        for case .toolResult(let callID, _) in messages[(index + 1)...] { answered.insert(callID) }
        let open = calls.filter { !answered.contains($0.id) }
        return open.isEmpty ? nil : open
    }
}

/// Where the events ahead of a model turn stand (``Agent/modelTurn(_:writingEventsOf:)``).
enum EventWritePhase: Sendable {
    case waiting, writing, skipped
}
