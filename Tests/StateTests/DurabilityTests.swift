import Foundation
import RPC
import RPCTesting
import Synchronization
import Testing

/// What the writers saw acknowledged before the crash.
final class Progress: Sendable {
    let acknowledged = Mutex([String: Int64]())
    let cursor = Atomic<Int64>(0)
    let stop = Atomic<Bool>(false)
}

/// `kill -9` in the middle of a stream of saves: after a restart every
/// acknowledged save is there and nothing is half-written.
struct DurabilityTests {
    @Test(arguments: StoreBackend.allCases) func everyAcknowledgedSaveSurvivesKillNine(_ backend: StoreBackend) async throws {
        let state = try await StateFixture.start(backend)
        defer { state.stopNow() }
        let writers = 16
        var runs: [String] = []
        for _ in 0..<writers { runs.append(try await state.createRun(["step": 0])) }
        let progress = Progress()
        let runIDs = runs

        // Writers stream saves until the service dies under them.
        let streams = Task {
            await withTaskGroup(of: Void.self) { group in
                for runID in runIDs {
                    group.addTask {
                        guard let client = try? state.client("agent") else { return }
                        var version: Int64 = 1
                        while !progress.stop.load(ordering: .relaxed) {
                            let params: JSONValue = [
                                "run_id": .string(runID), "expected_version": .int(version), "status": "running",
                                "data": ["schema_version": 1, "step": .int(version), "pad": .string(String(repeating: "p", count: 1500))],
                            ]
                            guard let saved = try? await client.call(
                                "state.save_run", params, as: JSONValue.self, options: .init(timeout: .seconds(2), retryWindow: .zero)),
                                let next = saved["version"]?.intValue
                            else { break }
                            version = next
                            progress.acknowledged.withLock { $0[runID] = next }
                        }
                        await client.close()
                    }
                }
                group.addTask {
                    guard let client = try? state.client("agent") else { return }
                    var value: Int64 = 0
                    while !progress.stop.load(ordering: .relaxed) {
                        guard (try? await client.call(
                            "state.set_cursor", ["name": "feed", "value": .int(value + 1)] as JSONValue, as: JSONValue.self,
                            options: .init(timeout: .seconds(2), retryWindow: .zero))) != nil
                        else { break }
                        value += 1
                        progress.cursor.store(value, ordering: .relaxed)
                    }
                    await client.close()
                }
            }
        }
        try await Task.sleep(for: .milliseconds(1_500))
        await state.process.kill9()
        progress.stop.store(true, ordering: .relaxed)
        await streams.value
        let acked = progress.acknowledged.withLock { $0 }
        #expect(acked.values.reduce(0, +) > Int64(writers) * 3, "the writers got going before the crash: \(acked)")

        let restarted = try await state.restart()
        defer { restarted.stopNow() }
        for runID in runs {
            let ackedVersion = acked[runID] ?? 1
            let loaded = try await restarted.call("state.load_run", ["run_id": .string(runID)])
            let version = try #require(loaded["version"]?.intValue)
            // Acknowledged means durable; at most the one save in flight at the crash may also have landed.
            #expect(version >= ackedVersion && version <= ackedVersion + 1, "run \(runID): acked \(ackedVersion), found \(version)")
            #expect(loaded["data"]?["step"]?.intValue == version - 1 || version == 1)
            var after: Int64 = 0
            var seen: [Int64] = []
            while true {
                let page = try await restarted.call("state.run_history", ["run_id": .string(runID), "after_version": .int(after)])
                if case .array(let versions)? = page["versions"] {
                    for entry in versions {
                        let number = entry["version"]?.intValue ?? -1
                        seen.append(number)
                        if number > 1 { #expect(entry["data"]?["step"]?.intValue == number - 1, "version \(number) is whole") }
                    }
                }
                guard let next = page["next_after_version"]?.intValue else { break }
                after = next
            }
            #expect(seen == Array(1...version), "history of \(runID) is unbroken")
        }
        let cursor = try await restarted.call("state.get_cursor", ["name": "feed"])
        let cursorValue = try #require(cursor["value"]?.intValue)
        let cursorAcked = progress.cursor.load(ordering: .relaxed)
        #expect(cursorValue >= cursorAcked && cursorValue <= cursorAcked + 1)
    }
}
