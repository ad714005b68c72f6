import Banking
import Contracts
import RPC

extension Agent {
    /// Submits a mutation to approval-svc (which alone decides) and executes it at once
    /// when approved; a pending transfer places a hold and waits.
    ///
    /// Submitting is idempotent on (run, call): a call replayed after a crash (a saved
    /// turn whose calls did not all run) gets its approval as it stands now, perhaps
    /// decided by people since, perhaps already executed. Then it is settled exactly as
    /// a resume settles it, with the hold the first attempt placed.
    func submit(_ action: Action, callID: String, runID: String, document: inout RunDocument, emit: AgentEmitter) async throws -> CallOutcome {
        let record = try await approval.submit(
            SubmitParams(runID: runID, callID: callID, action: action, requestedBy: document.requestedBy, expiresIn: nil))
        var call = PendingCall(callID: callID, approvalID: record.approvalID, action: action, holdID: nil)
        guard record.status == .pending else {
            // Decided: at once by the policy (no hold), or by people since a first attempt placed one.
            if record.requiredApprovers > 0 { call.holdID = try await existingHold(for: action, key: "\(runID):\(callID)", expiresAt: record.expiresAt) }
            return .done(try await settle(call, decision: record, runID: runID, document: &document))
        }
        guard action.kind == .transfer else { return .pending(call) }
        do {
            call.holdID = try await placeHold(for: action, key: "\(runID):\(callID)", expiresAt: record.expiresAt)
        } catch let error as RPCError where Self.isFinal(error) {
            _ = try? await approval.cancel(CancelParams(approvalID: record.approvalID, reason: "hold refused: \(error.message)"))
            return .done("ERROR: \(error.message)")
        } catch {
            // Whether the hold was placed is unknown: keep the call's approval tracked (a run that
            // fails releases it; a replay places the hold again under the same key).
            document.pending.append(call)
            throw error
        }
        return .pending(call)
    }

    /// Settles a call whose approval is decided. Approved (or completed: a replay) → the
    /// approved version's action runs (``executeApproved(_:as:grant:key:)``) and
    /// approval.complete reports it; refused by the ledger → `FAILED`, and the hold is
    /// freed; rejected, expired or cancelled → the hold is freed and the model told.
    /// - Returns: the tool result for the model.
    func settle(_ call: PendingCall, decision: ApprovalView, runID: String, document: inout RunDocument) async throws -> String {
        guard [.approved, .completed].contains(decision.status) else {
            try await voidHold(call.holdID, reason: "approval \(decision.status.rawValue)")
            return Self.refusalText(status: decision.status, reason: decision.reason)
        }
        guard let grant = decision.grant else { throw RPCError.internalError("approval \(call.approvalID) is approved without a grant") }
        do {
            let output = try await executeApproved(call, as: decision.action, grant: grant, key: "\(runID):\(call.callID)")
            document.executed.append(call.approvalID)
            await complete([call.approvalID])
            return output
        } catch let error as RPCError where Self.isFinal(error) {
            // Approved but refused by the ledger (e.g. the hold expired): nothing moved; say so.
            try await voidHold(call.holdID, reason: "approved action refused: \(error.reason)")
            await complete([call.approvalID], outcome: "failed", detail: error.message)
            return "FAILED: \(error.message)"
        }
    }

    /// Executes what the approval approved. As submitted: the hold is posted. Edited by
    /// the approver (another amount or payee: a new version, whose grant binds the
    /// edit): the hold for the submitted action is voided and the edited action runs as
    /// its own movement, under the same idempotency key. What was approved is exactly
    /// what runs; the model is told when it differs from what it asked for.
    func executeApproved(_ call: PendingCall, as approved: Action, grant: Grant, key: String) async throws -> String {
        guard approved != call.action else {
            return try await executeRenewing(approved, approvalID: call.approvalID, grant: grant, holdID: call.holdID, key: key)
        }
        // The held funds must be free before the edit can use them; if the ledger is away,
        // the run stays paused and this is tried again.
        try await voidHold(call.holdID, reason: "the approver edited the action")
        let done = try await executeRenewing(approved, approvalID: call.approvalID, grant: grant, holdID: nil, key: key)
        return done + " (The approver changed the request: \(Self.describe(call.action)) was asked for.)"
    }

