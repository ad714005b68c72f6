import Banking
import Foundation
import RPC

/// The promises checked after the storm: nothing lost, nothing moved twice,
/// nothing moved without a human where one was needed, the books balanced.
struct Invariants: Sendable {
    let stack: ChaosStack

    /// What the checks found.
    struct Report: Sendable {
        var violations: [String] = []
        var runs: [String: Int] = [:]
        var approvals: [String: Int] = [:]
        var events = 0
        var movements = 0
    }

    private func call(_ service: String, _ method: String, _ params: JSONValue, as identity: String = "operator") async throws -> JSONValue {
        let client = try stack.client(service, as: identity)
        defer { Task { await client.close() } }
        return try await client.call(method, params, as: JSONValue.self, options: .init(timeout: .seconds(30), idempotent: true, retryWindow: .seconds(30)))
    }

    /// Every page of a paginated list.
    private func all(_ service: String, _ method: String, _ params: [String: JSONValue], key: String) async throws -> [JSONValue] {
        var items: [JSONValue] = []
        var cursor: String?
        repeat {
            var page = params
            page["limit"] = 500
            if let cursor { page["cursor"] = .string(cursor) }
            let answer = try await call(service, method, .object(page))
            if case .array(let found)? = answer[key] { items += found }
            cursor = answer["next_cursor"]?.stringValue
        } while cursor != nil
        return items
    }

