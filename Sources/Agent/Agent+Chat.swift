import Contracts
import Foundation
import LLM
import RPC

/// `agent.chat` params.
public struct ChatParams: Codable, Sendable {
    public var message: String
    public var mode: AgentMode?
    public var sessionID: String?
    /// The signed-in person the gateway asks for (the gateway role only).
    public var onBehalfOf: String?

    enum CodingKeys: String, CodingKey {
        case message, mode
        case sessionID = "session_id"
        case onBehalfOf = "on_behalf_of"
    }
}

extension Agent {
    /// The person a chat acts for: the caller itself (an operator or a user), or, for
    /// the gateway, the signed-in person it names. Never a program, and never someone
    /// a caller names unless its role may speak for others.
    /// - Returns: the requester and the account the run acts on (their first).
    /// - Throws: PERMISSION_DENIED `ON_BEHALF_NOT_ALLOWED`, `REQUESTER_NOT_A_PERSON`;
    ///   INVALID_ARGUMENT for a missing `on_behalf_of`; FAILED_PRECONDITION `NO_ACCOUNT`.
    func requester(of params: ChatParams, caller: Identity) throws -> (name: String, account: String) {
        let name: String
        switch (caller.role, params.onBehalfOf) {
        case ("gateway", let person?): name = person
        case ("gateway", nil):
            throw RPCError.invalidParams(field: "on_behalf_of", "the gateway chats only on behalf of a signed-in person: name them", reason: "MISSING_FIELD")
        case (_, let person?) where person != caller.name:
            throw RPCError(.permissionDenied, reason: "ON_BEHALF_NOT_ALLOWED",
                "\(caller.name) (\(caller.role)) may chat only for itself; only the gateway speaks for a signed-in person")
        default: name = caller.name
        }
        guard let person = identities.identity(named: name), person.isPerson else {
            throw RPCError(.permissionDenied, reason: "REQUESTER_NOT_A_PERSON",
                "'\(name.prefix(64))' is not a person of this stack; the agent acts only for people (roles \(Identity.personRoles.sorted().joined(separator: ", ")))")
        }
        guard let account = person.accounts.first else {
            throw RPCError(.failedPrecondition, reason: "NO_ACCOUNT",
                "\(name) owns no account, so the agent has nothing to act on; list their accounts under identities[].accounts in compose/stack.json and run `hitl init`")
        }
        return (name, account)
    }

    /// Starts a run: saves it, runs the loop until the model answers or an action needs a human.
    /// - Parameters:
    ///   - params: the message, mode and session.
    ///   - caller: who called (the requester, or the gateway speaking for one).
    ///   - emit: where the run's events go.
    public func chat(_ params: ChatParams, caller: Identity, emit: @escaping AgentEmitter) async throws -> RunResult {
        let (requestedBy, account) = try requester(of: params, caller: caller)
        let message = params.message.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !message.isEmpty, message.utf8.count <= 16_000 else {
            throw RPCError.invalidParams(field: "message", "must be 1 to 16000 bytes of text")
        }
        if let session = params.sessionID, !Self.isSessionID(session) {
            throw RPCError.invalidParams(field: "session_id", "must be 1 to 128 characters of A-Z a-z 0-9 - _ . (not starting with .)")
        }
        var history: [ModelMessage] = [.system(Self.systemPrompt)]
        if let session = params.sessionID {
            let loaded = try await state.loadSession(LoadSessionParams(sessionID: session, limit: Self.sessionHistoryLimit))
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
        // The run's id is chosen here, so its first events go into the same write that creates it.
        let runID = Self.newRunID()
        let events = RunEvents(live: emit)
        // The person's words start the run's story: the approval page shows what led to each request.
        events.record(Self.event("run_started", runID, [
            "mode": .string(document.mode.rawValue), "requested_by": .string(requestedBy),
            "message": .string(String(message.prefix(Self.startedMessageLimit))),
        ]))
        if firstTurnFailure == nil, let plan = document.plan {
            events.record(Self.event("plan", runID, ["actions": try JSONValue(encoding: plan)]))
        }
        let recorded = events.pending
        let created = try await state.createRun(
            CreateRunParamsOf(runID: runID, sessionID: params.sessionID, data: DocumentReading(document), events: recorded))
        events.written(recorded.count, lastSeq: created.lastEventSeq)
        do {
            // A human who decides before this call saves the run paused is not missed: the
            // decision follower finds the run still running, waits for this save, then resumes.
            return try await advance(
                runID: created.runID, version: created.version, owner: nil, document: &document, events: events,
                failure: firstTurnFailure)
        } catch let error as RPCError where error.status == .unavailable || error.reason == "CONNECTION_LOST" {
            throw Self.interrupted(created.runID, by: error)
        }
    }

    /// A new run id: `run_` and 22 base64url characters of 128 random bits (state-svc's own form).
    static func newRunID() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return "run_" + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
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

    /// The model's first turn of a new run: a reply (text, or tool calls still to run)
    /// or, in structured mode, the validated plan.
    func firstTurn(_ document: inout RunDocument) async throws {
        switch document.mode {
        case .tools: _ = try await modelTurn(&document)
        case .structured: document.plan = try await requestPlan(document: &document)
        }
    }

    /// Runs the mode's loop from where the document stands, then saves the run
    /// (awaiting_approval, completed or failed) with the events that say so, and reports
    /// the result. A run left paused is released by that same save.
    /// - Parameter failure: an error the run already met (its first model turn), which fails it at once.
    func advance(
        runID: String, version: Int64, owner: String?, document: inout RunDocument, events: RunEvents, failure: (any Error)? = nil
    ) async throws -> RunResult {
        var run = RunHandle(runID: runID, version: version, owner: owner, events: events)
        let emit = events.recorder
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
            _ = try await save(run, phase: .failed, document: document)
            return RunResult(runID: runID, status: RunPhase.failed.shownStatus, reply: document.reply, pending: [])
        }
        if status == "completed" {
            emit(Self.event("run_completed", runID, ["reply": .string(document.reply ?? "")]))
        } else {
            try Self.recordPause(document.pending, reply: document.reply, runID: runID, emit: emit)
        }
        _ = try await save(run, phase: status == "completed" ? .completed : .waitingForPeople, document: document)
        if status == "completed", let session = document.sessionID, let reply = document.reply {
            let user = document.messages.last(where: { if case .user = $0 { true } else { false } })
            let appended: [ModelMessage] = [user, ModelMessage.assistant(text: reply, toolCalls: [])].compactMap { $0 }
            _ = try? await state.appendSession(AppendSessionParams(sessionID: session, messages: appended.map { try JSONValue(encoding: $0) }))
        }
        return RunResult(runID: runID, status: status, reply: document.reply, pending: document.pending.map(PendingView.init))
    }

