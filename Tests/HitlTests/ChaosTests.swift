import Foundation
import RPCTesting
import Testing

/// The crash test, short: `chaos` as a user runs it (scripts/chaos), on a
/// private home, with a fixed seed. The full run (200 cycles, 50 kills) is
/// `scripts/chaos --cycles 200 --kills 50`.
@Suite(.serialized)
struct ChaosTests {
    @Test(.timeLimit(.minutes(5)))
    func cyclesWhileServicesAreKilledKeepEveryPromise() throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let output = home.directory.home.appendingPathComponent("chaos.out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.path("chaos"))
        process.arguments = [
            "--cycles", "30", "--kills", "8", "--seed", "20261125", "--concurrency", "4", "--expiry-seconds", "3", "--stale-run-seconds", "4",
            "--home", home.directory.home.appendingPathComponent("stack").path,
            "--compose", HitlRunner.compose,
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["HITL_BIN"] = Executables.folder
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        let text = try String(contentsOf: output, encoding: .utf8)
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.hasSuffix("violations: 0\n"), "\(text)")
        #expect(text.contains("kills: 8"), "\(text)")
        #expect(!text.contains("VIOLATION"), "\(text)")
    }
}
