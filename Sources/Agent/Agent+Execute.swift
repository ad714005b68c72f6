import Banking
import RPC

extension Agent {
    /// Submits a mutation to approval-svc (which alone decides) and executes it at once
    /// when approved; a pending transfer places a hold and waits.
    func submit(_ action: Action, callID: String, runID: String, document: inout RunDocument, emit: AgentEmitter) async throws -> CallOutcome {
        let params: JSONValue = [
            "run_id": .string(runID), "call_id": .string(callID), "action": try JSONValue(encoding: action),
            "requested_by": .string(document.requestedBy),
        ]
        let record = try await approval.request("approval.submit", params, as: ApprovalRecord.self, idempotent: true)
        switch record.status {
        case "approved":
            guard let grant = record.grant else { return .done("ERROR: approved without a grant; nothing was done") }
            do {
                let output = try await execute(action, grant: grant, holdID: nil, key: "\(runID):\(callID)")
                document.executed.append(record.approvalID)
                await complete([record.approvalID])
                return .done(output)
            } catch let error as RPCError where Self.isFinal(error) {
                // Approved, but the ledger refused (e.g. insufficient funds): nothing moved; the model is told.
                await complete([record.approvalID], outcome: "failed", detail: error.message)
                return .done("FAILED: \(error.message)")
            }
        case "pending":
            var pending = PendingCall(callID: callID, approvalID: record.approvalID, action: action, holdID: nil)
            if action.kind == .transfer, let from = action.from {
                let hold: JSONValue = [
                    "from": .string(from), "to": .string(action.to), "amount": .string(action.amount.description),
                    "currency": .string(action.currency), "idempotency_key": .string("\(runID):\(callID)"),
                    "expires_at": .string(record.expiresAt),
                ]
                do {
                    pending.holdID = try await ledger.request("ledger.hold", hold, as: HoldRecord.self, idempotent: true).holdID
                } catch let error as RPCError where Self.isFinal(error) {
                    _ = try? await approval.request(
                        "approval.cancel", ["approval_id": .string(record.approvalID), "reason": .string("hold refused: \(error.message)")],
                        as: JSONValue.self)
                    return .done("ERROR: \(error.message)")
                }
            }
            return .pending(pending)
        default:
            return .done(Self.refusalText(status: record.status, reason: record.reason))
        }
    }

    /// Executes an approved action with its grant; a held transfer is posted.
    func execute(_ action: Action, grant: JSONValue, holdID: String?, key: String) async throws -> String {
        switch (action.kind, holdID) {
        case (.transfer, let holdID?):
            _ = try await ledger.request("ledger.post", ["hold_id": .string(holdID), "grant": grant], as: JSONValue.self, idempotent: true)
        case (.transfer, nil):
            let params: JSONValue = [
                "from": .string(action.from ?? account), "to": .string(action.to), "amount": .string(action.amount.description),
                "currency": .string(action.currency), "idempotency_key": .string(key), "grant": grant,
            ]
            _ = try await ledger.request("ledger.transfer", params, as: JSONValue.self, idempotent: true)
        case (.deposit, _):
            let params: JSONValue = [
                "account": .string(action.to), "amount": .string(action.amount.description), "currency": .string(action.currency),
                "idempotency_key": .string(key), "grant": grant,
            ]
            _ = try await ledger.request("ledger.deposit", params, as: JSONValue.self, idempotent: true)
        }
        return Self.doneText(action)
    }

    static func doneText(_ action: Action) -> String {
        switch action.kind {
        case .transfer: "Transferred $\(action.amount) to \(action.to)."
        case .deposit: "Deposited $\(action.amount) into \(action.to)."
        }
    }

    static func refusalText(status: String, reason: String?) -> String {
        switch status {
        case "expired": "EXPIRED: no decision in time"
        case "cancelled": "CANCELLED: \(reason ?? "the approval was cancelled")"
        default: "DENIED: \(reason ?? "rejected")"
        }
    }

    /// Reports executed approvals' outcomes, right after the movement (best effort: the
    /// money has already moved; a resume that runs the movement again, as a ledger
    /// replay, reports it again, and approval.complete takes the same report once).
    func complete(_ approvalIDs: [String], outcome: String = "succeeded", detail: String? = nil) async {
        var report: [String: JSONValue] = ["status": .string(outcome)]
        if let detail { report["detail"] = .string(String(detail.prefix(1000))) }
        for id in approvalIDs {
            do {
                _ = try await approval.request(
                    "approval.complete", ["approval_id": .string(id), "outcome": .object(report)], as: JSONValue.self, idempotent: true)
            } catch {
                logger.warning("approval.complete failed", metadata: ["approval_id": "\(id)", "error": "\(error)"])
            }
        }
    }
}
