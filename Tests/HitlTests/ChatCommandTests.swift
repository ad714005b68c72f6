import Foundation
import RPC
import RPCTesting
import Testing

@testable import HitlCLI

/// `hitl chat` against the stack as `scripts/stack up` starts it: compose's
/// model simulator and agent-svc, the seed's requests, and a human's answers.
@Suite(.serialized)
struct ChatCommandTests {
    @Test(.timeLimit(.minutes(3)))
    func chatApprovesRejectsAndLeavesDecisionsToOthers() async throws {
        try await withStack { hitl in
            // Approved at the prompt: paused, decided by approver1, resumed, posted once.
            let approved = try await hitl.run(["chat", "--decide", "approve", "Transfer $500 to Bob for rent"])
            #expect(approved.status == 0, "\(approved.transcript)")
            #expect(approved.stdout.contains("⏸ waiting for a human: transfer $500.00 checking → bob"), "\(approved.transcript)")
            #expect(approved.stdout.contains("approver1 approved"), "\(approved.transcript)")
            #expect(approved.stdout.contains("agent: Transferred $500.00 to bob."), "\(approved.transcript)")
            try await expectBalance(hitl, "bob", available: "500.00")
            try await expectBalance(hitl, "checking", available: "500.00", held: "0.00")

            // "n" at the Approve? (y/n) question: denied, the hold released, the model told.
            let rejected = try await hitl.run(["chat", "--mode", "structured", "Transfer $150 to Alice"], input: "n\n")
            #expect(rejected.status == 0, "\(rejected.transcript)")
            #expect(rejected.stderr.contains("Approve transfer $150.00 checking → alice? (y/n)"), "\(rejected.transcript)")
            #expect(rejected.stdout.contains("DENIED: rejected from hitl chat"), "\(rejected.transcript)")
            try await expectBalance(hitl, "alice", available: "0.00")
            try await expectBalance(hitl, "checking", available: "500.00", held: "0.00")

            // --no-wait: the run waits; `hitl approve` decides; the agent's follower resumes it alone.
            let waiting = try await hitl.run(["chat", "--no-wait", "Transfer $200 to Alice"])
            #expect(waiting.status == 0, "\(waiting.transcript)")
            let approval = try #require(
                waiting.stdout.firstMatch(of: /hitl approve (ap_[A-Za-z0-9_-]+)/).map { String($0.1) }, "\(waiting.transcript)")
            let run = try #require(waiting.stdout.firstMatch(of: /· run (run_[A-Za-z0-9_-]+)/).map { String($0.1) }, "\(waiting.transcript)")
            try await expectBalance(hitl, "checking", available: "300.00", held: "200.00")
            let decided = try await hitl.run(["approve", approval])
            #expect(decided.status == 0, "\(decided.transcript)")
            let completed = try await waitForRun(hitl, run, status: "completed")
            #expect(completed["reply"]?.stringValue == "Transferred $200.00 to alice.", "\(completed)")
            try await expectBalance(hitl, "alice", available: "200.00")
            try await expectBalance(hitl, "checking", available: "300.00", held: "0.00")

            // No message argument: one message per line, in one session.
            let session = try await hitl.run(["chat"], input: "Check my balance\nDeposit $200 into my account\n")
            #expect(session.status == 0, "\(session.transcript)")
            #expect(session.stdout.contains("agent: Your balance is $300.00."), "\(session.transcript)")
            #expect(session.stdout.contains("agent: Deposited $200.00 into checking."), "\(session.transcript)")
            try await expectBalance(hitl, "checking", available: "500.00")

            // Bad input is a usage error that says what to do.
            let empty = try await hitl.run(["chat", "  "])
            #expect(empty.status == 2 && empty.stderr.contains("the message is empty"), "\(empty.transcript)")
        }
    }

    /// With OPENAI_BASE_URL set, compose skips its simulator and the agent talks to
    /// the model the user named (here a simulator of the test's own on a TCP port).
    @Test(.timeLimit(.minutes(3)))
    func aModelOfYourOwnSkipsTheSimulator() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let (simulator, port) = try Self.startSimulator(home)
        defer { simulator.terminate() }
        try await withStack(home: home, environment: ["OPENAI_BASE_URL": "http://127.0.0.1:\(port)/v1"]) { hitl in
            let status = try await hitl.run(["stack", "status", "--json"])
            let parsed = try JSONDecoder().decode(StackStatusResult.self, from: Data(status.stdout.utf8))
            let model = try #require(parsed.services.first { $0.name == "model" })
            #expect(model.state == "SKIPPED" && model.lastError == "skipped because OPENAI_BASE_URL is set", "\(status.transcript)")
            #expect(!FileManager.default.fileExists(atPath: home.directory.run.appendingPathComponent("model-http.sock").path))
            let health = try await hitl.run(["health"])
            #expect(health.status == 0, "\(health.transcript)")
            #expect(health.stdout.contains("SKIPPED") && health.stdout.contains("skipped because OPENAI_BASE_URL is set"), "\(health.transcript)")
            let restart = try await hitl.run(["stack", "restart", "model"])
            #expect(restart.status == 1 && restart.stderr.contains("SERVICE_SKIPPED"), "\(restart.transcript)")

            let chat = try await hitl.run(["chat", "Check my balance"])
            #expect(chat.status == 0 && chat.stdout.contains("agent: Your balance is $1,000.00."), "\(chat.transcript)")
            let log = try String(contentsOfFile: home.directory.home.appendingPathComponent("logs/agent.log").path, encoding: .utf8)
            #expect(log.contains("destination=http://127.0.0.1:\(port)/v1/responses"), "\(log)")
        }
    }

    // MARK: - Helpers

    private func withStack(
        home given: TestHome? = nil, environment: [String: String] = [:], _ body: (Runner) async throws -> Void
    ) async throws {
        let home = try given ?? TestHome.make()
        defer { if given == nil { home.remove() } }
        let hitl = Runner(base: HitlRunner(home: home), environment: environment)
        let up = try await hitl.run(["stack", "up"])
        guard up.status == 0 else {
            _ = try? await hitl.run(["stack", "down"])
            Issue.record("stack up failed: \(up.transcript)")
            return
        }
        do {
            try await body(hitl)
        } catch {
            _ = try? await hitl.run(["stack", "down"])
            throw error
        }
        let down = try await hitl.run(["stack", "down"])
        #expect(down.status == 0, "\(down.transcript)")
    }

    /// A HitlRunner whose every run carries the same environment.
    struct Runner {
        let base: HitlRunner
        let environment: [String: String]

        func run(_ arguments: [String], input: String? = nil) async throws -> HitlRunner.Outcome {
            try await base.run(arguments, input: input, environment: environment)
        }
    }

    private func expectBalance(
        _ hitl: Runner, _ account: String, available: String, held: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let outcome = try await hitl.run(["call", "ledger", "ledger.balance", #"{"account": "\#(account)"}"#, "--json"])
        let balance = try JSONValue(parsing: outcome.stdout)
        #expect(balance["available"]?.stringValue == available, "\(account): \(outcome.transcript)", sourceLocation: sourceLocation)
        if let held {
            #expect(balance["held"]?.stringValue == held, "\(account): \(outcome.transcript)", sourceLocation: sourceLocation)
        }
    }

    private func waitForRun(_ hitl: Runner, _ runID: String, status: String) async throws -> JSONValue {
        let deadline = ContinuousClock.now + .seconds(30)
        var last = JSONValue.null
        while ContinuousClock.now < deadline {
            let outcome = try await hitl.run(["call", "agent", "agent.get_run", #"{"run_id": "\#(runID)"}"#, "--json"])
            last = (try? JSONValue(parsing: outcome.stdout)) ?? .null
            if last["status"]?.stringValue == status { return last }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw RunDirectoryError("run \(runID) is not \(status) after 30 s: \(last)")
    }

    /// model-sim on a free TCP port, as a user's own OpenAI-compatible server would be.
    private static func startSimulator(_ home: TestHome) throws -> (Process, Int) {
        let portFile = home.directory.home.appendingPathComponent("own-model-port").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.path("model-sim"))
        process.arguments = ["--port", "0", "--port-file", portFile, "--log-level", "warning", "--exit-with-parent"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return (process, port)
            }
            guard process.isRunning else { throw RunDirectoryError("model-sim exited with \(process.terminationStatus)") }
            usleep(20_000)
        }
        throw RunDirectoryError("model-sim did not report its port within 10 s")
    }
}
