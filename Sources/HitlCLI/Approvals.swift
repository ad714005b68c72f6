import ArgumentParser
import Foundation
import RPC

/// `hitl approvals`: what waits for a human.
struct Approvals: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List approvals (pending by default), newest last.",
        discussion: """
            Examples:
              hitl approvals                      # what waits for a decision
              hitl approvals --status approved --json
              hitl approvals --run run_123
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "pending, approved, rejected, expired, cancelled, completed, or all.")
    var status = "pending"

    @Option(help: ArgumentHelp("Only approvals of this run.", valueName: "run_id"))
    var run: String?

    @Option(help: "At most this many (1 to 500).")
    var limit = 100

    func validate() throws {
        guard (1...500).contains(limit) else { throw ValidationError("--limit must be between 1 and 500") }
    }

    func run() async throws {
        var params: [String: JSONValue] = ["limit": .int(Int64(limit))]
        if status != "all" { params["status"] = .string(status) }
        if let run { params["run_id"] = .string(run) }
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
        guard case .array(let approvals)? = listed["approvals"], !approvals.isEmpty else {
            Output.out(status == "pending" ? "nothing waits for a decision" : "no \(status) approvals")
            return
        }
        Output.out(Table.render(
            header: ["APPROVAL", "STATUS", "ACTION", "APPROVERS", "RUN", "EXPIRES"],
            rows: approvals.map { approval in
                let votes = approval["approved_by"].map { value -> Int in
                    if case .array(let names) = value { return names.count }
                    return 0
                } ?? 0
                return [
                    approval["approval_id"]?.stringValue ?? "?", approval["status"]?.stringValue ?? "?",
                    ActionText.describe(approval["action"]),
                    "\(votes)/\(approval["required_approvers"]?.intValue ?? 0)",
                    approval["run_id"]?.stringValue ?? "-", approval["expires_at"]?.stringValue ?? "-",
                ]
            }))
    }
}

/// `hitl approve ID`
struct Approve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Approve a pending action as an approver.",
        discussion: """
            Presents an approver's token: --as, else the first approver of the run directory.
            When enough distinct approvers agree, approval-svc issues the signed grant the
            ledger will accept; the agent resumes the run.

            Examples:
              hitl approve ap_123
              hitl --as approver2 approve ap_123 --reason "checked with the customer"
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The approval's id (see `hitl approvals`).")
    var approvalID: String

    @Option(help: "Why, for the audit log.")
    var reason: String?

    func run() async throws {
        try await Decision.record("approve", approvalID, reason: reason, global: global)
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

    func run() async throws {
        try await Decision.record("reject", approvalID, reason: reason, global: global)
    }
}

/// Records a decision with approval.decide.
enum Decision {
    static func record(_ decision: String, _ approvalID: String, reason: String?, global: GlobalOptions) async throws {
        let identity = try global.chosenIdentity ?? firstApprover(in: global.directory)
        let client = try RPCClient(service: "approval", directory: global.directory, identity: identity)
        defer { Task { await client.close() } }
        var params: [String: JSONValue] = ["approval_id": .string(approvalID), "decision": .string(decision)]
        if let reason { params["reason"] = .string(reason) }
        let decided: JSONValue
        do {
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
        if status == "pending" { line += "; more approvers are needed" }
        if decided["grant"] != nil { line += "; grant issued" }
        Output.out(line)
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

/// "transfer 150.00 USD checking → alice"
enum ActionText {
    static func describe(_ action: JSONValue?) -> String {
        guard let action else { return "-" }
        let kind = action["kind"]?.stringValue ?? "?"
        let amount = "\(action["amount"]?.stringValue ?? "?") \(action["currency"]?.stringValue ?? "")"
        let to = action["to"]?.stringValue ?? "?"
        if let from = action["from"]?.stringValue { return "\(kind) \(amount) \(from) → \(to)" }
        return "\(kind) \(amount) → \(to)"
    }
}
