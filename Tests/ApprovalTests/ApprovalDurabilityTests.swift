import Approval
import Foundation
import RPC
import RPCTesting
import SQLiteKit
import Synchronization
import Testing

/// Expiry, events and the audit chain across restarts of the real service.
@Suite(.serialized)
struct ApprovalDurabilityTests {
    @Test(arguments: DatabaseBackend.allCases) func expirySurvivesARestart(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let pending = try await harness.submit(Actions.transfer("150.00"))
        let approved = try await harness.submit(Actions.deposit("1.00"))
        await harness.stop()
        try harness.setClockOffset(seconds: 86_400 + 60)  // a day and a minute pass while it is down
        try await harness.startAgain()
        let expired = try await harness.get(pending.approvalID)
        #expect(expired.status == .expired)
        #expect(try await harness.get(approved.approvalID).status == .approved, "expiry touches only pending approvals")
        let events = try await harness.events()
        #expect(events.last?.type == "expired")
        #expect(events.last?.approvalID == pending.approvalID)
        #expect(events.last?.actor == "system:expiry")
        await expectError("approval.decide", .failedPrecondition, "APPROVAL_EXPIRED") {
            _ = try await harness.decide(pending.approvalID, as: "approver1")
        }
        await expectError("approval.cancel", .failedPrecondition, "APPROVAL_EXPIRED") {
            try await harness.call("approval.cancel", as: "agent", ["approval_id": .string(pending.approvalID), "reason": "late"])
        }
        #expect(try await harness.verifyAudit().ok)
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func theTimerExpiresWhileRunning(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let pending = try await harness.submit(Actions.transfer("150.00"), expiresIn: 1)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        var status = pending.status
        while status == .pending, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            status = try await harness.get(pending.approvalID).status
        }
        #expect(status == .expired)
        #expect(try await harness.events().map(\.type) == ["submitted", "expired"])
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func eventsAreGapFreeAndCompleteAcrossRestarts(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        var generator = SeededGenerator(seed: 7)
        var expected = 0
        var pending: [String] = []
        for round in 0..<3 {
            for step in 0..<10 {
                let choice = Int.random(in: 0..<4, using: &generator)
                if choice < 2 || pending.isEmpty {
                    let amounts = ["5.00", "150.00", "20000.00"]
                    let amount = amounts[Int.random(in: 0..<amounts.count, using: &generator)]
                    let approval = try await harness.submit(run: "run-\(round)", call: "call-\(step)", Actions.transfer(amount))
                    expected += approval.status == .approved ? 2 : 1
                    if approval.status == .pending { pending.append(approval.approvalID) }
                } else {
                    let id = pending.removeFirst()
                    if choice == 2 {
                        let decided = try await harness.decide(id, as: "approver1", "reject", reason: "no")
                        #expect(decided.status == .rejected)
                    } else {
                        _ = try await harness.call("approval.cancel", as: "agent", ["approval_id": .string(id), "reason": "gone"])
                    }
                    expected += 1
                }
            }
            try await harness.restart(crash: round == 1)
        }
        let events = try await harness.events(limit: 7)
        #expect(events.count == expected)
        #expect(events.map(\.seq) == Array(1...Int64(expected)))

        // A watcher that was down catches up from its cursor with the same events.
        let collected = EventCollector()
        let cursor: Int64 = 5
        let result = try await harness.client("operator").stream(
            "approval.watch", ["after_seq": JSONValue.int(cursor), "max_events": .int(Int64(expected) - cursor)],
            event: ApprovalEvent.self, as: JSONValue.self, options: .init(timeout: .seconds(10))
        ) { event in collected.append(event) }
        #expect(result["last_seq"]?.intValue == Int64(expected))
        #expect(collected.all == Array(events.dropFirst(Int(cursor))))
        #expect(try await harness.verifyAudit().ok)
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func watchDeliversNewEventsAsTheyCommit(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        _ = try await harness.submit(Actions.deposit("1.00"))
        let collected = EventCollector()
        let client = try harness.client("operator")
        let watcher = Task {
            try await client.stream(
                "approval.watch", ["after_seq": JSONValue.int(2), "max_events": .int(2)], event: ApprovalEvent.self,
                as: JSONValue.self, options: .init(timeout: .seconds(10))
            ) { event in collected.append(event) }
        }
        try await Task.sleep(for: .milliseconds(200))
        let pending = try await harness.submit(Actions.transfer("150.00"))
        _ = try await harness.decide(pending.approvalID, as: "approver2")
        let result = try await watcher.value
        #expect(result["sent"]?.intValue == 2)
        #expect(collected.all.map(\.type) == ["submitted", "approved"])
        #expect(collected.all.map(\.seq) == [3, 4])
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func decisionEventsCarryTheApprovalWhenAskedAndGrantsOnlyForExecutors(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let pending = try await harness.submit(Actions.transfer("150.00"))
        _ = try await harness.decide(pending.approvalID, as: "approver1")
        let rejected = try await harness.submit(run: "run-2", call: "call-2", Actions.transfer("150.00"))
        _ = try await harness.decide(rejected.approvalID, as: "approver1", "reject", reason: "not today")
        // submitted, approved, submitted, rejected (votes are audit records, not events)
        func watched(as identity: String) async throws -> [JSONValue] {
            let collected = Mutex<[JSONValue]>([])
            _ = try await harness.client(identity).stream(
                "approval.watch", ["after_seq": 0, "max_events": 4, "with_approval": true] as JSONValue, event: JSONValue.self,
                as: JSONValue.self, options: .init(timeout: .seconds(10))
            ) { event in collected.withLock { $0.append(event) } }
            return collected.withLock { $0 }
        }
        let agent = try await watched(as: "agent")
        #expect(agent.compactMap { $0["type"]?.stringValue } == ["submitted", "approved", "submitted", "rejected"])
        #expect(agent[0]["approval"] == nil, "only decisions carry the approval")
        #expect(agent[1]["approval"]?["status"] == "approved")
        #expect(agent[1]["approval"]?["approval_id"] == .string(pending.approvalID))
        #expect(agent[1]["approval"]?["grant"] != nil, "the executor gets the grant it needs")
        #expect(agent[3]["approval"]?["status"] == "rejected")
        #expect(agent[3]["approval"]?["reason"] == "not today")
        let approver = try await watched(as: "approver2")
        #expect(approver[1]["approval"]?["status"] == "approved")
        #expect(approver[1]["approval"]?["grant"] == nil, "an approver never sees a grant")
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func alteringOrRemovingAuditRecordsIsDetected(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let pending = try await harness.submit(Actions.transfer("150.00"))
        _ = try await harness.decide(pending.approvalID, as: "approver1")
        _ = try await harness.submit(Actions.deposit("3.00"))
        let clean = try await harness.verifyAudit()
        #expect(clean.ok)
        #expect(clean.records == 5)  // transfer: submitted, vote, approved; deposit: submitted, approved
        try harness.sql("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
        let altered = try await harness.verifyAudit()
        #expect(!altered.ok)
        #expect(altered.problems.map(\.seq) == [2])

        try harness.sql("UPDATE audit SET actor = 'approver1' WHERE seq = 2")
        #expect(try await harness.verifyAudit().ok, "restoring the record restores the chain")

        try harness.sql("DELETE FROM audit WHERE seq = 3")
        let removed = try await harness.verifyAudit()
        #expect(!removed.ok)
        #expect(removed.problems.contains { $0.seq == 3 })

        try harness.sql("DELETE FROM audit WHERE seq >= 3")
        let truncated = try await harness.verifyAudit()
        #expect(!truncated.ok, "removing the newest records no longer matches the head")
        await harness.stop()
    }
}

/// A small deterministic generator (SplitMix64), so a failure can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
