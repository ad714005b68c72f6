import ArgumentParser
import Foundation
import RPC

/// `hitl`: the bundled RPC client and operator tool.
public struct Hitl: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "hitl",
        abstract: "Call, inspect and operate the human-in-the-loop agent services.",
        discussion: """
            Every service speaks newline-delimited JSON-RPC 2.0 on a Unix socket in \
            <home>/run/. hitl finds the sockets and your token there.

            Examples:
              hitl health                                   # every service in compose/stack.json
              hitl call echo echo.add '{"a": 2, "b": 3}'
              echo '{"value": "hi"}' | hitl call echo echo.echo --json
              hitl discover echo | less
              hitl --as approver1 call echo echo.whoami

            Exit codes: 0 ok, 1 the service answered with an error, 2 usage error, \
            3 a service could not be reached.
            """,
        subcommands: [
            Call.self, Chat.self, Health.self, Discover.self, Approvals.self, Show.self, Approve.self, Reject.self, Runs.self, RunCommand.self,
            Init.self, Stack.self, Model.self,
        ])

    public init() {}

    /// Runs the command line and exits with the documented codes
    /// (ArgumentParser's own usage code, 64, becomes 2).
    public static func runMain(arguments: [String]? = nil) async -> Never {
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(hoistingGlobalOptions(arguments ?? Array(CommandLine.arguments.dropFirst())))
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(HitlExit.usage.rawValue)
            }
            Self.exit(withError: error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            Foundation.exit(0)
        } catch let failure as HitlFailure {
            Output.err("error: \(failure.description)")
            Foundation.exit(failure.exit.rawValue)
        } catch {
            guard exitCode(for: error) == .validationFailure else { Self.exit(withError: error) }
            // Thrown by run(): ArgumentParser would show the root's usage; show the command's.
            let type = Swift.type(of: command)
            let usage = usageString(for: type)
            let name = usage.split(separator: " ").prefix { !$0.hasPrefix("[") && !$0.hasPrefix("<") && !$0.hasPrefix("-") }
            Output.err("Error: \(message(for: error))\nUsage: \(usage)\n  See '\(name.joined(separator: " ")) --help' for more information.")
            Foundation.exit(HitlExit.usage.rawValue)
        }
    }
}

/// Lets global options come before the subcommand (`hitl --as approver1 call …`)
/// by moving them after it, where ArgumentParser looks for them.
func hoistingGlobalOptions(_ arguments: [String]) -> [String] {
    let withValue: Set = ["--home", "--as", "--timeout", "--wait", "--connect"]
    let flags: Set = ["--json"]
    var leading: [String] = []
    var index = 0
    while index < arguments.count {
        let argument = arguments[index]
        let name = String(argument.split(separator: "=", maxSplits: 1).first ?? "")
        if withValue.contains(name) {
            leading.append(argument)
            if !argument.contains("="), index + 1 < arguments.count {
                leading.append(arguments[index + 1])
                index += 1
            }
        } else if flags.contains(argument) {
            leading.append(argument)
        } else {
            break
        }
        index += 1
    }
    guard !leading.isEmpty, index < arguments.count else { return arguments }
    // Keep nested subcommands (`stack up`) together: insert after the last leading word.
    var position = index + 1
    while position < arguments.count, !arguments[position].hasPrefix("-"), Hitl.isSubcommandPath(Array(arguments[index...position])) {
        position += 1
    }
    return Array(arguments[index..<position]) + leading + Array(arguments[position...])
}

extension Hitl {
    /// Whether these words name a (nested) subcommand.
    static func isSubcommandPath(_ words: [String]) -> Bool {
        var command: any ParsableCommand.Type = Hitl.self
        for word in words {
            guard let next = command.configuration.subcommands.first(where: { $0._commandName == word }) else { return false }
            command = next
        }
        return true
    }
}

/// The exit codes `hitl` promises to scripts.
public enum HitlExit: Int32, Sendable {
    /// Everything worked.
    case ok = 0
    /// A service answered with an error.
    case rpcError = 1
    /// The command line was wrong.
    case usage = 2
    /// A service could not be reached.
    case unreachable = 3

    /// As an ArgumentParser exit code.
    public var exitCode: ExitCode { ExitCode(rawValue) }
}

