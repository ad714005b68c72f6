import Foundation
import RPC
import Testing

/// The seed's three requests through the real agent, answered by what
/// Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, llama.cpp's llama-server) really wrote:
/// `model-sim --replay` of the transcripts in Tests/Fixtures/models, byte for byte.
@Suite(.serialized)
struct RealModelTranscriptTests {
    static let fixtures = repositoryRoot.appendingPathComponent("Tests/Fixtures/models/qwen2.5-coder-1.5b")
    static let chat = ["HITL_LLM_API": "chat", "HITL_MODEL": "local"]

    /// Runs of this agent recorded in both modes: the first two complete at once, the
    /// $500 transfer waits for one approver and then runs once.
    @Test(arguments: ["structured", "tools"])
    func theSeedsRequestsCompleteAsTheyShould(mode: String) async throws {
        let replay = ["--replay", Self.fixtures.appendingPathComponent("runs").path]
        try await AgentStack.with(environment: Self.chat, simulatorArguments: replay) { stack in
            let events = EventLog()
            let first = try await stack.chat("Check my balance and transfer $50 to Alice", mode: mode, events: events)
            #expect(first.status == "completed", "\(first.reply ?? "nil")")
            #expect(first.pending.isEmpty)
            let calls = events.all.filter { $0["type"]?.stringValue == "tool_call" }.compactMap { $0["name"]?.stringValue }
            #expect(calls.contains("get_balance"))
            #expect(calls.filter { $0 == "transfer_money" }.count == 1)
            #expect(try await stack.books("alice") == "50.00/50.00")
            #expect(try await stack.books("checking") == "950.00/950.00")

            let deposit = try await stack.chat("Deposit $200 into my account", mode: mode)
            #expect(deposit.status == "completed", "\(deposit.reply ?? "nil")")
            #expect(deposit.pending.isEmpty)
            #expect(try await stack.books("checking") == "1150.00/1150.00")

            let paused = try await stack.chat("Transfer $500 to Bob for rent", mode: mode)
            #expect(paused.status == "awaiting_approval", "\(paused.reply ?? "nil")")
            #expect(paused.pending.count == 1)
            #expect(try await stack.books("checking") == "1150.00/650.00")
            #expect(try await stack.books("bob") == "0.00/0.00")
            try await stack.decide(try #require(paused.pending.first).approvalID, "approve")
            let resumed = try await stack.resume(paused.runID)
            #expect(resumed.status == "completed", "\(resumed.reply ?? "nil")")
            #expect(try await stack.books("bob") == "500.00/500.00")
            #expect(try await stack.books("checking") == "650.00/650.00")
        }
    }

    /// The first plans the model wrote for the agent before the amount had a pattern:
    /// "$50", "$200", "$500" (each refused then, and "$200" again on the retry). Only
    /// the first answers are kept, so a refusal now would meet no recorded retry and fail.
    @Test func plansWithDollarSignsAreRightAtTheFirstAnswer() async throws {
        let replay = ["--replay", Self.fixtures.appendingPathComponent("before/structured").path]
        try await AgentStack.with(environment: Self.chat, simulatorArguments: replay) { stack in
            let transfer = try await stack.chat("Check my balance and transfer $50 to Alice", mode: "structured")
            #expect(transfer.status == "completed", "\(transfer.reply ?? "nil")")
            #expect(try await stack.books("alice") == "50.00/50.00")
            let deposit = try await stack.chat("Deposit $200 into my account", mode: "structured")
            #expect(deposit.status == "completed", "\(deposit.reply ?? "nil")")
            #expect(try await stack.books("checking") == "1150.00/1150.00")
            let paused = try await stack.chat("Transfer $500 to Bob for rent", mode: "structured")
            #expect(paused.status == "awaiting_approval", "\(paused.reply ?? "nil")")
            try await stack.decide(try #require(paused.pending.first).approvalID, "approve")
            #expect(try await stack.resume(paused.runID).status == "completed")
            #expect(try await stack.books("bob") == "500.00/500.00")
        }
    }

    /// The old agent showed these replies to the user as its answer and did nothing; the
    /// recorded first turns are now the calls they are (a second turn was never recorded,
    /// so each run then stops with the replay's 404: the point is what ran before it).
    @Test(arguments: [
        ("Check my balance and transfer $50 to Alice", ["get_balance", "transfer_money"], "950.00/950.00"),
        ("Deposit $200 into my account", ["deposit_money"], "1200.00/1200.00"),
        ("Transfer $500 to Bob for rent", ["transfer_money"], "1000.00/500.00"),
    ])
    func textCallsTheOldAgentIgnoredRun(message: String, tools: [String], checking: String) async throws {
        let replay = ["--replay", Self.fixtures.appendingPathComponent("before/tools").path]
        try await AgentStack.with(environment: Self.chat, simulatorArguments: replay) { stack in
            let events = EventLog()
            let run = try await stack.chat(message, events: events)
            let calls = events.all.filter { $0["type"]?.stringValue == "tool_call" }.compactMap { $0["name"]?.stringValue }
            #expect(calls == tools)
            #expect(!events.all.contains { $0["type"]?.stringValue == "tool_result" && $0["output"]?.stringValue?.hasPrefix("ERROR") == true })
            #expect(try await stack.books("checking") == checking)
            if run.status == "failed" { #expect(run.reply?.contains("no recorded answer") == true, "\(run.reply ?? "nil")") }
        }
    }
}
