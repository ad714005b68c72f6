import ArgumentParser
import Foundation
import RPC

extension Stack {
    /// `hitl stack up`
    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Start the stack in the background and wait until every service is SERVING.",
            discussion: """
                Starts `hitl stack supervise` in its own session (it outlives your shell; its \
                log is logs/supervisor.log), which provisions identity tokens, then starts the \
                services of compose/stack.json in order. Prints the status table once every \
                service is SERVING. If the stack is already running, just prints its status.

                If a service fails to start, prints why and the end of its log, stops what was \
                started, and exits 1. Service executables are looked up next to hitl, or in \
                $HITL_BIN.

                Examples:
                  hitl stack up
                  HITL_HOME=/tmp/demo hitl stack up --json
                  hitl stack up --compose compose/stack.json --home /srv/hitl
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var stack: StackOptions

        func run() async throws {
            let connection = StackConnection(global: global)
            if connection.isRunning {
                let status = try await connection.reporting { try await connection.status() }
                if !global.json { Output.err("the stack is already running (supervisor pid \(status.supervisorPid))") }
                try StackTable.print(status, json: global.json)
                return
            }
            let (composePath, definition) = try await connection.reporting { try stack.load() }
            let missing = StackOptions.missingExecutables(definition)
            guard missing.isEmpty else {
                Output.err("error: missing service executables: \(missing.joined(separator: ", ")). Build them with `swift build` (scripts/stack does), or set HITL_BIN to the folder holding them.")
                throw HitlExit.rpcError.exitCode
            }
            let directory = connection.directory
            try await connection.reporting { try directory.prepare() }
            let supervisor = try ChildProcess.spawn(SpawnRequest(
                executable: StackOptions.currentExecutable,
                arguments: ["stack", "supervise", "--home", directory.home.path, "--compose", composePath],
                environment: ProcessInfo.processInfo.environment, outputPath: directory.logPath(for: "supervisor"),
                newSession: true))
            if !global.json {
                Output.err("starting the stack in \(directory.home.path) (supervisor pid \(supervisor.pid), log \(directory.logPath(for: "supervisor")))")
            }
            let budget = definition.services.reduce(StackLimits.upMargin) { $0 + .milliseconds($1.health.startTimeoutMs) }
            let stopBound = Down.bound(servicesCount: definition.services.count)
            let status = try await waitUntilServing(supervisor, connection: connection, budget: budget, stopBound: stopBound)
            try await Bootstrap.run(definition.bootstrap, in: directory, quiet: global.json)
            try StackTable.print(status, json: global.json)
        }

        /// Polls `stack.status` until every service is SERVING; on failure, reports,
        /// stops the stack and throws exit code 1.
        private func waitUntilServing(
            _ supervisor: ChildProcess, connection: StackConnection, budget: Duration, stopBound: Duration
        ) async throws -> StackStatusResult {
            let clock = ContinuousClock()
            let deadline = clock.now + budget
            var last: StackStatusResult?
            var watching: ChildProcess? = supervisor
            while clock.now < deadline {
                if let exit = watching?.pollExit() {
                    if let other = Down.supervisorPid(in: connection.directory), other != supervisor.pid {
                        // Another `hitl stack up` won the race for this home: wait for its stack.
                        watching = nil
                        if !global.json { Output.err("another supervisor (pid \(other)) is starting this stack; waiting for it") }
                        continue
                    }
                    let log = connection.directory.logPath(for: "supervisor")
                    Output.err("error: the supervisor \(exit.description) before the stack was up. The end of \(log):")
                    Output.err(LogTail.lastLines(of: log, count: StackLimits.reportedLogLines))
                    throw HitlExit.rpcError.exitCode
                }
                if connection.isRunning, let status = try? await connection.status() {
                    last = status
                    if status.allServing { return status }
                    if let failed = status.services.first(where: { $0.state == SupervisedState.failed.rawValue }) {
                        try await fail(failed.name, because: failed.lastError ?? "it failed to start", connection, supervisor, stopBound)
                    }
                }
                try await Task.sleep(for: StackLimits.clientPollInterval)
            }
            let waiting = last?.services.first { ![SupervisedState.serving.rawValue, SupervisedState.skipped.rawValue].contains($0.state) }
            let name = waiting?.name ?? "the supervisor"
            try await fail(
                name, because: "still \(waiting?.state ?? "not answering") after \(budget.milliseconds / 1000) s",
                connection, supervisor, stopBound)
        }

        /// Reports a failed start with the end of the service's log, stops the stack, exits 1.
        private func fail(
            _ name: String, because reason: String, _ connection: StackConnection, _ supervisor: ChildProcess,
            _ stopBound: Duration
        ) async throws -> Never {
            let log = connection.directory.logPath(for: name == "the supervisor" ? "supervisor" : name)
            Output.err("error: \(name) did not start: \(reason)")
            Output.err("--- the end of \(log) ---")
            Output.err(LogTail.lastLines(of: log, count: StackLimits.reportedLogLines))
            Output.err("---")
            _ = try? await connection.call("stack.stop", NoParams(), as: StackStopResult.self)
            supervisor.send(SIGTERM)  // also stops a supervisor that was not answering yet; harmless twice
            if await supervisor.waitForExit(timeout: stopBound) == nil {
                Output.err("the supervisor (pid \(supervisor.pid)) did not stop within \(stopBound); kill it with `kill -9 \(supervisor.pid)`")
            }
            Output.err("the stack was stopped. Fix the cause, then run `hitl stack up` again (logs: hitl stack logs \(name)).")
            throw HitlExit.rpcError.exitCode
        }
    }
}
