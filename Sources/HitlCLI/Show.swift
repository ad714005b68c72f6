import ArgumentParser
import Banking
import Foundation
import RPC

/// `hitl show <approval>`: one approval with its context, versions, votes and history.
struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show one approval: what it asks, what changed, who voted, its history and the conversation behind it.",
        discussion: """
            Reads approval-svc (the approval and its audit records) and state-svc (the run's
            events: what the person asked and what the model did).

            Examples:
              hitl show ap_123
              hitl show ap_123 --json            # {approval, audit, events}
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The approval's id (see `hitl approvals`).")
    var approvalID: String

    func run() async throws {
        let approvals = try global.client(for: "approval")
        let state = try global.client(for: "state")
        defer { Task { await approvals.close(); await state.close() } }
        let approval: JSONValue
        let audit: JSONValue
        do {
            let id: JSONValue = ["approval_id": .string(approvalID)]
            approval = try await approvals.call("approval.get", id, as: JSONValue.self, options: global.callOptions)
            audit = try await approvals.call("approval.audit", id, as: JSONValue.self, options: global.callOptions)
        } catch let error as RPCError {
            throw Output.report(error, json: global.json)
        }
        // The conversation is context: a run state-svc no longer holds (pruned) leaves it out.
        let events = (try? await RunEventsReader.all(approval["run_id"]?.stringValue ?? "", client: state, options: global.callOptions)) ?? []
        if global.json {
            Output.out(JSONValue.object(["approval": approval, "audit": audit["records"] ?? .array([]), "events": .array(events)]).jsonText())
            return
        }
        Output.out(Self.render(approval, audit: audit["records"]?.arrayValues ?? [], events: events))
    }

    static func render(_ approval: JSONValue, audit: [JSONValue], events: [JSONValue]) -> String {
        let text = { (key: String) in approval[key]?.stringValue ?? "-" }
        var lines = ["Approval \(text("approval_id")) · version \(approval["version"]?.intValue ?? 1) · \(text("status"))"]
        func fact(_ name: String, _ value: String) { lines.append("  " + name.padding(toLength: 14, withPad: " ", startingAt: 0) + value) }
        fact("action", ActionText.describe(approval["action"]))
        if let memo = approval["action"]?["memo"]?.stringValue { fact("purpose", memo) }
        fact("requested by", "\(text("requested_by")) (run \(text("run_id")))")
        let figures = Self.figures(approval["policy_figures"], currency: approval["action"]?["currency"]?.stringValue)
        fact("rule", text("policy_rule") + (figures.isEmpty ? "" : ": \(figures)"))
        let approvedBy = approval["approved_by"]?.arrayValues?.compactMap(\.stringValue) ?? []
        fact("votes", "\(approvedBy.count) of \(approval["required_approvers"]?.intValue ?? 0)" + (approvedBy.isEmpty ? "" : " (\(approvedBy.joined(separator: ", ")))"))
        fact(text("status") == "pending" ? "expires" : "was to expire", text("expires_at"))
        if let reason = approval["reason"]?.stringValue { fact("reason", reason) }
        if let outcome = approval["outcome"] { fact("outcome", [outcome["status"]?.stringValue, outcome["detail"]?.stringValue].compactMap { $0 }.joined(separator: ": ")) }
        let changes = Self.changes(from: approval["original_action"], to: approval["action"])
        if !changes.isEmpty {
            let editors = audit.filter { $0["step"]?.stringValue == "edited" }.compactMap { record in
                record["actor"]?.stringValue.map { "\($0) (version \(record["version"]?.intValue ?? 0))" }
            }
            lines.append("")
            lines.append("Changes since it was asked for" + (editors.isEmpty ? "" : ", by \(editors.joined(separator: ", "))") + ":")
            lines += changes.map { "  \($0)" }
        }
        lines.append("")
        lines.append("History:")
        let history = Table.render(
            header: ["WHEN", "WHO", "STEP", "VERSION", "DETAIL"],
            rows: audit.map { record in
                let detail = (try? JSONValue(parsing: record["detail"]?.stringValue ?? "{}")) ?? .object([:])
                let extra = [detail["decision"], detail["reason"], detail["channel"]].compactMap { $0?.stringValue }.filter { !$0.isEmpty }
                return [
                    record["at"]?.stringValue ?? "-", record["actor"]?.stringValue ?? "-", record["step"]?.stringValue ?? "-",
                    "\(record["version"]?.intValue ?? 0)", extra.joined(separator: " · "),
                ]
            })
        lines += history.split(separator: "\n").map { "  \($0)" }
        if !events.isEmpty {
            lines.append("")
            lines.append("Conversation (run \(text("run_id"))):")
            lines += RunTranscript.lines(events).map { "  \($0)" }
        }
        return lines.joined(separator: "\n")
    }

    /// The policy's figures in words: "$140.00 over $100.00; the edit changed the payee (alice → bob)".
    static func figures(_ figures: JSONValue?, currency: String?) -> String {
        let value = { (key: String) in figures?[key]?.stringValue }
        let money = { (text: String) in MoneyText.display(text, currency: currency) }
        var parts: [String] = []
        if let total = value("window_total"), let window = value("window"), let limit = value("limit") {
            parts.append("\(money(total)) in \(window), over \(money(limit))")
        } else if let count = value("window_count"), let window = value("window"), let limit = value("limit") {
            parts.append("\(count) in \(window), over \(limit)")
        } else if let amount = value("amount") {
            parts.append(value("limit").map { "\(money(amount)) over \(money($0))" } ?? money(amount))
        }
        if let reason = value("second_person") { parts.append(reason) }
        if let editor = value("edited_by") { parts.append("edited by \(editor)") }
        return parts.joined(separator: "; ")
    }

    /// `field: before → after` for each field an approver changed.
    static func changes(from original: JSONValue?, to current: JSONValue?) -> [String] {
        ["amount", "to", "from", "memo", "currency"].compactMap { field in
            let before = original?[field]?.stringValue ?? "-"
            let after = current?[field]?.stringValue ?? "-"
            guard before != after else { return nil }
            if field == "amount" {
                let currency = current?["currency"]?.stringValue
                return "amount: \(MoneyText.display(before, currency: currency)) → \(MoneyText.display(after, currency: currency))"
            }
            return "\(field): \(before) → \(after)"
        }
    }
}

/// `hitl runs`: the agent's runs, newest changes last.
struct Runs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List runs (the agent's conversations), a page at a time.",
        discussion: """
            Examples:
              hitl runs
              hitl runs --status awaiting_approval
              hitl runs --limit 20 --json
            """)

    @OptionGroup var global: GlobalOptions

    static let statuses = ["running", "awaiting_approval", "completed", "failed", "cancelled", "all"]

    @Option(help: "running, awaiting_approval, completed, failed, cancelled, or all.")
    var status = "all"

    @Option(help: ArgumentHelp("Where the previous page stopped (its last line says).", valueName: "cursor"))
    var cursor: String?

    @Option(help: "At most this many (1 to 500).")
    var limit = 50

    func validate() throws {
        guard (1...500).contains(limit) else { throw ValidationError("--limit must be between 1 and 500") }
        guard Self.statuses.contains(status) else { throw ValidationError("--status must be one of \(Self.statuses.joined(separator: ", "))") }
    }

    func run() async throws {
        var params: [String: JSONValue] = ["limit": .int(Int64(limit))]
        if status != "all" { params["status"] = .string(status) }
        if let cursor { params["cursor"] = .string(cursor) }
        let client = try global.client(for: "state")
        defer { Task { await client.close() } }
        let page: JSONValue
        do {
            page = try await client.call("state.list_runs", JSONValue.object(params), as: JSONValue.self, options: global.callOptions)
        } catch let error as RPCError {
            throw Output.report(error, json: global.json)
        }
        if global.json {
            Output.out(page.jsonText())
            return
        }
        let runs = page["runs"]?.arrayValues ?? []
        guard !runs.isEmpty else {
            Output.out(status == "all" ? "no runs yet" : "no \(status) runs")
            return
        }
        var text = Table.render(
            header: ["RUN", "STATUS", "VERSION", "UPDATED", "SESSION"],
            rows: runs.map { run in
                [
                    run["run_id"]?.stringValue ?? "?", run["status"]?.stringValue ?? "?", "\(run["version"]?.intValue ?? 0)",
                    run["updated_at"]?.stringValue ?? "-", run["session_id"]?.stringValue ?? "-",
                ]
            })
        if let next = page["next_cursor"]?.stringValue {
            let again = ["hitl runs", status == "all" ? nil : "--status \(status)", limit == 50 ? nil : "--limit \(limit)"].compactMap { $0 }
            text += "\nmore: \(again.joined(separator: " ")) --cursor \(next)"
        }
        Output.out(text)
    }
}

/// `hitl run <run>`: one run's transcript and where it stands.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Show one run: where it stands and its transcript, from its events.",
        discussion: """
            Examples:
              hitl run run_123
              hitl run run_123 --json            # {run, events}
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The run's id (see `hitl runs`).")
    var runID: String

    func run() async throws {
        let client = try global.client(for: "state")
        defer { Task { await client.close() } }
        let record: JSONValue
        let events: [JSONValue]
        do {
            record = try await client.call("state.load_run", ["run_id": .string(runID)] as JSONValue, as: JSONValue.self, options: global.callOptions)
            events = try await RunEventsReader.all(runID, client: client, options: global.callOptions)
        } catch let error as RPCError {
            throw Output.report(error, json: global.json)
        }
        if global.json {
            Output.out(JSONValue.object(["run": record, "events": .array(events)]).jsonText())
            return
        }
        var lines = [
            "Run \(runID) · \(record["status"]?.stringValue ?? "?") · version \(record["version"]?.intValue ?? 0)",
            "  started \(record["created_at"]?.stringValue ?? "-"), last saved \(record["updated_at"]?.stringValue ?? "-")",
        ]
        if let requester = record["data"]?["requested_by"]?.stringValue { lines.append("  for \(requester)") }
        lines.append("")
        lines += RunTranscript.lines(events).map { "  \($0)" }
        Output.out(lines.joined(separator: "\n"))
    }
}

