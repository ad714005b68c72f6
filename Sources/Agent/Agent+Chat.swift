import Foundation
import LLM
import RPC

/// `agent.chat` params.
public struct ChatParams: Codable, Sendable {
    public var message: String
    public var mode: AgentMode?
    public var sessionID: String?

    enum CodingKeys: String, CodingKey {
        case message, mode
        case sessionID = "session_id"
    }
}

extension Agent {
    /// Starts a run: saves it, runs the loop until the model answers or an action needs a human.
    public func chat(_ params: ChatParams, requestedBy: String, emit: @escaping AgentEmitter) async throws -> RunResult {
        let message = params.message.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !message.isEmpty, message.utf8.count <= 16_000 else {
            throw RPCError.invalidParams(field: "message", "must be 1 to 16000 bytes of text")
        }
        if let session = params.sessionID, !Self.isSessionID(session) {
            throw RPCError.invalidParams(field: "session_id", "must be 1 to 128 characters of A-Z a-z 0-9 - _ . (not starting with .)")
        }
        var history: [ModelMessage] = [.system(Self.systemPrompt)]
        if let session = params.sessionID {
            let loaded = try await state.request("state.load_session", ["session_id": .string(session), "limit": .int(Self.sessionHistoryLimit)], as: SessionRecord.self, idempotent: true)
            history += loaded.messages.compactMap { try? $0.decode(as: ModelMessage.self) }
        }
        history.append(.user(message))
        var document = RunDocument(
            mode: params.mode ?? .tools, account: account, requestedBy: requestedBy, sessionID: params.sessionID, messages: history)
        // The model's first turn comes before the run exists, so creating the run saves that
        // turn: the run's first save is also its first checkpoint (its calls run after it),
        // one durable write fewer per chat. A first turn that fails is recorded as the run failing.
        var firstTurnFailure: (any Error)?
        do {
            try await firstTurn(&document)
        } catch {
            firstTurnFailure = error
        }
        let created = try await state.request(
            "state.create_run", typed: CreateRunRequest(data: document, sessionID: params.sessionID), as: CreatedRun.self)
        emit(Self.event("run_started", created.runID, ["mode": .string(document.mode.rawValue)]))
        if firstTurnFailure == nil, let plan = document.plan {
            emit(Self.event("plan", created.runID, ["actions": try JSONValue(encoding: plan)]))
        }
        do {
            let result = try await advance(
                runID: created.runID, version: created.version, owner: nil, document: &document, emit: emit, failure: firstTurnFailure)
            guard result.status == "awaiting_approval", try await anyDecided(document.pending) else { return result }
            // A human decided while this call was still running, before the run was saved as
            // awaiting: the decision follower saw a running run and left it, so resume here.
            return try await resume(runID: created.runID, emit: emit)
        } catch let error as RPCError where error.status == .unavailable {
            throw Self.interrupted(created.runID, by: error)
        }
    }

    /// The run exists and may have done part of its work (an action executed, a hold
    /// placed) when a service it needs went away: not UNAVAILABLE, which tells clients
    /// that nothing happened and a retry is safe; a retried chat would start a second run.
    static func interrupted(_ runID: String, by error: RPCError) -> RPCError {
        RPCError(.aborted, reason: "RUN_INTERRUPTED",
            "run \(runID) started, then stopped: \(error.message). It may have done part of its work; "
                + "see agent.get_run \(runID) rather than sending the message again (an unfinished run is ended by the sweeper)",
            details: ["run_id": .string(runID)])
    }

