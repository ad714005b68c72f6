import Foundation
import RPC
import Testing

@testable import HitlCLI

struct RestartBackoffTests {
    @Test func doublesUpToTheMaximum() {
        var backoff = RestartBackoff(initialMs: 200, maximumMs: 1000)
        let delays = (0..<5).map { _ in backoff.delay(afterHealthyFor: .seconds(1)).milliseconds }
        #expect(delays == [200, 400, 800, 1000, 1000])
    }

    @Test func startsOverAfterStayingHealthy() {
        var backoff = RestartBackoff(initialMs: 100, maximumMs: 10_000, resetAfter: .seconds(30))
        _ = backoff.delay(afterHealthyFor: nil)
        _ = backoff.delay(afterHealthyFor: .seconds(2))
        #expect(backoff.delay(afterHealthyFor: .seconds(29)).milliseconds == 400)
        #expect(backoff.delay(afterHealthyFor: .seconds(30)).milliseconds == 100)
        backoff.reset()
        #expect(backoff.delay(afterHealthyFor: nil).milliseconds == 100)
    }

    @Test(arguments: [
        (initial: Int64(0), maximum: Int64(0), first: Int64(10), second: Int64(10)),
        (initial: 500, maximum: 100, first: 500, second: 500),
        (initial: -5, maximum: 40, first: 10, second: 20),
    ])
    func clampsNonsense(initial: Int64, maximum: Int64, first: Int64, second: Int64) {
        var backoff = RestartBackoff(initialMs: initial, maximumMs: maximum)
        #expect(backoff.delay(afterHealthyFor: nil).milliseconds == first)
        #expect(backoff.delay(afterHealthyFor: nil).milliseconds == second)
    }
}

struct ExitStatusTests {
    @Test(arguments: [
        (wait: Int32(0), code: Int32?(0), signal: Int32?.none, text: "exited with status 0"),
        (wait: 3 << 8, code: 3, signal: nil, text: "exited with status 3"),
        (wait: 9, code: nil, signal: 9, text: "killed by signal 9 (Killed)"),
        (wait: 15 | 0x80, code: nil, signal: 15, text: "killed by signal 15 (Terminated)"),  // with a core dump bit
    ])
    func decodesWaitStatus(wait: Int32, code: Int32?, signal: Int32?, text: String) {
        let status = ExitStatus(waitStatus: wait)
        #expect(status.code == code)
        #expect(status.signal == signal)
        #expect(status.description == text)
    }
}

struct ChildProcessTests {
    @Test func spawnsReapsAndReportsTheExit() async throws {
        let log = "/tmp/hitl-child-\(getpid()).log"
        defer { unlink(log) }
        let child = try ChildProcess.spawn(SpawnRequest(
            executable: "/bin/sh", arguments: ["-c", "echo out; echo err >&2; read line; exit 7"],
            environment: [:], outputPath: log))
        let status = try #require(await child.waitForExit(timeout: .seconds(10)))
        #expect(status.code == 7, "stdin is /dev/null, so read returns at once")
        #expect(try String(contentsOfFile: log, encoding: .utf8) == "out\nerr\n")
        #expect(!child.send(SIGTERM), "a reaped child is never signalled")
        #expect(!ProcessProbe.isAlive(child.pid))
    }

    @Test func terminateEscalatesToSigkill() async throws {
        let child = try ChildProcess.spawn(SpawnRequest(
            executable: "/bin/sh", arguments: ["-c", "trap '' TERM; while true; do sleep 0.05; done"],
            environment: [:], outputPath: "/dev/null"))
        try await Task.sleep(for: .milliseconds(200))  // let the shell install its trap
        let (status, killed) = await child.terminate(grace: .milliseconds(300))
        #expect(killed)
        #expect(status.signal == SIGKILL)
    }

    @Test func aMissingExecutableIsAClearError() {
        #expect(throws: SpawnError.self) {
            try ChildProcess.spawn(SpawnRequest(
                executable: "/nonexistent/echo-svc", arguments: [], environment: [:], outputPath: "/dev/null"))
        }
    }
}

struct LogTailTests {
    @Test func lastLinesOfAFile() throws {
        let path = "/tmp/hitl-tail-\(getpid()).log"
        defer { unlink(path) }
        try (1...50).map { "line \($0)" }.joined(separator: "\n").appending("\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(LogTail.lastLines(of: path, count: 3) == "line 48\nline 49\nline 50")
        #expect(LogTail.lastLines(of: path, count: 0) == "")
        #expect(LogTail.lastLines(of: path, count: 500).hasPrefix("line 1\n"))
        #expect(LogTail.lastLines(of: "/nonexistent.log", count: 3).contains("no log"))
    }
}

struct StackArgumentTests {
    @Test func globalOptionsBeforeStackCommandsMoveAfterThem() {
        #expect(hoistingGlobalOptions(["--home", "/tmp/x", "stack", "up"]) == ["stack", "up", "--home", "/tmp/x"])
        #expect(hoistingGlobalOptions(["--json", "stack", "restart", "echo"]) == ["stack", "restart", "--json", "echo"])
    }
}

/// An action in one line, as `hitl` prints it at the prompt and in lists.
struct ActionTextTests {
    @Test func anActionSaysWhatItIsFor() throws {
        let transfer = try JSONValue(parsing: #"{"kind":"transfer","from":"checking","to":"bob","amount":"500.00","currency":"USD","memo":"rent"}"#)
        #expect(ActionText.describe(transfer) == #"transfer $500.00 checking → bob for "rent""#)
        let deposit = try JSONValue(parsing: #"{"kind":"deposit","to":"checking","amount":"200.00"}"#)
        #expect(ActionText.describe(deposit) == "deposit $200.00 → checking")
    }
}
