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
            // The agent dies while the model is thinking (the simulator's slow fault).
            let chat = Task { try? await stack.chat("Deposit $200 into my account [sim:slow]") }
            let runID = try await Self.firstRunningRun(stack)
            await stack.killAgent()
            _ = await chat.value

            // What that chat had done before it died: a $500 transfer submitted for
            // approval and its funds held, exactly as agent-svc does it.
            let submitted = try await stack.call(
                "approval", "approval.submit",
                [
                    "run_id": .string(runID), "call_id": "call_1_1", "requested_by": "agent",
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
            #expect(try await stack.getRun(paused.run_id).status == "awaiting_approval")
            #expect(try await stack.books("checking") == "1000.00/850.00")
        }
    }

    /// Polls state-svc until a run is `running`; returns its id.
    private static func firstRunningRun(_ stack: AgentStack) async throws -> String {
        for _ in 0..<200 {
            let page = try await stack.call("state", "state.list_runs", ["status": "running"], as: JSONValue.self)
            if case .array(let runs)? = page["runs"], let id = runs.first?["run_id"]?.stringValue { return id }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw RunDirectoryError("no run became running within 2 s")
    }
}
