import RPC
import Testing

/// The seed's three requests in tools mode, end to end on the real stack and simulator,
/// from the seed's starting $1,000.00.
@Suite(.serialized)
struct SeedRequestTests {
    @Test func checkBalanceAndSmallTransferRunAtOnce() async throws {
        try await AgentStack.with { stack in
            let events = EventLog()
            let run = try await stack.chat("Check my balance and transfer $50 to Alice", events: events)
            #expect(run.status == "completed")
            #expect(run.pending.isEmpty)
            #expect(run.reply == "Your balance is $1,000.00. Transferred $50.00 to alice.")
            #expect(try await stack.balance("checking").posted == "950.00")
            #expect(try await stack.balance("alice").posted == "50.00")
            #expect(events.types.first == "run_started")
            #expect(events.types.filter { $0 == "tool_call" }.count == 2)
            #expect(events.types.last == "run_completed")
        }
    }

    @Test func depositIsAutoApproved() async throws {
        try await AgentStack.with { stack in
            let run = try await stack.chat("Deposit $200 into my account")
            #expect(run.status == "completed")
            #expect(run.reply == "Deposited $200.00 into checking.")
            #expect(try await stack.balance("checking").posted == "1200.00")
        }
    }

    @Test func largeTransferWaitsForAHumanThenPostsOnce() async throws {
        try await AgentStack.with { stack in
            let events = EventLog()
            let paused = try await stack.chat("Transfer $500 to Bob for rent", events: events)
            #expect(paused.status == "awaiting_approval")
            #expect(paused.pending.count == 1)
            #expect(paused.pending.first?.holdID != nil)
            #expect(events.types.contains("approval_required"))
            #expect(try await stack.books("checking") == "1000.00/500.00")
            #expect(try await stack.balance("bob").posted == "0.00")
            #expect(try await stack.getRun(paused.runID).status == "awaiting_approval")

            // Resuming before the decision changes nothing.
            #expect(try await stack.resume(paused.runID).status == "awaiting_approval")

            let approval = try #require(paused.pending.first).approvalID
            try await stack.decide(approval, "approve")
            let resumed = try await stack.resume(paused.runID)
            #expect(resumed.status == "completed")
            #expect(resumed.reply == "Transferred $500.00 to bob.")
            #expect(try await stack.books("checking") == "500.00/500.00")
            #expect(try await stack.balance("bob").posted == "500.00")

            // Idempotent: a second resume reports the same run and moves nothing.
            let again = try await stack.resume(paused.runID)
            #expect(again.status == "completed")
            #expect(try await stack.books("checking") == "500.00/500.00")
            let completed = try await stack.call("approval", "approval.get", ["approval_id": .string(approval)], as: JSONValue.self)
            #expect(completed["status"]?.stringValue == "completed")
        }
    }
}