/// Options every subcommand shares.
public struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The stack's home folder (default: $HITL_HOME, else the one ~/.config/hitl/home names, else the repository's .hitl).",
        valueName: "dir"))
    public var home: String?

    @Option(name: .customLong("as"), help: ArgumentHelp("Whose token to present: operator (default), agent, approver1, ...", valueName: "identity"))
    public var chosenIdentity: String?

    /// The identity whose token is presented: `--as`, else `operator`.
    public var identity: String { chosenIdentity ?? "operator" }

    @Option(help: ArgumentHelp("Seconds to wait for an answer (the call's deadline).", valueName: "seconds"))
    public var timeout: Double = 30

    @Flag(help: "Print exact JSON for scripts instead of readable output.")
    public var json = false

    public init() {}

    public func validate() throws {
        guard timeout > 0, timeout <= 86_400 else { throw ValidationError("--timeout must be between 0 and 86400 seconds") }
        guard wait >= 0, wait <= 3600 else { throw ValidationError("--wait must be between 0 and 3600 seconds") }
        _ = try endpoints()
    }

    /// Where the home was found: `--home`, `$HITL_HOME`, the pointer `hitl stack up`
    /// writes, else the repository's `.hitl` (``HomeSearch``).
    var search: HomeSearch { HomeSearch.resolve(explicit: home) }

    /// The run directory.
    public var directory: RunDirectory { search.directory }

    /// The home, when it exists.
    /// - Throws: ``HitlFailure`` (exit 3) saying where hitl looked, in order.
    func locatedHome() throws -> RunDirectory {
        let search = self.search
        guard search.exists else { throw search.notFound }
        return search.directory
    }

    /// The home, when it exists and has identity tokens.
    /// - Throws: ``HitlFailure`` (exit 3) saying where hitl looked, or that the stack there is not running.
    func provisionedHome() throws -> RunDirectory {
        let search = self.search
        guard search.exists else { throw search.notFound }
        guard FileManager.default.fileExists(atPath: search.directory.identities.path) else { throw search.notRunning }
        return search.directory
    }

    @Option(help: ArgumentHelp("Seconds to keep retrying a service that cannot be reached (restarting).", valueName: "seconds"))
    public var wait: Double = 2

    @Option(name: .customLong("connect"), help: ArgumentHelp(
        "Reach a service over TCP with mutual TLS instead of its socket: service=tcp://host:port (repeatable; the certificate is <home>/run/tls/client.pem).",
        valueName: "service=address"))
    public var connections: [String] = []

    /// `--connect`'s addresses, by service.
    func endpoints() throws -> [String: RPCEndpoint] {
        var endpoints: [String: RPCEndpoint] = [:]
        for entry in connections {
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                throw ValidationError("--connect takes service=tcp://host:port, not '\(entry.prefix(80))'")
            }
            do {
                endpoints[String(entry[..<equals])] = try RPCEndpoint(parsing: String(entry[entry.index(after: equals)...]))
            } catch let error as RPCEndpointError {
                throw ValidationError("--connect \(entry[..<equals]): \(error.description)")
            }
        }
        return endpoints
    }

    /// Call options with this deadline and retry window.
    public var callOptions: CallOptions {
        CallOptions(timeout: .milliseconds(Int64(timeout * 1000)), retryWindow: .milliseconds(Int64(wait * 1000)))
    }

    /// A client for a service, presenting `--as`'s token.
    /// - Parameter service: the short name.
    /// - Throws: ``HitlFailure`` when there is no home, ``ValidationError`` when it has
    ///   no such identity, ``RunDirectoryError`` when that identity has no token.
    public func client(for service: String) throws -> RPCClient {
        try client(for: service, as: identity)
    }

    /// A client for a service, presenting `identity`'s token (see ``client(for:)``).
    func client(for service: String, as identity: String) throws -> RPCClient {
        let directory = try home(with: identity)
        guard let endpoint = try endpoints()[service], case .tcp = endpoint else {
            return try RPCClient(service: service, directory: directory, identity: identity)
        }
        let files = RPCTLS.files(for: "client", in: directory)
        let tls: RPCTLS
        do {
            tls = try RPCTLS.client(certificate: files.certificate, key: files.key, ca: files.ca)
        } catch let error as RPCTLSError {
            throw ValidationError("\(error.description); `hitl init --tls-host <host>` makes the client's certificate")
        }
        return RPCClient(endpoint: endpoint, tls: tls, token: try IdentityProvisioner.token(for: identity, in: directory))
    }

    /// The home, when it exists and knows `identity`.
    /// - Throws: ``HitlFailure`` (exit 3) for a missing home or stack, ``ValidationError`` for an unknown identity.
    func home(with identity: String) throws -> RunDirectory {
        let directory = try provisionedHome()
        let registry = try IdentityRegistry.load(from: directory)
        guard registry.identity(named: identity) != nil else {
            let names = registry.identities.map(\.name).sorted().joined(separator: ", ")
            throw ValidationError("no identity '\(identity)' in \(directory.home.path); its identities: \(names)")
        }
        return directory
    }
}

/// Writes to stdout or stderr without buffering surprises.
enum Output {
    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func err(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Reports an RPC error and returns the exit code it maps to.
    static func report(_ error: RPCError, json: Bool) -> ExitCode {
        if json {
            var object = error.details
            object["code"] = .int(Int64(error.code))
            object["message"] = .string(error.message)
            object["status"] = .string(error.status.name)
            object["reason"] = .string(error.reason)
            out(JSONValue.object(["error": .object(object)]).jsonText())
        } else {
            err("error: \(error.status.name)/\(error.reason): \(error.message)")
        }
        let unreachable = [.unavailable, .aborted].contains(error.status) && ["UNREACHABLE", "CONNECTION_LOST"].contains(error.reason)
        return unreachable ? HitlExit.unreachable.exitCode : HitlExit.rpcError.exitCode
    }
}
