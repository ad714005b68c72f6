import RPC
import Testing

/// Stateless resume: a decision taken while agent-svc is down is acted on when it
/// returns, and two agent processes racing on one decision execute it once.
@Suite(.serialized)
struct ExactlyOnceTests {
    @Test func aDecisionTakenWhileTheAgentIsDownIsActedOnAfterRestart() async throws {
        try await AgentStack.with(follow: true) { stack in
            let paused = try await stack.chat("Transfer $500 to Bob for rent")
            #expect(paused.status == "awaiting_approval")
            await stack.killAgent()
            try await stack.decide(try #require(paused.pending.first).approvalID, "approve")
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await stack.books("bob") == "0.00/0.00")
            try await stack.restartAgent()
            #expect(try await stack.waitForStatus(paused.runID, "completed") == "completed")
            #expect(try await stack.books("bob") == "500.00/500.00")
            #expect(try await stack.books("checking") == "500.00/500.00")
        }
    }

    @Test func twoAgentsResumingTheSameRunExecuteItOnce() async throws {
        try await AgentStack.with { stack in
            try await stack.launchSecondAgent()
            let paused = try await stack.chat("Transfer $500 to Bob for rent")
            try await stack.decide(try #require(paused.pending.first).approvalID, "approve")
            async let first = stack.resume(paused.runID, on: "agent")
            async let second = stack.resume(paused.runID, on: "agent2")
            let results = try await [first, second]
            #expect(results.map(\.status) == ["completed", "completed"])
            #expect(results.map(\.reply) == ["Transferred $500.00 to bob.", "Transferred $500.00 to bob."])
            #expect(try await stack.books("bob") == "500.00/500.00")
            #expect(try await stack.books("checking") == "500.00/500.00")
        }
    }

    @Test func twoFollowingAgentsExecuteADecisionOnce() async throws {
        try await AgentStack.with(follow: true) { stack in
            try await stack.launchSecondAgent()
            let paused = try await stack.chat("Transfer $500 to Bob for rent")
            try await stack.decide(try #require(paused.pending.first).approvalID, "approve")
            #expect(try await stack.waitForStatus(paused.runID, "completed") == "completed")
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await stack.books("bob") == "500.00/500.00")
            #expect(try await stack.books("checking") == "500.00/500.00")
        }
    }

    @Test func twoPendingTransfersInOneRunDecidedDifferently() async throws {
        try await AgentStack.with { stack in
            let paused = try await stack.chat("Transfer $500 to Bob and $200 to Alice")
            #expect(paused.status == "awaiting_approval")
            #expect(paused.pending.count == 2)
            #expect(try await stack.books("checking") == "1000.00/300.00")
            try await stack.decide(paused.pending[0].approvalID, "approve")
            // One decided, one not: the run stays paused and nothing is lost.
            let partial = try await stack.resume(paused.runID)
            #expect(partial.status == "awaiting_approval")
            #expect(partial.pending.map(\.approvalID) == [paused.pending[1].approvalID])
            #expect(try await stack.books("bob") == "500.00/500.00")
            try await stack.decide(paused.pending[1].approvalID, "reject", reason: "too much this month")
            let done = try await stack.resume(paused.runID)
            #expect(done.status == "completed")
            #expect(done.reply == "Transferred $500.00 to bob. DENIED: too much this month")
            #expect(try await stack.books("checking") == "500.00/500.00")
            #expect(try await stack.books("alice") == "0.00/0.00")
        }
    }
}
