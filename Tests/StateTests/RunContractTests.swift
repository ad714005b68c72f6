import Foundation
import RPC
import RPCTesting
import Testing

/// Every run method over the real socket: the happy path checked against the
/// contract, and each documented error provoked.
struct RunContractTests {
    @Test(arguments: StoreBackend.allCases) func servedAndDocumentedMethodsAgree(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let documented: [String]
        if case .array(let methods)? = state.contract.document["methods"] {
            documented = methods.compactMap { $0["name"]?.stringValue }.filter { $0.hasPrefix("state.") }.sorted()
        } else {
            documented = []
        }
        #expect(documented == [
            "state.append_events", "state.append_session", "state.claim_run", "state.create_run", "state.get_cursor",
            "state.list_runs", "state.load_run", "state.load_session", "state.prune", "state.read_events", "state.release_run",
            "state.run_history", "state.save_run", "state.set_cursor", "state.watch_events",
        ])
        for method in documented {
            let schema = try #require(state.contract.method(method)?["result"]?["schema"])
            #expect(schema != .null, "\(method) documents its result")
            #expect(!state.contract.documentedErrors(method).isEmpty, "\(method) documents its errors")
            // Served: a call with no params is never METHOD_NOT_FOUND.
            do {
                _ = try await state.agent.call(method, JSONValue.object([:]), as: JSONValue.self)
            } catch let error as RPCError {
                #expect(error.reason != "METHOD_NOT_FOUND", "\(method) is documented but not served")
            }
        }
        let health = try await state.call("health.check", [:])
        #expect(health["service"] == "state")
    }

    @Test(arguments: StoreBackend.allCases) func createLoadSaveAndHistory(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let created = try await state.call(
            "state.create_run", ["session_id": "chat-1", "data": ["schema_version": 1, "mode": "tools", "messages": []]])
        let runID = try #require(created["run_id"]?.stringValue)
        #expect(runID.hasPrefix("run_") && runID.count == 26)
        #expect(created["version"] == 1)
        #expect(created["status"] == "running")

        let loaded = try await state.call("state.load_run", ["run_id": .string(runID)])
        #expect(loaded["data"]?["mode"] == "tools")
        #expect(loaded["session_id"] == "chat-1")
        #expect(loaded["lease"] == nil)

        let saved = try await state.call("state.save_run", [
            "run_id": .string(runID), "expected_version": 1, "status": "awaiting_approval",
            "data": ["schema_version": 1, "pending": ["approval_id": "ap-1", "hold_id": "h-1"]],
        ])
        #expect(saved["version"] == 2)
        #expect(saved["status"] == "awaiting_approval")
        try await state.call("state.save_run", [
            "run_id": .string(runID), "expected_version": 2, "status": "completed", "data": ["schema_version": 1, "answer": "done"],
        ])
        let history = try await state.call("state.run_history", ["run_id": .string(runID)])
        guard case .array(let versions)? = history["versions"] else { Issue.record("no versions"); return }
        #expect(versions.map { $0["version"] } == [1, 2, 3])
        #expect(versions.map { $0["status"] } == ["running", "awaiting_approval", "completed"])
        #expect(versions[1]["data"]?["pending"]?["hold_id"] == "h-1")
        #expect(versions[2]["saved_by"] == "agent")
        #expect(history["next_after_version"] == nil)

        let page = try await state.call("state.run_history", ["run_id": .string(runID), "after_version": 1, "limit": 1])
        #expect(items(page["versions"]).compactMap { $0["version"]?.intValue } == [2])
        #expect(page["next_after_version"] == 2)
    }

    @Test(arguments: StoreBackend.allCases) func callerChosenIDsAndDuplicates(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let created = try await state.call("state.create_run", ["run_id": "my-run.1", "data": ["schema_version": 3]])
        #expect(created["run_id"] == "my-run.1")
        await state.expectError("state.create_run", ["run_id": "my-run.1", "data": ["schema_version": 3]], reason: "RUN_EXISTS")
        for bad in ["", "has space", "slash/no", ".hidden", String(repeating: "a", count: 129), "ünïcode"] {
            await state.expectError("state.create_run", ["run_id": .string(bad), "data": ["schema_version": 1]], reason: "INVALID_ID")
        }
        await state.expectError("state.create_run", ["session_id": "a b", "data": ["schema_version": 1]], reason: "INVALID_ID")
        // Generated ids are unique and URL-safe.
        var seen = Set<String>()
        for _ in 0..<50 { seen.insert(try await state.createRun()) }
        #expect(seen.count == 50)
        #expect(seen.allSatisfy { $0.range(of: "^run_[A-Za-z0-9_-]{22}$", options: .regularExpression) != nil })
    }

    @Test(arguments: StoreBackend.allCases) func compareAndSwapAndTerminalStatuses(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let runID = try await state.createRun()
        let run = JSONValue.string(runID)
        try await state.call("state.save_run", ["run_id": run, "expected_version": 1, "status": "running", "data": ["schema_version": 1, "step": 1]])
        let conflict = await state.expectError(
            "state.save_run", ["run_id": run, "expected_version": 1, "status": "running", "data": ["schema_version": 1, "step": 99]],
            reason: "VERSION_CONFLICT")
        #expect(conflict?.details["current_version"] == 2)
        let unchanged = try await state.call("state.load_run", ["run_id": run])
        #expect(unchanged["version"] == 2)
        #expect(unchanged["data"]?["step"] == 1)

        await state.expectError(
            "state.save_run", ["run_id": "nope", "expected_version": 1, "status": "running", "data": ["schema_version": 1]],
            reason: "RUN_NOT_FOUND")
        await state.expectError(
            "state.save_run", ["run_id": run, "expected_version": 2, "status": "paused", "data": ["schema_version": 1]],
            reason: "INVALID_STATUS")

        for terminal in ["completed", "failed", "cancelled"] {
            let id = JSONValue.string(try await state.createRun())
            try await state.call("state.save_run", ["run_id": id, "expected_version": 1, "status": .string(terminal), "data": ["schema_version": 1]])
            for next in ["running", "awaiting_approval", "completed", "failed", "cancelled"] {
                let refused = await state.expectError(
                    "state.save_run", ["run_id": id, "expected_version": 2, "status": .string(next), "data": ["schema_version": 1]],
                    reason: "TERMINAL_STATUS")
                #expect(refused?.status == .failedPrecondition)
            }
            await state.expectError("state.claim_run", ["run_id": id, "owner": "a", "lease_ms": 1000], reason: "TERMINAL_STATUS")
            let final = try await state.call("state.load_run", ["run_id": id])
            #expect(final["version"] == 2 && final["status"] == .string(terminal))
        }
    }

    @Test(arguments: StoreBackend.allCases) func listRunsFiltersAndPages(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        var ids: [String] = []
        for index in 0..<7 { ids.append(try await state.createRun(sessionID: index % 2 == 0 ? "even" : "odd")) }
        try await state.call("state.save_run", ["run_id": .string(ids[0]), "expected_version": 1, "status": "completed", "data": ["schema_version": 1]])

        var collected: [String] = []
        var cursor: JSONValue? = nil
        var pages = 0
        repeat {
            var params: [String: JSONValue] = ["limit": 3]
            if let cursor { params["cursor"] = cursor }
            let page = try await state.call("state.list_runs", .object(params))
            if case .array(let runs)? = page["runs"] { collected += runs.compactMap { $0["run_id"]?.stringValue } }
            cursor = page["next_cursor"]
            pages += 1
        } while cursor != nil && pages < 10
        #expect(collected == ids)
        #expect(pages == 3)

        let even = try await state.call("state.list_runs", ["session_id": "even"])
        #expect(items(even["runs"]).count == 4)
        let completed = try await state.call("state.list_runs", ["status": "completed"])
        #expect(items(completed["runs"]).compactMap { $0["run_id"]?.stringValue } == [ids[0]])
        let evenRunning = try await state.call("state.list_runs", ["session_id": "even", "status": "running"])
        #expect(items(evenRunning["runs"]).count == 3)

        await state.expectError("state.list_runs", ["status": "done"], reason: "INVALID_STATUS")
        await state.expectError("state.list_runs", ["cursor": "garbage"], reason: "INVALID_CURSOR")
        await state.expectError("state.list_runs", ["limit": 0], reason: "INVALID_FIELD")
        await state.expectError("state.list_runs", ["limit": 501], reason: "INVALID_FIELD")
        await state.expectError("state.list_runs", ["session_id": "../x"], reason: "INVALID_ID")
    }

    @Test(arguments: StoreBackend.allCases) func pruneDeletesOnlyFinishedRunsBeforeTheCutoff(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let operatorClient = try state.client("operator")
        let finished = try await state.createRun()
        let running = try await state.createRun()
        try await state.call("state.save_run", ["run_id": .string(finished), "expected_version": 1, "status": "failed", "data": ["schema_version": 1]])
        let past = try await state.call("state.prune", ["completed_before": "2000-01-01T00:00:00Z"], via: operatorClient)
        #expect(past["pruned"] == 0)
        let future = Date(timeIntervalSinceNow: 60).formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        let pruned = try await state.call("state.prune", ["completed_before": .string(future)], via: operatorClient)
        #expect(pruned["pruned"] == 1)
        #expect(pruned["more"] == false)
        await state.expectError("state.load_run", ["run_id": .string(finished)], reason: "RUN_NOT_FOUND")
        await state.expectError("state.run_history", ["run_id": .string(finished)], reason: "RUN_NOT_FOUND")
        try await state.call("state.load_run", ["run_id": .string(running)])
        await state.expectError("state.prune", ["completed_before": "yesterday"], reason: "INVALID_TIMESTAMP", via: operatorClient)
        await state.expectError("state.prune", ["completed_before": .string(future)], reason: "ROLE_NOT_ALLOWED")
    }

    @Test(arguments: StoreBackend.allCases) func periodicPruneRemovesFinishedRuns(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend, arguments: ["--prune-completed-after-hours", "0", "--prune-interval-minutes", "1"])
        defer { state.stopNow() }
        // The first pass runs at start-up; finish a run, restart, and the start-up pass removes it.
        let runID = try await state.createRun()
        try await state.call("state.save_run", ["run_id": .string(runID), "expected_version": 1, "status": "completed", "data": ["schema_version": 1]])
        await state.process.terminate()
        let restarted = try await state.restart(arguments: ["--prune-completed-after-hours", "0"])
        defer { kill(restarted.process.pid, SIGTERM) }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(5)
        var gone = false
        while !gone, clock.now < deadline {
            do {
                _ = try await state.agent.call("state.load_run", RunRefParams(run_id: runID), as: JSONValue.self)
                try await Task.sleep(for: .milliseconds(50))
            } catch let error as RPCError where error.reason == "RUN_NOT_FOUND" {
                gone = true
            }
        }
        #expect(gone)
    }
}

struct RunRefParams: Encodable, Sendable { let run_id: String }
