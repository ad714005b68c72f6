import ArgumentParser
import Contracts
import Foundation
import RPC
import Synchronization

/// `hitl chat [MESSAGE]`: talk to the agent, see each step as it happens, and
/// answer "Approve? (y/n)" when an action waits for a human, as in the seed's CLI.
struct Chat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Talk to the banking agent; approve or reject what it wants to do.",
        discussion: """
            Sends MESSAGE to agent-svc (agent.chat) and prints the run's events as they \
            arrive: tool calls and their results, the model's answer. When an action waits \
            for a human, it asks "Approve? (y/n)" (answers are read from standard input) and \
            records the decision as an approver (--approver, else the first approver of the \
            run directory) with approval.decide, naming the version it showed; anything but \
            y/yes or n/no is asked again. agent-svc then resumes the run, and this follows its \
            events (agent.watch_run). It votes as that one approver only: an action that \
            needs more people says who else must decide, and the run waits for them (decide \
            with `hitl approve`, the web page or a link; the agent resumes by itself). The run \
            acts for the --as identity (operator by default), who must own an account. \
            Without MESSAGE, reads one message per line until end of input, in one session, \
            so the agent remembers the conversation.

            --decide approve|reject answers every question without asking (for scripts and \
            demos); --no-wait leaves the decision to someone else (`hitl approve`, the web \
            page, a notification link): the agent resumes by itself once it is made.

            Each call may take up to --timeout seconds (a real model with several tool turns \
            may need more than the default).

            Examples:
              hitl chat "Check my balance and transfer $50 to Alice"
              hitl chat --decide approve "Transfer $500 to Bob for rent"
              hitl chat --mode structured --no-wait "Transfer $150 to Alice"
              hitl chat                       # one message per line; Ctrl-D ends
            """)

    enum Answer: String, ExpressibleByArgument, CaseIterable {
        case ask, approve, reject
    }

    @OptionGroup var global: GlobalOptions

    @Argument(help: "What to ask the agent (omitted: read one message per line from standard input).")
    var message: String?

    @Option(help: "tools (the model calls tools) or structured (one JSON plan, then a router).")
    var mode: String?

    @Option(help: ArgumentHelp("Continue this conversation (state-svc session id).", valueName: "id"))
    var session: String?

    @Option(help: "How to answer approval questions: ask (read y/n from standard input), approve or reject.")
    var decide: Answer = .ask

    @Option(help: ArgumentHelp("The approver who decides (default: the first approver of the run directory).", valueName: "identity"))
    var approver: String?

    @Option(help: "The reason recorded with a rejection (the model is told \"DENIED: <reason>\").")
    var reason = "rejected from hitl chat"

    @Flag(help: "Do not decide: print how to, and return once the run waits for a human.")
    var noWait = false

    func validate() throws {
        if let mode, !["tools", "structured"].contains(mode) { throw ValidationError("--mode must be tools or structured") }
        if let message, message.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw ValidationError("the message is empty; say what the agent should do, e.g. \"Check my balance\"")
        }
    }

    func run() async throws {
        if let approver, !noWait { _ = try global.home(with: approver) }  // before the run starts, not when it waits
        let session = ChatSession(
            global: global, mode: mode, decide: noWait ? nil : decide, approver: approver, reason: reason,
            input: LineReader())
        do {
            if let message {
                let status = try await session.send(message, sessionID: self.session)
                if status == "failed" { throw HitlExit.rpcError.exitCode }
                return
            }
            let sessionID = self.session ?? "sess_\(UUID().uuidString.prefix(12).lowercased())"
            if !global.json { Output.err("session \(sessionID): one message per line; end with Ctrl-D") }
            while let line = session.input.next(prompt: global.json ? nil : "you> ") {
                let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if text.isEmpty { continue }
                _ = try await session.send(text, sessionID: sessionID)
            }
        } catch let error as RPCError {
            throw Output.report(error, json: global.json)
        }
    }
}

/// Reads lines from standard input, with an optional prompt on stderr.
final class LineReader: Sendable {
    func next(prompt: String?) -> String? {
        if let prompt {
            FileHandle.standardError.write(Data(prompt.utf8))
        }
        return readLine(strippingNewline: true)
    }
}

