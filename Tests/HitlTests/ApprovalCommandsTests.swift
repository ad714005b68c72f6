import Foundation
import RPC
import RPCTesting
import Testing

/// `hitl approvals`, `hitl approve` and `hitl reject` against a real approval-svc.
struct ApprovalCommandsTests {
    @Test func listApproveRejectAndRefuseASecondDecision() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let policy = HitlRunner.repositoryRoot.appendingPathComponent("compose/policy.json").path
        let approval = try await ServiceProcess.launch("approval-svc", service: "approval", home: home, arguments: ["--policy", policy])
        defer { Task { await approval.terminate() } }
        let agent = try home.client("approval", as: "agent")
        var ids: [String] = []
        for call in ["c1", "c2"] {
            let submitted = try await agent.call("approval.submit", [
                "run_id": "r1", "call_id": .string(call), "requested_by": "operator",
                "action": ["kind": "transfer", "from": "checking", "to": "alice", "amount": "150.00", "currency": "USD"],
            ] as JSONValue, as: JSONValue.self)
            ids.append(try #require(submitted["approval_id"]?.stringValue))
        }
        let hitl = HitlRunner(home: home)

        let listed = try await hitl.run(["approvals"])
        #expect(listed.status == 0, "\(listed.transcript)")
        #expect(listed.stdout.contains("transfer $150.00 checking → alice"))
        #expect(ids.allSatisfy { listed.stdout.contains($0) })

        let approved = try await hitl.run(["approve", ids[0]])
        #expect(approved.status == 0, "\(approved.transcript)")
        #expect(approved.stdout.contains("approved") && approved.stdout.contains("by approver1") && approved.stdout.contains("the agent carries it out"))

        let rejected = try await hitl.run(["--as", "approver2", "reject", ids[1], "--reason", "payee not recognised"])
        #expect(rejected.status == 0, "\(rejected.transcript)")
        #expect(rejected.stdout.contains("rejected") && rejected.stdout.contains("by approver2"))

        let again = try await hitl.run(["approve", ids[1], "--json"])
        #expect(again.status == 1)
        #expect(try JSONValue(parsing: again.stdout)["error"]?["reason"] == "ALREADY_REJECTED")

        let agentTries = try await hitl.run(["--as", "agent", "approve", ids[0]])
        #expect(agentTries.status == 1)
        #expect(agentTries.stderr.contains("PERMISSION_DENIED"))

        let missingReason = try await hitl.run(["reject", ids[0]])
        #expect(missingReason.status == 2, "a reason is required to reject: \(missingReason.transcript)")

        let none = try await hitl.run(["approvals"])
        #expect(none.stdout.contains("nothing waits for a decision"))
    }

    /// approver2 edits a pending $150 transfer into $20,000 to alice: approver1's
    /// `hitl approve` of the version they reviewed is refused, naming the current one,
    /// and so is an approve that names no version; nothing is counted.
    @Test func aStaleVoteFromHitlApproveIsRefused() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let policy = HitlRunner.repositoryRoot.appendingPathComponent("compose/policy.json").path
        let approval = try await ServiceProcess.launch("approval-svc", service: "approval", home: home, arguments: ["--policy", policy])
        defer { Task { await approval.terminate() } }
        let agent = try home.client("approval", as: "agent")
        let submitted = try await agent.call("approval.submit", [
            "run_id": "r1", "call_id": "c1", "requested_by": "operator",
            "action": ["kind": "transfer", "from": "checking", "to": "bob", "amount": "150.00", "currency": "USD"],
        ] as JSONValue, as: JSONValue.self)
        let id = try #require(submitted["approval_id"]?.stringValue)
        let hitl = HitlRunner(home: home)
        let listed = try await hitl.run(["approvals"])
        #expect(listed.stdout.contains("VERSION") && listed.stdout.contains("transfer-over-100-one-approver"), "\(listed.transcript)")

        let approver2 = try home.client("approval", as: "approver2")
        _ = try await approver2.call("approval.decide", [
            "approval_id": .string(id), "decision": "approve", "version": 1,
            "edited_action": ["kind": "transfer", "from": "checking", "to": "alice", "amount": "20000.00", "currency": "USD"],
        ] as JSONValue, as: JSONValue.self)

        let stale = try await hitl.run(["approve", id, "--version", "1"])
        #expect(stale.status == 1 && stale.stderr.contains("VERSION_MISMATCH") && stale.stderr.contains("version 2"), "\(stale.transcript)")
        let unnamed = try await hitl.run(["approve", id])
        #expect(unnamed.status == 1 && unnamed.stderr.contains("VERSION_REQUIRED") && unnamed.stderr.contains("--version 2"), "\(unnamed.transcript)")
        #expect(unnamed.stderr.contains("$20,000.00") && unnamed.stderr.contains("$150.00"), "shows what changed: \(unnamed.transcript)")
        let current = try await agent.call("approval.get", ["approval_id": .string(id)] as JSONValue, as: JSONValue.self)
        #expect(current["approved_by"] == ["approver2"], "no vote of approver1 was counted")
        // Reviewed at version 2: counted, and it says who else must decide.
        let reviewed = try await hitl.run(["approve", id, "--version", "2"])
        #expect(reviewed.status == 0 && reviewed.stdout.contains("approved"), "\(reviewed.transcript)")
    }
}
