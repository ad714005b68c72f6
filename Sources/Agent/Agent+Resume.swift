import Banking
import Foundation
import LLM
import RPC

extension Agent {
    /// Continues a paused run once its approvals are decided. Idempotent: the run is
    /// claimed (lease + version) so it resumes exactly once whichever process gets there first;
    /// a finished run just reports its result.
    public func resume(runID: String, emit: AgentEmitter) async throws -> RunResult {
        // One lease owner per resume, not per process: two resumes of the same run in
        // this process (the follower and an agent.resume call) must exclude each other too.
        let owner = "\(self.owner):\(UUID().uuidString.prefix(8))"
        guard let record = try await claim(runID, owner: owner) else { return try await getRun(runID: runID) }
        // Keep the lease while working (a model call may take long), so the lease itself
        // can be short: a resume killed mid-way blocks the next one for seconds, not minutes.
        let renewal = Task { [state, leaseMs] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(leaseMs / 3))
                guard !Task.isCancelled else { return }
                _ = try? await state.request(
                    "state.claim_run", ["run_id": .string(runID), "owner": .string(owner), "lease_ms": .int(leaseMs)], as: JSONValue.self,
                    idempotent: true)
            }
        }
        defer { renewal.cancel() }
        do {
            return try await resume(runID: runID, claimed: record, owner: owner, emit: emit)
        } catch {
            // Whatever failed (a service away, a refusal), let the next attempt in now
            // rather than when the lease runs out.
            await release(runID, owner: owner)
            throw error
        }
    }

    private func resume(runID: String, claimed record: RunRecord, owner: String, emit: AgentEmitter) async throws -> RunResult {
        var document = try record.document()
        guard record.status == "awaiting_approval" else {
            await release(runID, owner: owner)
            return Self.result(runID: runID, status: record.status, document: document)
        }
        var waiting: [PendingCall] = []
        var decided = false
        for call in document.pending {
            let decision = try await approval.request("approval.get", ["approval_id": .string(call.approvalID)], as: ApprovalRecord.self, idempotent: true)
            let output: String
            switch decision.status {
            case "pending":
                waiting.append(call)
                continue
            case "approved", "completed":
                guard let grant = decision.grant else { throw RPCError.internalError("approval \(call.approvalID) is approved without a grant") }
                do {
                    output = try await executeApproved(call, as: decision.action ?? call.action, grant: grant, key: "\(runID):\(call.callID)")
                    document.executed.append(call.approvalID)
                    await complete([call.approvalID])
                } catch let error as RPCError where Self.isFinal(error) {
                    // Approved but refused by the ledger (e.g. the hold expired): nothing moved; say
                    // so, and free what the hold still reserves.
                    output = "FAILED: \(error.message)"
                    await voidHold(call.holdID, reason: "approved action refused: \(error.reason)")
                    await complete([call.approvalID], outcome: "failed", detail: error.message)
                }
            default:
                // The hold may have run out with the approval (they share their expiry), or been
                // voided by an earlier attempt: either way its funds are free after this.
                await voidHold(call.holdID, reason: "approval \(decision.status)")
                output = Self.refusalText(status: decision.status, reason: decision.reason)
            }
            decided = true
            emit(Self.event("approval_decided", runID, ["approval_id": .string(call.approvalID), "status": .string(decision.status)]))
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
            if decided { _ = try await save(runID: runID, version: record.version, owner: owner, status: "awaiting_approval", document: document) }
            await release(runID, owner: owner)
            return Self.result(runID: runID, status: "awaiting_approval", document: document)
        }
        let result = try await advance(runID: runID, version: record.version, owner: owner, document: &document, emit: emit)
        if result.status == "awaiting_approval" { await release(runID, owner: owner) }
        return result
    }

    /// Executes what the approval approved. As submitted: the hold is posted. Edited by
    /// the approver (another amount or payee: a new version, whose grant binds the
    /// edit): the hold for the submitted action is voided and the edited action runs as
    /// its own movement, under the same idempotency key. What was approved is exactly
    /// what runs; the model is told when it differs from what it asked for.
    private func executeApproved(_ call: PendingCall, as approved: Action, grant: JSONValue, key: String) async throws -> String {
        guard approved != call.action else {
            return try await executeRenewing(approved, approvalID: call.approvalID, grant: grant, holdID: call.holdID, key: key)
        }
        await voidHold(call.holdID, reason: "the approver edited the action")
        let done = try await executeRenewing(approved, approvalID: call.approvalID, grant: grant, holdID: nil, key: key)
        return done + " (The approver changed the request: \(Self.describe(call.action)) was asked for.)"
    }

    /// Executes an approved action; when its grant ran out before it could be used
    /// (this agent was down for longer than a grant lives), asks approval-svc for a
    /// fresh one and executes with that. The ledger's replay check comes before its
    /// grant check, so GRANT_EXPIRED means the action did not run under this key (and
    /// the ledger executes an approval once, whichever of its grants is presented).
    private func executeRenewing(_ action: Action, approvalID: String, grant: JSONValue, holdID: String?, key: String) async throws -> String {
        do {
            return try await execute(action, grant: grant, holdID: holdID, key: key)
        } catch let error as RPCError where error.reason == "GRANT_EXPIRED" {
            let renewed = try await approval.request(
                "approval.renew_grant", ["approval_id": .string(approvalID)], as: ApprovalRecord.self, idempotent: true)
            guard let fresh = renewed.grant else { throw error }
            logger.notice("grant renewed for a late resume", metadata: ["approval_id": "\(approvalID)"])
            return try await execute(action, grant: fresh, holdID: holdID, key: key)
        }
    }

    /// An action in words, for the model.
    static func describe(_ action: Action) -> String {
        switch action.kind {
        case .transfer: "a transfer of $\(action.amount) to \(action.to)"
        case .deposit: "a deposit of $\(action.amount)"
        }
    }

    /// Claims the run; while another process holds it, waits (bounded) for it to finish.
    /// Nil when the run is already finished.
    private func claim(_ runID: String, owner: String) async throws -> RunRecord? {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while true {
            do {
                return try await state.request(
                    "state.claim_run", ["run_id": .string(runID), "owner": .string(owner), "lease_ms": .int(leaseMs)], as: RunRecord.self, idempotent: true)
            } catch let error as RPCError where error.reason == "TERMINAL_STATUS" {
                return nil
            } catch let error as RPCError where error.reason == "RUN_CLAIMED" && clock.now < deadline {
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
        let record = try await state.request("state.load_run", ["run_id": .string(runID)], as: RunRecord.self, idempotent: true)
        return Self.result(runID: runID, status: record.status, document: try record.document())
    }

    static func result(runID: String, status: String, document: RunDocument) -> RunResult {
        RunResult(runID: runID, status: status, reply: document.reply, pending: document.pending.map(PendingView.init))
    }

    private func release(_ runID: String, owner: String) async {
        _ = try? await state.request("state.release_run", ["run_id": .string(runID), "owner": .string(owner)], as: JSONValue.self)
    }
}
