import ArgumentParser
import Banking
import Foundation
import RPC

/// `hitl approvals`: what waits for a human.
struct Approvals: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List approvals (pending by default), filtered, a page at a time.",
        discussion: """
            Oldest first unless --order says otherwise. When more match than --limit, the
            last line says how to see the next page.

            Examples:
              hitl approvals                      # what waits for a decision
              hitl approvals --order expiry       # soonest to expire first
              hitl approvals --status all --search bob --min 100 --max 5000
              hitl approvals --status rejected --requested-by approver1
              hitl approvals --status approved --json
              hitl approvals --run run_123
            """)

    @OptionGroup var global: GlobalOptions

    /// What `--status` takes: approval-svc's statuses, and `all`.
    static let statuses = ["pending", "approved", "rejected", "expired", "cancelled", "completed", "failed", "all"]
    /// What `--order` takes (approval.list's order).
    static let orders = ["oldest", "newest", "expiry"]

    @Option(help: "pending, approved, rejected, expired, cancelled, completed, failed, or all.")
    var status = "pending"

    @Option(help: ArgumentHelp("Only approvals of this run.", valueName: "run_id"))
    var run: String?

    @Option(help: "transfer or deposit.")
    var kind: String?

    @Option(help: ArgumentHelp("Amounts from this (inclusive), e.g. 100 or 150.50.", valueName: "amount"))
    var min: String?

    @Option(help: ArgumentHelp("Amounts up to this (inclusive).", valueName: "amount"))
    var max: String?

    @Option(help: ArgumentHelp("Only approvals requested for this person.", valueName: "name"))
    var requestedBy: String?

    @Option(help: ArgumentHelp("Only approvals paying from (or depositing into) this account.", valueName: "account"))
    var account: String?

    @Option(help: ArgumentHelp("Text in the id, run, requester, payee or memo.", valueName: "text"))
    var search: String?

    @Option(help: "oldest (submission order), newest, or expiry (soonest to expire first).")
    var order = "oldest"

    @Option(help: ArgumentHelp("Where the previous page stopped (its last line says).", valueName: "cursor"))
    var cursor: String?

    @Option(help: "At most this many (1 to 500).")
    var limit = 50

    func validate() throws {
        guard (1...500).contains(limit) else { throw ValidationError("--limit must be between 1 and 500") }
        guard Self.statuses.contains(status) else {
            throw ValidationError("--status must be one of \(Self.statuses.joined(separator: ", "))")
        }
        guard Self.orders.contains(order) else { throw ValidationError("--order must be one of \(Self.orders.joined(separator: ", "))") }
        if let kind, !["transfer", "deposit"].contains(kind) { throw ValidationError("--kind must be transfer or deposit") }
        for (name, value) in [("--min", min), ("--max", max)] {
            if let value, (try? Amount(parsing: value)) == nil {
                throw ValidationError("\(name) must be an amount like 100 or 150.50 (no sign or separators), not '\(value.prefix(40))'")
            }
        }
    }

    /// approval.list's params, from the options.
    var params: [String: JSONValue] {
        var params: [String: JSONValue] = ["limit": .int(Int64(limit)), "order": .string(order)]
        if status != "all" { params["status"] = .string(status) }
        let optional: [(String, String?)] = [
            ("run_id", run), ("kind", kind), ("min_amount", min), ("max_amount", max), ("requested_by", requestedBy),
            ("account", account), ("q", search), ("cursor", cursor),
        ]
        for case let (name, value?) in optional { params[name] = .string(value) }
        return params
    }

    func run() async throws {
        let client = try global.client(for: "approval")
        defer { Task { await client.close() } }
        let listed: JSONValue
        do {
            listed = try await client.call("approval.list", JSONValue.object(params), as: JSONValue.self, options: global.callOptions)
        } catch let error as RPCError {
            throw Output.report(error, json: global.json)
        }
        guard !global.json else {
            Output.out(listed.jsonText())
            return
        }
        let approvals = listed["approvals"]?.arrayValues ?? []
        let next = listed["next_cursor"]?.stringValue
        Output.out(Self.render(approvals, status: status, filtered: [run, kind, min, max, requestedBy, account, search].contains { $0 != nil }, next: next, again: again))
    }

    /// The command that shows the next page: these options and `--cursor`.
    var again: String {
        var words = ["hitl approvals"]
        if status != "pending" { words.append("--status \(status)") }
        let optional: [(String, String?)] = [
            ("--run", run), ("--kind", kind), ("--min", min), ("--max", max), ("--requested-by", requestedBy), ("--account", account),
            ("--search", search.map(Self.quoted)),
        ]
        for case let (name, value?) in optional { words.append("\(name) \(value)") }
        if order != "oldest" { words.append("--order \(order)") }
        if limit != 50 { words.append("--limit \(limit)") }
        return words.joined(separator: " ")
    }

    static func quoted(_ text: String) -> String {
        text.allSatisfy { $0.isLetter || $0.isNumber || "_-.@".contains($0) } ? text : "'\(text.replacingOccurrences(of: "'", with: "'\\''"))'"
    }

    /// The table, or what it means that there is none; and the next page's command.
    static func render(_ approvals: [JSONValue], status: String, filtered: Bool, next: String?, again: String) -> String {
        guard !approvals.isEmpty else {
            if filtered { return "no approvals match" }
            return status == "pending" ? "nothing waits for a decision" : "no \(status) approvals"
        }
        var text = Table.render(
            header: ["APPROVAL", "VERSION", "STATUS", "ACTION", "APPROVERS", "REQUESTED BY", "RULE", "EXPIRES"],
            rows: approvals.map { approval in
                let votes = approval["approved_by"]?.arrayValues?.count ?? 0
                return [
                    approval["approval_id"]?.stringValue ?? "?", "\(approval["version"]?.intValue ?? 1)",
                    approval["status"]?.stringValue ?? "?", ActionText.describe(approval["action"]),
                    "\(votes)/\(approval["required_approvers"]?.intValue ?? 0)", approval["requested_by"]?.stringValue ?? "-",
                    approval["policy_rule"]?.stringValue ?? "-", approval["expires_at"]?.stringValue ?? "-",
                ]
            })
        if let next {
            text += "\nmore match: \(again) --cursor \(next)"
        }
        return text
    }
}

