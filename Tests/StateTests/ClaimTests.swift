import Foundation
import RPC
import Testing

/// Leases: exclusive, expiring, enforced on saves; and exactly-once resume under a race.
struct ClaimTests {
    @Test(arguments: StoreBackend.allCases) func aLeaseIsExclusiveAndBindsSaves(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let run = JSONValue.string(try await state.createRun())
        let claimed = try await state.call("state.claim_run", ["run_id": run, "owner": "agent-a", "lease_ms": 30_000])
        #expect(claimed["lease"]?["owner"] == "agent-a")
        #expect(claimed["version"] == 1)
        #expect(claimed["data"]?["schema_version"] == 1)

        let refused = await state.expectError(
            "state.claim_run", ["run_id": run, "owner": "agent-b", "lease_ms": 30_000], reason: "RUN_CLAIMED")
        #expect(refused?.status == .aborted)
        #expect(refused?.details["owner"] == "agent-a")
        // Saves by anyone else, or without an owner, are refused and change nothing.
        await state.expectError(
            "state.save_run", ["run_id": run, "expected_version": 1, "status": "running", "data": ["schema_version": 1], "owner": "agent-b"],
            reason: "RUN_CLAIMED")
        await state.expectError(
            "state.save_run", ["run_id": run, "expected_version": 1, "status": "running", "data": ["schema_version": 1]],
            reason: "RUN_CLAIMED")
        await state.expectError("state.release_run", ["run_id": run, "owner": "agent-b"], reason: "RUN_CLAIMED")
        // The owner saves, renews, and releases.
        try await state.call(
            "state.save_run", ["run_id": run, "expected_version": 1, "status": "running", "data": ["schema_version": 1], "owner": "agent-a"])
        let renewed = try await state.call("state.claim_run", ["run_id": run, "owner": "agent-a", "lease_ms": 30_000, "expected_version": 2])
        #expect(renewed["version"] == 2)
        await state.expectError(
            "state.claim_run", ["run_id": run, "owner": "agent-a", "lease_ms": 30_000, "expected_version": 1], reason: "VERSION_CONFLICT")
        let released = try await state.call("state.release_run", ["run_id": run, "owner": "agent-a"])
        #expect(released["released"] == true)
        let again = try await state.call("state.release_run", ["run_id": run, "owner": "agent-a"])
        #expect(again["released"] == false)
        let loaded = try await state.call("state.load_run", ["run_id": run])
        #expect(loaded["lease"] == nil)
        try await state.call("state.claim_run", ["run_id": run, "owner": "agent-b", "lease_ms": 30_000])
        // A final save ends the lease.
        try await state.call(
            "state.save_run", ["run_id": run, "expected_version": 2, "status": "completed", "data": ["schema_version": 1], "owner": "agent-b"])
        let done = try await state.call("state.load_run", ["run_id": run])
        #expect(done["lease"] == nil)
    }

    @Test(arguments: StoreBackend.allCases) func claimValidation(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let run = JSONValue.string(try await state.createRun())
        for lease: Int64 in [0, 99, 600_001, -5] {
            let error = await state.expectError("state.claim_run", ["run_id": run, "owner": "a", "lease_ms": .int(lease)], reason: "INVALID_FIELD")
            #expect(error?.details["field"] == "lease_ms")
        }
        await state.expectError("state.claim_run", ["run_id": run, "owner": "", "lease_ms": 1000], reason: "INVALID_OWNER")
        await state.expectError("state.claim_run", ["run_id": run, "owner": "a\nb", "lease_ms": 1000], reason: "INVALID_OWNER")
        await state.expectError("state.claim_run", ["run_id": "missing", "owner": "a", "lease_ms": 1000], reason: "RUN_NOT_FOUND")
        await state.expectError("state.release_run", ["run_id": "missing", "owner": "a"], reason: "RUN_NOT_FOUND")
        await state.expectError("state.claim_run", ["run_id": run, "lease_ms": 1000], reason: "MISSING_FIELD")
        await state.expectError("state.release_run", ["run_id": run, "owner": .string(String(repeating: "o", count: 129))], reason: "INVALID_OWNER")
    }

