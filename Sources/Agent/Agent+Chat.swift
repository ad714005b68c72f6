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
        let created = try await state.request(
            "state.create_run", typed: CreateRunRequest(data: document, sessionID: params.sessionID), as: CreatedRun.self)
        emit(Self.event("run_started", created.runID, ["mode": .string(document.mode.rawValue)]))
        do {
            let result = try await advance(runID: created.runID, version: created.version, owner: nil, document: &document, emit: emit)
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

    /// Runs the mode's loop from where the document stands, then saves the run
    /// (awaiting_approval, completed or failed) and reports the result.
    func advance(runID: String, version: Int64, owner: String?, document: inout RunDocument, emit: AgentEmitter) async throws -> RunResult {
        let status: String
        do {
            switch document.mode {
            case .tools: try await toolsLoop(runID: runID, document: &document, emit: emit)
            case .structured: try await structuredLoop(runID: runID, document: &document, emit: emit)
            }
            status = document.pending.isEmpty ? "completed" : "awaiting_approval"
        } catch {
            let rpc = (error as? any RPCErrorConvertible)?.rpcError ?? RPCError.internalError()
            logger.error("run failed", metadata: ["run_id": "\(runID)", "error": "\(error)"])
            emit(Self.event("error", runID, ["reason": .string(rpc.reason), "message": .string(rpc.message)]))
            document.reply = "The request could not be completed: \(rpc.message)"
            _ = try await save(runID: runID, version: version, owner: owner, status: "failed", document: document)
            await complete(document.executed)
            return RunResult(runID: runID, status: "failed", reply: document.reply, pending: [])
        }
        _ = try await save(runID: runID, version: version, owner: owner, status: status, document: document)
        if status == "completed" {
            await complete(document.executed)
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

    /// Tools mode: model turns until it answers in text or a call waits for a human.
    func toolsLoop(runID: String, document: inout RunDocument, emit: AgentEmitter) async throws {
        for _ in 0..<maxTurns {
            guard document.pending.isEmpty else { return }
            let reply = try await llm.complete(ModelRequest(messages: document.messages, tools: Self.tools))
            document.messages.append(reply.message)
            if reply.toolCalls.isEmpty {
                document.reply = reply.text ?? ""
                emit(Self.event("message", runID, ["text": .string(document.reply ?? "")]))
                return
            }
            for call in reply.toolCalls {
                switch try await handle(call, runID: runID, document: &document, emit: emit) {
                case .done(let output): document.messages.append(.toolResult(callID: call.id, output: output))
                case .pending(let pending): document.pending.append(pending)
                }
            }
        }
        throw RPCError(.resourceExhausted, reason: "TOO_MANY_TURNS", "the model did not answer within \(maxTurns) turns")
    }
}
