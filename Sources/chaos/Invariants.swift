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
        var budgetWindows = 0
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
                    _ = try? await call("agent", "agent.resume", ["run_id": .string(id)], as: "operator")
                }
            }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    /// Lets everything settle (at most `bound`), then runs every check on the accounts the
    /// crash test uses, with the budgets of `policy`.
    func settleAndCheck(within bound: Duration, policy: String) async throws -> Report {
        try await settle(within: bound)
        return try await check(accounts: ["checking", ChaosStack.saver.account, "alice", "bob"], policy: policy)
    }

    /// Runs every check.
    /// - Parameters:
    ///   - accounts: the ledger accounts to check.
    ///   - policy: the policy file approval-svc decided with (its budgets are checked).
    func check(accounts: [String], policy: String) async throws -> Report {
        var report = Report()
        try await checkRuns(&report)
        let approvals = try await checkApprovals(&report)
        try await checkLedger(&report, approvals: approvals, accounts: accounts)
        try checkBudgets(&report, approvals: Array(approvals.values), policy: policy)
        return report
    }

    /// What the policy approved by itself never passed a budget: per account, kind and
    /// currency, no window of the budget's length holds more auto-approved actions, or
    /// more money in them, than the budget allows.
    private func checkBudgets(_ report: inout Report, approvals: [JSONValue], policy path: String) throws {
        guard let data = FileManager.default.contents(atPath: path),
              case .array(let budgets)? = try JSONValue(parsing: String(decoding: data, as: UTF8.self))["budgets"]
        else { return }
        let auto = approvals.filter {
            $0["required_approvers"]?.intValue == 0 && ["approved", "completed"].contains($0["status"]?.stringValue ?? "")
        }
        for budget in budgets {
            guard let name = budget["name"]?.stringValue, let kind = budget["kind"]?.stringValue,
                  let window = budget["window"]?.stringValue.flatMap(Self.milliseconds) else { continue }
            let maximumTotal = budget["max_total"]?.stringValue.flatMap { try? Amount(parsing: $0) }?.minorUnits
            let maximumCount = budget["max_count"]?.intValue
            var byAccount: [String: [(at: Int64, minor: Int64)]] = [:]
            for approval in auto where approval["action"]?["kind"]?.stringValue == kind {
                let action = approval["action"]
                let account = (action?["from"]?.stringValue ?? action?["to"]?.stringValue ?? "?") + " " + (action?["currency"]?.stringValue ?? "")
                guard let at = approval["created_at"]?.stringValue.flatMap(Self.epochMilliseconds),
                      let amount = action?["amount"]?.stringValue.flatMap({ try? Amount(parsing: $0) }) else { continue }
                byAccount[account, default: []].append((at, amount.minorUnits))
            }
            for (account, actions) in byAccount {
                let sorted = actions.sorted { $0.at < $1.at }
                var first = 0
                var total: Int64 = 0
                for (index, action) in sorted.enumerated() {
                    total += action.minor
                    while sorted[first].at <= action.at - window {
                        total -= sorted[first].minor
                        first += 1
                    }
                    let count = index - first + 1
                    report.budgetWindows += 1
                    if let maximumTotal, total > maximumTotal {
                        report.violations.append("\(name): \(account) had \(Amount(minorUnits: total)?.description ?? "\(total)") auto-approved within \(budget["window"]?.stringValue ?? "?"), over its \(Amount(minorUnits: maximumTotal)?.description ?? "?")")
                    }
                    if let maximumCount, Int64(count) > maximumCount {
                        report.violations.append("\(name): \(account) had \(count) auto-approved actions within \(budget["window"]?.stringValue ?? "?"), over its \(maximumCount)")
                    }
                }
            }
        }
    }

    /// A window as the policy writes it (`24h`, `30m`, `7d`, `90s`), in milliseconds.
    static func milliseconds(_ text: String) -> Int64? {
        guard let unit = text.last, let number = Int64(text.dropLast()), number > 0 else { return nil }
        let seconds: Int64? = switch unit {
        case "s": 1
        case "m": 60
        case "h": 3_600
        case "d": 86_400
        default: nil
        }
        return seconds.map { number * $0 * 1000 }
    }

    /// An RFC 3339 time (with or without fractional seconds) as milliseconds since 1970.
    static func epochMilliseconds(_ text: String) -> Int64? {
        let date = (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
        return date.map { Int64(($0.timeIntervalSince1970 * 1000).rounded()) }
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