/// One conversation with the agent: chat, decide, resume, print.
struct ChatSession {
    let global: GlobalOptions
    let mode: String?
    /// nil: never decide (--no-wait).
    let decide: Chat.Answer?
    let approver: String?
    let reason: String
    let input: LineReader

    /// What came of putting a run's pending approvals to the approver.
    enum Decisions {
        /// Nothing was asked or answered (end of input): the run is left waiting.
        case unanswered
        /// Votes were cast, but every approval still needs someone else.
        case needsOthers
        /// These approvals are decided: the agent goes on with them.
        case decided([String])
    }

    /// Sends one message, then decides and watches until the run completes, fails,
    /// or is left waiting (--no-wait, no answer on standard input, or another
    /// approver must also decide). agent-svc resumes the run once a decision is
    /// made; this only follows its events.
    /// - Returns: the run's last status.
    func send(_ message: String, sessionID: String?) async throws -> String {
        var params: [String: JSONValue] = ["message": .string(message)]
        if let mode { params["mode"] = .string(mode) }
        if let sessionID { params["session_id"] = .string(sessionID) }
        var (run, seen) = try await streaming("agent.chat", .object(params), seen: 0)
        while run.status == "awaiting_approval" {
            guard let decide else {
                waitingHint(run)
                return run.status
            }
            switch try await decideAll(run, answer: decide) {
            case .unanswered, .needsOthers:
                waitingHint(run)
                return run.status
            case .decided(let approvals):
                let watch: JSONValue = [
                    "run_id": .string(run.runID), "after_seq": .int(seen), "wait_for": .array(approvals.map(JSONValue.string)),
                ]
                (run, seen) = try await streaming("agent.watch_run", watch, seen: seen)
            }
        }
        finish(run)
        return run.status
    }

    /// Calls a streaming agent method, printing each event as it arrives.
    /// - Returns: the run, and the newest event seq seen.
    private func streaming(_ method: String, _ params: JSONValue, seen: Int64) async throws -> (RunResult, Int64) {
        let client = try global.client(for: "agent")
        defer { Task { await client.close() } }
        let json = global.json
        let newest = SeqTracker(seen)
        let run = try await client.stream(method, params, event: JSONValue.self, as: RunResult.self, options: global.callOptions) { event in
            newest.saw(event["seq"]?.intValue)
            if json {
                Output.out(event.jsonText())
            } else if let line = ChatText.describe(event) {
                Output.out(line)
            }
        }
        return (run, newest.value)
    }

    /// Puts every pending approval of the run to the one approver this session votes
    /// as (`--approver`, else the first approver of the run directory), never to anyone
    /// else: an approval that needs more people says who else must decide.
    private func decideAll(_ run: RunResult, answer: Chat.Answer) async throws -> Decisions {
        let identity = try approver ?? Decision.firstApprover(in: global.directory)
        var decided: [String] = []
        var needsOthers = false
        for pending in run.pending {
            let record = try await approvalRecord(pending.approvalID)
            guard record["status"]?.stringValue == "pending" else {
                decided.append(pending.approvalID)  // decided elsewhere meanwhile: the agent goes on
                continue
            }
            let voters = Set(record["approved_by"]?.arrayValues?.compactMap(\.stringValue) ?? [])
            guard !voters.contains(identity) else {
                Output.err("\(pending.approvalID): \(identity) has voted already; \(stillNeeded(record))")
                needsOthers = true
                continue
            }
            let decision: String
            switch answer {
            case .approve: decision = "approve"
            case .reject: decision = "reject"
            case .ask:
                let question = "Approve \(ActionText.describe(record["action"]))\(ApprovalText.needs(record, voting: identity))? (y/n) "
                guard let reply = ask(question) else { return decided.isEmpty ? (needsOthers ? .needsOthers : .unanswered) : .decided(decided) }
                decision = reply ? "approve" : "reject"
            }
            let result = try await vote(decision, pending.approvalID, version: record["version"]?.intValue ?? 1, as: identity)
            if result["status"]?.stringValue == "pending" {
                Output.out("  \(stillNeeded(result))")
                needsOthers = true
            } else {
                decided.append(pending.approvalID)
            }
        }
        if !decided.isEmpty { return .decided(decided) }
        return needsOthers ? .needsOthers : .unanswered
    }

