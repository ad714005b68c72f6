import Foundation
import Logging
import RPC
import Testing

@testable import StateStore

/// The store in-process, without sockets: validation and concurrency.
struct StateStoreTests {

    @Test func timestampsRoundTrip() throws {
        let ms: Int64 = 1_790_000_000_123
        let text = Timestamp.format(ms)
        #expect(text.hasSuffix("Z") && text.contains(".123"))
        #expect(try Timestamp.parse(text, field: "t") == ms)
        #expect(try Timestamp.parse("2026-01-31T12:00:00Z", field: "t") == 1_769_860_800_000)
        #expect(throws: RPCError.self) { try Timestamp.parse("31/01/2026", field: "t") }
    }

    static let valid = ["a", "run_ABC-def_123", "x.y", String(repeating: "z", count: 128)]
    static let invalid = ["", ".x", "a b", "a/b", "é", String(repeating: "z", count: 129), "a\u{0}"]

    @Test(arguments: valid)
    func validIdentifiers(_ id: String) throws {
        try Validation.identifier(id, field: "run_id")
    }

    @Test(arguments: invalid)
    func invalidIdentifiers(_ id: String) {
        #expect(throws: RPCError.self) { try Validation.identifier(id, field: "run_id") }
    }

    @Test func generatedRunIDsAreURLSafe() throws {
        for _ in 0..<200 {
            let id = RunID.generate()
            #expect(id.count == 26)
            try Validation.identifier(id, field: "run_id")
        }
    }

    /// Many concurrent compare-and-swap saves on one run: exactly one per version wins.
    @Test(arguments: StoreBackend.allCases) func concurrentSavesOnOneRunSerializeByVersion(_ backend: StoreBackend) async throws {
        let (store, cleanUp) = try await backend.openStore()
        defer { cleanUp() }
        let created = try await store.createRun(CreateRunParams(data: ["schema_version": 1]), identity: "test")
        let outcomes = await withTaskGroup(of: String.self) { group in
            for index in 0..<100 {
                group.addTask {
                    let params = SaveRunParams(
                        runID: created.runID, expectedVersion: 1, status: "running", data: ["schema_version": 1, "writer": .int(Int64(index))])
                    do {
                        _ = try await store.saveRun(params, identity: "test")
                        return "saved"
                    } catch let error as RPCError {
                        return error.reason
                    } catch {
                        return "\(error)"
                    }
                }
            }
            return await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
        }
        #expect(outcomes == ["saved": 1, "VERSION_CONFLICT": 99], "every loser is told it lost the race: \(outcomes)")
        let loaded = try await store.loadRun(created.runID)
        #expect(loaded.version == 2)
        await store.close()
    }

    /// Concurrent writes on different runs all commit (together, in group commits).
    @Test(arguments: StoreBackend.allCases) func concurrentCreatesAllCommit(_ backend: StoreBackend) async throws {
        let (store, cleanUp) = try await backend.openStore()
        defer { cleanUp() }
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<300 {
                group.addTask { try await store.createRun(CreateRunParams(data: ["schema_version": 2]), identity: nil).runID }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(ids.count == 300)
        let page = try await store.listRuns(ListRunsParams(limit: 500))
        #expect(page.runs.count == 300)
        await store.close()
    }
}

/// The bounds counted in the database, with small limits so they are quick to reach.
struct StateStoreLimitTests {
    func open(_ backend: StoreBackend) async throws -> (store: StateStore, cleanUp: @Sendable () -> Void) {
        var limits = StateStore.Limits()
        limits.maximumVersionsPerRun = 3
        limits.maximumSessionMessages = 5
        return try await backend.openStore(limits: limits)
    }

    @Test(arguments: StoreBackend.allCases) func aRunHasAtMostTheLimitOfVersions(_ backend: StoreBackend) async throws {
        let (store, cleanUp) = try await open(backend)
        defer { cleanUp() }
        let runID = try await store.createRun(CreateRunParams(data: ["schema_version": 1]), identity: nil).runID
        for version: Int64 in 1...2 {
            _ = try await store.saveRun(SaveRunParams(runID: runID, expectedVersion: version, status: "running", data: ["schema_version": 1]), identity: nil)
        }
        do {
            _ = try await store.saveRun(SaveRunParams(runID: runID, expectedVersion: 3, status: "running", data: ["schema_version": 1]), identity: nil)
            Issue.record("a fourth version was saved")
        } catch let error as RPCError {
            #expect(error.status == .resourceExhausted && error.reason == "TOO_MANY_VERSIONS")
        }
        #expect(try await store.loadRun(runID).version == 3)
        await store.close()
    }

    @Test(arguments: StoreBackend.allCases) func aSessionHasAtMostTheLimitOfMessages(_ backend: StoreBackend) async throws {
        let (store, cleanUp) = try await open(backend)
        defer { cleanUp() }
        let first = try await store.appendSession(AppendSessionParams(sessionID: "s", messages: [["n": 1], ["n": 2], ["n": 3]]))
        #expect(first.total == 3)
        do {
            _ = try await store.appendSession(AppendSessionParams(sessionID: "s", messages: [["n": 4], ["n": 5], ["n": 6]]))
            Issue.record("the session grew past its limit")
        } catch let error as RPCError {
            #expect(error.status == .resourceExhausted && error.reason == "SESSION_FULL")
        }
        let loaded = try await store.loadSession(LoadSessionParams(sessionID: "s"))
        #expect(loaded.total == 3 && loaded.messages.count == 3)
        await store.close()
    }
}
