import Foundation
import RPC
import RPCFuzz
import RPCTesting
import Testing

/// The repository's root, for `compose/policy.json`.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A short fuzz run against every service (the full one is `rpc-fuzz`, 100,000
/// lines per service): any violation, crash, lost answer or a service that stops
/// serving fails the test, with the seed to replay it.
struct FuzzTests {
    /// Lines per service: every kind of line, every field of the smaller
    /// contracts, in about a minute for all five services on a debug build.
    static let lines = 3_000
    /// Fixed, so a failure here replays with `rpc-fuzz --seed 20250` (and new seeds
    /// are tried by the full runs).
    static let seed: UInt64 = 20_250

    @Test func everyServiceSurvivesAndAnswersEveryRequest() async throws {
        let stack = try await FuzzStack.start(policy: repositoryRoot.appendingPathComponent("compose/policy.json").path, logLevel: "warning")
        var configuration = FuzzConfiguration(seed: Self.seed, linesPerService: Self.lines)
        configuration.oversizeEvery = 1_000
        let reports: [ServiceReport]
        do {
            reports = try await Fuzzer.run(stack: stack, services: FuzzStack.allServices, configuration: configuration)
        } catch {
            await stack.stop()
            throw error
        }
        await stack.stop()
        #expect(reports.map(\.service) == FuzzStack.allServices)
        for report in reports {
            #expect(report.passed, "\(report.summary)\n\(report.tally.violations.joined(separator: "\n"))\nreplay: rpc-fuzz --seed \(Self.seed) --lines \(Self.lines) --services \(report.service)")
            #expect(report.tally.linesSent >= Self.lines, "\(report.summary)")
            #expect(!report.crashed)
            #expect(report.servingAfter)
            // Every kind of line was sent, and answers of both kinds came back.
            for kind in ["valid", "wrong-type", "bad-meta", "batch", "mutated", "random-bytes", "oversize", "slow-writer"] {
                #expect((report.tally.linesByKind[kind] ?? 0) > 0, "\(report.service): no \(kind) lines were sent")
            }
            #expect(report.tally.results > 0, "\(report.service): nothing succeeded, so the traffic never got past validation")
            // Authorization passed for part of the traffic and failed for another part.
            #expect(report.tally.errorsByStatus["UNAUTHENTICATED", default: 0] > 0, "\(report.service): no call was refused for its token")
            if report.service != "agent" {  // agent-svc's methods take any known token
                #expect(report.tally.errorsByStatus["PERMISSION_DENIED", default: 0] > 0, "\(report.service): no call was refused for its role")
            }
            #expect(report.tally.errorsByStatus["INVALID_ARGUMENT", default: 0] > 0)
        }
    }
}
