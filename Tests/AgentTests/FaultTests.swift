import RPC
import Testing

/// Invalid model output and provider failures end clearly, with no money moved wrongly.
@Suite(.serialized)
struct FaultTests {
    @Test func invalidToolCallsBecomeErrorsForTheModel() async throws {
        try await AgentStack.with { stack in
            let cases: [(String, String)] = [
                ("Transfer $50 to Alice [sim:unknown-tool]", "ERROR: unknown tool 'wire_money'"),
                ("Transfer $50 to Alice [sim:bad-args]", "ERROR: to_account"),  // 150.5 is an exact amount; to_account 5 is no payee
                ("Transfer $50.125 to Alice", "ERROR: amount"),
                ("Transfer $50 to Zed", "ERROR: unknown payee"),
            ]
            for (message, prefix) in cases {
                let run = try await stack.chat(message)
                #expect(run.status == "completed", "\(message)")
                #expect(run.reply?.hasPrefix(prefix) == true, "\(message): \(run.reply ?? "nil")")
            }
            #expect(try await stack.books("checking") == "1000.00/1000.00")
            #expect(try await stack.books("alice") == "0.00/0.00")
            await #expect(throws: RPCError.self) { try await stack.balance("zed") }
        }
    }

    @Test func providerFailuresFailTheRunClearly() async throws {
        try await AgentStack.with { stack in
            for message in ["Transfer $50 to Alice [sim:500]", "Transfer $50 to Alice [sim:malformed]"] {
                let events = EventLog()
                let run = try await stack.chat(message, events: events)
                #expect(run.status == "failed", "\(message)")
                #expect(run.reply?.hasPrefix("The request could not be completed") == true)
                #expect(events.types.contains("error"))
                #expect(try await stack.getRun(run.runID).status == "failed")
            }
            #expect(try await stack.books("checking") == "1000.00/1000.00")
        }
    }

    @Test func anInvalidPlanFailsAfterOneCorrectiveRetry() async throws {
        try await AgentStack.with { stack in
            let events = EventLog()
            let run = try await stack.chat("Transfer $50.125 to Alice", mode: "structured", events: events)
            #expect(run.status == "failed")
            #expect(run.reply?.contains("invalid plan") == true)
            #expect(!events.types.contains("tool_call"))
            #expect(try await stack.books("checking") == "1000.00/1000.00")
        }
    }

    @Test func aHoldTheLedgerRefusesCancelsTheApprovalAndTellsTheModel() async throws {
        try await AgentStack.with { stack in
            let first = try await stack.chat("Transfer $500 to Bob for rent")
            #expect(first.status == "awaiting_approval")
            let second = try await stack.chat("Transfer $600 to Alice")
            #expect(second.status == "completed")
            #expect(second.reply?.hasPrefix("ERROR: ") == true, "\(second.reply ?? "nil")")
            let cancelled = try await stack.call("approval", "approval.list", ["run_id": .string(second.runID)], as: JSONValue.self)
            guard case .array(let approvals)? = cancelled["approvals"] else { Issue.record("no approvals"); return }
            #expect(approvals.map { $0["status"]?.stringValue } == ["cancelled"])
            #expect(try await stack.books("checking") == "1000.00/500.00")
            #expect(try await stack.books("alice") == "0.00/0.00")
        }
    }
}
