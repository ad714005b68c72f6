import Foundation
import RPC
import Testing

/// What an approval cycle must survive beyond a plain crash: an approver who edits
/// the action, a resume that died right after saving a model turn, and a decision
/// the decision follower never acted on.
@Suite(.serialized)
struct RecoveryTests {
    /// What was approved is exactly what runs: the edit (another amount and payee),
    /// not the submitted action, and the funds held for the submitted one come back.
    @Test func anEditedApprovalRunsTheEditAndReleasesTheHold() async throws {
        try await AgentStack.with(follow: true) { stack in
            let paused = try await stack.chat("Transfer $150 to Alice")
            let pending = try #require(paused.pending.first)
            #expect(try await stack.books("checking") == "1000.00/850.00")
            // A cut to another payee: the editor and a second person.
            let edited: JSONValue = ["kind": "transfer", "from": "checking", "to": "bob", "amount": "120.00", "currency": "USD"]
            let first = try await stack.call(
                "approval", "approval.decide",
                ["approval_id": .string(pending.approvalID), "decision": "approve", "edited_action": edited, "version": 1],
                identity: "approver1", as: JSONValue.self)
            #expect(first["status"] == "pending" && first["required_approvers"] == 2)
            try await stack.decide(pending.approvalID, "approve", as: "approver2")

            let done = try await stack.watch(paused.runID, waitFor: [pending.approvalID])
            #expect(done.status == "completed")
            #expect(done.reply?.contains("Transferred $120.00 to bob.") == true, "\(String(describing: done.reply))")
            #expect(done.reply?.contains("a transfer of $150.00 to alice was asked for") == true, "the model is told")
            #expect(try await stack.books("bob") == "120.00/120.00")
            #expect(try await stack.books("alice") == "0.00/0.00")
            #expect(try await stack.books("checking") == "880.00/880.00", "the hold for $150.00 was released")
            let approval = try await stack.call("approval", "approval.get", ["approval_id": .string(pending.approvalID)], as: JSONValue.self)
            #expect(approval["status"]?.stringValue == "completed")
            // Resumed again: nothing moves twice.
            _ = try await stack.resume(paused.runID)
            #expect(try await stack.books("bob") == "120.00/120.00")
        }
    }

