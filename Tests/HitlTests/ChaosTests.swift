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
        let text = try Self.run([
            "--cycles", "30", "--kills", "8", "--seed", "20261125", "--concurrency", "4", "--expiry-seconds", "3", "--stale-run-seconds", "4",
        ])
        #expect(text.status == 0, "\(text.output)")
        #expect(text.output.hasSuffix("violations: 0\n"), "\(text.output)")
        #expect(text.output.contains("kills: 8"), "\(text.output)")
        #expect(!text.output.contains("VIOLATION"), "\(text.output)")
    }

    /// The load test, short: pending runs survive a whole-stack restart with calls in flight.
    @Test(.timeLimit(.minutes(5)))
    func pendingRunsSurviveARestartUnderLoad() throws {
        let text = try Self.run(["load", "--pending", "20", "--completed", "60", "--concurrency", "16"])
        #expect(text.status == 0, "\(text.output)")
        #expect(text.output.contains("paused runs after the restart: 20 of 20 still awaiting approval"), "\(text.output)")
        #expect(text.output.hasSuffix("problems: 0\n"), "\(text.output)")
    }

    /// Past one machine: `scripts/chaos --hosts` makes a database host, two hosts running
    /// every service (state, approval and ledger on the database host's PostgreSQL, over
    /// TLS) and a clients' host, as network namespaces of its own; runs are started
    /// through one host and decided through the other over TCP with mutual TLS, while
    /// single replicas are killed and whole hosts taken away and brought back.
    @Test(.timeLimit(.minutes(5)))
    func cyclesOnTwoHostsWhileReplicasAndWholeHostsGoAwayKeepEveryPromise() throws {
        let (status, text) = try Self.run(executable: "/bin/bash", [
            HitlRunner.repositoryRoot.appendingPathComponent("scripts/chaos").path, "--hosts", "--no-build", "--cycles", "40", "--kills", "6", "--host-outages", "2",
            "--outage-seconds", "3", "--seed", "20261207", "--expiry-seconds", "3", "--stale-run-seconds", "4",
        ])
        #expect(status == 0, "\(text)")
        #expect(text.hasSuffix("violations: 0\n"), "\(text)")
        #expect(text.contains("hosts taken away: 2") && text.contains("kills: 6"), "\(text)")
        #expect(!text.contains("VIOLATION"), "\(text)")
    }

    /// Runs `chaos <arguments>` on a private home; returns its exit status and output.
    private static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try run(executable: Executables.path("chaos"), arguments) { home in
            ["--home", home.directory.home.appendingPathComponent("stack").path, "--compose", HitlRunner.compose]
        }
    }

    /// Runs `executable` with `arguments` (and what `homeArguments` adds for the private
    /// home) from the repository's root, its output in the home; its exit status and output.
    private static func run(
        executable: String, _ arguments: [String], homeArguments: (TestHome) -> [String] = { _ in [] }
    ) throws -> (status: Int32, output: String) {
        let home = try TestHome.make()
        defer { home.remove() }
        let output = home.directory.home.appendingPathComponent("chaos.out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments + homeArguments(home)
        process.currentDirectoryURL = HitlRunner.repositoryRoot
        var environment = ProcessInfo.processInfo.environment
        environment["HITL_BIN"] = Executables.folder
        // The stacks chaos starts record their home here, not in the developer's ~/.config.
        environment["XDG_CONFIG_HOME"] = home.directory.home.appendingPathComponent("config").path
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        return (process.terminationStatus, try String(contentsOf: output, encoding: .utf8))
    }
}
