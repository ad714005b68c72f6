import ArgumentParser
import Foundation
import RPC

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
            run directory) with approval.decide, then resumes the run (agent.resume) and \
            prints the rest. An action that needs two approvers is put to the next approver \
            who has not voted. Without MESSAGE, reads one message per line until end of \
            input, in one session, so the agent remembers the conversation.

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

    /// The agent's answer to agent.chat and agent.resume, as much as is printed.
    struct RunView: Decodable, Sendable {
        struct Pending: Decodable, Sendable {
            let approvalID: String
            let action: JSONValue

            enum CodingKeys: String, CodingKey {
                case approvalID = "approval_id"
                case action
            }
        }

        let runID: String
        let status: String
        let reply: String?
        let pending: [Pending]

        enum CodingKeys: String, CodingKey {
            case runID = "run_id"
            case status, reply, pending
        }
    }

    /// Sends one message, then decides and resumes until the run completes,
    /// fails, or is left waiting (--no-wait, or no answer on standard input).
    /// - Returns: the run's last status.
    func send(_ message: String, sessionID: String?) async throws -> String {
        var params: [String: JSONValue] = ["message": .string(message)]
        if let mode { params["mode"] = .string(mode) }
        if let sessionID { params["session_id"] = .string(sessionID) }
        var run = try await streaming("agent.chat", .object(params))
        while run.status == "awaiting_approval" {
            guard let decide, try await decideAll(run, answer: decide) else {
                waitingHint(run)
                return run.status
            }
            run = try await streaming("agent.resume", ["run_id": .string(run.runID)])
        }
        finish(run)
        return run.status
    }

    /// Calls a streaming agent method, printing each event as it arrives.
    private func streaming(_ method: String, _ params: JSONValue) async throws -> RunView {
        let client = try global.client(for: "agent")
        defer { Task { await client.close() } }
        let json = global.json
        let answered = StopFlag()  // set once a message event arrived
        let run = try await client.stream(method, params, event: JSONValue.self, as: RunView.self, options: global.callOptions) { event in
            if event["type"]?.stringValue == "message" { answered.set() }
            if json {
                Output.out(event.jsonText())
            } else if let line = ChatText.describe(event) {
                Output.out(line)
            }
        }
        // Another process (the agent's decision follower) may have resumed the run while
        // this call waited for it: its events went nowhere, so print the answer here.
        if !json, !answered.isSet, run.status == "completed", let reply = run.reply { Output.out("agent: \(reply)") }
        return run
    }

    /// Puts every pending approval of the run to the approvers.
    /// - Returns: false when a question went unanswered (end of input): the run is left waiting.
    private func decideAll(_ run: RunView, answer: Chat.Answer) async throws -> Bool {
        for pending in run.pending {
            var voters: Set<String> = []
            while true {
                let record = try await approvalRecord(pending.approvalID)
                guard record["status"]?.stringValue == "pending" else { break }
                if case .array(let names)? = record["approved_by"] { voters.formUnion(names.compactMap(\.stringValue)) }
                guard let identity = try nextApprover(excluding: voters) else {
                    Output.err("\(pending.approvalID) needs another approver, and every approver identity here has voted")
                    return false
                }
                let decision: String
                switch answer {
                case .approve: decision = "approve"
                case .reject: decision = "reject"
                case .ask:
                    let more = voters.isEmpty ? "" : " (\(identity) is the next approver)"
                    let question = "Approve \(ActionText.describe(pending.action))\(more)? (y/n) "
                    guard let reply = input.next(prompt: question) else { return false }
                    decision = ["y", "yes"].contains(reply.trimmingCharacters(in: .whitespaces).lowercased()) ? "approve" : "reject"
                }
                try await vote(decision, pending.approvalID, as: identity)
                voters.insert(identity)
                if decision == "reject" { break }
            }
        }
        return true
    }

    private func approvalRecord(_ approvalID: String) async throws -> JSONValue {
        let client = try global.client(for: "approval")
        defer { Task { await client.close() } }
        let params: JSONValue = ["approval_id": .string(approvalID)]
        return try await client.call("approval.get", params, as: JSONValue.self, options: global.callOptions)
    }

    private func vote(_ decision: String, _ approvalID: String, as identity: String) async throws {
        let client = try RPCClient(service: "approval", directory: global.directory, identity: identity)
        defer { Task { await client.close() } }
        var params: [String: JSONValue] = ["approval_id": .string(approvalID), "decision": .string(decision)]
        if decision == "reject" { params["reason"] = .string(reason) }
        let decided = try await client.call("approval.decide", JSONValue.object(params), as: JSONValue.self, options: global.callOptions)
        if global.json {
            let line: JSONValue = ["type": "decision", "approval_id": .string(approvalID), "by": .string(identity), "result": decided]
            Output.out(line.jsonText())
        } else {
            Output.out("  \(identity) \(decision == "approve" ? "approved" : "rejected") \(approvalID): \(decided["status"]?.stringValue ?? "?")")
        }
    }

    /// `--approver` for the first vote; otherwise the first approver identity who has not voted.
    private func nextApprover(excluding voters: Set<String>) throws -> String? {
        if let approver, !voters.contains(approver) { return approver }
        let registry = try IdentityRegistry.load(from: global.directory)
        return registry.identities.filter { $0.role == "approver" && !voters.contains($0.name) }.map(\.name).sorted().first
    }

    private func waitingHint(_ run: RunView) {
        guard !global.json else { return }
        Output.out("The run \(run.runID) waits for a human. Decide with:")
        for pending in run.pending {
            Output.out("  hitl approve \(pending.approvalID)     or  hitl reject \(pending.approvalID) --reason \"...\"")
        }
        Output.out("The agent resumes by itself once it is decided (`hitl call agent agent.get_run '{\"run_id\": \"\(run.runID)\"}'`).")
    }

    private func finish(_ run: RunView) {
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
        case "message": "agent: \(event["text"]?.stringValue ?? "")"
        case "error": "error: \(event["reason"]?.stringValue ?? "?"): \(event["message"]?.stringValue ?? "")"
        default: nil
        }
    }
}