/// Every event of a run, page by page (`state.read_events`).
enum RunEventsReader {
    /// At most this many pages (of state-svc's largest, 500 events): a run's events are
    /// bounded well below that by its turn and call limits.
    static let maximumPages = 20

    static func all(_ runID: String, client: RPCClient, options: CallOptions) async throws -> [JSONValue] {
        var events: [JSONValue] = []
        var after: Int64 = 0
        for _ in 0..<maximumPages {
            let page = try await client.call(
                "state.read_events", ["run_id": .string(runID), "after_seq": .int(after), "limit": 500] as JSONValue, as: JSONValue.self,
                options: options)
            let batch = page["events"]?.arrayValues ?? []
            events += batch
            after = batch.last?["seq"]?.intValue ?? after
            guard page["has_more"] == .bool(true), !batch.isEmpty else { break }
        }
        return events
    }
}

/// A run's events in words, one line each (the page's "How it came to be" in text).
enum RunTranscript {
    static func lines(_ events: [JSONValue]) -> [String] {
        let replies = Set(events.filter { $0["type"]?.stringValue == "run_completed" }.compactMap { $0["reply"]?.stringValue })
        return events.compactMap { event in
            let field = { (key: String) in event[key]?.stringValue ?? "" }
            switch field("type") {
            case "run_started":
                let words = field("message")
                return "\(field("requested_by").isEmpty ? "someone" : field("requested_by")) asked: \(words.isEmpty ? "(not recorded)" : "\"\(words)\"")"
            case "plan":
                let steps = event["actions"]?.arrayValues ?? []
                return "the model planned: " + steps.map { step in
                    [step["action_type"]?.stringValue, step["amount"]?.stringValue.map { MoneyText.display($0) }, step["to_account"]?.stringValue.map { "to \($0)" }]
                        .compactMap { $0 }.joined(separator: " ")
                }.joined(separator: ", ")
            case "tool_call": return "the model called \(field("name")) \(field("arguments"))"
            case "tool_result": return "result: \(field("output"))"
            case "approval_required": return "needs a person: \(ActionText.describe(event["action"])) (\(field("approval_id")))"
            case "approval_decided": return "\(field("approval_id")) \(field("status"))"
            case "message": return replies.contains(field("text")) ? nil : "the agent: \(field("text"))"
            case "run_completed": return "the agent replied: \(field("reply"))"
            case "error": return "failed: \(field("message"))"
            default: return nil
            }
        }
    }
}
