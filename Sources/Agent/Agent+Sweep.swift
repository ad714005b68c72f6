import Banking
import Contracts
import Foundation
import RPC

extension Agent {
    /// Finds runs left `running` by an agent process that died in the middle of
    /// `agent.chat` (no save for `staleAfter`, no live lease) and ends each with
    /// ``abandon(_:)``.
    /// - Parameters:
    ///   - staleAfter: how long a running run may go without a save.
    ///   - now: the current time.
    ///   - limit: at most this many runs are looked at per sweep.
    /// - Returns: the runs ended.
    public func sweepAbandonedRuns(staleAfter: Duration, now: Date = Date(), limit: Int = 500) async throws -> [String] {
        let cutoff = now.addingTimeInterval(-Double(staleAfter.components.seconds))
        var ended: [String] = []
        var cursor: String?
        var seen = 0
        repeat {
            let page = try await state.listRuns(ListRunsParams(status: RunStatus.running.rawValue, cursor: cursor, limit: 100))
            for run in page.runs {
                guard let updated = Timestamps.parse(run.updatedAt), updated < cutoff else { continue }
                if let lease = run.lease.flatMap({ Timestamps.parse($0.expiresAt) }), lease > now { continue }
                // One run that cannot be ended now must not keep the others running: it is tried again next sweep.
                do {
                    if try await abandon(run.runID, version: run.version) { ended.append(run.runID) }
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    logger.warning("sweeper could not end a run; it is tried again later", metadata: ["run_id": "\(run.runID)", "error": "\(error)"])
                }
            }
            seen += page.runs.count
            cursor = page.nextCursor
        } while cursor != nil && seen < limit
        return ended
    }

    /// Ends a run whose chat died: its pending approvals are cancelled and their
    /// holds voided (funds back at once rather than at expiry), and the run is
    /// saved `failed` with a reply that says what happened. Actions the chat had
    /// already carried out stand; nothing is retried, so nothing can run twice.
    /// - Parameters:
    ///   - runID: the run.
    ///   - version: the version the sweeper saw; a chat that saved since wins.
    /// - Returns: false when the run moved on or someone else holds it.
    func abandon(_ runID: String, version: Int64) async throws -> Bool {
        let owner = "\(self.owner):sweep"
        let claimed: AgentRun
        do {
            claimed = try await state.claimRun(
                ClaimRunParams(runID: runID, owner: owner, leaseMs: leaseMs, expectedVersion: version), as: DocumentReading<RunDocument>.self)
        } catch let error as RPCError
            where [StateReason.versionConflict, StateReason.runClaimed, StateReason.terminalStatus, StateReason.runNotFound].contains(error.reason)
        {
            return false
        }
        guard claimed.status == "running", var document = try? claimed.document() else {
            // Moved on, or not an agent's run (state-svc keeps other callers' runs): not ours to end.
            _ = try? await state.releaseRun(ReleaseRunParams(runID: runID, owner: owner))
            return false
        }
        let approvals = try await approval.list(ListParams(runID: runID, limit: 500)).approvals
        var cancelled = 0
        for record in approvals where record.requiredApprovers > 0 && record.status != .completed {
            if record.status == .pending {
                _ = try await approval.cancel(CancelParams(approvalID: record.approvalID, reason: "agent-svc stopped while handling this run"))
                cancelled += 1
            }
            try await voidHold(of: record, runID: runID)
        }
        document.reply = "This request was stopped: agent-svc went away while handling it and the run made no progress after. "
            + (cancelled > 0 ? "\(cancelled) action(s) waiting for approval were cancelled and their held funds released. " : "")
            + "Anything already done stands (see the account's statement); ask again to continue."
        let events = RunEvents(live: { _ in })
        events.record(Self.event("error", runID, ["reason": "RUN_ABANDONED", "message": .string(document.reply ?? "")]))
        _ = try await save(
            RunHandle(runID: runID, version: claimed.version, owner: owner, events: events), phase: .failed, document: document)
        logger.warning("ended an abandoned run", metadata: ["run_id": "\(runID)", "cancelled_approvals": "\(cancelled)"])
        return true
    }

    /// Voids the hold the chat placed for a transfer awaiting approval, if it did.
    /// The hold is found by replaying the chat's own idempotent `ledger.hold`
    /// (same key, same request): the ledger answers with the original hold, or
    /// places one that is voided at once. Either way the funds are free after.
    private func voidHold(of record: ApprovalView, runID: String) async throws {
        let action = record.originalAction
        guard action.kind == .transfer, let from = action.from else { return }
        let holdID: String
        do {
            holdID = try await ledger.hold(
                Self.holdParams(action, from: from, key: "\(runID):\(record.callID)", expiresAt: record.expiresAt)).holdID
        } catch let error as RPCError where Self.isFinal(error) {
            return  // no funds were held (e.g. insufficient, or the hold has expired)
        }
        do {
            _ = try await ledger.void(VoidParams(holdID: holdID, reason: "run abandoned"))
        } catch let error as RPCError where LedgerReason.holdOver.contains(error.reason) {
            return
        }
    }
}

/// RFC 3339 timestamps as state-svc and approval-svc write them.
enum Timestamps {
    static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
