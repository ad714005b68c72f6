import Foundation
import RPC
import RPCTesting
import Testing

@testable import StateStore

/// Sixteen replicas' worth of writers on the same rows at once: on PostgreSQL, 16
/// stores with pools of their own on one database (as 16 state-svc processes would
/// be); on SQLite, one store, which is all a file allows. Exactly one wins each race,
/// and what everyone may do together (appending to one session) loses nothing.
struct ReplicaRaceTests {
    static let replicas = 16

    /// Runs `body` once per replica, all at once; how many calls succeeded and the reasons of those that failed.
    static func race(
        _ stores: [StateStore], _ body: @escaping @Sendable (StateStore, Int) async throws -> Void
    ) async -> (wins: Int, reasons: [String]) {
        await withTaskGroup(of: String?.self) { group in
            for (index, store) in stores.enumerated() {
                group.addTask {
                    do {
                        try await body(store, index)
                        return nil
                    } catch let error as RPCError {
                        return error.reason
                    } catch {
                        return "\(error)"
                    }
                }
            }
            var wins = 0
            var reasons: [String] = []
            for await outcome in group {
                if let outcome { reasons.append(outcome) } else { wins += 1 }
            }
            return (wins, reasons)
        }
    }

    @Test(arguments: StoreBackend.allCases) func oneCreatorTakesARunID(_ backend: StoreBackend) async throws {
        try await backend.withReplicas(Self.replicas) { stores in
            for round in 0..<5 {
                let runID = "race-\(round)"
                let (wins, reasons) = await Self.race(stores) { store, index in
                    _ = try await store.createRun(CreateRunParams(runID: runID, data: ["schema_version": 1, "by": .int(Int64(index))]), identity: nil)
                }
                #expect(wins == 1, "round \(round): \(wins) creators won")
                #expect(Set(reasons) == ["RUN_EXISTS"], "round \(round): \(reasons)")
            }
        }
    }

    @Test(arguments: StoreBackend.allCases) func oneClaimantHoldsARunAndOneSaverWritesEachVersion(_ backend: StoreBackend) async throws {
        try await backend.withReplicas(Self.replicas) { stores in
            let runID = try await stores[0].createRun(CreateRunParams(data: ["schema_version": 1]), identity: nil).runID
            for version: Int64 in 1...5 {
                // Everyone claims the run at this version; one holds it.
                let claims = await Self.race(stores) { store, index in
                    _ = try await store.claimRun(ClaimRunParams(runID: runID, owner: "replica-\(index)", leaseMs: 60_000, expectedVersion: version))
                }
                #expect(claims.wins == 1, "version \(version): \(claims.wins) claimants hold the run")
                #expect(Set(claims.reasons) == ["RUN_CLAIMED"], "version \(version): \(claims.reasons)")
                let holder = try #require(try await stores[0].loadRun(runID).lease?.owner)
                // Everyone saves the next version as the holder; one writes it, the rest conflict.
                let saves = await Self.race(stores) { store, index in
                    _ = try await store.saveRun(
                        SaveRunParams(
                            runID: runID, expectedVersion: version, status: "running", data: ["schema_version": 1, "by": .int(Int64(index))],
                            owner: holder, events: [["type": "step", "by": .int(Int64(index))]], release: true),
                        identity: nil)
                }
                #expect(saves.wins == 1, "version \(version): \(saves.wins) saves won")
                #expect(Set(saves.reasons) == ["VERSION_CONFLICT"], "version \(version): \(saves.reasons)")
            }
            let events = try await stores[0].readEvents(ReadEventsParams(runID: runID, afterSeq: 0, limit: 100))
            #expect(events.events.compactMap { $0["seq"]?.intValue } == [1, 2, 3, 4, 5], "one event per won save, numbered without gaps")
            let run = try await stores[0].loadRun(runID)
            #expect(run.version == 6)
        }
    }

    @Test(arguments: StoreBackend.allCases) func oneCursorMoveWinsFromTheSameValue(_ backend: StoreBackend) async throws {
        try await backend.withReplicas(Self.replicas) { stores in
            for step: Int64 in 0..<5 {
                let moves = await Self.race(stores) { store, _ in
                    _ = try await store.setCursor(SetCursorParams(name: "feed", value: step + 1, expected: step))
                }
                #expect(moves.wins == 1, "from \(step): \(moves.wins) moves won")
                #expect(Set(moves.reasons) == ["CURSOR_CONFLICT"], "from \(step): \(moves.reasons)")
            }
            let cursor = try await stores[0].getCursor("feed")
            #expect(cursor.value == 5)
        }
    }

    @Test(arguments: StoreBackend.allCases) func appendsToOneSessionFromEveryReplicaAreAllKeptInOrder(_ backend: StoreBackend) async throws {
        try await backend.withReplicas(Self.replicas) { stores in
            let (wins, reasons) = await Self.race(stores) { store, index in
                for round in 0..<4 {
                    _ = try await store.appendSession(
                        AppendSessionParams(sessionID: "shared", messages: [["by": .int(Int64(index)), "round": .int(Int64(round))]]))
                }
            }
            #expect(wins == Self.replicas && reasons.isEmpty, "\(reasons)")
            let loaded = try await stores[0].loadSession(LoadSessionParams(sessionID: "shared", limit: 1_000))
            #expect(loaded.total == Int64(Self.replicas * 4))
            #expect(loaded.messages.count == Self.replicas * 4)
            // Each replica's own appends keep their order.
            for index in 0..<Self.replicas {
                let rounds = loaded.messages.filter { $0["by"]?.intValue == Int64(index) }.compactMap { $0["round"]?.intValue }
                #expect(rounds == [0, 1, 2, 3], "replica \(index): \(rounds)")
            }
        }
    }
}