    /// Waits until nothing is in flight: no approval pending (they expire), no
    /// run running (the sweeper ends abandoned ones), and every paused run
    /// resumed (agent.resume, idempotent) once its approvals are decided.
    func settle(within bound: Duration) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + bound
        while clock.now < deadline {
            let pending = try await all("approval", "approval.list", ["status": "pending"], key: "approvals")
            let running = try await all("state", "state.list_runs", ["status": "running"], key: "runs")
            let paused = try await all("state", "state.list_runs", ["status": "awaiting_approval"], key: "runs")
            if pending.isEmpty && running.isEmpty && paused.isEmpty { return }
            if pending.isEmpty {
                for run in paused {
                    guard let id = run["run_id"]?.stringValue else { continue }
                    _ = try? await call("agent", "agent.resume", ["run_id": .string(id)], as: "agent")
                }
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Runs every check.
    func check(accounts: [String]) async throws -> Report {
        var report = Report()
        try await checkRuns(&report)
        let approvals = try await checkApprovals(&report)
        try await checkLedger(&report, approvals: approvals, accounts: accounts)
        return report
    }

    /// Every run is completed, or failed with a reason.
    private func checkRuns(_ report: inout Report) async throws {
        for run in try await all("state", "state.list_runs", [:], key: "runs") {
            let id = run["run_id"]?.stringValue ?? "?"
            let status = run["status"]?.stringValue ?? "?"
            report.runs[status, default: 0] += 1
            switch status {
            case "completed":
                continue
            case "failed":
                let loaded = try await call("state", "state.load_run", ["run_id": .string(id)])
                if (loaded["data"]?["reply"]?.stringValue ?? "").isEmpty {
                    report.violations.append("run \(id) failed without saying why")
                }
            default:
                report.violations.append("run \(id) is still \(status) after settling (neither finished nor resumable)")
            }
        }
    }

    /// No approval lost: the event feed has no gap, nothing is left pending,
    /// the audit chain is intact.
    private func checkApprovals(_ report: inout Report) async throws -> [String: JSONValue] {
        var expected: Int64 = 1
        var after: Int64 = 0
        var submitted = Set<String>()
        while true {
            let page = try await call("approval", "approval.events", ["after_seq": .int(after), "limit": 1000])
            guard case .array(let events)? = page["events"] else { break }
            for event in events {
                let seq = event["seq"]?.intValue ?? -1
                if seq != expected { report.violations.append("approval event feed: expected seq \(expected), found \(seq)") }
                expected = seq + 1
                if event["type"]?.stringValue == "submitted", let id = event["approval_id"]?.stringValue { submitted.insert(id) }
            }
            report.events += events.count
            after = page["last_seq"]?.intValue ?? after
            if page["has_more"] != .bool(true) { break }
        }
        var byKey: [String: JSONValue] = [:]
        for approval in try await all("approval", "approval.list", [:], key: "approvals") {
            let id = approval["approval_id"]?.stringValue ?? "?"
            let status = approval["status"]?.stringValue ?? "?"
            report.approvals[status, default: 0] += 1
            if status == "pending" { report.violations.append("approval \(id) is still pending after settling") }
            // Approved by people but never executed: a human's decision was lost. (The policy's
            // own approvals may be left unexecuted by a chat that died; its run says so.)
            if status == "approved", (approval["required_approvers"]?.intValue ?? 0) > 0 {
                report.violations.append("approval \(id) was approved by \(approval["approved_by"]?.jsonText() ?? "?") but never executed")
            }
            if !submitted.contains(id) { report.violations.append("approval \(id) has no submitted event in the feed") }
            byKey["\(approval["run_id"]?.stringValue ?? "?"):\(approval["call_id"]?.stringValue ?? "?")"] = approval
        }
        let audit = try await call("approval", "approval.verify_audit", [:])
        if audit["ok"] != .bool(true) { report.violations.append("approval.verify_audit: \(audit.jsonText())") }
        return byKey
    }

    /// Every movement of money is tied to exactly one approval that allowed it,
    /// for the amount and payee it allowed; nothing is held at the end; the
    /// books balance.
    private func checkLedger(_ report: inout Report, approvals: [String: JSONValue], accounts: [String]) async throws {
        var seenKeys: [String: Int64] = [:]
        for account in accounts {
            for line in try await all("ledger", "ledger.statement", ["account": .string(account)], key: "entries") {
                let kind = line["kind"]?.stringValue ?? "?"
                guard kind != "opening", let amount = line["amount"]?.stringValue, let parsed = try? Amount(parsing: amount.hasPrefix("-") ? String(amount.dropFirst()) : amount)
                else { continue }
                // Look at each entry once, from the paying side (the customer account that lost money),
                // or from the receiving side for deposits.
                let paying = amount.hasPrefix("-")
                guard paying || kind == "deposit" else { continue }
                report.movements += 1
                let entry = line["entry_id"]?.intValue ?? -1
                guard let key = line["idempotency_key"]?.stringValue else {
                    report.violations.append("entry \(entry) (\(kind) \(amount)) names no idempotency key")
                    continue
                }
                if let earlier = seenKeys[key], earlier != entry {
                    report.violations.append("key \(key) moved money twice: entries \(earlier) and \(entry)")
                }
                seenKeys[key] = entry
                guard let approval = approvals[key] else {
                    report.violations.append("entry \(entry) (\(kind) \(amount), key \(key)) has no approval")
                    continue
                }
                let status = approval["status"]?.stringValue ?? "?"
                if !["approved", "completed"].contains(status) {
                    report.violations.append("entry \(entry) moved \(amount) for approval \(approval["approval_id"]?.stringValue ?? "?"), which is \(status)")
                }
                let allowed = approval["action"]?["amount"]?.stringValue.flatMap { try? Amount(parsing: $0) }
                if allowed != parsed {
                    report.violations.append("entry \(entry) moved \(parsed) but approval \(approval["approval_id"]?.stringValue ?? "?") allowed \(allowed.map(\.description) ?? "?")")
                }
                let payee = approval["action"]?["to"]?.stringValue
                let counterparty = line["counterparty"]?.stringValue
                if paying && payee != counterparty {
                    report.violations.append("entry \(entry) paid \(counterparty ?? "?") but approval allowed \(payee ?? "?")")
                }
            }
            let balance = try await call("ledger", "ledger.balance", ["account": .string(account)])
            if balance["held"]?.stringValue != "0.00" {
                report.violations.append("\(account) still has \(balance["held"]?.stringValue ?? "?") held after every run ended")
            }
        }
        let verify = try await call("ledger", "ledger.verify", [:])
        if verify["balanced"] != .bool(true) { report.violations.append("ledger.verify: \(verify.jsonText())") }
    }
}