    /// Asks until the answer is y/yes or n/no; nil at the end of input.
    private func ask(_ question: String) -> Bool? {
        while true {
            guard let reply = input.next(prompt: question) else { return nil }
            switch reply.trimmingCharacters(in: .whitespaces).lowercased() {
            case "y", "yes": return true
            case "n", "no": return false
            default: Output.err("please answer y (approve) or n (reject)")
            }
        }
    }

    /// "1 of 2 approvals; approver2 or approver3 must also decide".
    private func stillNeeded(_ approval: JSONValue) -> String {
        let registry = try? IdentityRegistry.load(from: global.directory)
        return ApprovalText.stillNeeded(approval, approvers: registry?.identities.filter { $0.role == "approver" }.map(\.name) ?? [])
    }

    private func approvalRecord(_ approvalID: String) async throws -> JSONValue {
        let client = try global.client(for: "approval")
        defer { Task { await client.close() } }
        let params: JSONValue = ["approval_id": .string(approvalID)]
        return try await client.call("approval.get", params, as: JSONValue.self, options: global.callOptions)
    }

    /// Votes as `identity` on the version it was shown.
    private func vote(_ decision: String, _ approvalID: String, version: Int64, as identity: String) async throws -> JSONValue {
        let client = try global.client(for: "approval", as: identity)
        defer { Task { await client.close() } }
        var params: [String: JSONValue] = ["approval_id": .string(approvalID), "decision": .string(decision), "version": .int(version)]
        if decision == "reject" { params["reason"] = .string(reason) }
        let decided = try await client.call("approval.decide", JSONValue.object(params), as: JSONValue.self, options: global.callOptions)
        if global.json {
            let line: JSONValue = ["type": "decision", "approval_id": .string(approvalID), "by": .string(identity), "result": decided]
            Output.out(line.jsonText())
        } else {
            Output.out("  \(identity) \(decision == "approve" ? "approved" : "rejected") \(approvalID): \(decided["status"]?.stringValue ?? "?")")
        }
        return decided
    }

    private func waitingHint(_ run: RunResult) {
        guard !global.json else { return }
        Output.out("The run \(run.runID) waits for a human. Decide with:")
        for pending in run.pending {
            Output.out("  hitl approve \(pending.approvalID)     or  hitl reject \(pending.approvalID) --reason \"...\"")
        }
        Output.out("The agent resumes by itself once it is decided (`hitl call agent agent.get_run '{\"run_id\": \"\(run.runID)\"}'`).")
    }

    private func finish(_ run: RunResult) {
        if global.json {
            let line: JSONValue = [
                "type": "result", "run_id": .string(run.runID), "status": .string(run.status), "reply": run.reply.map(JSONValue.string) ?? .null,
            ]
            Output.out(line.jsonText())
        } else if run.status == "failed" {
            Output.err("the run failed: \(run.reply ?? "no reason given")")
        }
    }
}

/// Run events as lines for people.
enum ChatText {
    static func describe(_ event: JSONValue) -> String? {
        switch event["type"]?.stringValue {
        case "run_started": "· run \(event["run_id"]?.stringValue ?? "?") (\(event["mode"]?.stringValue ?? "tools") mode)"
        case "plan": "· plan: \(event["actions"]?.jsonText() ?? "?")"
        case "tool_call": "→ \(event["name"]?.stringValue ?? "?") \(event["arguments"]?.stringValue ?? "")"
        case "tool_result": "← \(event["output"]?.stringValue ?? "")"
        case "approval_required":
            "⏸ waiting for a human: \(ActionText.describe(event["action"])) (\(event["approval_id"]?.stringValue ?? "?"))"
        case "approval_decided": "· \(event["approval_id"]?.stringValue ?? "?") \(event["status"]?.stringValue ?? "decided")"
        case "run_paused": nil  // each approval it waits for was printed as it came
        case "message": "agent: \(event["text"]?.stringValue ?? "")"
        case "error": "error: \(event["reason"]?.stringValue ?? "?"): \(event["message"]?.stringValue ?? "")"
        default: nil
        }
    }
}

/// The newest event seq a stream has shown (events arrive on another task).
final class SeqTracker: Sendable {
    private let newest: Mutex<Int64>

    init(_ start: Int64) { newest = Mutex(start) }

    func saw(_ seq: Int64?) {
        guard let seq else { return }
        newest.withLock { $0 = max($0, seq) }
    }

    var value: Int64 { newest.withLock { $0 } }
}