    /// What a session id may be (as `Protocols/agent.openrpc.json` says):
    /// `^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$`.
    static func isSessionID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        func allowed(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F || byte == 0x2D || byte == 0x2E
        }
        return (1...128).contains(bytes.count) && bytes[0] != 0x2E && bytes.allSatisfy(allowed)
    }

    /// Whether any of the pending calls' approvals is already decided.
    private func anyDecided(_ pending: [PendingCall]) async throws -> Bool {
        for call in pending {
            let record = try await approval.request(
                "approval.get", ["approval_id": .string(call.approvalID)], as: ApprovalRecord.self, idempotent: true)
            if record.status != "pending" { return true }
        }
        return false
    }

    /// The model's first turn of a new run: a reply (text, or tool calls still to run)
    /// or, in structured mode, the validated plan.
    func firstTurn(_ document: inout RunDocument) async throws {
        switch document.mode {
        case .tools: _ = try await modelTurn(&document)
        case .structured: document.plan = try await requestPlan(document: &document)
        }
    }

    /// Runs the mode's loop from where the document stands, then saves the run
    /// (awaiting_approval, completed or failed) and reports the result.
    /// - Parameter failure: an error the run already met (its first model turn), which fails it at once.
    func advance(
        runID: String, version: Int64, owner: String?, document: inout RunDocument, emit: AgentEmitter, failure: (any Error)? = nil
    ) async throws -> RunResult {
        var run = RunHandle(runID: runID, version: version, owner: owner)
        let status: String
        do {
            if let failure { throw failure }
            switch document.mode {
            case .tools: try await toolsLoop(&run, document: &document, emit: emit)
            case .structured: try await structuredLoop(&run, document: &document, emit: emit)
            }
            status = document.pending.isEmpty ? "completed" : "awaiting_approval"
        } catch let error as RPCError where owner != nil && Self.isTransient(error) {
            // A resume that met one of our services away: the human's decision must not be
            // lost, so the run stays where its last save left it (paused, or a checkpoint)
            // and the next attempt (the follower, the reconciler, agent.resume) continues it.
            throw error
        } catch {
            let rpc = (error as? any RPCErrorConvertible)?.rpcError ?? RPCError.internalError()
            logger.error("run failed", metadata: ["run_id": "\(runID)", "error": "\(error)"])
            emit(Self.event("error", runID, ["reason": .string(rpc.reason), "message": .string(rpc.message)]))
            let released = await releasePending(document.pending, runID: runID, reason: "the run failed: \(rpc.message)")
            document.pending = []
            document.reply = "The request could not be completed: \(rpc.message)"
                + (released > 0 ? " \(released) action(s) waiting for approval were cancelled and their held funds released." : "")
            _ = try await save(runID: runID, version: run.version, owner: owner, status: "failed", document: document)
            return RunResult(runID: runID, status: "failed", reply: document.reply, pending: [])
        }
        _ = try await save(runID: runID, version: run.version, owner: owner, status: status, document: document)
        if status == "completed" {
            if let session = document.sessionID, let reply = document.reply {
                let user = document.messages.last(where: { if case .user = $0 { true } else { false } })
                let appended: [ModelMessage] = [user, ModelMessage.assistant(text: reply, toolCalls: [])].compactMap { $0 }
                _ = try? await state.request(
                    "state.append_session", ["session_id": .string(session), "messages": try JSONValue(encoding: appended)],
                    as: JSONValue.self)
            }
            emit(Self.event("run_completed", runID, ["reply": .string(document.reply ?? "")]))
        } else {
            for call in document.pending {
                emit(Self.event("approval_required", runID, [
                    "approval_id": .string(call.approvalID), "call_id": .string(call.callID), "action": try JSONValue(encoding: call.action),
                ]))
            }
        }
        return RunResult(runID: runID, status: status, reply: document.reply, pending: document.pending.map(PendingView.init))
    }

    func save(runID: String, version: Int64, owner: String?, status: String, document: RunDocument) async throws -> Int64 {
        let params = SaveRunRequest(runID: runID, expectedVersion: version, status: status, data: document, owner: owner)
        let deadline = ContinuousClock.now + Self.unclaimedSaveWait
        while true {
            do {
                return try await state.request("state.save_run", typed: params, as: SavedRun.self).version
            } catch let error as RPCError where error.reason == "RUN_CLAIMED" && owner == nil && ContinuousClock.now < deadline {
                // A resume (the follower, or agent.resume) looked at this running run and
                // will let go of it at once: wait for that rather than fail the chat.
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// How long a chat's save waits for someone else's brief claim on its running run.
    static let unclaimedSaveWait: Duration = .seconds(10)

    /// Whether an error means one of this system's services was away for a moment
    /// (the work can continue later), not that the run cannot go on. The model's
    /// failures (`LLM_*`) end the run: they were already retried by the LLM client.
    static func isTransient(_ error: RPCError) -> Bool {
        [.unavailable, .deadlineExceeded, .aborted, .cancelled].contains(error.status) && !error.reason.hasPrefix("LLM_")
    }

    /// Cancels the approvals of calls still waiting for a human and voids their holds,
    /// for a run that ends without them (best effort: an approval that cannot be
    /// cancelled now expires; a hold that cannot be voided expires with it).
    /// - Returns: how many were released.
    func releasePending(_ pending: [PendingCall], runID: String, reason: String) async -> Int {
        for call in pending {
            _ = try? await approval.request(
                "approval.cancel", ["approval_id": .string(call.approvalID), "reason": .string(String(reason.prefix(500)))],
                as: JSONValue.self, idempotent: true)
            do {
                try await voidHold(call.holdID, reason: "run ended without a decision")
            } catch {
                logger.warning("could not void a hold; it is released at its expiry", metadata: ["hold_id": "\(call.holdID ?? "")", "error": "\(error)"])
            }
        }
        return pending.count
    }

    /// Asks the model for its next turn and appends it; a text answer becomes the reply.
    /// - Returns: whether the model asked for tools (its calls are then unanswered).
    func modelTurn(_ document: inout RunDocument) async throws -> Bool {
        let reply = withoutEchoes(try await llm.complete(ModelRequest(messages: document.messages, tools: Self.tools)), in: document)
        document.messages.append(reply.message)
        guard reply.toolCalls.isEmpty else { return true }
        document.reply = reply.text ?? ""
        return false
    }

    /// Saves the run as it stands while it is still being worked on (see ``RunHandle``).
    func checkpoint(_ run: inout RunHandle, _ document: RunDocument) async throws {
        run.version = try await save(runID: run.runID, version: run.version, owner: run.owner, status: run.workingStatus, document: document)
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
            let calls: [ToolCall]
            if let unanswered = document.unansweredToolCalls {
                calls = unanswered
            } else if document.reply == nil, try await modelTurn(&document) {
                try await checkpoint(&run, document)
                calls = document.unansweredToolCalls ?? []
            } else {
                emit(Self.event("message", run.runID, ["text": .string(document.reply ?? "")]))
                return
            }
            for call in calls {
                switch try await handle(call, runID: run.runID, document: &document, emit: emit) {
                case .done(let output): document.messages.append(.toolResult(callID: call.id, output: output))
                case .pending(let pending): document.pending.append(pending)
                }
            }
        }
        throw RPCError(.resourceExhausted, reason: "TOO_MANY_TURNS", "the model did not answer within \(maxTurns) turns")
    }
}

/// Where a run's next save goes: the version it was read at, and the lease owner
/// (nil while `agent.chat` works on its own new run).
struct RunHandle: Sendable {
    let runID: String
    var version: Int64
    let owner: String?

    /// What a checkpoint saves the run as while it is still being worked on: a chat's
    /// run stays `running` (if its process dies, the sweeper ends it); a resume's stays
    /// `awaiting_approval` under its claim (if it dies, the run is resumed again from
    /// the checkpoint once the claim lapses).
    var workingStatus: String { owner == nil ? "running" : "awaiting_approval" }
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
