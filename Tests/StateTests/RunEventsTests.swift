import Foundation
import RPC
import RPCTesting
import Synchronization
import Testing

/// A run's events as data, over the real socket: appended with the write that makes
/// them true, numbered per run without gaps, read back in pages, followed as they
/// commit, and refused when malformed or out of turn.
struct RunEventsTests {
    @Test(arguments: StoreBackend.allCases) func eventsAreNumberedPerRunWithTheWritesThatMakeThemTrue(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let created = try await state.call("state.create_run", [
            "run_id": "run-e1", "data": ["schema_version": 1],
            "events": [["type": "run_started", "mode": "tools"], ["type": "plan", "seq": 99, "at": "forged"]],
        ])
        #expect(created["last_event_seq"] == 2)
        let other = try await state.call("state.create_run", ["run_id": "run-e2", "data": ["schema_version": 1]])
        #expect(other["last_event_seq"] == 0)
        let appended = try await state.call("state.append_events", [
            "run_id": "run-e1", "expected_version": 1, "events": [["type": "tool_call", "name": "get_balance"]],
        ])
        #expect(appended["last_event_seq"] == 3)
        let saved = try await state.call("state.save_run", [
            "run_id": "run-e1", "expected_version": 1, "status": "completed", "data": ["schema_version": 1],
            "events": [["type": "run_completed", "reply": "done"]],
        ])
        #expect(saved["last_event_seq"] == 4)

        let all = try await state.call("state.read_events", ["run_id": "run-e1"])
        let events = all["events"]?.arrayValues ?? []
        #expect(events.compactMap { $0["seq"]?.intValue } == [1, 2, 3, 4])
        #expect(events.compactMap { $0["type"]?.stringValue } == ["run_started", "plan", "tool_call", "run_completed"])
        #expect(events[1]["at"] != "forged", "the store sets seq and at, whatever the appender wrote")
        #expect(all["has_more"] == false && all["status"] == "completed" && all["last_event_seq"] == 4)
        let page = try await state.call("state.read_events", ["run_id": "run-e1", "after_seq": 1, "limit": 2])
        #expect((page["events"]?.arrayValues ?? []).compactMap { $0["seq"]?.intValue } == [2, 3])
        #expect(page["has_more"] == true)
        let none = try await state.call("state.read_events", ["run_id": "run-e2", "after_seq": 0])
        #expect(none["events"]?.arrayValues?.isEmpty == true && none["last_event_seq"] == 0)
    }

    @Test(arguments: StoreBackend.allCases) func appendingIsCheckedLikeASave(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        try await state.call("state.create_run", ["run_id": "run-a", "data": ["schema_version": 1]])
        await state.expectError(
            "state.append_events", ["run_id": "run-a", "expected_version": 2, "events": [["type": "x"]]], reason: "VERSION_CONFLICT")
        try await state.call("state.claim_run", ["run_id": "run-a", "owner": "resumer-1", "lease_ms": 60_000])
        await state.expectError(
            "state.append_events", ["run_id": "run-a", "expected_version": 1, "events": [["type": "x"]]], reason: "RUN_CLAIMED")
        try await state.call(
            "state.append_events", ["run_id": "run-a", "expected_version": 1, "owner": "resumer-1", "events": [["type": "x"]]])
        // A save that releases: the lease ends with it, as one change.
        try await state.call("state.save_run", [
            "run_id": "run-a", "expected_version": 1, "owner": "resumer-1", "status": "awaiting_approval", "release": true,
            "data": ["schema_version": 1], "events": [["type": "run_paused", "pending": ["ap-1"]]],
        ])
        let loaded = try await state.call("state.load_run", ["run_id": "run-a"])
        #expect(loaded["lease"] == nil, "released by the save")
        await state.expectError(
            "state.append_events", ["run_id": "run-a", "expected_version": 2, "events": [["type": 7]]], reason: "INVALID_EVENT")
        await state.expectError(
            "state.append_events", ["run_id": "run-a", "expected_version": 2, "events": ["not an object"]], reason: "INVALID_EVENT")
        let large = String(repeating: "x", count: 70_000)
        await state.expectError(
            "state.append_events", ["run_id": "run-a", "expected_version": 2, "events": [["type": "big", "text": .string(large)]]],
            reason: "EVENT_TOO_LARGE")
        await state.expectError("state.read_events", ["run_id": "run-missing"], reason: "RUN_NOT_FOUND")
        // Nothing refused was stored: the events are still 1 and 2.
        let events = try await state.call("state.read_events", ["run_id": "run-a"])
        #expect(events["last_event_seq"] == 2)
    }