/// `hitl approve ID`
struct Approve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Approve a pending action as an approver.",
        discussion: """
            Presents an approver's token: --as, else the first approver of the run directory.
            A vote names the version it approves: --version, as `hitl approvals` shows it;
            without it, an approval that was never edited is approved at version 1, and one
            that was edited is refused until you name the version you reviewed (so an edit
            made by someone else is never approved unseen). When enough distinct approvers
            agree, approval-svc issues the signed grant the ledger will accept; the agent
            resumes the run by itself.

            Examples:
              hitl approve ap_123
              hitl approve ap_123 --version 2
              hitl --as approver2 approve ap_123 --reason "checked with the customer"
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The approval's id (see `hitl approvals`).")
    var approvalID: String

    @Option(help: "The version you reviewed (see `hitl approvals`).")
    var version: Int64?

    @Option(help: "Why, for the audit log.")
    var reason: String?

    func validate() throws {
        if let version, version < 1 { throw ValidationError("--version must be 1 or more") }
    }

    func run() async throws {
        try await Decision.record("approve", approvalID, version: version, reason: reason, global: global)
    }
}

/// `hitl reject ID --reason ...`
struct Reject: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reject a pending action as an approver; the model is told why.",
        discussion: """
            Examples:
              hitl reject ap_123 --reason "payee not recognised"
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The approval's id (see `hitl approvals`).")
    var approvalID: String

    @Option(help: "Why: the model is told \"DENIED: <reason>\".")
    var reason: String

    @Option(help: "The version you reviewed (default: the current one; rejecting is always safe).")
    var version: Int64?

    func validate() throws {
        if let version, version < 1 { throw ValidationError("--version must be 1 or more") }
    }

    func run() async throws {
        try await Decision.record("reject", approvalID, version: version, reason: reason, global: global)
    }
}

