import Foundation
import Logging
import NIOPosix
import RPC
import Synchronization

/// A versioned schema change: applied once, in order, inside a transaction.
public struct Migration: Sendable {
    /// Strictly increasing from 1; stored in `PRAGMA user_version`.
    public let version: Int
    /// The SQL script.
    public let sql: String

    /// - Parameters:
    ///   - version: its number.
    ///   - sql: the script.
    public init(_ version: Int, _ sql: String) {
        self.version = version
        self.sql = sql
    }
}

/// A SQLite database for one service: WAL, `synchronous=FULL`, one writer
/// that commits concurrent requests together (group commit), and a few
/// readers that never wait for it.
///
/// Each write request runs in its own savepoint inside the shared
/// `BEGIN IMMEDIATE … COMMIT`, so it succeeds or fails on its own; its caller
/// hears back only after the commit is durable.
public final class SQLiteDatabase: SQLDatabase {
    /// The limits of a database. Each is named with the reason for its value.
    public struct Limits: Sendable {
        /// Requests in one transaction: enough to amortize an fsync over many
        /// requests, few enough that one transaction stays under a few ms of work.
        public var maximumBatch = 512
        /// Requests waiting for the writer: past this, callers get RESOURCE_EXHAUSTED
        /// instead of unbounded memory and latency.
        public var maximumQueue = 20_000
        /// Reader connections (threads): the machines here have 2 cores.
        public var readers = 2
        /// How long a connection waits for a lock held by another process
        /// (`sqlite3` opened by an operator, say) before failing.
        public var busyTimeoutMs = 5_000
        /// The writer's page cache, in KiB. A group commit of a few thousand
        /// movements dirties several MiB of pages; with SQLite's default 2 MiB the
        /// cache spills them to the WAL in the middle of the transaction and writes
        /// them again at commit (measured in ledger-bench: a third of the writer's
        /// time went to those pwrites). 64 MiB holds the largest commits seen there.
        public var writerCacheKiB = 65_536

        public init() {}
    }

    private let writer: WriteQueue<SQLiteConnection>
    private let readers: [ConnectionLane<SQLiteConnection>]
    private let nextReader = Atomic<Int>(0)
    /// The database file.
    public let path: String

    /// Opens the database, checks its integrity, applies pending migrations.
    /// - Parameters:
    ///   - path: the file (created if missing).
    ///   - migrations: the schema history.
    ///   - limits: batch, queue and reader limits.
    ///   - logger: where start-up and failures are logged.
    /// - Throws: ``SQLiteError`` or ``SQLiteIntegrityError``.
    public init(path: String, migrations: [Migration], limits: Limits = Limits(), logger: Logger) throws {
        self.path = path
        let connection = try SQLiteConnection(path: path)
        try connection.executeScript("""
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=FULL;
            PRAGMA busy_timeout=\(limits.busyTimeoutMs);
            PRAGMA foreign_keys=ON;
            PRAGMA cache_size=-\(limits.writerCacheKiB);
            """)
        let check = try connection.query("PRAGMA quick_check") { $0.text(0) }
        guard check == ["ok"] else { throw SQLiteIntegrityError(path: path, problems: check) }
        try Self.migrate(connection, migrations, logger: logger)
        writer = WriteQueue(
            lane: ConnectionLane(connection), maximumBatch: limits.maximumBatch, maximumQueue: limits.maximumQueue,
            logger: logger, commit: { Self.commit($0, on: $1, logger: $2) })
        readers = try (0..<max(1, limits.readers)).map { _ in
            let reader = try SQLiteConnection(path: path)
            try reader.executeScript("PRAGMA busy_timeout=\(limits.busyTimeoutMs); PRAGMA query_only=ON;")
            return ConnectionLane(reader)
        }
    }