    /// A finished run has no more events (its last ones commit with the save that finishes
    /// it), so its watch ends by itself: a watcher that followed it to its end needs no
    /// rpc.cancel. The result says where it stopped.
    @Test(arguments: StoreBackend.allCases) func theWatchOfARunEndsByItselfOnceTheRunIsFinished(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let reader = try state.client("operator")
        let (watch, seen) = try await Self.startedRunWatched(state, "run-e", by: reader)
        defer { watch.cancel() }
        try await state.call("state.save_run", [
            "run_id": "run-e", "expected_version": 1, "status": "failed", "data": ["schema_version": 1],
            "events": [["type": "error"]],
        ])
        let started = ContinuousClock.now
        let ended = try await watch.value
        #expect(ContinuousClock.now - started < .seconds(10), "the watch ended when the run did, not at its deadline")
        #expect(ended["last_seq"] == 2)
        #expect(ended["sent"] == 2)
        #expect(seen.all.compactMap { $0["type"]?.stringValue } == ["run_started", "error"])
        // A watch begun after the end sends what there is and ends at once.
        let late = try await Self.watch(reader, "run-e", after: 1) { _ in }
        #expect(late["sent"] == 1)
    }

    /// Follows a run's events with `state.watch_events` from `after`.
    static func watch(
        _ reader: RPCClient, _ runID: String, after: Int64, onEvent: @escaping @Sendable (JSONValue) -> Void
    ) async throws -> JSONValue {
        try await reader.stream(
            "state.watch_events", ["run_id": .string(runID), "after_seq": .int(after)] as JSONValue, event: JSONValue.self,
            as: JSONValue.self, options: .init(timeout: .seconds(20)), onEvent: onEvent)
    }

    /// Creates a run with its `run_started` event and follows it from the start, once
    /// that first event has arrived.
    static func startedRunWatched(_ state: StateFixture, _ runID: String, by reader: RPCClient) async throws -> (Task<JSONValue, any Error>, SeenEvents) {
        try await state.call("state.create_run", ["run_id": .string(runID), "data": ["schema_version": 1], "events": [["type": "run_started"]]])
        let seen = SeenEvents()
        let following = Task { try await Self.watch(reader, runID, after: 0) { seen.add($0) } }
        try await seen.wait(for: 1)
        return (following, seen)
    }

    @Test(arguments: StoreBackend.allCases) func watchersSeeEachEventAsItCommitsAndTheGatewayMayRead(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let reader = try state.client("operator")
        let (watch, seen) = try await Self.startedRunWatched(state, "run-w", by: reader)
        defer { watch.cancel() }
        try await state.call("state.append_events", ["run_id": "run-w", "expected_version": 1, "events": [["type": "tool_call"]]])
        try await state.call("state.save_run", [
            "run_id": "run-w", "expected_version": 1, "status": "completed", "data": ["schema_version": 1],
            "events": [["type": "run_completed"]],
        ])
        try await seen.wait(for: 3)
        #expect(seen.all.compactMap { $0["seq"]?.intValue } == [1, 2, 3])
        #expect(seen.all.compactMap { $0["type"]?.stringValue } == ["run_started", "tool_call", "run_completed"])
        // Approvers read nothing of runs; the gateway reads events, never documents.
        let approver = try state.client("approver1")
        await state.expectError("state.read_events", ["run_id": "run-w"], reason: "ROLE_NOT_ALLOWED", via: approver)
    }
}

/// Events a stream delivered, in order.
final class SeenEvents: Sendable {
    private let events = Mutex<[JSONValue]>([])

    func add(_ event: JSONValue) { events.withLock { $0.append(event) } }

    var all: [JSONValue] { events.withLock { $0 } }

    /// Waits (up to `bound`, 10 s unless said) until `count` events arrived.
    func wait(for count: Int, within bound: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let deadline = ContinuousClock.now + bound
        while all.count < count {
            guard ContinuousClock.now < deadline else {
                Issue.record("only \(all.count) of \(count) events arrived within \(bound)", sourceLocation: sourceLocation)
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

