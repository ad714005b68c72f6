import Agent
import ArgumentParser
import Banking
import Contracts
import Foundation
import RPC
import Synchronization

/// `hitl model eval`: the seed's three requests through the running agent, each
/// judged by what the ledger shows, not by what the run says.
struct ModelEvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Run the seed's three requests once through the agent and check each against the ledger.",
        discussion: """
            Sends "Check my balance and transfer $50 to Alice", "Deposit $200 into my account" \
            and "Transfer $500 to Bob for rent" to agent-svc in --mode, approves what waits for \
            a human (as --approver) and follows the run agent-svc resumes, then checks each request: the run completed; \
            only the $500 transfer paused, once, for exactly that transfer; the balance was \
            checked where asked (a get_balance call); and the new lines of the statements of \
            the account, alice and bob are exactly the request's movements, to the cent, with \
            nothing left held. A request that is not right says why.

            It needs the seed's starting balances' room ($550.00 available): run it on a fresh \
            stack. scripts/model-eval does, N times in each mode, and sums up.

            Exit code 0 when all three were right, 1 otherwise.

            Examples:
              hitl model eval --mode structured
              hitl model eval --mode tools --json --timeout 600   # one JSON line per request
              scripts/model-eval --runs 5                          # × 5 per mode, fresh stacks, a table
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: "tools or structured.")
    var mode: String = "tools"

    @Option(help: ArgumentHelp("The user's account the agent acts on.", valueName: "name"))
    var account = "checking"

    @Option(help: ArgumentHelp("Who approves what waits for a human.", valueName: "identity"))
    var approver = "approver1"

    /// Pauses one request may go through before it counts as wrong (the seed's need one).
    static let maximumPauses = 3

    func validate() throws {
        guard ["tools", "structured"].contains(mode) else { throw ValidationError("--mode must be tools or structured") }
    }

    func run() async throws {
        _ = try global.home(with: approver)
        var allRight = true
        for seed in SeedRequest.all {
            let started = ContinuousClock.now
            let verdict: EvalVerdict
            do {
                verdict = try await evaluate(seed)
            } catch let error as RPCError {
                verdict = EvalVerdict(runID: nil, status: "error", problems: ["\(error.status.name)/\(error.reason): \(error.message)"], reply: nil)
            }
            allRight = allRight && verdict.problems.isEmpty
            let seconds = Double((ContinuousClock.now - started).components.seconds)
            if global.json {
                let line: JSONValue = [
                    "mode": .string(mode), "request": .string(seed.message), "correct": .bool(verdict.problems.isEmpty),
                    "problems": .array(verdict.problems.map(JSONValue.string)), "run_id": verdict.runID.map(JSONValue.string) ?? .null,
                    "status": .string(verdict.status), "reply": verdict.reply.map { .string(String($0.prefix(300))) } ?? .null,
                    "seconds": .int(Int64(seconds)),
                ]
                Output.out(line.jsonText())
            } else {
                let mark = verdict.problems.isEmpty ? "right" : "WRONG: " + verdict.problems.joined(separator: "; ")
                Output.out("\(mode) | \(seed.message) | \(verdict.status) in \(Int(seconds)) s | \(mark)")
            }
        }
        if !allRight { throw HitlExit.rpcError.exitCode }
    }

    /// One request, start to end, and what is wrong with it.
    private func evaluate(_ seed: SeedRequest) async throws -> EvalVerdict {
        let before = try await snapshot()
        let calls = CallLog()
        var run = try await stream("agent.chat", ["message": .string(seed.message), "mode": .string(mode)], calls)
        var pauses: [[JSONValue]] = []
        while run.status == "awaiting_approval", pauses.count < Self.maximumPauses {
            pauses.append(run.pending.map { (try? JSONValue(encoding: $0.action)) ?? .null })
            for pending in run.pending { try await approve(pending.approvalID) }
            // agent-svc resumes the run once it is decided; the evaluation follows it.
            let watch: JSONValue = [
                "run_id": .string(run.runID), "after_seq": .int(calls.newestSeq),
                "wait_for": .array(run.pending.map { .string($0.approvalID) }),
            ]
            do {
                run = try await stream("agent.watch_run", watch, calls)
            } catch let error as RPCError where error.reason == "METHOD_NOT_FOUND" {
                // An agent-svc from before agent.watch_run (a "before" build, scripts/model-eval
                // --bin) resumes only when asked.
                run = try await stream("agent.resume", ["run_id": .string(run.runID)], calls)
            }
        }
        var problems: [String] = []
        if run.status != "completed" { problems.append("the run ended \(run.status): \(String((run.reply ?? "").prefix(200)))") }
        problems += pauseProblems(seed, pauses)
        if seed.steps.contains(.checkBalance), !calls.names.contains("get_balance") { problems.append("the balance was not checked") }
        problems += try await ledgerProblems(seed, since: before)
        return EvalVerdict(runID: run.runID, status: run.status, problems: problems, reply: run.reply)
    }

    /// Only a request that needs a human may wait, once, for exactly its transfer.
    private func pauseProblems(_ seed: SeedRequest, _ pauses: [[JSONValue]]) -> [String] {
        guard seed.needsApproval else {
            return pauses.isEmpty ? [] : ["it waited for a human (\(pauses.joined().map(ActionText.describe).joined(separator: ", "))), which this request needs no one for"]
        }
        let transfers = seed.steps.compactMap { step -> (String, Amount)? in
            if case .transfer(let payee, let amount) = step { (payee, amount) } else { nil }
        }
        guard let (payee, amount) = transfers.first else { return [] }
        let expected: JSONValue = ["kind": "transfer", "from": .string(account), "to": .string(payee), "amount": .string(amount.description)]
        if pauses.isEmpty { return ["it never waited for a human"] }
        let asked = pauses.joined().map { action -> JSONValue in
            ["kind": action["kind"] ?? .null, "from": action["from"] ?? .null, "to": action["to"] ?? .null, "amount": action["amount"] ?? .null]
        }
        guard asked == [expected] else {
            return ["it waited for \(pauses.joined().map(ActionText.describe).joined(separator: ", ")) instead of one approval for \(ActionText.describe(expected))"]
        }
        return []
    }

    /// Approves as --approver the version it reads (a decision names the version it saw).
    private func approve(_ approvalID: String) async throws {
        let client = try global.client(for: "approval", as: approver)
        defer { Task { await client.close() } }
        let query: JSONValue = ["approval_id": .string(approvalID)]
        let record = try await client.call("approval.get", query, as: JSONValue.self, options: global.callOptions)
        let params: JSONValue = [
            "approval_id": .string(approvalID), "decision": "approve", "version": .int(record["version"]?.intValue ?? 1),
        ]
        _ = try await client.call("approval.decide", params, as: JSONValue.self, options: global.callOptions)
    }

    private func stream(_ method: String, _ params: JSONValue, _ calls: CallLog) async throws -> RunResult {
        let client = try global.client(for: "agent")
        defer { Task { await client.close() } }
        return try await client.stream(method, params, event: JSONValue.self, as: RunResult.self, options: global.callOptions) { event in
            calls.saw(event["seq"]?.intValue)
            if event["type"]?.stringValue == "tool_call", let name = event["name"]?.stringValue { calls.add(name) }
        }
    }

    private func call(_ service: String, _ method: String, _ params: JSONValue) async throws -> JSONValue {
        let client = try global.client(for: service)
        defer { Task { await client.close() } }
        return try await client.call(method, params, as: JSONValue.self, options: global.callOptions)
    }

    // MARK: - The ledger

    /// The accounts a seed request may touch.
    private var accounts: [String] { [account] + ["alice", "bob"].filter { $0 != account } }

    /// Statement lines a request adds at most (the seed's add three); more is wrong anyway.
    static let statementPage: Int64 = 50

    /// Per account: the newest posting id and what is held.
    private func snapshot() async throws -> [String: (lastPosting: Int64, held: String)] {
        var result: [String: (Int64, String)] = [:]
        for name in accounts {
            let statement = try await call("ledger", "ledger.statement", ["account": .string(name), "limit": 1])
            let balance = try await call("ledger", "ledger.balance", ["account": .string(name)])
            result[name] = (statement["entries"]?.arrayValues?.first?["posting_id"]?.intValue ?? 0, balance["held"]?.stringValue ?? "?")
        }
        return result
    }

    /// The request's movements must be exactly the new statement lines, to the cent,
    /// and nothing may stay held.
    private func ledgerProblems(_ seed: SeedRequest, since before: [String: (lastPosting: Int64, held: String)]) async throws -> [String] {
        var expected: [String] = []
        for step in seed.steps {
            switch step {
            case .checkBalance: break
            case .deposit(let amount): expected.append("\(account) +\(amount) deposit")
            case .transfer(let payee, let amount): expected += ["\(account) -\(amount) to \(payee)", "\(payee) +\(amount) from \(account)"]
            }
        }
        var problems: [String] = []
        var actual: [String] = []
        for name in accounts {
            guard let was = before[name] else { continue }
            let balance = try await call("ledger", "ledger.balance", ["account": .string(name)])
            if balance["held"]?.stringValue != was.held { problems.append("\(name) holds \(balance["held"]?.stringValue ?? "?") (was \(was.held))") }
            let statement = try await call("ledger", "ledger.statement", ["account": .string(name), "limit": .int(Self.statementPage)])
            for line in statement["entries"]?.arrayValues ?? [] where (line["posting_id"]?.intValue ?? 0) > was.lastPosting {
                actual.append(Self.describe(line, of: name))
            }
        }
        if actual.sorted() != expected.sorted() {
            problems.append("the ledger moved [\(actual.sorted().joined(separator: ", "))] instead of [\(expected.sorted().joined(separator: ", "))]")
        }
        return problems
    }

    /// `checking -50.00 to alice`, `alice +50.00 from checking`, `checking +200.00 deposit`.
    static func describe(_ line: JSONValue, of account: String) -> String {
        let signed = line["amount"]?.stringValue ?? "?"
        let negative = signed.hasPrefix("-")
        let amount = (try? Amount(parsing: String(signed.drop(while: { $0 == "-" })))).map(\.description) ?? signed
        let counterparty = line["counterparty"]?.stringValue ?? "?"
        if negative { return "\(account) -\(amount) to \(counterparty)" }
        if line["kind"]?.stringValue == "deposit" { return "\(account) +\(amount) deposit" }
        return "\(account) +\(amount) from \(counterparty)"
    }
}

/// The tools a run called and the newest event seq seen, from its events (which
/// arrive on an event loop).
final class CallLog: Sendable {
    private let calls = Mutex<(names: [String], newestSeq: Int64)>(([], 0))
    func add(_ name: String) { calls.withLock { $0.names.append(name) } }
    func saw(_ seq: Int64?) { if let seq { calls.withLock { $0.newestSeq = max($0.newestSeq, seq) } } }
    var names: [String] { calls.withLock { $0.names } }
    var newestSeq: Int64 { calls.withLock { $0.newestSeq } }
}

/// What one request came to.
struct EvalVerdict {
    let runID: String?
    let status: String
    let problems: [String]
    let reply: String?
}
