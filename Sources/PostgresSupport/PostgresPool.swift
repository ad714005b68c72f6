import Foundation
import Logging
import NIOSSL
import PostgresNIO
import RPC
import _ConnectionPoolModule

/// One step of a service's schema on PostgreSQL: statements run in one transaction.
public struct PostgresMigration: Sendable {
    public let version: Int
    public let statements: [String]

    public init(_ version: Int, _ statements: [String]) {
        self.version = version
        self.statements = statements
    }
}

/// A service's PostgreSQL database: a bounded connection pool, versioned migrations,
/// transactions that are tried again when PostgreSQL rolls them back for a conflict,
/// and LISTEN for what other replicas commit.
///
/// Nothing a replica must agree on lives in its memory: every rule is a row lock, a
/// unique constraint or a version check inside one transaction, so any number of
/// replicas can share the database.
public final class PostgresPool: Sendable {
    public struct Limits: Sendable {
        /// Connections this process opens at most. PostgreSQL serves 100 by default
        /// (`max_connections`); 8 leaves room for a dozen replicas of each service.
        public var maximumConnections = 8
        /// How long opening one connection may take before the call fails UNAVAILABLE.
        public var connectTimeout: Duration = .seconds(5)
        /// Attempts at a transaction that PostgreSQL rolled back for a serialization
        /// failure or a deadlock (it changed nothing): each is tried again from the top.
        public var maximumAttempts = 8

        public init() {}
    }

    public let url: PostgresURL
    let client: PostgresClient
    let running: Task<Void, Never>
    let limits: Limits
    let logger: Logger
    /// For the listener's own connection, outside the pool (a LISTEN holds its
    /// connection for as long as it follows; the pool's are for calls).
    let listenerConfiguration: PostgresConnection.Configuration

    /// Connects lazily (the first call opens the first connection).
    /// - Throws: ``PostgresURLError`` when `sslrootcert` cannot be read.
    public init(url: PostgresURL, limits: Limits = Limits(), logger: Logger) throws {
        let (tls, clientTLS) = try Self.tls(url)
        var configuration: PostgresClient.Configuration
        switch url.endpoint {
        case .unixSocket(let path):
            configuration = .init(unixSocketPath: path, username: url.username, password: url.password, database: url.database)
        case .tcp(let host, let port):
            configuration = .init(
                host: host, port: port, username: url.username, password: url.password, database: url.database, tls: clientTLS)
        }
        listenerConfiguration = try Self.connectionConfiguration(url, tls: tls)
        configuration.options.maximumConnections = limits.maximumConnections
        configuration.options.additionalStartupParameters = Self.sessionParameters
        configuration.options.minimumConnections = 0
        configuration.options.connectTimeout = limits.connectTimeout
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.running = Task { await client.run() }
        self.url = url
        self.limits = limits
        self.logger = logger
    }

    /// How one connection outside the pool reaches the database (the listener's, and
    /// the blocking lanes of ``PostgresSQLDatabase``).
    /// - Throws: ``PostgresURLError`` when `sslrootcert` cannot be read.
    public static func connectionConfiguration(_ url: PostgresURL) throws -> PostgresConnection.Configuration {
        try connectionConfiguration(url, tls: try tls(url).connection)
    }

