import Foundation

/// The stack's home on disk: `$HITL_HOME` (default `.hitl`), laid out as
///
///     run/          0700: sockets, identity tokens, keys
///     run/<service>.sock
///     run/tokens/<identity>.token   0600
///     run/identities.json           0600: name, role, sha256 of each token
///     data/         0700: each service's own database
///     logs/         one log file per service
public struct RunDirectory: Sendable, Equatable {
    /// The home folder, absolute.
    public let home: URL

    /// Creates a run directory description (nothing is created on disk).
    /// - Parameter home: the home folder; relative paths resolve against the working directory.
    public init(home: String) {
        self.home = URL(fileURLWithPath: home).standardizedFileURL
    }

    /// The home from `--home`, else `$HITL_HOME`, else `.hitl`.
    /// - Parameter explicit: a `--home` option, if given.
    public static func resolve(_ explicit: String? = nil) -> RunDirectory {
        if let explicit, !explicit.isEmpty { return RunDirectory(home: explicit) }
        if let env = ProcessInfo.processInfo.environment["HITL_HOME"], !env.isEmpty { return RunDirectory(home: env) }
        return RunDirectory(home: ".hitl")
    }

    /// `run/`: sockets, tokens and keys.
    public var run: URL { home.appendingPathComponent("run") }
    /// `data/`: databases.
    public var data: URL { home.appendingPathComponent("data") }
    /// `logs/`: one file per service.
    public var logs: URL { home.appendingPathComponent("logs") }
    /// `run/tokens/`.
    public var tokens: URL { run.appendingPathComponent("tokens") }
    /// `run/identities.json`.
    public var identities: URL { run.appendingPathComponent("identities.json") }

    /// The socket of a service: `run/<service>.sock`.
    /// - Parameter service: the short name, e.g. `ledger`.
    public func socketPath(for service: String) -> String {
        run.appendingPathComponent("\(service).sock").path
    }

    /// The token file of an identity: `run/tokens/<name>.token`.
    /// - Parameter identity: e.g. `operator`.
    /// Where other services are when they are not on this machine: `run/addresses.json`,
    /// `{"ledger": "tcp://10.0.0.3:9003", ...}` (a service not named there is reached at
    /// its socket). Past one machine, each host's home carries this file and the
    /// stack's `run/tls/` folder.
    public var addresses: URL { run.appendingPathComponent("addresses.json") }

    /// The TCP endpoint of `service` from `run/addresses.json`, if it names one.
    /// - Throws: ``RunDirectoryError`` when the file is there but not a map of addresses.
    public func remoteEndpoint(for service: String) throws -> RPCEndpoint? {
        guard let data = FileManager.default.contents(atPath: addresses.path) else { return nil }
        guard let map = try? JSONDecoder().decode([String: String].self, from: data) else {
            throw RunDirectoryError("\(addresses.path) is not a JSON object of service names and addresses ({\"ledger\": \"tcp://host:port\"})")
        }
        guard let text = map[service] else { return nil }
        do {
            return try RPCEndpoint(parsing: text)
        } catch let error as RPCEndpointError {
            throw RunDirectoryError("\(addresses.path), \(service): \(error.description)")
        }
    }

    public func tokenPath(for identity: String) -> String {
        tokens.appendingPathComponent("\(identity).token").path
    }

    /// Creates the home (0711), `run/` (0700), `run/tokens/` (0700), `data/` (0700) and
    /// `logs/` (0700), and tightens their modes if they already existed. Others may pass
    /// through the home, never list it: a PostgreSQL cluster under it (`scripts/stack up
    /// --postgres`) runs as the `postgres` user, and everything secret is in the 0700
    /// folders below.
    /// - Throws: when a folder cannot be created.
    public func prepare() throws {
        for (folder, mode) in [(home, 0o711), (run, 0o700), (tokens, 0o700), (data, 0o700), (logs, 0o700)] as [(URL, mode_t)] {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            guard chmod(folder.path, mode) == 0 else {
                throw RunDirectoryError("cannot set mode \(String(mode, radix: 8)) on \(folder.path): \(String(cString: strerror(errno)))")
            }
        }
    }
}

/// A problem with the run directory, said plainly.
public struct RunDirectoryError: Error, CustomStringConvertible {
    public let description: String
    /// - Parameter description: what went wrong and what to do.
    public init(_ description: String) { self.description = description }
}
