import ArgumentParser
import Foundation
import RPC

extension Stack {
    /// `hitl stack status`
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show every service's state, pid, restarts, uptime and socket.",
            discussion: """
                Asks the supervisor (stack.status). STATE is PENDING, STARTING, SERVING, \
                NOT_SERVING (running, failing its health check), BACKOFF (crashed, restart \
                scheduled), STOPPING, STOPPED, EXITED (restart policy 'never'), SKIPPED (an unless_env variable is set) or FAILED \
                (could not start; the reason is printed below the table).

                Exits 0 when every service is SERVING, 1 when one is not, 3 when the stack \
                is not running.

                Examples:
                  hitl stack status
                  hitl stack status --json | jq '.services[] | {name, state, restarts}'
                """)

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let connection = StackConnection(global: global)
            guard connection.isRunning else { throw connection.notRunning() }
            let status = try await connection.reporting { try await connection.status() }
            try StackTable.print(status, json: global.json)
            if !status.allServing { throw HitlExit.rpcError.exitCode }
        }
    }

    /// `hitl stack restart SERVICE`
    struct Restart: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restart one service and wait until it is SERVING again.",
            discussion: """
                The supervisor stops the service (SIGTERM, then SIGKILL after 15 s), starts it \
                again and answers once it reports SERVING; services that were waiting for it \
                are started after it. Needs the operator role. A manual restart resets the \
                restart backoff and is not counted in RESTARTS (automatic restarts only).

                Examples:
                  hitl stack restart echo
                  hitl stack restart ledger --json
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var stack: StackOptions

        @Argument(help: "The service to restart, as named in compose/stack.json.")
        var service: String

        func run() async throws {
            let connection = StackConnection(global: global)
            guard connection.isRunning else {
                // The running supervisor knows its services (below); without one, the definition does.
                if let known = KnownServices.defined(compose: stack.compose), !known.contains(service) {
                    throw ValidationError(KnownServices.unknown(service, known: known))
                }
                throw connection.notRunning()
            }
            let startTimeout = (try? stack.load().definition.services.first { $0.name == service })?.health.startTimeoutMs
            let budget = StackLimits.stopGracePeriod + StackLimits.killWait + .milliseconds(startTimeout ?? 60_000)
                + StackLimits.upMargin
            let result = try await connection.reporting {
                do {
                    return try await connection.call(
                        "stack.restart", StackRestartParams(service: service), as: StackRestartResult.self, timeout: budget)
                } catch let error as RPCError where error.reason == "SERVICE_NOT_FOUND" {
                    _ = Output.report(error, json: global.json)
                    throw HitlExit.usage.exitCode  // a name the supervisor does not know: the command line was wrong
                }
            }
            if global.json {
                Output.out(try JSONValue(encoding: result).jsonText())
            } else {
                let before = result.previousPid.map { "pid \($0) → " } ?? ""
                let now = result.service.pid.map { "pid \($0)" } ?? "no pid"
                Output.out("restarted \(result.service.name): \(before)\(now), \(result.service.state)")
            }
        }
    }
}