    /// The events of a run that stops to wait for people: one `approval_required` per
    /// call that waits, then `run_paused` naming every approval it waits for (and the
    /// reply so far, if any). Together they say what `agent.get_run` would, so a watcher
    /// needs no read of its own when the run stops.
    static func recordPause(_ pending: [PendingCall], reply: String?, runID: String, emit: AgentEmitter) throws {
        for call in pending {
            var fields: [String: JSONValue] = [
                "approval_id": .string(call.approvalID), "call_id": .string(call.callID), "action": try JSONValue(encoding: call.action),
            ]
            if let hold = call.holdID { fields["hold_id"] = .string(hold) }
            emit(event("approval_required", runID, fields))
        }
        emit(pausedEvent(pending, reply: reply, runID: runID))
    }

    /// `run_paused`: the approvals the run waits for, and its reply so far.
    static func pausedEvent(_ pending: [PendingCall], reply: String?, runID: String) -> JSONValue {
        var fields: [String: JSONValue] = ["pending": .array(pending.map { .string($0.approvalID) })]
        if let reply { fields["reply"] = .string(reply) }
        return event("run_paused", runID, fields)
    }

    /// Saves the run with the events recorded since its last write; `release` ends the
    /// lease with the save (a run left paused). A chat's save waits a moment for a
    /// brief claim by someone else on its running run.
    /// - Returns: the new version.
    func save(_ run: RunHandle, phase: RunPhase, document: RunDocument) async throws -> Int64 {
        let recorded = run.events.pending
        var document = document
        document.phase = phase
        // A resume lets go of a run it leaves for people in the same write.
        let release = phase == .waitingForPeople && run.owner != nil
        let params = SaveRunParamsOf(
            runID: run.runID, expectedVersion: run.version, status: phase.storedStatus.rawValue, data: DocumentReading(document),
            owner: run.owner, events: recorded, release: release ? true : nil)
        let deadline = ContinuousClock.now + Self.unclaimedSaveWait
        while true {
            do {
                let saved = try await state.saveRun(params)
                run.events.written(recorded.count, lastSeq: saved.lastEventSeq)
                return saved.version
            } catch let error as RPCError where error.reason == StateReason.runClaimed && run.owner == nil && ContinuousClock.now < deadline {
                // A resume (the follower, or agent.resume) looked at this running run and
                // will let go of it at once: wait for that rather than fail the chat.
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// Writes the events recorded since the run's last write, without a new version:
    /// before a model call (seconds, with a real model), so whoever follows the run
    /// sees the calls that just ran.
    func flushEvents(_ run: RunHandle) async throws {
        let recorded = run.events.pending
        guard !recorded.isEmpty else { return }
        let appended = try await state.appendEvents(
            AppendEventsParams(runID: run.runID, expectedVersion: run.version, owner: run.owner, events: recorded))
        run.events.written(recorded.count, lastSeq: appended.lastEventSeq)
    }

    /// How much of the person's message `run_started` carries (the whole of it is in the
    /// run's document; the event is for people following the run).
    static let startedMessageLimit = 2_000

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
            _ = try? await approval.cancel(CancelParams(approvalID: call.approvalID, reason: String(reason.prefix(500))))
            do {
                try await voidHold(call.holdID, reason: "run ended without a decision")
            } catch {
                logger.warning("could not void a hold; it is released at its expiry", metadata: ["hold_id": "\(call.holdID ?? "")", "error": "\(error)"])
            }
        }
        return pending.count
    }

    /// Saves the run as it stands while it is still being worked on (see ``RunHandle``).
    func checkpoint(_ run: inout RunHandle, _ document: RunDocument) async throws {
        run.version = try await save(run, phase: run.workingPhase, document: document)
    }
}


/// Where a run's next save goes: the version it was read at, and the lease owner
/// (nil while `agent.chat` works on its own new run).
struct RunHandle: Sendable {
    let runID: String
    var version: Int64
    let owner: String?
    /// What happened since the run's last write, for its next one.
    let events: RunEvents

    /// What a checkpoint saves the run as while it is still being worked on: a chat's
    /// run is `chatting` (if its process dies, the sweeper ends it); a resume's is
    /// `continuing` under its claim (if it dies, the reconciler continues it from the
    /// checkpoint once the claim lapses).
    var workingPhase: RunPhase { owner == nil ? .chatting : .continuing }
}