    private static func connectionConfiguration(
        _ url: PostgresURL, tls: PostgresConnection.Configuration.TLS
    ) throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration = switch url.endpoint {
        case .unixSocket(let path):
            .init(unixSocketPath: path, username: url.username, password: url.password, database: url.database)
        case .tcp(let host, let port):
            .init(host: host, port: port, username: url.username, password: url.password, database: url.database, tls: tls)
        }
        configuration.options.additionalStartupParameters = sessionParameters
        return configuration
    }

    /// Settings every session of every service starts with (in the startup message), so
    /// the server notices a client that is gone without a word (a host that lost power:
    /// no FIN ever comes). A session idle inside a transaction for 10 s is ended and
    /// rolled back, releasing its row locks (the services never wait on anything but the
    /// server inside a transaction); over TCP, a silent peer is probed after 10 s, every
    /// 5 s, and dropped after 3 unanswered probes, freeing its connection slot.
    public static let sessionParameters: [(String, String)] = [
        ("idle_in_transaction_session_timeout", "10000"),
        ("tcp_keepalives_idle", "10"), ("tcp_keepalives_interval", "5"), ("tcp_keepalives_count", "3"),
    ]

    /// The URL's `sslmode` as a connection's and as the pool's TLS settings.
    private static func tls(_ url: PostgresURL) throws -> (connection: PostgresConnection.Configuration.TLS, client: PostgresClient.Configuration.TLS) {
        switch url.tls {
        case .disable:
            return (.disable, .disable)
        case .require:
            var settings = TLSConfiguration.makeClientConfiguration()
            if let path = url.rootCertificatePath {
                do {
                    settings.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(path))
                } catch {
                    throw PostgresURLError("sslrootcert \(path) is not a readable PEM file (\(error))")
                }
            }
            return (.require(try NIOSSLContext(configuration: settings)), .require(settings))
        }
    }

    /// Stops the pool; calls after this fail UNAVAILABLE.
    public func close() async {
        running.cancel()
        _ = await running.value
    }

    // MARK: migrations

    /// Brings the service's schema to the newest version, under an advisory lock so
    /// that replicas starting together migrate once. `name` keeps services that share
    /// one database apart in `schema_migrations`.
    public func migrate(_ migrations: [PostgresMigration], name: String) async throws {
        let applied = try await transaction { connection -> [Int] in
            // One lock for every service's migrations: two services migrating one new database
            // at once would otherwise both create schema_migrations.
            try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended('hitl-migrations', 0))", logger: self.logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    name TEXT NOT NULL, version INTEGER NOT NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (name, version))
                """, logger: self.logger)
            let rows = try await connection.query(
                "SELECT coalesce(max(version), 0)::INTEGER FROM schema_migrations WHERE name = \(name)", logger: self.logger)
            var current = 0
            for try await value in rows.decode(Int32.self) { current = Int(value) }
            guard current <= (migrations.last?.version ?? 0) else {
                throw RPCError(
                    .failedPrecondition, reason: "SCHEMA_TOO_NEW",
                    "the database's \(name) schema is at version \(current), newer than this build knows; run a newer build")
            }
            var done: [Int] = []
            for migration in migrations where migration.version > current {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                }
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                try await connection.query(
                    "INSERT INTO schema_migrations (name, version, applied_at) VALUES (\(name), \(migration.version), \(now))",
                    logger: self.logger)
                done.append(migration.version)
            }
            return done
        }
        if !applied.isEmpty {
            logger.info("database migrated", metadata: ["db.schema": "\(name)", "db.versions": "\(applied)", "db.url": "\(url)"])
        }
    }

    // MARK: transactions

    /// Runs `body` in a transaction (READ COMMITTED; the body takes the row locks it
    /// needs) and commits it. A serialization failure or a deadlock rolled everything
    /// back, so the body runs again, at most ``Limits/maximumAttempts`` times.
    /// - Throws: what the body throws; UNAVAILABLE/DATABASE_UNAVAILABLE when the database cannot be reached.
    public func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let result = try await attempts(body)
        // Counted as SQLite's group commit counts: one durable write in one commit (`rpc.stats`).
        ServiceStatistics.committed(requests: 1)
        return result
    }

    private func attempts<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
            } catch {
                // postgres-nio wraps what went wrong: the body's own error, or BEGIN's or COMMIT's.
                let cause = Self.cause(of: error)
                if let wrapped = error as? PostgresTransactionError, wrapped.closureError == nil,
                    let failure = wrapped.commitError as? PSQLError, failure.code != .server
                {
                    // The connection broke while COMMIT was under way: it may have committed.
                    logger.error("database connection lost during a commit", metadata: ["db.error": "\(failure.code)"])
                    throw Self.commitOutcomeUnknown
                }
                guard let failure = cause as? PSQLError else { throw Self.mappedPool(cause) }
                guard Self.isConflict(failure), attempt < limits.maximumAttempts else { throw mapped(failure) }
                attempt += 1
                // A short, growing, jittered pause so that the same two transactions do not meet again.
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(4 << min(attempt, 6)))))
            }
        }
    }

    /// The connection broke while COMMIT was under way: the write may or may not have been made.
    public static let commitOutcomeUnknown = RPCError(
        .unknown, reason: "COMMIT_OUTCOME_UNKNOWN",
        "the database connection broke while this write was committing, so it may or may not have been made; read before writing again")

    /// The error that ended a transaction, unwrapped from `PostgresTransactionError`.
    static func cause(of error: any Error) -> any Error {
        guard let wrapped = error as? PostgresTransactionError else { return error }
        return wrapped.closureError ?? wrapped.beginError ?? wrapped.commitError ?? wrapped.rollbackError ?? error
    }

    /// Runs `body` on one pooled connection outside a transaction (single-statement reads).
    public func read<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { connection in try await body(connection) }
        } catch let error as PSQLError {
            throw mapped(error)
        } catch {
            throw Self.mappedPool(error)
        }
    }

    /// Runs `body` in a read-only transaction that sees one snapshot (REPEATABLE READ).
    public func snapshot<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await attempts { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: self.logger)
            return try await body(connection)
        }
    }

    /// The pool's own errors as callers see them: a call cancelled while it waited for a
    /// connection (its deadline, `rpc.cancel`) is cancelled; a pool that cannot connect
    /// (it tried for a while) or is shut down is UNAVAILABLE.
    static func mappedPool(_ error: any Error) -> any Error {
        guard let pool = error as? ConnectionPoolError else { return error }
        if pool == .requestCancelled { return CancellationError() }
        return RPCError(
            .unavailable, reason: "DATABASE_UNAVAILABLE",
            "the service's database cannot be reached (\(pool == .poolShutdown ? "the service is stopping" : "connecting keeps failing")); try again shortly")
    }

    /// A serialization failure, a deadlock or a lock wait that timed out: PostgreSQL rolled
    /// the transaction (or the statement) back, and trying again may succeed.
    public static func isConflict(_ error: PSQLError) -> Bool {
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40001" || state == "40P01" || state == "55P03"
    }

    /// A server error that says the database is going away or cannot serve: class 08
    /// (connection exception) and 57 (operator intervention: shutting down, restarting).
    static func isUnavailable(_ error: PSQLError) -> Bool {
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("08") || state.hasPrefix("57")
    }

    /// The database refused for want of capacity (class 53: too many connections, out
    /// of memory or disk) or a conflict outlasted the retries (a lock wait that timed
    /// out, a serialization failure, a deadlock): nothing was written, and the same call
    /// later should go through. Not the caller's fault, so never INTERNAL.
    static func isBusy(_ error: PSQLError) -> Bool {
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("53") || ["55P03", "40001", "40P01"].contains(state)
    }

    /// The SQLSTATE of a server error (`23505`: a unique constraint), or nil.
    public static func sqlState(of error: any Error) -> String? {
        guard let error = error as? PSQLError, error.code == .server else { return nil }
        return error.serverInfo?[.sqlState]
    }

    /// A PostgreSQL failure as the caller sees it: UNAVAILABLE when the database could
    /// not be reached (try again), INTERNAL otherwise (logged here with its SQLSTATE
    /// and message; never the statement's values).
    func mapped(_ error: PSQLError) -> any Error {
        Self.mapped(error, url: url, logger: logger)
    }

    /// ``mapped(_:)`` for callers outside a pool.
    public static func mapped(_ error: PSQLError, url: PostgresURL, logger: Logger) -> any Error {
        switch error.code {
        case .server where isBusy(error):
            logger.warning("database busy", metadata: ["db.url": "\(url)", "db.sqlstate": "\(error.serverInfo?[.sqlState] ?? "?")"])
            return RPCError(
                .unavailable, reason: "DATABASE_UNAVAILABLE",
                "the service's database is busy (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"): out of connections or resources, or a lock or conflict that outlasted every retry); nothing was written; try again shortly")
        case .server where isUnavailable(error):
            logger.warning("database unavailable", metadata: ["db.url": "\(url)", "db.sqlstate": "\(error.serverInfo?[.sqlState] ?? "?")"])
            return RPCError(
                .unavailable, reason: "DATABASE_UNAVAILABLE",
                "the service's database is shutting down or restarting (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?")); try again shortly")
        case .server:
            logger.error(
                "database error",
                metadata: [
                    "db.sqlstate": "\(error.serverInfo?[.sqlState] ?? "?")",
                    "db.message": "\(error.serverInfo?[.message] ?? "?")",
                ])
            return error
        case .queryCancelled:
            return CancellationError()
        default:
            logger.warning("database unavailable", metadata: ["db.url": "\(url)", "db.error": "\(error.code)"])
            return RPCError(
                .unavailable, reason: "DATABASE_UNAVAILABLE",
                "the service's database cannot be reached (\(error.code)); try again shortly")
        }
    }

    // MARK: notifications

    /// How often everyone following changes is woken even when no notification came: a
    /// notification lost with a connection that died without a word (a dropped TCP
    /// path, a failover) then costs at most this much delay, never a stuck watcher.
    public static let safetyWakeInterval: Duration = .seconds(5)

    /// Follows `channel` on a connection of its own (outside the pool) and calls
    /// `onNotification` with each payload until the task is cancelled. Once each LISTEN is
    /// in force (the first, and after a lost connection) and every
    /// ``safetyWakeInterval``, it calls `wakeAll`: notifications sent while nobody
    /// listened are lost, so whoever waits on them must look again.
    public func listen(
        channel: String, retryDelay: Duration = .seconds(1), wakeAll: @escaping @Sendable () -> Void,
        _ onNotification: @escaping @Sendable (String) -> Void
    ) -> Task<Void, Never> {
        let configuration = listenerConfiguration
        let logger = self.logger
        return Task {
            let safety = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.safetyWakeInterval)
                    wakeAll()
                }
            }
            defer { safety.cancel() }
            var id = 0
            while !Task.isCancelled {
                id += 1
                do {
                    let connection = try await PostgresConnection.connect(configuration: configuration, id: id, logger: logger)
                    do {
                        try await connection.listen(on: channel) { notifications in
                            wakeAll()
                            for try await notification in notifications { onNotification(notification.payload) }
                        }
                    } catch {
                        try? await connection.close()
                        throw error
                    }
                    try? await connection.close()
                } catch {
                    if Task.isCancelled { return }
                    logger.warning(
                        "listening for changes failed; listening again",
                        metadata: ["db.channel": "\(channel)", "db.error": "\((error as? PSQLError).map { "\($0.code)" } ?? "\(error)")"])
                }
                try? await Task.sleep(for: retryDelay)
            }
        }
    }
}
