import Foundation
import RPC
import RPCTesting
import Testing

/// The walks past the policy, tried as a user would on the stack `hitl stack up`
/// starts (the shipped policy, the agent, the simulator answering): each ends at a person.
@Suite(.serialized)
struct PolicyWalkStackTests {
    @Test(.timeLimit(.minutes(4)))
    func theWalksEndAtAPerson() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let hitl = HitlRunner(home: home)
        let up = try await hitl.run(["stack", "up"])
        guard up.status == 0 else {
            _ = try? await hitl.run(["stack", "down"])
            Issue.record("stack up failed: \(up.transcript)")
            return
        }
        // The stack goes down before the home is removed, whatever the walks do.
        do {
            try await walk(hitl)
        } catch {
            _ = try? await hitl.run(["stack", "down"])
            throw error
        }
        let down = try await hitl.run(["stack", "down"])
        #expect(down.status == 0, "\(down.transcript)")
    }

    func walk(_ hitl: HitlRunner) async throws {
        // A $5,000,000 deposit waits for two people.
        let huge = try await hitl.run(["chat", "--no-wait", "Deposit $5,000,000 into my account"])
        #expect(huge.stdout.contains("waiting for a human"), "\(huge.transcript)")
        let hugeApproval = try #require(try await Self.approvals(hitl, status: "pending").first)
        #expect(hugeApproval["required_approvers"] == 2 && hugeApproval["policy_rule"] == "large-deposit-two-approvers")
        _ = try await hitl.run(["reject", try #require(hugeApproval["approval_id"]?.stringValue), "--reason", "no"])

        // Funds for what follows: $20,000 needs two people; once they approve, agent-svc runs it.
        _ = try await hitl.run(["chat", "--no-wait", "Deposit $20,000 into my account"])
        let funding = try #require(try await Self.approvals(hitl, status: "pending").first?["approval_id"]?.stringValue)
        let first = try await hitl.run(["approve", funding])
        #expect(first.stdout.contains("1 of 2 approvals"), "\(first.transcript)")
        _ = try await hitl.run(["--as", "approver2", "approve", funding])
        try await Self.waitForBalance(hitl, "checking", "21000.00")

        // Six $90 transfers in one chat: the policy runs $180 of them, the rest wait.
        let six = Array(repeating: "transfer $90 to Alice", count: 6).joined(separator: " and ")
        let split = try await hitl.run(["chat", "--no-wait", six])
        #expect(split.status == 0, "\(split.transcript)")
        try await Self.expectBalance(hitl, "alice", "180.00")
        let waiting = try await Self.approvals(hitl, status: "pending")
        #expect(waiting.count == 4, "\(waiting.map { $0.jsonText() })")
        #expect(waiting.allSatisfy { $0["policy_rule"] == "daily-auto-transfer-budget" && $0["required_approvers"] == 1 })
        #expect(waiting.first?["policy_figures"]?["limit"] == "200.00")
        #expect(waiting.allSatisfy { $0["requested_by"] == "operator" }, "the person who asked, never the agent")

        // A hundred $99 transfers in one turn: ten run at most, and none past the budget.
        let hundred = Array(repeating: "transfer $99 to Alice", count: 100).joined(separator: " and ")
        let burst = try await hitl.run(["chat", "--no-wait", "--json", hundred])
        let events = burst.stdout.split(separator: "\n").compactMap { try? JSONValue(parsing: String($0)) }
        #expect(events.filter { $0["type"] == "tool_call" }.count == 10, "\(burst.stderr)")
        #expect(events.filter { $0["output"]?.stringValue?.hasPrefix("ERROR: at most 10 tool calls") == true }.count == 90)
        try await Self.expectBalance(hitl, "alice", "180.00")
        #expect(try await Self.approvals(hitl, status: "pending").count == 14)

        // Two $7,500 transfers in a day: the second needs two people other than the requester.
        _ = try await hitl.run(["chat", "--no-wait", "Transfer $7,500 to Bob"])
        _ = try await hitl.run(["chat", "--no-wait", "Transfer $7,500 to Bob"])
        let large = try await Self.approvals(hitl, status: "pending").filter { $0["action"]?["amount"] == "7500.00" }
        #expect(large.map { $0["required_approvers"]?.intValue } == [1, 2], "\(large.map { $0.jsonText() })")
        #expect(large.last?["policy_rule"] == "large-transfer-two-approvers" && large.last?["requester_may_approve"] == false)
        #expect(large.last?["policy_figures"]?["window_total"] != nil)

        // Edits: never the paying account, the currency or the kind; another payee needs a second person.
        let ninety = try #require(waiting.first?["approval_id"]?.stringValue)
        for (edited, reason) in [
            (#"{"kind": "transfer", "from": "alice", "to": "bob", "amount": "90.00", "currency": "USD"}"#, "EDIT_NOT_ALLOWED"),
            (#"{"kind": "transfer", "from": "checking", "to": "alice", "amount": "90.00", "currency": "EUR"}"#, "CURRENCY_NOT_HELD"),
            (#"{"kind": "deposit", "to": "checking", "amount": "90.00", "currency": "USD"}"#, "EDIT_NOT_ALLOWED"),
        ] {
            let refused = try await hitl.run([
                "--as", "approver1", "call", "approval", "approval.decide",
                #"{"approval_id": "\#(ninety)", "decision": "approve", "version": 1, "edited_action": \#(edited)}"#, "--json",
            ])
            #expect(refused.status == 1 && refused.stdout.contains(reason), "\(refused.transcript)")
        }
        let redirected = try await hitl.run([
            "--as", "approver1", "call", "approval", "approval.decide", "--json",
            #"{"approval_id": "\#(ninety)", "decision": "approve", "version": 1, "edited_action": {"kind": "transfer", "from": "checking", "to": "bob", "amount": "90.00", "currency": "USD"}}"#,
        ])
        let after = try JSONValue(parsing: redirected.stdout)
        #expect(after["status"] == "pending" && after["required_approvers"] == 2, "\(redirected.transcript)")
        try await Self.expectBalance(hitl, "bob", "0.00")
    }

    static func approvals(_ hitl: HitlRunner, status: String) async throws -> [JSONValue] {
        let listed = try await hitl.run(["approvals", "--status", status, "--json"])
        guard let parsed = try? JSONValue(parsing: listed.stdout) else {
            Issue.record("hitl approvals: \(listed.transcript)")
            return []
        }
        return parsed["approvals"]?.arrayValues ?? []
    }

    static func waitForBalance(_ hitl: HitlRunner, _ account: String, _ posted: String) async throws {
        for _ in 0..<100 {
            let outcome = try await hitl.run(["call", "ledger", "ledger.balance", #"{"account": "\#(account)"}"#, "--json"])
            if try JSONValue(parsing: outcome.stdout)["posted"]?.stringValue == posted { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await expectBalance(hitl, account, posted)
    }

    static func expectBalance(_ hitl: HitlRunner, _ account: String, _ posted: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let outcome = try await hitl.run(["call", "ledger", "ledger.balance", #"{"account": "\#(account)"}"#, "--json"])
        #expect(try JSONValue(parsing: outcome.stdout)["posted"]?.stringValue == posted, "\(account): \(outcome.transcript)", sourceLocation: sourceLocation)
    }
}
