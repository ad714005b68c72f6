import Foundation
import RPC
import Testing

/// A chat whose agent-svc dies mid-run leaves the run `running`; the sweeper of
/// the next agent process ends it, cancels what waits for approval, and frees
/// the held funds at once instead of at expiry.
@Suite(.serialized)
struct AbandonedRunTests {
    @Test(.timeLimit(.minutes(2)))
    func aChatWhoseAgentDiedIsEndedAndItsHoldReleased() async throws {
        try await AgentStack.with { stack in
            // What a chat that died had done: its run created (still running), a $500 transfer
            // submitted for approval and its funds held, exactly as agent-svc does it.
            await stack.killAgent()
            let document: JSONValue = [
                "schema_version": 1, "mode": "tools", "account": "checking", "requested_by": "operator",
                "messages": [["role": "system", "content": "You are a banking assistant."], ["role": "user", "content": "Transfer $500 to Bob"]],
                "pending": [], "position": 0, "results": [], "executed": [],
            ]
            let created = try await stack.call("state", "state.create_run", ["data": document], identity: "agent", as: JSONValue.self)
            let runID = try #require(created["run_id"]?.stringValue)
            let submitted = try await stack.call(
                "approval", "approval.submit",
                [
                    "run_id": .string(runID), "call_id": "call_1_1", "requested_by": "operator",
                    "action": ["kind": "transfer", "from": "checking", "to": "bob", "amount": "500.00", "currency": "USD"],
                ], identity: "agent", as: JSONValue.self)
            let approvalID = try #require(submitted["approval_id"]?.stringValue)
            #expect(submitted["status"]?.stringValue == "pending")
            _ = try await stack.call(
                "ledger", "ledger.hold",
                [
                    "from": "checking", "to": "bob", "amount": "500.00", "currency": "USD",
                    "idempotency_key": .string("\(runID):call_1_1"), "expires_at": submitted["expires_at"] ?? .null,
                ], identity: "agent", as: JSONValue.self)
            #expect(try await stack.books("checking") == "1000.00/500.00")
            let stuck = try await stack.call("state", "state.load_run", ["run_id": .string(runID)], as: JSONValue.self)
            #expect(stuck["status"]?.stringValue == "running")

            // A new agent process sweeps: the run ends, clearly, and nothing stays held.
            try await stack.restartAgent(extraArguments: ["--sweep-interval-s", "1", "--stale-run-after-s", "1"])
            #expect(try await stack.waitForStatus(runID, "failed") == "failed")
            let run = try await stack.getRun(runID)
            #expect(run.reply?.contains("agent-svc went away while handling it") == true, "\(String(describing: run.reply))")
            #expect(run.reply?.contains("1 action(s) waiting for approval were cancelled") == true, "\(String(describing: run.reply))")
            let approval = try await stack.call("approval", "approval.get", ["approval_id": .string(approvalID)], as: JSONValue.self)
            #expect(approval["status"]?.stringValue == "cancelled")
            #expect(try await stack.books("checking") == "1000.00/1000.00")
            #expect(try await stack.books("bob") == "0.00/0.00")

            // A run paused for a human is not abandoned, however old: it waits for its decision.
            let paused = try await stack.chat("Transfer $150 to Alice")
            try await Task.sleep(for: .seconds(3))
            #expect(try await stack.getRun(paused.runID).status == "awaiting_approval")
            #expect(try await stack.books("checking") == "1000.00/850.00")
        }
    }
}
