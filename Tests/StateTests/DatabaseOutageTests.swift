import Foundation
import RPC
import RPCTesting
import Testing

/// PostgreSQL goes away under a running state-svc (crashed, restarted, failed over)
/// and comes back: calls made meanwhile wait it out inside their deadline, or fail
/// UNAVAILABLE and say so; nothing acknowledged is lost; watchers carry on.
struct DatabaseOutageTests {
    @Test func callsDuringARestartOfPostgreSQLAreServedWhenItIsBack() async throws {
        let cluster = try PostgresTestCluster.start(durable: true)
        let state = try await StateFixture.start(storage: ["--database", try cluster.createDatabase(prefix: "outage")])
        defer { state.stopNow() }
        let runID = try await state.createRun()
        let reader = try state.client("operator")
        let seen = SeenEvents()
        let watch = Task { try await RunEventsTests.watch(reader, runID, after: 0) { seen.add($0) } }
        defer { watch.cancel() }
        try await Task.sleep(for: .milliseconds(200))

        try cluster.crash()
        // A save sent while the database is down, with a deadline longer than the outage.
        let save = Task {
            try await state.agent.call(
                "state.save_run",
                ["run_id": .string(runID), "expected_version": 1, "status": "running", "data": ["schema_version": 1],
                 "events": [["type": "tool_call"]]] as JSONValue,
                as: JSONValue.self, options: .init(timeout: .seconds(20)))
        }
        try await Task.sleep(for: .seconds(1))
        try cluster.startAgain()
        let saved = try await save.value
        #expect(saved["version"] == 2, "the save waited for the database and was made once")
        #expect(try await state.call("state.load_run", ["run_id": .string(runID)])["version"] == 2)
        // The watcher missed no event: after the reconnect every watcher looks again.
        try await seen.wait(for: 1)
        #expect(seen.all.compactMap { $0["type"]?.stringValue } == ["tool_call"])
    }

    @Test func aCallWhoseDeadlineEndsDuringTheOutageSaysTheDatabaseIsAway() async throws {
        let cluster = try PostgresTestCluster.start(durable: true)
        let state = try await StateFixture.start(storage: ["--database", try cluster.createDatabase(prefix: "away")])
        defer { state.stopNow() }
        let runID = try await state.createRun()
        try cluster.crash()
        do {
            _ = try await state.agent.call(
                "state.load_run", ["run_id": .string(runID)] as JSONValue, as: JSONValue.self, options: .init(timeout: .seconds(2)))
            Issue.record("a load succeeded with the database down")
        } catch let error as RPCError {
            #expect(["DATABASE_UNAVAILABLE", "DEADLINE_EXCEEDED"].contains(error.reason), "\(error)")
        }
        try cluster.startAgain()
        #expect(try await state.call("state.load_run", ["run_id": .string(runID)])["version"] == 1)
    }
}
