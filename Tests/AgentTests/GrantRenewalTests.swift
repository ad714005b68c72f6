import Foundation
import RPC
import Testing

/// A human approves, but the agent resumes only after the grant's minutes are
/// over (it was down): the agent asks approval-svc to renew the grant and the
/// transfer runs once; approval.renew_grant refuses what it must.
@Suite(.serialized)
struct GrantRenewalTests {
    @Test(.timeLimit(.minutes(2)))
    func aResumeAfterTheGrantExpiredRenewsItAndExecutesOnce() async throws {
        try await AgentStack.with { stack in
            let paused = try await stack.chat("Transfer $500 to Bob for rent")
            let approvalID = try #require(paused.pending.first?.approvalID)
            // Nothing to renew while pending.
            await #expect(throws: RPCError.self) {
                _ = try await stack.call("approval", "approval.renew_grant", ["approval_id": .string(approvalID)], identity: "agent", as: JSONValue.self)
            }
            // The decision's grant is born expired: approval-svc's clock is 400 s behind the ledger's.
            try await stack.restartApproval(clockAheadSeconds: -400)
            try await stack.decide(approvalID, "approve")
            try await stack.restartApproval(clockAheadSeconds: 0)
            let approved = try await stack.call("approval", "approval.get", ["approval_id": .string(approvalID)], as: JSONValue.self)
            let oldGrant = try #require(approved["grant"]?["grant_id"]?.stringValue)

            let resumed = try await stack.resume(paused.runID)
            #expect(resumed.status == "completed")
            #expect(resumed.reply == "Transferred $500.00 to bob.")
            #expect(try await stack.books("bob") == "500.00/500.00")
            #expect(try await stack.books("checking") == "500.00/500.00")

            let audit = try await stack.call("approval", "approval.audit", ["approval_id": .string(approvalID)], as: JSONValue.self)
            #expect(audit.jsonText().contains("grant_renewed"), "\(audit.jsonText())")
            let final = try await stack.call("approval", "approval.get", ["approval_id": .string(approvalID)], as: JSONValue.self)
            #expect(final["status"]?.stringValue == "completed")
            #expect(final["grant"]?["grant_id"]?.stringValue != oldGrant)
            #expect(final["grant"]?["idempotency_key"] == approved["grant"]?["idempotency_key"])

            // Executed and reported: there is nothing left to renew; the old grant moves nothing.
            do {
                _ = try await stack.call("approval", "approval.renew_grant", ["approval_id": .string(approvalID)], identity: "agent", as: JSONValue.self)
                Issue.record("renewing a completed approval must be refused")
            } catch let error as RPCError {
                #expect(error.reason == "ALREADY_COMPLETED")
            }
            let replay = try await stack.resume(paused.runID)
            #expect(replay.status == "completed")
            #expect(try await stack.books("bob") == "500.00/500.00")
        }
    }
}
