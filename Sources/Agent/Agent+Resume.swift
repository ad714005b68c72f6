import Contracts
import Foundation
import LLM
import RPC

extension Agent {
    /// Continues a paused run once its approvals are decided. Idempotent: the run is
    /// claimed (lease + version) so it resumes exactly once whichever process gets there first;
    /// a finished run just reports its result.
    public func resume(runID: String, emit: @escaping AgentEmitter) async throws -> RunResult {
        try await resume(runID: runID, onlyIfPaused: false, decided: [], emit: emit)
    }

    /// - Parameters:
    ///   - onlyIfPaused: claim the run only if it is `awaiting_approval` (the claim fails
    ///     FAILED_PRECONDITION/UNEXPECTED_STATUS otherwise): the decision follower's resume.
    ///   - decided: approvals already read (the decision event carries its approval), so
    ///     they are not fetched again.
    func resume(runID: String, onlyIfPaused: Bool, decided: [ApprovalView], emit: @escaping AgentEmitter) async throws -> RunResult {
        // One lease owner per resume, not per process: two resumes of the same run in
        // this process (the follower and an agent.resume call) must exclude each other too.
        let owner = "\(self.owner):\(UUID().uuidString.prefix(8))"
        guard let record = try await claim(runID, owner: owner, onlyIfPaused: onlyIfPaused) else { return try await getRun(runID: runID) }
        // Keep the lease while working (a model call may take long), so the lease itself
        // can be short: a resume killed mid-way blocks the next one for seconds, not minutes.
        let renewal = Task { [state, leaseMs] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(leaseMs / 3))
                guard !Task.isCancelled else { return }
                // renew_only: a renewal that reaches state-svc after this resume released
                // the run (a paused run, left for people) must not take it again.
                _ = try? await state.claimRun(
                    ClaimRunParams(runID: runID, owner: owner, leaseMs: leaseMs, renewOnly: true), as: JSONValue.self)
            }
        }
        defer { renewal.cancel() }
        do {
            let known = Dictionary(decided.map { ($0.approvalID, $0) }) { first, _ in first }
            return try await resume(runID: runID, claimed: record, owner: owner, known: known, emit: emit)
        } catch {
            // Whatever failed (a service away, a refusal), let the next attempt in now
            // rather than when the lease runs out.
            await release(runID, owner: owner)
            throw error
        }
    }

    private func resume(
        runID: String, claimed record: AgentRun, owner: String, known: [String: ApprovalView], emit live: @escaping AgentEmitter
    ) async throws -> RunResult {
        var document = try record.document()
        guard record.status == "awaiting_approval" else {
            await release(runID, owner: owner)
            return Self.result(runID: runID, status: record.status, document: document)
        }
        let events = RunEvents(live: live)
        let emit = events.recorder
        let run = RunHandle(runID: runID, version: record.version, owner: owner, events: events)
        var waiting: [PendingCall] = []
        var decided = false
        for call in document.pending {
            let decision: ApprovalView
            if let read = known[call.approvalID] {
                decision = read
            } else {
                decision = try await approval.get(call.approvalID)
            }
            guard decision.status.isDecided else {
                waiting.append(call)
                continue
            }
            let output = try await settle(call, decision: decision, runID: runID, document: &document)
            decided = true
            emit(Self.event("approval_decided", runID, ["approval_id": .string(call.approvalID), "status": .string(decision.status.rawValue)]))
            emit(Self.event("tool_result", runID, ["call_id": .string(call.callID), "output": .string(output)]))
            switch document.mode {
            case .tools: document.messages.append(.toolResult(callID: call.callID, output: output))
            case .structured:
                document.results.append(output)
                document.position += 1
            }
        }
        document.pending = waiting
        guard waiting.isEmpty else {
            // Still waiting for people on other calls: saved as paused again (with what was
            // settled), released by the same save.
            if decided {
                emit(Self.pausedEvent(waiting, reply: document.reply, runID: runID))
                _ = try await save(run, phase: .waitingForPeople, document: document)
            } else {
                await release(runID, owner: owner)
            }
            return Self.result(runID: runID, status: "awaiting_approval", document: document)
        }
        return try await advance(runID: runID, version: record.version, owner: owner, document: &document, events: events)
    }

    /// Claims the run; while another process holds it, waits (bounded) for it to finish.
    /// Nil when the run is already finished.
    private func claim(_ runID: String, owner: String, onlyIfPaused: Bool) async throws -> AgentRun? {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        let params = ClaimRunParams(
            runID: runID, owner: owner, leaseMs: leaseMs, expectedStatus: onlyIfPaused ? RunStatus.awaitingApproval.rawValue : nil)
        while true {
            do {
                return try await state.claimRun(params, as: DocumentReading<RunDocument>.self)
            } catch let error as RPCError where error.reason == StateReason.terminalStatus {
                return nil
            } catch let error as RPCError where error.reason == StateReason.runClaimed && clock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    /// Whether an error is the service's final word (retrying cannot change it).
    static func isFinal(_ error: RPCError) -> Bool {
        ![.unavailable, .deadlineExceeded, .cancelled, .aborted, .internal, .resourceExhausted].contains(error.status)
    }

    /// A run as it stands in state-svc.
    public func getRun(runID: String) async throws -> RunResult {
        let record = try await state.loadRun(runID, as: DocumentReading<RunDocument>.self)
        return Self.result(runID: runID, status: record.status, document: try record.document())
    }

    /// A run as callers see it: its phase's ``RunPhase/shownStatus``.
    static func result(runID: String, status: String, document: RunDocument) -> RunResult {
        RunResult(
            runID: runID, status: document.phase(stored: status).shownStatus, reply: document.reply,
            pending: document.pending.map(PendingView.init))
    }

    private func release(_ runID: String, owner: String) async {
        _ = try? await state.releaseRun(ReleaseRunParams(runID: runID, owner: owner))
    }
}
