import Foundation
import RPC
import RPCTesting
import Testing

@testable import HitlCLI

/// The stack launched as a user would: the real `hitl` and service executables.
@Suite(.serialized)
struct StackLauncherTests {
    /// How long the supervisor may take to notice a crash and bring the
    /// service back: 50 ms exit polling + 200 ms backoff + start-up, with room
    /// for a machine busy building.
    static let recoveryBound: Duration = .seconds(15)

    @Test(.timeLimit(.minutes(2)))
    func upCrashRestartDown() async throws {
        let home = try TestHome.make()
        let hitl = HitlRunner(home: home)
        defer { home.remove() }
        do {
            try await exercise(hitl, home: home)
        } catch {
            _ = try? await hitl.run(["stack", "down"])  // leave nothing running
            throw error
        }
    }

    private func exercise(_ hitl: HitlRunner, home: TestHome) async throws {
        let services = try StackDefinition.load(path: HitlRunner.compose).services.map(\.name)

        // up: every service SERVING.
        let up = try await hitl.run(["stack", "up", "--json"])
        try #require(up.status == 0, "\(up.transcript)")
        let started = try JSONDecoder().decode(StackStatusResult.self, from: Data(up.stdout.utf8))
        #expect(started.services.map(\.name) == services)
        #expect(started.allServing, "\(up.transcript)")

        // The bootstrap of compose/stack.json ran through the ledger's public methods.
        let balance = try await hitl.run(["call", "ledger", "ledger.balance", #"{"account": "checking"}"#, "--json"])
        #expect(balance.status == 0, "\(balance.transcript)")
        #expect(try JSONValue(parsing: balance.stdout)["available"] == "1000.00", "\(balance.stdout)")

        // hitl health agrees, service by service.
        let health = try await hitl.run(["health", "--json"])
        #expect(health.status == 0, "\(health.transcript)")
        let rows = try JSONValue(parsing: health.stdout)
        guard case .array(let entries) = rows else { Issue.record("health --json is not an array"); return }
        #expect(entries.compactMap { $0["service"]?.stringValue } == services)
        #expect(entries.allSatisfy { $0["status"]?.stringValue == "SERVING" }, "\(health.stdout)")

        try checkPermissions(home)

        // kill -9 echo: the supervisor restarts it.
        let echo = try #require(started.services.first { $0.name == "echo" }?.pid)
        #expect(kill(pid_t(echo), SIGKILL) == 0)
        let recovered = try await waitFor(home, within: Self.recoveryBound) { status in
            guard let service = status.services.first(where: { $0.name == "echo" }) else { return false }
            return service.restarts == 1 && service.state == "SERVING" && service.pid != echo
        }
        let crashed = try #require(recovered.services.first { $0.name == "echo" })
        #expect(crashed.lastExit?.signal == SIGKILL)
        let log = try String(contentsOfFile: home.directory.logPath(for: "supervisor"), encoding: .utf8)
        #expect(log.contains("echo killed by signal 9"), "the restart is logged: \(log)")
        #expect(!log.contains(try home.token("operator")), "tokens never reach the log")

        // restart one service by hand.
        let restart = try await hitl.run(["stack", "restart", "echo"])
        #expect(restart.status == 0, "\(restart.transcript)")
        #expect(restart.stdout.contains("restarted echo: pid \(crashed.pid ?? 0) → pid"), "\(restart.stdout)")
        let afterRestart = try await status(home)
        let restarted = try #require(afterRestart.services.first { $0.name == "echo" })
        #expect(restarted.state == "SERVING" && restarted.pid != crashed.pid)

        // status: the table.
        let table = try await hitl.run(["stack", "status"])
        #expect(table.status == 0, "\(table.transcript)")
        let header = table.stdout.split(separator: "\n").first?.split(separator: " ").map(String.init)
        #expect(header == ["SERVICE", "STATE", "PID", "RESTARTS", "UPTIME", "SOCKET"], "\(table.stdout)")

        // down: no process, no socket.
        let pids = [pid_t(afterRestart.supervisorPid)] + afterRestart.services.compactMap { $0.pid.map { pid_t($0) } }
        let down = try await hitl.run(["stack", "down"])
        #expect(down.status == 0, "\(down.transcript)")
        #expect(down.stdout.contains("stopped the supervisor (pid \(afterRestart.supervisorPid))"), "\(down.stdout)")
        for pid in pids {
            #expect(!ProcessProbe.isAlive(pid), "pid \(pid) is still running after down")
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: home.directory.run.path).filter { $0.hasSuffix(".sock") }
        #expect(left.isEmpty, "sockets left behind: \(left)")

        let stopped = try await hitl.run(["stack", "status"])
        #expect(stopped.status == 3, "\(stopped.transcript)")
        #expect(stopped.stderr.contains("the stack is not running"))
    }

    /// Sockets 0600 in a 0700 folder.
    private func checkPermissions(_ home: TestHome) throws {
        var info = stat()
        #expect(stat(home.directory.run.path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700, "run/ is \(String(info.st_mode & 0o777, radix: 8))")
        let sockets = try FileManager.default.contentsOfDirectory(atPath: home.directory.run.path).filter { $0.hasSuffix(".sock") }
        #expect(sockets.contains("stack.sock") && sockets.contains("echo.sock"), "\(sockets)")
        for socket in sockets {
            #expect(stat(home.directory.run.appendingPathComponent(socket).path, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o600, "\(socket) is \(String(info.st_mode & 0o777, radix: 8))")
        }
    }

    private func status(_ home: TestHome) async throws -> StackStatusResult {
        let client = try home.client(Supervisor.serviceName)
        defer { Task { await client.close() } }
        return try await client.call("stack.status", NoParams(), as: StackStatusResult.self, options: .init(timeout: .seconds(5)))
    }

    /// Polls stack.status until `condition` holds.
    private func waitFor(
        _ home: TestHome, within bound: Duration, _ condition: (StackStatusResult) -> Bool
    ) async throws -> StackStatusResult {
        let clock = ContinuousClock()
        let deadline = clock.now + bound
        var last: StackStatusResult?
        while clock.now < deadline {
            if let status = try? await status(home) {
                last = status
                if condition(status) { return status }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw RunDirectoryError("the condition did not hold within \(bound); last status: \(String(describing: last))")
    }

    @Test func statusWithoutAStackExitsThree() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let status = try await HitlRunner(home: home).run(["stack", "status"])
        #expect(status.status == 3)
        #expect(status.stderr.contains("the stack is not running"), "\(status.transcript)")
        let down = try await HitlRunner(home: home).run(["stack", "down"])
        #expect(down.status == 0, "\(down.transcript)")
        #expect(down.stdout.contains("nothing to stop"))
    }

    @Test func logsOfAnUnknownServiceSayWhereLogsAre() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        // Not a service of the stack: a usage error naming the services.
        let logs = try await HitlRunner(home: home).run(["stack", "logs", "nosuch"])
        #expect(logs.status == 2)
        #expect(logs.stderr.contains("unknown service 'nosuch'") && logs.stderr.contains("ledger"), "\(logs.transcript)")
        // A service of the stack that has not run here: where the logs are.
        let never = try await HitlRunner(home: home).run(["stack", "logs", "ledger"])
        #expect(never.status == 1)
        #expect(never.stderr.contains("no log for 'ledger'"), "\(never.transcript)")
    }
}
