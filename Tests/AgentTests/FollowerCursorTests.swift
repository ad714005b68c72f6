import Foundation
import RPC
import Testing

/// The decision follower's durable cursor keeps moving when state-svc was away for a
/// while: a failed write is tried again, not left to end the follower's cursor updates
/// until its watch closes (up to a day later), which would make every restart of
/// agent-svc replay everything since.
struct FollowerCursorTests {
    @Test func theCursorMovesAgainAfterStateSvcComesBack() async throws {
        try await AgentStack.with(follow: true, checking: "5000.00") { stack in
            func cycle() async throws -> String {
                let run = try await stack.chat("Transfer $150 to Bob")
                let approval = try #require(run.pending.first?.approvalID)
                try await stack.decide(approval, "approve")
                let done = try await stack.watch(run.runID, waitFor: [approval])
                #expect(done.status == "completed")
                return approval
            }
            _ = try await cycle()
            // A cursor write in flight when state-svc dies is lost with its connection
            // (ABORTED/CONNECTION_LOST; set_cursor is not retried blindly): state-svc is
            // frozen, an event the follower only skips moves its cursor, the write hangs,
            // then state-svc is killed and started again.
            stack.freezeState()
            _ = try await stack.call("approval", "approval.submit", [
                "run_id": "run-elsewhere", "call_id": "call-1", "requested_by": "operator",
                "action": ["kind": "transfer", "from": "checking", "to": "bob", "amount": "150.00", "currency": "USD"],
            ], identity: "agent", as: JSONValue.self)
            try await Task.sleep(for: .milliseconds(800))
            try await stack.restartStateAfterCrash()
            _ = try await cycle()
            let events = try await stack.call("approval", "approval.events", ["after_seq": 0, "limit": 1_000], as: JSONValue.self)
            let newest = try #require(events["events"]?.arrayValues?.last?["seq"]?.intValue)
            // Everything up to the last decision is handled; the cursor gets there within a few intervals.
            var cursor: Int64 = -1
            for _ in 0..<50 {
                cursor = try await stack.call("state", "state.get_cursor", ["name": "agent.approvals"], as: JSONValue.self)["value"]?.intValue ?? -1
                if cursor >= newest - 1 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(cursor >= newest - 1, "the follower's cursor stayed at \(cursor); the feed is at \(newest)")
        }
    }
}
