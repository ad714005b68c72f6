import Foundation
import Logging
import NIOCore
import PostgresNIO
import RPC
import SQLiteKit
import Synchronization

/// A service's synchronous SQL (the ledger's, written once for SQLite) on PostgreSQL,
/// shared by any number of replicas.
///
/// The same shape as ``SQLiteKit/SQLiteDatabase``: one writer that commits whatever
/// requests are waiting as one transaction, each in a savepoint of its own (group
/// commit), and a few readers. Each runs on a thread of its own over one blocking
/// connection (a statement is a round trip the thread waits for), so the service's
/// SQL and its checks stay one synchronous function for both engines.
///
/// What SQLite's single writer gave for free, PostgreSQL gets from the statements
/// and from this writer: reads that a write acts on take row locks (`FOR UPDATE`,
/// ``SQLiteKit/SQLDialect/forUpdate``); a request that hits a unique constraint
/// (another replica took the same key or grant first) is rolled back to its
/// savepoint and run again, when it sees the winner's row and answers as a replay or
/// a refusal; a batch that PostgreSQL rolled back for a deadlock or a serialization
/// failure runs again whole; a connection lost during COMMIT is reported as
/// COMMIT_OUTCOME_UNKNOWN, never as a failure.
public final class PostgresSQLDatabase: SQLDatabase {
    public typealias Connection = PostgresLaneConnection

    /// The limits of a database. Each is named with the reason for its value.
    public struct Limits: Sendable {
        /// Requests in one transaction: each statement is a round trip here, so a
        /// batch of 128 holds row locks for tens of milliseconds at most.
        public var maximumBatch = 128
        /// Requests waiting for the writer: past this, callers get RESOURCE_EXHAUSTED.
        public var maximumQueue = 20_000
        /// Reader connections (threads), beside the writer's one.
        public var readers = 2
        /// Attempts at a batch PostgreSQL rolled back for a deadlock or a
        /// serialization failure (it changed nothing): each is tried again whole.
        public var maximumAttempts = 8
        /// Times one request is run again after a unique constraint refused it: once
        /// is enough to see the winner's row; a few more cover a chain of winners.
        public var maximumUniqueRetries = 3

        public init() {}
    }

    public let url: PostgresURL
    private let writer: WriteQueue<PostgresLaneConnection>
    private let readers: [ConnectionLane<PostgresLaneConnection>]
    private let nextReader = Atomic<Int>(0)

    /// Migrates the schema (once, under an advisory lock, whichever replica starts
    /// first) and starts the lanes; each connects on its first use.
    /// - Parameters:
    ///   - url: the database.
    ///   - migrations: the service's schema history on PostgreSQL.
    ///   - name: the service's name in `schema_migrations`.
    ///   - limits: batch, queue, reader and retry limits.
    ///   - logger: for start-up and failures.
    /// - Throws: ``PostgresURLError``; DATABASE_UNAVAILABLE when it cannot be reached.
    public static func open(
        url: PostgresURL, migrations: [PostgresMigration], name: String, limits: Limits = Limits(), logger: Logger
    ) async throws -> PostgresSQLDatabase {
        var poolLimits = PostgresPool.Limits()
        poolLimits.maximumConnections = 1
        let pool = try PostgresPool(url: url, limits: poolLimits, logger: logger)
        do {
            try await pool.migrate(migrations, name: name)
        } catch {
            await pool.close()
            throw error
        }
        await pool.close()
        return try PostgresSQLDatabase(url: url, limits: limits, logger: logger)
    }

    private init(url: PostgresURL, limits: Limits, logger: Logger) throws {
        self.url = url
        let configuration = try PostgresPool.connectionConfiguration(url)
        func lane(_ role: String) -> ConnectionLane<PostgresLaneConnection> {
            ConnectionLane(PostgresLaneConnection(configuration: configuration, url: url, role: role, logger: logger))
        }
        writer = WriteQueue(
            lane: lane("writer"), maximumBatch: limits.maximumBatch, maximumQueue: limits.maximumQueue, logger: logger,
            commit: { batch, connection, logger in Self.commit(batch, on: connection, limits: limits, logger: logger) })
        readers = (0..<max(1, limits.readers)).map { _ in lane("reader") }
    }

    @discardableResult
    public func write<T: Sendable>(_ body: @escaping @Sendable (PostgresLaneConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            writer.submit(WriteJob(body, continuation: continuation))
        }
    }