    /// A claimant that dies never releases; its lease runs out and another takes over.
    @Test(arguments: StoreBackend.allCases) func anExpiredLeaseCanBeTaken(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let run = JSONValue.string(try await state.createRun())
        let dying = try state.client("agent")
        let clock = ContinuousClock()
        let claimedAt = clock.now
        try await state.call("state.claim_run", ["run_id": run, "owner": "agent-dies", "lease_ms": 3_000], via: dying)
        await dying.close()  // the claimant is gone without releasing
        // Still inside the lease (a loaded machine can take seconds between two calls,
        // so only check while there is clearly time left): the run is refused.
        if clock.now - claimedAt < .milliseconds(2_000) {
            await state.expectError("state.claim_run", ["run_id": run, "owner": "agent-next", "lease_ms": 10_000], reason: "RUN_CLAIMED")
        }
        // Another agent keeps trying; it gets the run once the lease runs out, not before, and not never.
        // (3 s of lease leaves a loaded machine room to make the refused claim above in time.)
        var claim: JSONValue?
        while claim == nil, clock.now < claimedAt + .seconds(10) {
            do {
                claim = try await state.agent.call(
                    "state.claim_run", ["run_id": run, "owner": "agent-next", "lease_ms": 10_000] as JSONValue, as: JSONValue.self)
            } catch let error as RPCError where error.reason == "RUN_CLAIMED" {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let waited = clock.now - claimedAt
        #expect(waited >= .milliseconds(3_000) && waited < .seconds(10), "taken after \(waited)")
        let taken = try #require(claim)
        #expect(taken["lease"]?["owner"] == "agent-next")
        // The dead claimant's late save is refused: the run belongs to the new owner.
        await state.expectError(
            "state.save_run",
            ["run_id": run, "expected_version": 1, "status": "running", "data": ["schema_version": 1], "owner": "agent-dies"],
            reason: "RUN_CLAIMED")
        try await state.call(
            "state.save_run",
            ["run_id": run, "expected_version": 1, "status": "running", "data": ["schema_version": 1], "owner": "agent-next"])
    }

    /// Two agents race to resume the same run, round after round, each on its own
    /// connection: claim (with the version it read), save, release. Exactly one wins
    /// each round, and the history is one unbroken chain of every winner's step.
    @Test(arguments: StoreBackend.allCases) func exactlyOneOfTwoRacingClaimantsResumesEachTime(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let runID = try await state.createRun(["step": 0])
        let contenders = try ["agent-a", "agent-b"].map { (owner: $0, client: try state.client("agent")) }
        let rounds = 60
        var winners: [String] = []
        for round in 0..<rounds {
            let version = Int64(round + 1)
            let outcomes = try await withThrowingTaskGroup(of: String?.self) { group in
                for contender in contenders {
                    group.addTask {
                        try await Self.resume(runID: runID, version: version, step: round + 1, as: contender.owner, via: contender.client)
                    }
                }
                var results: [String?] = []
                for try await outcome in group { results.append(outcome) }
                return results
            }
            let won = outcomes.compactMap { $0 }
            #expect(won.count == 1, "round \(round): winners \(won)")
            winners += won
        }
        var versions: [JSONValue] = []
        var after: Int64 = 0
        while true {
            let page = try await state.call("state.run_history", ["run_id": .string(runID), "after_version": .int(after)])
            if case .array(let more)? = page["versions"] { versions += more }
            guard let next = page["next_after_version"]?.intValue else { break }
            after = next
        }
        #expect(versions.count == rounds + 1)
        for (index, entry) in versions.enumerated() {
            #expect(entry["version"]?.intValue == Int64(index + 1))
            #expect(entry["data"]?["step"]?.intValue == Int64(index), "no lost or doubled update at version \(index + 1)")
            if index > 0 { #expect(entry["owner"]?.stringValue == winners[index - 1]) }
        }
        for contender in contenders { await contender.client.close() }
    }

    /// One resume attempt: returns the owner when it claimed and saved, nil when it lost.
    static func resume(runID: String, version: Int64, step: Int, as owner: String, via client: RPCClient) async throws -> String? {
        do {
            let claimed = try await client.call(
                "state.claim_run", ["run_id": .string(runID), "owner": .string(owner), "lease_ms": 30_000, "expected_version": .int(version)] as JSONValue,
                as: JSONValue.self)
            let previous = claimed["data"]?["step"]?.intValue ?? -1
            _ = try await client.call(
                "state.save_run",
                [
                    "run_id": .string(runID), "expected_version": .int(version), "status": "running", "owner": .string(owner),
                    "data": ["schema_version": 1, "step": .int(previous + 1)],
                ] as JSONValue, as: JSONValue.self)
            _ = try await client.call("state.release_run", ["run_id": .string(runID), "owner": .string(owner)] as JSONValue, as: JSONValue.self)
            #expect(previous + 1 == Int64(step))
            return owner
        } catch let error as RPCError where error.reason == "RUN_CLAIMED" || error.reason == "VERSION_CONFLICT" {
            // The loser also tries to save behind the winner's back: refused, whatever it sends.
            do {
                _ = try await client.call(
                    "state.save_run",
                    ["run_id": .string(runID), "expected_version": .int(version), "status": "running", "owner": .string(owner),
                     "data": ["schema_version": 1, "step": 999_999]] as JSONValue, as: JSONValue.self)
                Issue.record("a losing claimant's save went through")
            } catch let error as RPCError {
                #expect(["RUN_CLAIMED", "VERSION_CONFLICT"].contains(error.reason))
            }
            return nil
        }
    }
}