/// Records a decision with approval.decide.
enum Decision {
    static func record(_ decision: String, _ approvalID: String, version: Int64?, reason: String?, global: GlobalOptions) async throws {
        let identity = try global.chosenIdentity ?? firstApprover(in: global.provisionedHome())
        let client = try global.client(for: "approval", as: identity)
        defer { Task { await client.close() } }
        let decided: JSONValue
        do {
            let current = try await client.call(
                "approval.get", ["approval_id": .string(approvalID)] as JSONValue, as: JSONValue.self, options: global.callOptions)
            let chosen = try chooseVersion(decision, given: version, current: current, approvalID: approvalID)
            var params: [String: JSONValue] = [
                "approval_id": .string(approvalID), "decision": .string(decision), "version": .int(chosen),
            ]
            if let reason { params["reason"] = .string(reason) }
            decided = try await client.call("approval.decide", JSONValue.object(params), as: JSONValue.self, options: global.callOptions)
        } catch let error as RPCError {
            throw Output.report(error, json: global.json)
        }
        if global.json {
            Output.out(decided.jsonText())
            return
        }
        let status = decided["status"]?.stringValue ?? "?"
        var line = "\(approvalID): \(status) (\(ActionText.describe(decided["action"]))) by \(identity)"
        if status == "pending" {
            let approvers = (try? IdentityRegistry.load(from: global.directory))?.identities.filter { $0.role == "approver" }.map(\.name) ?? []
            line += "; " + ApprovalText.stillNeeded(decided, approvers: approvers)
        }
        if ["approved", "completed"].contains(status) { line += "; the agent carries it out" }
        Output.out(line)
    }

    /// The version a vote names: the one given (approval-svc refuses it when stale); for a
    /// rejection, the current one (rejecting is always safe); for an approval without
    /// --version, version 1 of an approval nobody edited, and a refusal for an edited one.
    /// - Throws: FAILED_PRECONDITION `VERSION_REQUIRED` naming the version to review.
    static func chooseVersion(_ decision: String, given: Int64?, current: JSONValue, approvalID: String) throws -> Int64 {
        if let given { return given }
        let version = current["version"]?.intValue ?? 1
        guard decision == "approve", version > 1 else { return version }
        throw RPCError(
            .failedPrecondition, reason: "VERSION_REQUIRED",
            "approval \(approvalID) was edited since it was submitted (now version \(version): \(ActionText.describe(current["action"])); "
                + "submitted as \(ActionText.describe(current["original_action"]))). Review it, then approve with --version \(version)",
            details: ["version": .int(version)])
    }

    /// The first identity with role `approver` in the run directory.
    static func firstApprover(in directory: RunDirectory) throws -> String {
        let registry = try IdentityRegistry.load(from: directory)
        guard let approver = registry.identities.filter({ $0.role == "approver" }).map(\.name).sorted().first else {
            throw ValidationError("no approver identity in \(directory.identities.path); pass --as <identity>")
        }
        return approver
    }
}

/// What an approval still needs, in words.
enum ApprovalText {
    /// " (1 of 2 approvals so far)" for a question put to `voter`; empty when one vote decides.
    static func needs(_ approval: JSONValue, voting voter: String) -> String {
        let required = approval["required_approvers"]?.intValue ?? 1
        guard required > 1 else { return "" }
        let votes = approval["approved_by"]?.arrayValues?.count ?? 0
        return " (needs \(required) approvers; \(votes) so far; you vote as \(voter))"
    }

    /// "1 of 2 approvals; approver2 or approver3 must also decide" (approvers who have
    /// not voted, and not the requester where the requester's vote does not count).
    static func stillNeeded(_ approval: JSONValue, approvers: [String]) -> String {
        let required = approval["required_approvers"]?.intValue ?? 1
        let voted = Set(approval["approved_by"]?.arrayValues?.compactMap(\.stringValue) ?? [])
        let requester = approval["requested_by"]?.stringValue ?? ""
        let requesterCounts = approval["requester_may_approve"] == .bool(true)
        let others = approvers.filter { !voted.contains($0) && ($0 != requester || requesterCounts) }.sorted()
        let who = others.isEmpty ? "another approver" : others.joined(separator: " or ")
        let missing = max(1, Int(required) - voted.count)
        return "\(voted.count) of \(required) approvals; \(who) must also decide\(missing > 1 ? " (\(missing) more)" : "")"
    }
}

/// "transfer $150.00 checking → alice"
enum ActionText {
    static func describe(_ action: JSONValue?) -> String {
        guard let action else { return "-" }
        let kind = action["kind"]?.stringValue ?? "?"
        let amount = MoneyText.display(action["amount"]?.stringValue ?? "?", currency: action["currency"]?.stringValue)
        let to = action["to"]?.stringValue ?? "?"
        let purpose = action["memo"]?.stringValue.map { " for \"\($0)\"" } ?? ""
        if let from = action["from"]?.stringValue { return "\(kind) \(amount) \(from) → \(to)\(purpose)" }
        return "\(kind) \(amount) → \(to)\(purpose)"
    }
}