    /// Executes an approved action; when its grant ran out before it could be used
    /// (this agent was down for longer than a grant lives), asks approval-svc for a
    /// fresh one and executes with that. The ledger's replay check comes before its
    /// grant check, so GRANT_EXPIRED means the action did not run under this key (and
    /// the ledger executes an approval once, whichever of its grants is presented).
    private func executeRenewing(_ action: Action, approvalID: String, grant: Grant, holdID: String?, key: String) async throws -> String {
        do {
            return try await execute(action, grant: grant, holdID: holdID, key: key)
        } catch let error as RPCError where error.reason == LedgerReason.grantExpired {
            guard let fresh = try await approval.renewGrant(approvalID).grant else { throw error }
            logger.notice("grant renewed for a late resume", metadata: ["approval_id": "\(approvalID)"])
            return try await execute(action, grant: fresh, holdID: holdID, key: key)
        }
    }

    /// Places the hold for a transfer waiting for approval (idempotent on its key).
    private func placeHold(for action: Action, key: String, expiresAt: String) async throws -> String? {
        guard action.kind == .transfer, let from = action.from else { return nil }
        return try await ledger.hold(Self.holdParams(action, from: from, key: key, expiresAt: expiresAt)).holdID
    }

    /// The hold a first attempt placed for this call, found by replaying its request
    /// (the ledger answers a known key with the original hold). None when the ledger
    /// refuses the replay for good (the hold's time is over, so it holds nothing).
    private func existingHold(for action: Action, key: String, expiresAt: String) async throws -> String? {
        do {
            return try await placeHold(for: action, key: key, expiresAt: expiresAt)
        } catch let error as RPCError where Self.isFinal(error) {
            return nil
        }
    }

    /// Voids a hold; one already voided, expired or posted needs nothing more.
    /// - Throws: when the ledger cannot be reached: the caller's run stays where it is.
    func voidHold(_ holdID: String?, reason: String) async throws {
        guard let holdID else { return }
        do {
            _ = try await ledger.void(VoidParams(holdID: holdID, reason: reason))
        } catch let error as RPCError where LedgerReason.holdOver.contains(error.reason) {
            return
        }
    }

    /// `ledger.hold` params for a transfer waiting for approval: the same request (and
    /// key) each time, so a replay finds the hold a first attempt placed.
    static func holdParams(_ action: Action, from: String, key: String, expiresAt: String) -> HoldParams {
        HoldParams(
            from: from, to: action.to, amount: action.amount.description, currency: action.currency, memo: action.memo,
            idempotencyKey: key, expiresAt: expiresAt)
    }

    /// An action in words, for the model.
    static func describe(_ action: Action) -> String {
        switch action.kind {
        case .transfer: "a transfer of \(action.displayAmount) to \(action.to)"
        case .deposit: "a deposit of \(action.displayAmount)"
        }
    }

    /// Executes an approved action with its grant; a held transfer is posted.
    func execute(_ action: Action, grant: Grant, holdID: String?, key: String) async throws -> String {
        switch (action.kind, holdID) {
        case (.transfer, let holdID?):
            _ = try await ledger.post(PostParams(holdID: holdID, grant: grant))
        case (.transfer, nil):
            _ = try await ledger.transfer(TransferParams(
                from: action.from ?? "", to: action.to, amount: action.amount.description, currency: action.currency,
                memo: action.memo, idempotencyKey: key, grant: grant))
        case (.deposit, _):
            _ = try await ledger.deposit(DepositParams(
                account: action.to, amount: action.amount.description, currency: action.currency, memo: action.memo,
                idempotencyKey: key, grant: grant))
        }
        return Self.doneText(action)
    }

    static func doneText(_ action: Action) -> String {
        switch action.kind {
        case .transfer: "Transferred \(action.displayAmount) to \(action.to)."
        case .deposit: "Deposited \(action.displayAmount) into \(action.to)."
        }
    }

    static func refusalText(status: ApprovalStatus, reason: String?) -> String {
        switch status {
        case .expired: "EXPIRED: no decision in time"
        case .cancelled: "CANCELLED: \(reason ?? "the approval was cancelled")"
        default: "DENIED: \(reason ?? "rejected")"
        }
    }

    /// Reports executed approvals' outcomes, right after the movement (best effort: the
    /// money has already moved; a resume that runs the movement again, as a ledger
    /// replay, reports it again, and approval.complete takes the same report once).
    func complete(_ approvalIDs: [String], outcome: String = "succeeded", detail: String? = nil) async {
        let report = Outcome(status: outcome, detail: detail.map { String($0.prefix(1000)) })
        for id in approvalIDs {
            do {
                _ = try await approval.complete(CompleteParams(approvalID: id, outcome: report))
            } catch {
                logger.warning("approval.complete failed", metadata: ["approval_id": "\(id)", "error": "\(error)"])
            }
        }
    }
}
