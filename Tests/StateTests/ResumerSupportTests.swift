import Foundation
import RPC
import Testing

/// What state-svc offers a resumer and a watcher so that a cycle needs fewer calls:
/// a claim that names the status it expects, a watch that starts with the run itself,
/// and `rpc.stats` counting what the service did.
struct ResumerSupportTests {
    @Test(arguments: StoreBackend.allCases) func aClaimNamingAStatusTakesOnlyARunWithThatStatus(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let run = JSONValue.string(try await state.createRun())
        // The run is `running` (a chat still works on it): a resumer's claim leaves it alone.
        let refused = await state.expectError(
            "state.claim_run", ["run_id": run, "owner": "resumer", "lease_ms": 10_000, "expected_status": "awaiting_approval"],
            reason: "UNEXPECTED_STATUS")
        #expect(refused?.status == .failedPrecondition)
        #expect(refused?.details["run_status"] == "running")
        let untouched = try await state.call("state.load_run", ["run_id": run])
        #expect(untouched["lease"] == nil, "a refused claim takes no lease")
        // Paused, it is claimed, and the claim returns the run (no load needed).
        try await state.call(
            "state.save_run", ["run_id": run, "expected_version": 1, "status": "awaiting_approval", "data": ["schema_version": 1]])
        let claimed = try await state.call(
            "state.claim_run", ["run_id": run, "owner": "resumer", "lease_ms": 10_000, "expected_status": "awaiting_approval"])
        #expect(claimed["status"] == "awaiting_approval")
        #expect(claimed["version"] == 2)
        #expect(claimed["lease"]?["owner"] == "resumer")
        await state.expectError(
            "state.claim_run", ["run_id": run, "owner": "resumer", "lease_ms": 10_000, "expected_status": "paused"],
            reason: "INVALID_STATUS")
    }

    @Test(arguments: StoreBackend.allCases) func aRenewalNeverTakesBackARunItsOwnerReleased(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let run = JSONValue.string(try await state.createRun())
        await state.expectError(
            "state.claim_run", ["run_id": run, "owner": "resumer", "lease_ms": 10_000, "renew_only": true], reason: "LEASE_NOT_HELD")
        try await state.call("state.claim_run", ["run_id": run, "owner": "resumer", "lease_ms": 10_000])
        let renewed = try await state.call("state.claim_run", ["run_id": run, "owner": "resumer", "lease_ms": 20_000, "renew_only": true])
        #expect(renewed["lease"]?["owner"] == "resumer")
        // Paused again and released by the same save; a renewal sent before that lands after it.
        try await state.call("state.save_run", [
            "run_id": run, "expected_version": 1, "status": "awaiting_approval", "data": ["schema_version": 1],
            "owner": "resumer", "release": true,
        ])
        await state.expectError(
            "state.claim_run", ["run_id": run, "owner": "resumer", "lease_ms": 10_000, "renew_only": true], reason: "LEASE_NOT_HELD")
        let loaded = try await state.call("state.load_run", ["run_id": run])
        #expect(loaded["lease"] == nil, "the paused run stays free for the next resume and at rest for watchers")
    }

    @Test(arguments: StoreBackend.allCases) func aWatchWithTheRunSendsItFirstThenOnlyWhatComesAfter(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        try await state.call("state.create_run", [
            "run_id": "run-s", "data": ["schema_version": 1, "step": "one"], "events": [["type": "run_started"], ["type": "tool_call"]],
        ])
        let reader = try state.client("agent")
        let seen = SeenEvents()
        let watch = Task {
            try await reader.stream(
                "state.watch_events", ["run_id": "run-s", "with_run": true] as JSONValue, event: JSONValue.self, as: JSONValue.self,
                options: .init(timeout: .seconds(20))
            ) { seen.add($0) }
        }
        defer { watch.cancel() }
        try await seen.wait(for: 1)
        let snapshot = try #require(seen.all.first)
        #expect(snapshot["type"] == "run_snapshot")
        #expect(snapshot["last_event_seq"] == 2)
        #expect(snapshot["run"]?["status"] == "running")
        #expect(snapshot["run"]?["data"]?["step"] == "one")
        // Without after_seq, only what commits after the snapshot follows.
        try await state.call("state.save_run", [
            "run_id": "run-s", "expected_version": 1, "status": "completed", "data": ["schema_version": 1],
            "events": [["type": "run_completed"]],
        ])
        try await seen.wait(for: 2)
        #expect(seen.all.dropFirst().compactMap { $0["seq"]?.intValue } == [3])

        // With after_seq, the backlog after it comes after the snapshot.
        let backlog = SeenEvents()
        let again = Task {
            try await reader.stream(
                "state.watch_events", ["run_id": "run-s", "with_run": true, "after_seq": 1] as JSONValue, event: JSONValue.self,
                as: JSONValue.self, options: .init(timeout: .seconds(20))
            ) { backlog.add($0) }
        }
        defer { again.cancel() }
        try await backlog.wait(for: 3)
        #expect(backlog.all.compactMap { $0["type"]?.stringValue } == ["run_snapshot", "tool_call", "run_completed"])
        #expect(backlog.all.first?["run"]?["status"] == "completed")
        #expect(backlog.all.first?["start_seq"] == 1)
    }