    /// Runs `body` in the next group commit and returns once it is durable.
    /// - Parameter body: the work; throwing rolls back only this request.
    /// - Returns: what `body` returned.
    /// - Throws: what `body` threw, ``SQLiteError`` when the commit failed,
    ///   or RESOURCE_EXHAUSTED when the queue is full.
    @discardableResult
    public func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            writer.submit(WriteJob(body, continuation: continuation))
        }
    }

    /// Runs `body` on a reader connection (a consistent snapshot).
    /// - Parameter body: read-only work.
    /// - Returns: what `body` returned.
    /// - Throws: what `body` threw.
    @discardableResult
    public func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        let index = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue % readers.count
        return try await readers[index].run(body)
    }

    /// Runs `body` on a reader connection inside one read transaction: every
    /// statement sees the same snapshot, whatever commits meanwhile.
    public func snapshot<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await read { connection in
            try connection.execute("BEGIN")
            defer { _ = try? connection.execute("COMMIT") }
            return try body(connection)
        }
    }

    /// Stops the threads once queued work is done.
    public func close() async {
        await writer.lane.shutdown()
        for reader in readers { await reader.shutdown() }
    }

    private static func migrate(_ connection: SQLiteConnection, _ migrations: [Migration], logger: Logger) throws {
        let current = try connection.queryOne("PRAGMA user_version") { Int($0.int(0)) } ?? 0
        for migration in migrations.sorted(by: { $0.version < $1.version }) where migration.version > current {
            try connection.executeScript("BEGIN IMMEDIATE")
            do {
                try connection.executeScript(migration.sql)
                try connection.executeScript("PRAGMA user_version=\(migration.version)")
                try connection.executeScript("COMMIT")
                logger.info("schema migrated", metadata: ["db.version": "\(migration.version)", "db.path": "\(connection.path)"])
            } catch {
                try? connection.executeScript("ROLLBACK")
                throw error
            }
        }
    }
}

extension SQLiteDatabase {
    /// SQLite's group commit: `BEGIN IMMEDIATE`, each job in a savepoint of its own, one
    /// `COMMIT` (one fsync) for all. Runs on the writer thread only.
    static func commit(_ batch: [WriteJob<SQLiteConnection>], on connection: SQLiteConnection, logger: Logger) {
        do {
            try connection.execute("BEGIN IMMEDIATE")
        } catch {
            logger.error("cannot begin a write transaction", metadata: ["error": "\(error)"])
            for job in batch { job.complete(.failure(error)) }
            return
        }
        var outcomes: [Result<any Sendable, any Error>] = []
        outcomes.reserveCapacity(batch.count)
        do {
            for job in batch {
                try connection.execute("SAVEPOINT request")
                let outcome = job.execute(connection)
                if case .failure = outcome { try connection.execute("ROLLBACK TO request") }
                try connection.execute("RELEASE request")
                outcomes.append(outcome)
            }
            try connection.execute("COMMIT")
            ServiceStatistics.committed(requests: outcomes.reduce(0) { count, outcome in
                if case .success = outcome { return count + 1 }
                return count
            })
        } catch {
            // The transaction's state is unknown: undo all of it and fail every request.
            try? connection.executeScript("ROLLBACK")
            logger.error("group commit failed; every request in it was rolled back", metadata: [
                "error": "\(error)", "db.batch": "\(batch.count)",
            ])
            for job in batch { job.complete(.failure(error)) }
            return
        }
        for (job, outcome) in zip(batch, outcomes) { job.complete(outcome) }
    }
}

/// The database failed its integrity check at start-up.
public struct SQLiteIntegrityError: Error, CustomStringConvertible {
    /// The file.
    public let path: String
    /// What `PRAGMA quick_check` reported.
    public let problems: [String]

    public var description: String {
        "\(path) failed its integrity check (\(problems.prefix(3).joined(separator: "; "))); restore it from a backup"
    }
}

/// One connection and the one thread allowed to use it.
///
/// `@unchecked Sendable` is safe here: `connection` is touched only inside work
/// items of `pool`, which has exactly one thread, so they run one at a time on
/// that thread and never concurrently.
public final class ConnectionLane<Connection>: @unchecked Sendable {
    private let pool: NIOThreadPool
    private let connection: Connection

    /// Starts the lane's thread; `connection` is used on it alone from now on.
    public init(_ connection: Connection) {
        self.connection = connection
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    /// Runs `body` on the lane's thread.
    public func run<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await pool.runIfActive { try body(self.connection) }
    }

    /// Queues `body` on the lane's thread without waiting for it.
    public func submit(_ body: @escaping @Sendable (Connection) -> Void) {
        pool.submit { _ in body(self.connection) }
    }

    /// Stops the thread once queued work is done.
    public func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}

/// A write request: its work, and how its caller hears the outcome after commit.
public struct WriteJob<Connection>: Sendable {
    /// Runs the request's work; a backend that retries a transaction runs it again.
    public let execute: @Sendable (Connection) -> Result<any Sendable, any Error>
    /// Delivers the outcome, once.
    public let complete: @Sendable (Result<any Sendable, any Error>) -> Void

    /// A job for `body`, whose caller waits on `continuation`.
    public init<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T, continuation: CheckedContinuation<T, any Error>) {
        execute = { connection in Result { try body(connection) } }
        complete = { result in continuation.resume(with: result.map { $0 as! T }) }
    }
}
