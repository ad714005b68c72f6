import Banking
import Foundation
import RPC

/// What the sweeper reads of `state.list_runs`.
struct RunPage: Decodable, Sendable {
    struct Summary: Decodable, Sendable {
        struct Lease: Decodable, Sendable {
            let expiresAt: String

            enum CodingKeys: String, CodingKey {
                case expiresAt = "expires_at"
            }
        }

        let runID: String
        let version: Int64
        let updatedAt: String
        let lease: Lease?

        enum CodingKeys: String, CodingKey {
            case runID = "run_id"
            case version, lease
            case updatedAt = "updated_at"
        }
    }

    let runs: [Summary]
    let nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case runs
        case nextCursor = "next_cursor"
    }
}

/// What the sweeper reads of an approval of an abandoned run.
struct RunApproval: Decodable, Sendable {
    let approvalID: String
    let callID: String
    let status: String
    let originalAction: Action
    let requiredApprovers: Int
    let expiresAt: String

    enum CodingKeys: String, CodingKey {
        case approvalID = "approval_id"
        case callID = "call_id"
        case status
        case originalAction = "original_action"
        case requiredApprovers = "required_approvers"
        case expiresAt = "expires_at"
    }
}

struct ApprovalPage: Decodable, Sendable {
    let approvals: [RunApproval]
}

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
            var params: [String: JSONValue] = ["status": "running", "limit": .int(100)]
            if let cursor { params["cursor"] = .string(cursor) }
            let page = try await state.request("state.list_runs", .object(params), as: RunPage.self, idempotent: true)
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
        let claimed: RunRecord
        do {
            claimed = try await state.request(
                "state.claim_run",
                ["run_id": .string(runID), "owner": .string(owner), "lease_ms": .int(leaseMs), "expected_version": .int(version)],
                as: RunRecord.self)
        } catch let error as RPCError where ["VERSION_CONFLICT", "RUN_CLAIMED", "TERMINAL_STATUS", "RUN_NOT_FOUND"].contains(error.reason) {
            return false
        }
        guard claimed.status == "running", var document = try? claimed.document() else {
            // Moved on, or not an agent's run (state-svc keeps other callers' runs): not ours to end.
            _ = try? await state.request("state.release_run", ["run_id": .string(runID), "owner": .string(owner)], as: JSONValue.self)
            return false
        }
        let approvals = try await approval.request(
            "approval.list", ["run_id": .string(runID), "limit": .int(500)], as: ApprovalPage.self, idempotent: true).approvals
        var cancelled = 0
        for record in approvals where record.requiredApprovers > 0 && record.status != "completed" {
            if record.status == "pending" {
                _ = try await approval.request(
                    "approval.cancel",
                    ["approval_id": .string(record.approvalID), "reason": .string("agent-svc stopped while handling this run")],
                    as: JSONValue.self, idempotent: true)
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
            RunHandle(runID: runID, version: claimed.version, owner: owner, events: events), status: "failed", document: document)
        logger.warning("ended an abandoned run", metadata: ["run_id": "\(runID)", "cancelled_approvals": "\(cancelled)"])
        return true
    }

    /// Voids the hold the chat placed for a transfer awaiting approval, if it did.
    /// The hold is found by replaying the chat's own idempotent `ledger.hold`
    /// (same key, same request): the ledger answers with the original hold, or
    /// places one that is voided at once. Either way the funds are free after.
    private func voidHold(of record: RunApproval, runID: String) async throws {
        let action = record.originalAction
        guard action.kind == .transfer, let from = action.from else { return }
        let hold: JSONValue = [
            "from": .string(from), "to": .string(action.to), "amount": .string(action.amount.description),
            "currency": .string(action.currency), "idempotency_key": .string("\(runID):\(record.callID)"),
            "expires_at": .string(record.expiresAt),
        ]
        let holdID: String
        do {
            holdID = try await ledger.request("ledger.hold", hold, as: HoldRecord.self, idempotent: true).holdID
        } catch let error as RPCError where Self.isFinal(error) {
            return  // no funds were held (e.g. insufficient, or the hold has expired)
        }
        do {
            _ = try await ledger.request(
                "ledger.void", ["hold_id": .string(holdID), "reason": .string("run abandoned")], as: JSONValue.self, idempotent: true)
        } catch let error as RPCError where ["HOLD_VOIDED", "HOLD_EXPIRED", "HOLD_ALREADY_POSTED"].contains(error.reason) {
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