    @Test(arguments: StoreBackend.allCases) func aWatcherThatDecidedStartsAtThePauseThatWaitedForIt(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        // Paused on a-1, resumed and paused on a-2, then resumed to the end: all before the watch.
        try await state.call("state.create_run", [
            "run_id": "run-p", "data": ["schema_version": 1],
            "events": [["type": "run_started"], ["type": "run_paused", "pending": ["a-1"]]],
        ])
        try await state.call("state.save_run", [
            "run_id": "run-p", "expected_version": 1, "status": "awaiting_approval", "data": ["schema_version": 1],
            "events": [["type": "tool_result"], ["type": "run_paused", "pending": ["a-2", "a-3"]]],
        ])
        try await state.call("state.save_run", [
            "run_id": "run-p", "expected_version": 2, "status": "completed", "data": ["schema_version": 1],
            "events": [["type": "tool_result"], ["type": "run_completed"]],
        ])
        let reader = try state.client("agent")
        func watched(_ anyOf: [JSONValue]) async throws -> [JSONValue] {
            let seen = SeenEvents()
            let watch = Task {
                try await reader.stream(
                    "state.watch_events",
                    ["run_id": "run-p", "with_run": true, "after_last": ["type": "run_paused", "field": "pending", "any_of": .array(anyOf)]]
                        as JSONValue,
                    event: JSONValue.self, as: JSONValue.self, options: .init(timeout: .seconds(20))
                ) { seen.add($0) }
            }
            defer { watch.cancel() }
            try await seen.wait(for: 1)
            let start = try #require(seen.all.first?["start_seq"]?.intValue)
            try await seen.wait(for: 1 + Int(6 - start))
            return seen.all
        }
        let first = try await watched(["a-1"])
        #expect(first.first?["start_seq"] == 2)
        #expect(first.dropFirst().compactMap { $0["seq"]?.intValue } == [3, 4, 5, 6])
        let second = try await watched(["a-3", "nothing"])
        #expect(second.first?["start_seq"] == 4)
        #expect(second.dropFirst().compactMap { $0["seq"]?.intValue } == [5, 6])
        // No pause matches: from the snapshot on.
        let none = try await watched(["a-9"])
        #expect(none.first?["start_seq"] == 6)
        #expect(none.count == 1)
        await state.expectError(
            "state.watch_events", ["run_id": "run-p", "after_last": ["type": "run_paused", "field": "pending'); --", "any_of": ["a-1"]]],
            reason: "INVALID_FIELD")
    }

    @Test(arguments: StoreBackend.allCases) func statsCountCallsByMethodAndDurableWrites(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let before = try await state.call("rpc.stats", [:])
        let run = JSONValue.string(try await state.createRun())
        try await state.call("state.load_run", ["run_id": run])
        try await state.call("state.load_run", ["run_id": run])
        let after = try await state.call("rpc.stats", [:])
        let calls = { (stats: JSONValue, method: String) in stats["calls"]?[method]?.intValue ?? 0 }
        #expect(calls(after, "state.load_run") - calls(before, "state.load_run") == 2)
        #expect(calls(after, "state.create_run") - calls(before, "state.create_run") == 1)
        #expect(calls(after, "rpc.stats") - calls(before, "rpc.stats") == 1, "the first rpc.stats counts itself")
        let writes = (after["durable_writes"]?.intValue ?? 0) - (before["durable_writes"]?.intValue ?? 0)
        #expect(writes == 1, "create_run is one durable write; reads are none")
        #expect((after["commits"]?.intValue ?? 0) - (before["commits"]?.intValue ?? 0) == 1)
    }
}
