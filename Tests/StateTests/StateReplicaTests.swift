import Foundation
import PostgresSupport
import RPC
import RPCTesting
import Testing

/// Two state-svc processes on one PostgreSQL database, each with its own home and
/// socket, as two hosts would run them: what one commits, the other's callers see.
struct StateReplicaTests {
    /// How soon a commit on one replica reaches a watcher on the other by NOTIFY (the
    /// listener's safety wake would take up to 5 s).
    static let notified: Duration = .seconds(2)

    /// Two state-svc processes, each on a home of its own, on one new database.
    static func twoReplicas() async throws -> (StateFixture, StateFixture) {
        let storage = try StoreBackend.postgres.serviceArguments()
        let first = try await StateFixture.start(storage: storage)
        do {
            return (first, try await StateFixture.start(storage: storage))
        } catch {
            first.stopNow()
            throw error
        }
    }

    @Test func aWatcherOnOneReplicaSeesWhatTheOtherCommits() async throws {
        let (first, second) = try await Self.twoReplicas()
        defer {
            first.stopNow()
            second.stopNow()
        }
        // Created and written through the first, followed through the second.
        let (watch, seen) = try await RunEventsTests.startedRunWatched(first, "run-x", by: try second.client("operator"))
        defer { watch.cancel() }
        try await first.call("state.append_events", ["run_id": "run-x", "expected_version": 1, "events": [["type": "tool_call"]]])
        // Within a bound well under the listener's 5 s safety wake: the NOTIFY woke it.
        try await seen.wait(for: 2, within: Self.notified)
        #expect(seen.all.compactMap { $0["seq"]?.intValue } == [1, 2])
        // A save with no events still wakes the other replica's watcher: the run finished
        // there, so the watch ends by itself.
        try await first.call("state.save_run", [
            "run_id": "run-x", "expected_version": 1, "status": "completed", "data": ["schema_version": 1],
        ])
        let clock = ContinuousClock()
        let saved = clock.now
        let ended = try await watch.value
        #expect(ended["sent"] == 2)
        #expect(clock.now - saved < Self.notified, "the watch ended \(clock.now - saved) after the save: not by its NOTIFY")
    }

    @Test func aLeaseTakenThroughOneReplicaBindsTheOther() async throws {
        let (first, second) = try await Self.twoReplicas()
        defer {
            first.stopNow()
            second.stopNow()
        }
        let runID = try await first.createRun()
        try await first.call("state.claim_run", ["run_id": .string(runID), "owner": "host-a", "lease_ms": 60_000])
        await second.expectError(
            "state.claim_run", ["run_id": .string(runID), "owner": "host-b", "lease_ms": 60_000], reason: "RUN_CLAIMED")
        await second.expectError(
            "state.save_run",
            ["run_id": .string(runID), "expected_version": 1, "status": "running", "data": ["schema_version": 1], "owner": "host-b"],
            reason: "RUN_CLAIMED")
        try await first.call(
            "state.save_run",
            ["run_id": .string(runID), "expected_version": 1, "status": "running", "data": ["schema_version": 1], "owner": "host-a"])
        // The first replica dies; the second serves the run as it was saved.
        await first.process.kill9()
        let loaded = try await second.call("state.load_run", ["run_id": .string(runID)])
        #expect(loaded["version"] == 2)
        #expect(loaded["lease"]?["owner"] == "host-a")
    }

    @Test func aWatcherWhoseReplicaLostItsListeningConnectionStillSeesTheOthersCommits() async throws {
        let (first, second) = try await Self.twoReplicas()
        defer {
            first.stopNow()
            second.stopNow()
        }
        let (watch, seen) = try await RunEventsTests.startedRunWatched(first, "run-l", by: try second.client("operator"))
        defer { watch.cancel() }
        // Every LISTEN on the database is cut (both replicas'), as a failover would.
        let cluster = try PostgresTestCluster.shared()
        let database = try PostgresURL(parsing: try #require(first.storage.last)).database
        _ = try cluster.runProgram("psql", [
            "-d", database, "-Atc", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
        ])
        try await first.call("state.append_events", ["run_id": "run-l", "expected_version": 1, "events": [["type": "tool_call"]]])
        // The replica listens again (after 1 s) and wakes its watchers, before the 5 s safety wake.
        try await seen.wait(for: 2, within: .seconds(3))
        #expect(seen.all.compactMap { $0["type"]?.stringValue } == ["run_started", "tool_call"])
    }
}
