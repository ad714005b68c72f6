import Foundation
import RPC
import RPCTesting
import Testing

/// Wrong types, oversize documents, unknown runs, bad envelopes, the wrong identity.
struct BadInputTests {
    @Test(arguments: StoreBackend.allCases) func documentsMustBeObjectsWithASchemaVersion(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let cases: [(JSONValue, String)] = [
            ("text", "data"), (42, "data"), ([1, 2], "data"),
            (["messages": []], "data.schema_version"), (["schema_version": "1"], "data.schema_version"),
            (["schema_version": 0], "data.schema_version"), (["schema_version": .double(1.5)], "data.schema_version"),
        ]
        let runID = JSONValue.string(try await state.createRun())
        for (data, field) in cases {
            let created = await state.expectError("state.create_run", ["data": data], reason: "INVALID_DOCUMENT")
            #expect(created?.details["field"] == .string(field))
            await state.expectError(
                "state.save_run", ["run_id": runID, "expected_version": 1, "status": "running", "data": data], reason: "INVALID_DOCUMENT")
        }
        await state.expectError("state.create_run", [:], reason: "MISSING_FIELD")
    }

    @Test(arguments: StoreBackend.allCases) func oversizeDocumentsAreRefused(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let runID = JSONValue.string(try await state.createRun())
        // Just under the limit is stored; just over is RESOURCE_EXHAUSTED; the run is untouched.
        let fits = JSONValue.object(["schema_version": 1, "blob": .string(String(repeating: "a", count: (512 << 10) - 40))])
        try await state.call("state.save_run", ["run_id": runID, "expected_version": 1, "status": "running", "data": fits])
        let tooBig = JSONValue.object(["schema_version": 1, "blob": .string(String(repeating: "a", count: 600 << 10))])
        let error = await state.expectError(
            "state.save_run", ["run_id": runID, "expected_version": 2, "status": "running", "data": tooBig], reason: "DOCUMENT_TOO_LARGE")
        #expect(error?.status == .resourceExhausted)
        await state.expectError("state.create_run", ["data": tooBig], reason: "DOCUMENT_TOO_LARGE")
        let loaded = try await state.call("state.load_run", ["run_id": runID])
        #expect(loaded["version"] == 2)
        #expect(loaded["data"] == fits)
    }

    @Test(arguments: StoreBackend.allCases) func wrongTypesNameTheField(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let runID = JSONValue.string(try await state.createRun())
        let cases: [(String, JSONValue, String)] = [
            ("state.load_run", ["run_id": 5], "run_id"),
            ("state.save_run", ["run_id": runID, "expected_version": "1", "status": "running", "data": ["schema_version": 1]], "expected_version"),
            ("state.save_run", ["run_id": runID, "expected_version": 1, "status": 3, "data": ["schema_version": 1]], "status"),
            ("state.save_run", ["run_id": runID, "expected_version": 0, "status": "running", "data": ["schema_version": 1]], "expected_version"),
            ("state.claim_run", ["run_id": runID, "owner": "o", "lease_ms": "long"], "lease_ms"),
            ("state.list_runs", ["limit": "ten"], "limit"),
            ("state.run_history", ["run_id": runID, "after_version": -1], "after_version"),
            ("state.run_history", ["run_id": runID, "limit": 0], "limit"),
            ("state.get_cursor", ["name": true], "name"),
        ]
        for (method, params, field) in cases {
            let error = await state.expectError(method, params, reason: "INVALID_FIELD")
            #expect(error?.code == -32602)
            #expect(error?.details["field"] == .string(field), "\(method) names \(field)")
        }
        await state.expectError("state.save_run", ["run_id": runID, "status": "running", "data": ["schema_version": 1]], reason: "MISSING_FIELD")
    }

    @Test(arguments: StoreBackend.allCases) func unknownRuns(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        for method in ["state.load_run", "state.run_history"] {
            let error = await state.expectError(method, ["run_id": "run_missing"], reason: "RUN_NOT_FOUND")
            #expect(error?.code == -32005)
        }
    }

    @Test(arguments: StoreBackend.allCases) func onlyTheAgentAndOperatorMayUseState(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let runID = JSONValue.string(try await state.createRun())
        let approver = try state.client("approver1")
        let anonymous = try state.client(nil)
        let operatorClient = try state.client("operator")
        try await state.call("state.load_run", ["run_id": runID], via: operatorClient)
        await state.expectError("state.load_run", ["run_id": runID], reason: "ROLE_NOT_ALLOWED", via: approver)
        await state.expectError("state.list_runs", [:], reason: "ROLE_NOT_ALLOWED", via: approver)
        await state.expectError("state.load_run", ["run_id": runID], reason: "UNAUTHENTICATED", via: anonymous)
        let forged = RPCClient(path: state.home.socket("state"), token: "not-a-token")
        await state.expectError("state.load_run", ["run_id": runID], reason: "UNKNOWN_TOKEN", via: forged)
        for client in [approver, anonymous, operatorClient, forged] { await client.close() }
    }
}
