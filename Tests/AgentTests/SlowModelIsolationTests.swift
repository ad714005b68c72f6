import Foundation
import RPC
import Testing

/// A run whose model takes seconds per turn must not hold up anybody else's decision:
/// the decision follower resumes runs side by side, not one after another.
struct SlowModelIsolationTests {
    /// The slow run's model turns take this long.
    static let slowTurn: Duration = .seconds(3)

    @Test func aSlowModelTurnHoldsUpNoOtherRunsDecision() async throws {
        try await AgentStack.with(follow: true, simulatorArguments: ["--slow-ms", "3000"], checking: "5000.00") { stack in
            let slow = try await stack.chat("[sim:slow] Transfer $150 to Bob")
            let slowApproval = try #require(slow.pending.first?.approvalID)
            // A watcher of a paused run hears the pause from its events: the same run get_run shows.
            let paused = try await stack.watch(slow.runID)
            #expect(paused.status == "awaiting_approval")
            #expect(paused.pending.map(\.approvalID) == [slowApproval])
            #expect(paused.pending.map(\.holdID) == slow.pending.map(\.holdID) && paused.pending.first?.holdID != nil)
            #expect(paused.reply == slow.reply)
            var quick: [(run: String, approval: String)] = []
            for _ in 0..<10 {
                let run = try await stack.chat("Transfer $150 to Alice")
                quick.append((run.runID, try #require(run.pending.first?.approvalID)))
            }
            let clock = ContinuousClock()
            // The slow run is decided first: its resume starts a 3-second model turn (not
            // before the decision, though perhaps before `decide` has answered this test).
            let slowDecided = clock.now
            try await stack.decide(slowApproval, "approve")
            let slowStarted = clock.now
            try await Task.sleep(for: .milliseconds(100))
            // Then the ten others, while that turn is still running; each is followed until done.
            let waits = try await withThrowingTaskGroup(of: Duration.self) { group in
                for (run, approval) in quick {
                    group.addTask {
                        let decided = clock.now
                        try await stack.decide(approval, "approve")
                        let finished = try await stack.watch(run, waitFor: [approval])
                        #expect(finished.status == "completed", "run \(run): \(finished.status)")
                        // Built from the run's last event, it says what agent.get_run says.
                        let stored = try await stack.getRun(run)
                        #expect(finished.reply != nil && finished.reply == stored.reply && finished.status == stored.status)
                        return clock.now - decided
                    }
                }
                var all: [Duration] = []
                for try await wait in group { all.append(wait) }
                return all
            }
            let quickDone = clock.now
            #expect(waits.count == 10)
            // None of them waited for the slow turn to end: each finished well within it.
            #expect(quickDone - slowStarted < Self.slowTurn, "the ten runs took \(quickDone - slowStarted), the slow turn is \(Self.slowTurn)")
            #expect(waits.allSatisfy { $0 < .seconds(2) }, "decision to completion: \(waits.map(\.description))")
            // The slow run was still in its model turn then, and finishes on its own.
            let slowRun = try await stack.watch(slow.runID, waitFor: [slowApproval])
            #expect(slowRun.status == "completed")
            #expect(clock.now - slowDecided >= Self.slowTurn)
            #expect(try await stack.books("alice") == "1500.00/1500.00")
            #expect(try await stack.books("bob") == "150.00/150.00")
        }
    }
}
