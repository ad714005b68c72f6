import ArgumentParser
import Foundation
import RPC

/// `hitl stack up | down | status | restart | logs | supervise`
struct Stack: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start, inspect, restart and stop the whole stack of services.",
        discussion: """
            compose/stack.json says which services run, in what order, with what \
            environment, health checks and restart policy. `up` starts a supervisor in \
            the background (`hitl stack supervise`); it starts each service once the one \
            before it is SERVING, restarts a service that crashes (with exponential \
            backoff), and stops everything in reverse order on `down`.

            The home folder (--home, else $HITL_HOME, else the one the last `up` recorded \
            in ~/.config/hitl/home, else the repository's .hitl) holds the sockets and \
            tokens (run/, 0700), databases (data/) and one log per service (logs/).

            Examples:
              hitl stack up                    # start everything, wait until SERVING
              hitl stack status                # SERVICE STATE PID RESTARTS UPTIME SOCKET
              hitl stack restart echo          # stop and start one service
              hitl stack logs echo -n 50 -f    # the last 50 lines, then follow
              hitl stack down                  # stop everything gracefully
              scripts/stack up                 # the same, after building
            """,
        subcommands: [Up.self, Down.self, Status.self, Restart.self, Logs.self, Supervise.self])
}

/// Options every `hitl stack` command shares besides the global ones.
struct StackOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The stack definition (default: $HITL_COMPOSE, else compose/stack.json).", valueName: "file"))
    var compose: String?

    /// The stack definition and its absolute path.
    /// - Throws: ``RunDirectoryError`` when it is missing or invalid.
    func load() throws -> (path: String, definition: StackDefinition) {
        let path = URL(fileURLWithPath: try StackDefinition.given(compose) ?? StackDefinition.locate(compose)).standardizedFileURL.path
        return (path, try StackDefinition.load(path: path))
    }

    /// The running `hitl` executable, resolved.
    static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// The folder of the service executables: `$HITL_BIN`, else the folder of
    /// the running `hitl` (SwiftPM builds them all into one folder).
    static var binFolder: String {
        if let bin = ProcessInfo.processInfo.environment["HITL_BIN"], !bin.isEmpty { return bin }
        return URL(fileURLWithPath: currentExecutable).deletingLastPathComponent().path
    }

    /// Executables the definition names that are missing from ``binFolder``.
    static func missingExecutables(_ definition: StackDefinition) -> [String] {
        definition.services.compactMap { service in
            let path = service.executable.hasPrefix("/")
                ? service.executable : URL(fileURLWithPath: binFolder).appendingPathComponent(service.executable).path
            return FileManager.default.isExecutableFile(atPath: path) ? nil : path
        }
    }
}

/// Talking to a running supervisor.
struct StackConnection {
    let global: GlobalOptions

    var directory: RunDirectory { global.directory }

    /// Whether a supervisor accepts connections on run/stack.sock.
    var isRunning: Bool { SocketPath.isLive(directory.supervisorSocket) }

    /// Calls a `stack.*` method with the caller's token.
    /// - Throws: ``RPCError``, or ``RunDirectoryError`` when the identity has no token.
    func call<Params: Encodable & Sendable, Result: Decodable>(
        _ method: String, _ params: Params, as type: Result.Type, timeout: Duration? = nil
    ) async throws -> Result {
        let client = try global.client(for: Supervisor.serviceName)
        var options = global.callOptions
        if let timeout { options.timeout = .milliseconds(max(timeout.milliseconds, options.timeout.nanoseconds / 1_000_000)) }
        do {
            let result = try await client.call(method, params, as: Result.self, options: options)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }

    /// `stack.status`.
    func status() async throws -> StackStatusResult {
        try await call("stack.status", NoParams(), as: StackStatusResult.self)
    }

    /// Says the stack is not running and exits 3.
    func notRunning() -> ExitCode {
        if global.json {
            Output.out(#"{"running":false}"#)
        } else {
            Output.err("the stack is not running (nothing serves on \(directory.supervisorSocket)); start it with `hitl stack up`")
        }
        return HitlExit.unreachable.exitCode
    }

    /// Runs `body`, turning RPC errors into the documented exit codes.
    func reporting<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as RPCError {
            throw Output.report(error, json: global.json)
        } catch let error as RunDirectoryError {
            Output.err("error: \(error.description)")
            throw HitlExit.rpcError.exitCode
        }
    }
}

/// Shows the supervisor's view of the stack.
enum StackTable {
    /// SERVICE STATE PID RESTARTS UPTIME SOCKET, then any start errors.
    static func render(_ status: StackStatusResult) -> String {
        let rows = status.services.map { service in
            [service.name, service.state, service.pid.map(String.init) ?? "-", String(service.restarts),
             service.uptimeMs.map(Table.duration) ?? "-", service.socket]
        }
        var lines = [Table.render(header: ["SERVICE", "STATE", "PID", "RESTARTS", "UPTIME", "SOCKET"], rows: rows)]
        // The gateway writes its address beside its socket once it listens.
        if let gateway = status.services.first(where: { $0.name == "gateway" && $0.state == SupervisedState.serving.rawValue }),
           let url = try? String(contentsOfFile: URL(fileURLWithPath: gateway.socket).deletingLastPathComponent()
                .appendingPathComponent("gateway.url").path, encoding: .utf8) {
            lines.append("web page: \(url.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        for service in status.services {
            if let error = service.lastError, service.state != SupervisedState.serving.rawValue {
                lines.append("\(service.name): \(error)")
            } else if service.state == SupervisedState.backoff.rawValue, let exit = service.lastExit {
                lines.append("\(service.name): \(exit.description); restarting in \(service.nextRestartMs ?? 0) ms")
            } else if service.state == SupervisedState.exited.rawValue, let exit = service.lastExit {
                lines.append("\(service.name): \(exit.description); its restart policy is 'never' (`hitl stack restart \(service.name)` starts it)")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The table, or exact JSON with `--json`.
    static func print(_ status: StackStatusResult, json: Bool) throws {
        Output.out(json ? try JSONValue(encoding: status).jsonText() : render(status))
    }
}
