import Foundation
import RPC
import Testing

/// Sessions (a conversation across runs) and durable consumer cursors.
struct SessionCursorTests {
    @Test(arguments: StoreBackend.allCases) func sessionsAppendAndLoadNewestInOrder(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let empty = try await state.call("state.load_session", ["session_id": "s1"])
        #expect(empty["total"] == 0)
        #expect(empty["messages"] == [])
        let first = try await state.call("state.append_session", [
            "session_id": "s1",
            "messages": [["role": "user", "content": "Transfer $150 to Alice"], ["role": "assistant", "tool_calls": [["id": "call_1"]]]],
        ])
        #expect(first["appended"] == 2 && first["total"] == 2)
        let second = try await state.call("state.append_session", [
            "session_id": "s1", "messages": [["role": "tool", "tool_call_id": "call_1", "content": "DENIED: too much"]],
        ])
        #expect(second["total"] == 3)
        let all = try await state.call("state.load_session", ["session_id": "s1"])
        #expect(all["messages"] == [
            ["role": "user", "content": "Transfer $150 to Alice"], ["role": "assistant", "tool_calls": [["id": "call_1"]]],
            ["role": "tool", "tool_call_id": "call_1", "content": "DENIED: too much"],
        ])
        let newest = try await state.call("state.load_session", ["session_id": "s1", "limit": 2])
        #expect(newest["total"] == 3)
        #expect(items(newest["messages"]).compactMap { $0["role"]?.stringValue } == ["assistant", "tool"])
    }

    @Test(arguments: StoreBackend.allCases) func sessionBadInput(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        await state.expectError("state.append_session", ["session_id": "s", "messages": []], reason: "INVALID_FIELD")
        let notObject = await state.expectError(
            "state.append_session", ["session_id": "s", "messages": [["role": "user"], "just text"]], reason: "INVALID_MESSAGE")
        #expect(notObject?.details["field"] == "messages.1")
        await state.expectError("state.append_session", ["session_id": "s", "messages": "hello"], reason: "INVALID_FIELD")
        await state.expectError("state.append_session", ["session_id": "bad id", "messages": [["a": 1]]], reason: "INVALID_ID")
        await state.expectError("state.append_session", ["messages": [["a": 1]]], reason: "MISSING_FIELD")
        let big = JSONValue.string(String(repeating: "m", count: 200 << 10))
        let tooMuch = await state.expectError(
            "state.append_session", ["session_id": "s", "messages": [["c": big], ["c": big], ["c": big]]], reason: "MESSAGES_TOO_LARGE")
        #expect(tooMuch?.status == .resourceExhausted)
        await state.expectError("state.load_session", ["session_id": "s", "limit": 1001], reason: "INVALID_FIELD")
        await state.expectError("state.load_session", ["session_id": ""], reason: "INVALID_ID")
        let untouched = try await state.call("state.load_session", ["session_id": "s"])
        #expect(untouched["total"] == 0)
    }

    @Test(arguments: StoreBackend.allCases) func cursorsStartAtZeroAndMoveByCompareAndSwap(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let fresh = try await state.call("state.get_cursor", ["name": "agent.approval_feed"])
        #expect(fresh["value"] == 0)
        #expect(fresh["updated_at"] == nil)
        try await state.call("state.set_cursor", ["name": "agent.approval_feed", "value": 5, "expected": 0])
        let conflict = await state.expectError(
            "state.set_cursor", ["name": "agent.approval_feed", "value": 9, "expected": 0], reason: "CURSOR_CONFLICT")
        #expect(conflict?.details["current"] == 5)
        #expect(conflict?.status == .aborted)
        try await state.call("state.set_cursor", ["name": "agent.approval_feed", "value": 7, "expected": 5])
        try await state.call("state.set_cursor", ["name": "other", "value": 3])
        let read = try await state.call("state.get_cursor", ["name": "agent.approval_feed"])
        #expect(read["value"] == 7)
        #expect(read["updated_at"]?.stringValue != nil)
        await state.expectError("state.set_cursor", ["name": "c", "value": -1], reason: "INVALID_FIELD")
        await state.expectError("state.set_cursor", ["name": "c", "value": "7"], reason: "INVALID_FIELD")
        await state.expectError("state.set_cursor", ["name": "c", "value": 1, "expected": -2], reason: "INVALID_FIELD")
        await state.expectError("state.get_cursor", ["name": "no/slash"], reason: "INVALID_ID")
    }
}
