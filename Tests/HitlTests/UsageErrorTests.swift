import Foundation
import RPC
import RPCTesting
import Testing

@testable import HitlCLI

/// A wrong command line exits 2 (README: "2 usage error") and says what is wrong,
/// at once: a mistyped service name is not retried like a service that is down.
/// No stack runs here: each command fails before it would need one.
struct UsageErrorTests {
    @Test func aMistypedServiceFailsAtOnceNamingTheKnownOnes() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let hitl = HitlRunner(home: home)
        for arguments in [
            ["--wait", "5", "call", "ledgr.balance", #"{"account":"checking"}"#], ["--wait", "5", "discover", "ledgr"], ["health", "ledgr"],
        ] {
            let started = ContinuousClock.now
            let outcome = try await hitl.run(arguments)
            let took = ContinuousClock.now - started
            let service = arguments[arguments.count > 3 ? 3 : 1]
            #expect(outcome.status == 2, "\(arguments): \(outcome.transcript)")
            #expect(outcome.stderr.contains("unknown service '\(service)'"), "\(outcome.transcript)")
            #expect(outcome.stderr.contains("echo, state, approval, ledger, model, agent, gateway, stack"), "\(outcome.transcript)")
            #expect(outcome.stderr.contains("did you mean 'ledger'?"), "\(outcome.transcript)")
            // Not retried for the 5 s of --wait (nor health's 5 s): the process as a whole
            // takes about 40 ms; the bound leaves room for a machine busy with other tests.
            #expect(took < .seconds(3), "\(arguments) took \(took)")
        }
        // The decision itself, without a process to start: well under 0.2 s.
        let global = try GlobalOptions.parse(["--home", home.directory.home.path])
        let started = ContinuousClock.now
        let error = await #expect(throws: (any Error).self) {
            try await KnownServices.check("ledgr.balance", global, compose: HitlRunner.compose)
        }
        #expect(ContinuousClock.now - started < .milliseconds(200))
        #expect("\(error.map { "\($0)" } ?? "")".contains("unknown service 'ledgr.balance'"))
        // A service of the stack that is down is still retried, then unreachable (3).
        let down = try await hitl.run(["--wait", "0.3", "call", "ledger", "ledger.balance", #"{"account":"checking"}"#])
        #expect(down.status == 3 && down.stderr.contains("UNREACHABLE"), "\(down.transcript)")
    }

    @Test(arguments: [
        // params that are not JSON: the usage shown is the command's, not `hitl <subcommand>`'s
        (["call", "echo", "echo.add", "{bad"], "Usage: hitl call "),
        (["--as", "nobody", "call", "echo", "echo.add", "{}"], "no identity 'nobody'"),
        (["approvals", "--status", "bogus"], "--status must be one of"),
        (["stack", "logs", "nosuch"], "unknown service 'nosuch'"),
        (["stack", "restart", "nosuch"], "unknown service 'nosuch'"),
        (["health", "--compose", "/nonexistent/stack.json"], "--compose /nonexistent/stack.json: no such file"),
        (["init", "--compose", "/nonexistent/stack.json"], "--compose /nonexistent/stack.json: no such file"),
        (["model", "check", "--base-url", "notaurl"], "--base-url must be an http:// or https:// URL"),
        (["chat", "--approver", "nobody", "Check my balance"], "no identity 'nobody'"),
        (["model", "eval", "--approver", "nobody"], "no identity 'nobody'"),
        // already 2: ArgumentParser's own errors and validate()
        (["call", "echo"], "Missing expected argument '<method>'"),
        (["--timeout", "0", "call", "echo", "echo.add"], "--timeout must be between"),
        (["bogus"], "Unexpected argument 'bogus'"),
    ])
    func aWrongCommandLineExitsTwo(arguments: [String], says: String) async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let outcome = try await HitlRunner(home: home).run(arguments)
        #expect(outcome.status == 2, "\(arguments): \(outcome.transcript)")
        #expect(outcome.stderr.contains(says), "\(arguments): \(outcome.transcript)")
    }
}