    @discardableResult
    public func read<T: Sendable>(_ body: @escaping @Sendable (PostgresLaneConnection) throws -> T) async throws -> T {
        let index = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue % readers.count
        return try await readers[index].run { connection in
            do {
                return try body(connection)
            } catch {
                throw connection.mapped(error)
            }
        }
    }

    @discardableResult
    public func snapshot<T: Sendable>(_ body: @escaping @Sendable (PostgresLaneConnection) throws -> T) async throws -> T {
        try await read { connection in
            try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            do {
                let result = try body(connection)
                _ = try connection.commit()
                return result
            } catch {
                connection.rollBack()
                throw error
            }
        }
    }

    public func close() async {
        for lane in [writer.lane] + readers {
            try? await lane.run { $0.disconnect() }
            await lane.shutdown()
        }
    }

    /// One batch in one transaction, on the writer's thread: failed whole when the
    /// database is out of reach, and every job completed exactly once. When PostgreSQL
    /// rolls a batch back for a conflict (a deadlock with another replica's batch: each
    /// holds the row locks of all its requests until its commit), its requests are
    /// committed one transaction each instead, and each is tried again alone.
    static func commit(_ batch: [WriteJob<PostgresLaneConnection>], on connection: PostgresLaneConnection, limits: Limits, logger: Logger) {
        var attempt = 1
        while true {
            do {
                let outcomes = try transaction(batch, on: connection, limits: limits)
                ServiceStatistics.committed(requests: outcomes.count { (try? $0.get()) != nil })
                for (job, outcome) in zip(batch, outcomes) { job.complete(outcome) }
                return
            } catch {
                connection.rollBack()
                if let failure = error as? PSQLError, PostgresPool.isConflict(failure), batch.count > 1 {
                    for job in batch { commit([job], on: connection, limits: limits, logger: logger) }
                    return
                }
                if let failure = error as? PSQLError, PostgresPool.isConflict(failure), attempt < limits.maximumAttempts {
                    attempt += 1
                    // A short, growing, jittered pause so that the same two batches do not meet again.
                    Thread.sleep(forTimeInterval: Double(Int.random(in: 1...(4 << min(attempt, 6)))) / 1000)
                    continue
                }
                let mapped = connection.mapped(error)
                logger.error("group commit failed; every request in it was rolled back", metadata: [
                    "db.error": "\(mapped)", "db.batch": "\(batch.count)", "db.attempts": "\(attempt)",
                ])
                for job in batch { job.complete(.failure(mapped)) }
                return
            }
        }
    }

    /// BEGIN, each job in its savepoint, COMMIT. Throws what ends the whole
    /// transaction: a conflict, a lost connection, a failed COMMIT.
    private static func transaction(
        _ batch: [WriteJob<PostgresLaneConnection>], on connection: PostgresLaneConnection, limits: Limits
    ) throws -> [Result<any Sendable, any Error>] {
        try connection.executeLater("BEGIN")
        var outcomes: [Result<any Sendable, any Error>] = []
        outcomes.reserveCapacity(batch.count)
        for job in batch {
            var retries = 0
            while true {
                try connection.executeLater("SAVEPOINT request")
                var outcome = job.execute(connection)
                if case .success = outcome {
                    // The job's writes sent without waiting must all have been made for it to succeed.
                    do { try connection.settle() } catch { outcome = .failure(error) }
                } else {
                    connection.abandonPending()
                }
                if case .failure(let error) = outcome {
                    // A conflict or a broken connection ended the transaction, not just this request.
                    if error is PostgresConnectionLost { throw error }
                    if let failure = error as? PSQLError, failure.code != .server || PostgresPool.isConflict(failure) { throw failure }
                    try connection.execute("ROLLBACK TO SAVEPOINT request")
                    try connection.execute("RELEASE SAVEPOINT request")
                    if PostgresPool.sqlState(of: error) == "23505", retries < limits.maximumUniqueRetries {
                        retries += 1
                        continue
                    }
                    outcome = .failure(connection.mapped(error))
                } else {
                    try connection.executeLater("RELEASE SAVEPOINT request")
                }
                outcomes.append(outcome)
                break
            }
        }
        let tag: String
        do {
            tag = try connection.commit()
        } catch is PostgresCommitOutcomeUnknown {
            connection.logger.error("database connection lost during a commit: its outcome is unknown")
            throw PostgresPool.commitOutcomeUnknown
        }
        // COMMIT of a transaction that had failed answers ROLLBACK, without an error.
        guard tag == "COMMIT" else { throw PostgresTransactionRolledBack(tag: tag) }
        return outcomes
    }
}