    /// A resume saves the model's turn before running its tool calls. If it died
    /// after that save, the next resume runs those calls (same call id, same
    /// idempotency key) instead of asking the model again: a real model would
    /// answer with new call ids, and the deposit would run twice under new keys.
    @Test func aSavedModelTurnRunsItsOwnCallsOnceWhenResumed() async throws {
        try await AgentStack.with { stack in
            // The state such a resume leaves: paused, its turn saved, no call run yet.
            let (runID, callID) = try await Self.savedTurn(stack, "deposit_money", #"{"amount":"50.00"}"#, "Deposit $50 into my account")
            #expect(try await stack.getRun(runID).status == "running", "a saved turn is work in progress, not a pause for a human")
            let done = try await stack.resume(runID)
            #expect(done.status == "completed")
            #expect(done.reply == "Deposited $50.00 into checking.")
            _ = try await stack.resume(runID)
            #expect(try await stack.books("checking") == "1050.00/1050.00", "one deposit")
            let statement = try await stack.call("ledger", "ledger.statement", ["account": "checking"], as: JSONValue.self)
            let deposits = (statement["entries"]?.arrayValues ?? []).filter { $0["kind"]?.stringValue == "deposit" }
            #expect(deposits.map { $0["idempotency_key"]?.stringValue } == ["\(runID):\(callID)"], "the saved call's own key")
        }
    }

    /// The same replay when the first attempt got further before it died: its call is
    /// settled by what happened since (executed, or decided by people), never denied
    /// for being seen twice, never run twice, and the hold it placed is what is posted
    /// or released.
    @Test func aReplayedCallIsSettledByWhatItsFirstAttemptDid() async throws {
        try await AgentStack.with { stack in
            let expiry = JSONValue.string(Date().addingTimeInterval(3600).formatted(Date.ISO8601FormatStyle(timeZone: .gmt)))
            // (a) The deposit ran and was reported; the run was not saved after.
            let deposit = try await Self.savedTurn(stack, "deposit_money", #"{"amount":"50.00"}"#, "Deposit $50 into my account")
            let auto = try await stack.call("approval", "approval.submit", [
                "run_id": .string(deposit.runID), "call_id": .string(deposit.callID), "requested_by": "operator",
                "action": ["kind": "deposit", "to": "checking", "amount": "50.00", "currency": "USD"],
            ], identity: "agent", as: JSONValue.self)
            _ = try await stack.call("ledger", "ledger.deposit", [
                "account": "checking", "amount": "50.00", "idempotency_key": .string("\(deposit.runID):\(deposit.callID)"), "grant": auto["grant"]!,
            ], identity: "agent", as: JSONValue.self)
            _ = try await stack.call("approval", "approval.complete", [
                "approval_id": auto["approval_id"]!, "outcome": ["status": "succeeded"],
            ], identity: "agent", as: JSONValue.self)
            // (b), (c) A transfer was submitted and held; then a person approved (b) or rejected (c) it.
            var held: [(runID: String, approvalID: String)] = []
            for payee in ["alice", "bob"] {
                let turn = try await Self.savedTurn(stack, "transfer_money", #"{"to_account":"\#(payee)","amount":"150.00"}"#, "Transfer $150 to \(payee)")
                let submitted = try await stack.call("approval", "approval.submit", [
                    "run_id": .string(turn.runID), "call_id": .string(turn.callID), "requested_by": "operator",
                    "action": ["kind": "transfer", "from": "checking", "to": .string(payee), "amount": "150.00", "currency": "USD"],
                ], identity: "agent", as: JSONValue.self)
                _ = try await stack.call("ledger", "ledger.hold", [
                    "from": "checking", "to": .string(payee), "amount": "150.00", "currency": "USD",
                    "idempotency_key": .string("\(turn.runID):\(turn.callID)"), "expires_at": submitted["expires_at"] ?? expiry,
                ], identity: "agent", as: JSONValue.self)
                held.append((turn.runID, submitted["approval_id"]?.stringValue ?? ""))
            }
            #expect(try await stack.books("checking") == "1050.00/750.00")
            try await stack.decide(held[0].approvalID, "approve")
            try await stack.decide(held[1].approvalID, "reject", reason: "not this month")

            let done = try await [stack.resume(deposit.runID), stack.resume(held[0].runID), stack.resume(held[1].runID)]
            #expect(done.map(\.status) == ["completed", "completed", "completed"])
            #expect(done.map(\.reply) == ["Deposited $50.00 into checking.", "Transferred $150.00 to alice.", "DENIED: not this month"])
            #expect(try await stack.books("checking") == "900.00/900.00", "one deposit, one transfer, the rejected hold released")
            #expect(try await stack.books("alice") == "150.00/150.00")
            #expect(try await stack.books("bob") == "0.00/0.00")
        }
    }

    /// A run as a resume leaves it when it dies right after saving a model turn that
    /// asked for one tool: paused, the turn saved, the call not run. Returns the run and the call id.
    static func savedTurn(_ stack: AgentStack, _ tool: String, _ arguments: String, _ request: String) async throws -> (runID: String, callID: String) {
        let callID = "call_" + UUID().uuidString.prefix(12).lowercased()
        let document: JSONValue = [
            "schema_version": 1, "mode": "tools", "account": "checking", "requested_by": "operator",
            "messages": [
                ["role": "system", "content": "You are a banking assistant."],
                ["role": "user", "content": .string(request)],
                ["role": "assistant", "tool_calls": [["id": .string(callID), "name": .string(tool), "arguments": .string(arguments)]]],
            ],
            "pending": [], "position": 0, "results": [], "executed": [],
        ]
        let created = try await stack.call("state", "state.create_run", ["data": document], identity: "agent", as: JSONValue.self)
        let runID = try #require(created["run_id"]?.stringValue)
        _ = try await stack.call(
            "state", "state.save_run",
            ["run_id": .string(runID), "expected_version": created["version"] ?? 1, "status": "awaiting_approval", "data": document],
            identity: "agent", as: JSONValue.self)
        return (runID, callID)
    }

    /// A decision nobody acted on (the follower skipped it: its run was still in its
    /// chat, or another resume held it and then failed) is found by the reconciler.
    @Test func aDecisionTheFollowerNeverActedOnIsResumedByTheReconciler() async throws {
        try await AgentStack.with { stack in
            let paused = try await stack.chat("Transfer $500 to Bob for rent")
            // Decided while no follower runs (agent-svc is down), then the cursor moved past
            // every decision, as if the follower had skipped this one.
            await stack.killAgent()
            try await stack.decide(try #require(paused.pending.first).approvalID, "approve")
            let events = try await stack.call("approval", "approval.events", ["after_seq": 0, "limit": 1000], as: JSONValue.self)
            let last = events["last_seq"] ?? 0
            let cursor = try await stack.call(
                "state", "state.get_cursor", ["name": "agent.approvals"], identity: "agent", as: JSONValue.self)
            _ = try await stack.call(
                "state", "state.set_cursor", ["name": "agent.approvals", "value": last, "expected": cursor["value"] ?? 0],
                identity: "agent", as: JSONValue.self)

            try await stack.restartAgent(extraArguments: ["--sweep-interval-s", "1", "--reconcile-after-s", "1"], follow: true)
            #expect(try await stack.waitForStatus(paused.runID, "completed") == "completed")
            #expect(try await stack.books("bob") == "500.00/500.00")
            #expect(try await stack.books("checking") == "500.00/500.00")
        }
    }
}
