import Foundation
import RPC
import RPCTesting
import Testing

/// agent-svc against `Protocols/agent.openrpc.json` as it serves it (`rpc.discover`):
/// every method's result and every streamed event checked against their schemas,
/// and every error it answers with documented for that method.
@Suite(.serialized)
struct AgentContractTests {
    @Test(.timeLimit(.minutes(2)))
    func everyMethodAnswersAsDocumented() async throws {
        try await AgentStack.with(follow: true) { stack in
            let document = try await stack.call("agent", "rpc.discover", [:], as: JSONValue.self)
            let contract = ServedContract(document: document)
            #expect(contract.methodNames.filter { $0.hasPrefix("agent.") } == ["agent.chat", "agent.get_run", "agent.resume", "agent.watch_run"])
            let eventSchema = try #require(contract.document["components"]?["schemas"]?["Event"])
            let checker = Checker(contract: contract, eventSchema: eventSchema)

            // Tools mode, all at once; structured mode, paused; then decided, resumed, watched.
            _ = try await checker.stream(stack, "agent.chat", ["message": "Check my balance and transfer $50 to Alice"])
            let paused = try await checker.stream(stack, "agent.chat", ["message": "Transfer $500 to Bob for rent", "mode": "structured"])
            let runID = try #require(paused["run_id"]?.stringValue)
            #expect(paused["status"] == "awaiting_approval")
            guard case .array(let pending)? = paused["pending"] else { Issue.record("no pending list: \(paused)"); return }
            let approvalID = try #require(pending.first?["approval_id"]?.stringValue)
            try checker.check("agent.get_run", try await stack.call("agent", "agent.get_run", ["run_id": .string(runID)], as: JSONValue.self))
            _ = try await checker.stream(stack, "agent.watch_run", ["run_id": .string(runID), "after_seq": 0])
            try await stack.decide(approvalID, "approve")
            // agent-svc resumes it by itself; a client watches it through.
            let resumed = try await checker.stream(
                stack, "agent.watch_run", ["run_id": .string(runID), "after_seq": 0, "wait_for": [.string(approvalID)]])
            #expect(resumed["status"] == "completed")
            // Resuming by hand (the operator's command) is idempotent and still answers as documented.
            _ = try await checker.stream(stack, "agent.resume", ["run_id": .string(runID)])
            #expect(checker.seenEventTypes.isSuperset(of: [
                "run_started", "plan", "tool_call", "tool_result", "approval_required", "run_paused", "approval_decided", "message", "run_completed",
            ]))

            // Every error is one the method documents.
            let unknownRun: JSONValue = ["run_id": "run_doesnotexist"]
            let cases: [(String, JSONValue, String)] = [
                ("agent.chat", [:], "MISSING_FIELD"),
                ("agent.chat", ["message": ""], "INVALID_FIELD"),
                ("agent.chat", ["message": "hi", "mode": "freestyle"], "INVALID_FIELD"),
                ("agent.chat", ["message": "hi", "session_id": "no spaces allowed"], "INVALID_FIELD"),
                ("agent.get_run", unknownRun, "RUN_NOT_FOUND"),
                ("agent.get_run", [:], "MISSING_FIELD"),
                ("agent.resume", unknownRun, "RUN_NOT_FOUND"),
                ("agent.watch_run", unknownRun, "RUN_NOT_FOUND"),
                ("agent.watch_run", ["run_id": "run_x", "after_seq": -1], "INVALID_FIELD"),
                ("agent.chat", ["message": "hi", "on_behalf_of": "approver1"], "ON_BEHALF_NOT_ALLOWED"),
            ]
            // A run state-svc keeps for some other caller: not the agent's to show or continue.
            let foreign = try await stack.call("state", "state.create_run", ["data": ["schema_version": 1, "note": "not an agent run"]],
                                               identity: "agent", as: JSONValue.self)
            let foreignRun: JSONValue = ["run_id": foreign["run_id"] ?? .null]
            let foreignCases: [(String, JSONValue, String)] = [
                ("agent.get_run", foreignRun, "NOT_AN_AGENT_RUN"), ("agent.resume", foreignRun, "NOT_AN_AGENT_RUN"),
                ("agent.watch_run", foreignRun, "NOT_AN_AGENT_RUN"),
            ]
            for (method, params, reason) in cases + foreignCases {
                try await checker.expectError(stack.home, method, params, reason: reason, token: "operator")
            }
            // Who may drive runs: people ask for themselves (approvers through the gateway), the
            // gateway only for a person it names, only operators resume by hand; the agent itself none.
            let ask: JSONValue = ["message": "Check my balance"]
            for (method, params, token, reason) in [
                ("agent.chat", ask, "agent", "ROLE_NOT_ALLOWED"), ("agent.chat", ask, "approver1", "ROLE_NOT_ALLOWED"),
                ("agent.chat", ask, "gateway", "MISSING_FIELD"),
                ("agent.chat", ["message": "hi", "on_behalf_of": "agent"], "gateway", "REQUESTER_NOT_A_PERSON"),
                ("agent.chat", ["message": "hi", "on_behalf_of": "approver3"], "gateway", "NO_ACCOUNT"),
                ("agent.resume", ["run_id": .string(runID)], "approver1", "ROLE_NOT_ALLOWED"),
                ("agent.resume", ["run_id": .string(runID)], "gateway", "ROLE_NOT_ALLOWED"),
                ("agent.resume", ["run_id": .string(runID)], "agent", "ROLE_NOT_ALLOWED"),
            ] as [(String, JSONValue, String, String)] {
                try await checker.expectError(stack.home, method, params, reason: reason, token: token)
            }
            for method in ["agent.chat", "agent.get_run", "agent.resume", "agent.watch_run"] {
                try await checker.expectError(stack.home, method, unknownRun, reason: "UNAUTHENTICATED", token: nil)
                try await checker.expectError(stack.home, method, unknownRun, reason: "UNKNOWN_TOKEN", token: "forged")
            }
        }
    }

    /// Checks answers and events against the contract, remembering event types seen.
    final class Checker: @unchecked Sendable {  // used from one test task; the lock guards events streamed in from the client's event loop
        let contract: ServedContract
        let eventSchema: JSONValue
        private let lock = NSLock()
        private var types: Set<String> = []

        init(contract: ServedContract, eventSchema: JSONValue) {
            self.contract = contract
            self.eventSchema = eventSchema
        }

        var seenEventTypes: Set<String> { lock.withLock { types } }

        func check(_ method: String, _ result: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let problems = contract.resultProblems(method, result)
            #expect(problems.isEmpty, "\(method): \(problems) in \(result.jsonText())", sourceLocation: sourceLocation)
        }

        func stream(_ stack: AgentStack, _ method: String, _ params: JSONValue) async throws -> JSONValue {
            let client = try stack.home.client("agent", as: "operator")
            defer { Task { await client.close() } }
            let events = EventLog()
            let result = try await client.stream(method, params, event: JSONValue.self, as: JSONValue.self) { events.append($0) }
            try check(method, result)
            for event in events.all {
                let problems = contract.problems(event, eventSchema, at: "event")
                #expect(problems.isEmpty, "\(method) event: \(problems) in \(event.jsonText())")
                if let type = event["type"]?.stringValue { lock.withLock { _ = types.insert(type) } }
            }
            return result
        }

        /// Sends a raw request (token: an identity's, a forged one, or none) and checks the error.
        func expectError(_ home: TestHome, _ method: String, _ params: JSONValue, reason: String, token: String?) async throws {
            var members: [String: JSONValue] = [:]
            if case .object(let given) = params { members = given }
            switch token {
            case nil: break
            case "forged": members["_meta"] = ["token": "hitl_forged_token_0000000000000000"]
            case let identity?: members["_meta"] = ["token": .string(try home.token(identity))]
            }
            let request: JSONValue = ["jsonrpc": "2.0", "id": 7, "method": .string(method), "params": .object(members)]
            let connection = try await RawConnection.connect(home.socket("agent"))
            defer { Task { await connection.close() } }
            let answer = try #require(try await connection.roundTrip(request.jsonText(), timeout: .seconds(30)))
            let error = try #require(answer["error"], "\(method) \(params.jsonText()): expected \(reason), got \(answer.jsonText())")
            let status = error["data"]?["status"]?.stringValue ?? "?"
            let got = error["data"]?["reason"]?.stringValue ?? "?"
            #expect(got == reason, "\(method) \(params.jsonText()): \(answer.jsonText())")
            #expect(
                contract.documentedErrors(method).contains { $0.status == status && $0.reason == got },
                "\(method) answered \(status)/\(got), which it does not document")
        }
    }
}
