import Dispatch
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
        } catch let failure as PSQLError where failure.code != .server {
            connection.logger.error("database connection lost during a commit", metadata: ["db.error": "\(failure.code)"])
            throw PostgresPool.commitOutcomeUnknown
        }
        // COMMIT of a transaction that had failed answers ROLLBACK, without an error.
        guard tag == "COMMIT" else { throw PostgresTransactionRolledBack(tag: tag) }
        return outcomes
    }
}

/// One blocking PostgreSQL connection, used by one lane's thread only (its
/// ``SQLiteKit/ConnectionLane`` guarantees that). It connects on first use and again
/// after the connection was lost.
public final class PostgresLaneConnection: SQLConnection {
    public typealias Row = PostgresSQLRow

    let configuration: PostgresConnection.Configuration
    let url: PostgresURL
    let role: String
    let logger: Logger
    private var connection: PostgresConnection?
    private var connections = 0
    /// Between BEGIN and COMMIT or ROLLBACK: a connection lost now took the transaction
    /// with it, so the lane must not connect again until the transaction is over.
    private var inTransaction = false
    /// Statements sent by ``executeLater(_:_:)`` whose answers nobody has looked at yet, in order.
    private var pending: [EventLoopFuture<PostgresQueryResult>] = []
    /// Each statement's text with `?` made `$1`, `$2`, …, by the text it was given.
    private var translated: [String: String] = [:]

    init(configuration: PostgresConnection.Configuration, url: PostgresURL, role: String, logger: Logger) {
        self.configuration = configuration
        self.url = url
        self.role = role
        self.logger = logger
    }

    public var dialect: SQLDialect { .postgres }

    @discardableResult
    public func execute(_ sql: String, _ values: [SQLiteValue]) throws -> Int {
        try run(sql, values).metadata.rows ?? 0
    }

    public func query<T>(_ sql: String, _ values: [SQLiteValue], _ map: (PostgresSQLRow) throws -> T) throws -> [T] {
        try run(sql, values).rows.map { try map(PostgresSQLRow(row: $0.makeRandomAccess())) }
    }

    public func queryOne<T>(_ sql: String, _ values: [SQLiteValue], _ map: (PostgresSQLRow) throws -> T) throws -> T? {
        try run(sql, values).rows.first.map { try map(PostgresSQLRow(row: $0.makeRandomAccess())) }
    }

    public func executeLater(_ sql: String, _ values: [SQLiteValue]) throws {
        pending.append(try send(sql, values))
    }

    public func settle() throws {
        // Answers come in the order the statements were sent: once the last is in, all are.
        if let last = pending.last { _ = try? answer(last) }
        try checkPending()
    }

    /// Forgets the answers of statements sent without waiting (the request failed
    /// already; its savepoint is rolled back next), once they are in.
    func abandonPending() {
        if let last = pending.last { _ = try? answer(last) }
        pending.removeAll()
    }

    /// Throws the first failure among the statements sent without waiting, all answered by now.
    private func checkPending() throws {
        let answered = pending
        pending.removeAll()
        for future in answered { _ = try answer(future) }
    }

    /// How long one statement may run: far beyond any of the ledger's, short enough
    /// that a stuck one fails its request instead of the writer.
    static let statementTimeoutMs = 30_000
    /// How long a statement waits for a row another transaction holds; then it fails
    /// as a conflict (55P03) and is tried again, like a deadlock.
    static let lockTimeoutMs = 10_000
    /// How long a session may sit idle inside a transaction before the server ends it
    /// (and rolls it back): a replica that hangs mid-batch releases its locks.
    static let idleInTransactionTimeoutMs = 60_000

    /// Rolls back whatever transaction is open, if the connection still lives.
    func rollBack() {
        abandonPending()
        inTransaction = false
        guard let connection, !connection.isClosed else { return }
        _ = try? answer(connection.query("ROLLBACK", logger: logger))
    }

    func disconnect() {
        try? connection?.close().wait()
        connection = nil
    }

    /// A failure as the caller sees it (``PostgresPool/mapped(_:url:logger:)``); a
    /// connection that broke is dropped, so the next statement connects afresh.
    func mapped(_ error: any Error) -> any Error {
        if error is PostgresConnectionLost {
            return RPCError(
                .unavailable, reason: "DATABASE_UNAVAILABLE",
                "the connection to the service's database was lost in the middle of a transaction, which was rolled back; try again shortly")
        }
        if let rolledBack = error as? PostgresTransactionRolledBack {
            logger.error("the database rolled a transaction back at COMMIT", metadata: ["db.tag": "\(rolledBack.tag)"])
            return RPCError.internalError()
        }
        guard let failure = error as? PSQLError else { return error }
        if failure.code != .server, connection?.isClosed ?? true { connection = nil }
        return PostgresPool.mapped(failure, url: url, logger: logger)
    }

    /// Sends a statement and waits for its answer; a failure of an earlier statement
    /// sent without waiting is thrown first (it is why this one failed, if it did).
    private func run(_ sql: String, _ values: [SQLiteValue]) throws -> PostgresQueryResult {
        let future = try send(sql, values)
        guard !pending.isEmpty else { return try answer(future) }
        let result = Result { try answer(future) }
        try checkPending()
        return try result.get()
    }

    /// How often a wait for an answer looks whether the connection died meanwhile.
    static let answerCheckInterval = 1.0
    /// The longest wait for one answer: the server's statement timeout and a margin.
    static let answerLimitSeconds = Double(statementTimeoutMs) / 1000 + 5

    /// The answer to a statement sent on this lane's connection. A plain `wait()` could
    /// wait for ever: postgres-nio has been seen to leave a query's future unanswered
    /// when the server ended the session as the query was queued (the crash test cut
    /// connections under load and a writer waited past every deadline). So the wait
    /// looks every second whether the connection is closed, and gives up after
    /// ``answerLimitSeconds``; either way the connection is dropped and the statement
    /// counts as lost with it.
    private func answer<T: Sendable>(_ future: EventLoopFuture<T>) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<T, any Error>?>(nil)
        future.whenComplete { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        var waited = 0.0
        while done.wait(timeout: .now() + Self.answerCheckInterval) == .timedOut {
            waited += Self.answerCheckInterval
            if connection?.isClosed == true || waited >= Self.answerLimitSeconds {
                logger.warning("no answer from the database; dropping the connection", metadata: [
                    "db.lane": "\(role)", "db.waited_s": "\(Int(waited))",
                ])
                let closing: EventLoopFuture<Void>? = connection?.close()
                _ = closing
                connection = nil
                throw PostgresConnectionLost()
            }
        }
        guard let result = outcome.withLock({ $0 }) else { throw PostgresConnectionLost() }
        return try result.get()
    }

    /// Sends COMMIT and waits for it; its command tag (`COMMIT`, or `ROLLBACK` when the
    /// transaction had failed). Once sent, the transaction is over whatever the answer.
    func commit() throws -> String {
        defer { inTransaction = false }
        return try run("COMMIT", []).metadata.command
    }

    private func send(_ sql: String, _ values: [SQLiteValue]) throws -> EventLoopFuture<PostgresQueryResult> {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .null: bindings.appendNull()
            case .integer(let number): bindings.append(number)
            case .text(let text): bindings.append(text)
            case .blob(let bytes): bindings.append(ByteBuffer(bytes: bytes))
            }
        }
        let query = PostgresQuery(unsafeSQL: postgresText(of: sql), binds: bindings)
        let beginning = sql.hasPrefix("BEGIN")
        let connection = try connected(beginning: beginning)
        if beginning { inTransaction = true }
        return connection.query(query, logger: logger)
    }

    /// The live connection; a new one only outside a transaction (or to begin one):
    /// a statement of a transaction whose connection was lost must never run on
    /// another, where it would run on its own (and a COMMIT would "succeed").
    private func connected(beginning: Bool) throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        if inTransaction && !beginning || !pending.isEmpty {
            throw PostgresConnectionLost()
        }
        connection = nil
        connections += 1
        do {
            let fresh = try answer(PostgresConnection.connect(
                on: PostgresConnection.defaultEventLoopGroup.any(), configuration: configuration, id: connections, logger: logger))
            connection = fresh
            // No statement waits for ever, no lock is waited on for ever, and a session that
            // stalls inside a transaction (a hung replica) is ended by the server, which
            // frees the rows it locked for everyone else.
            _ = try answer(fresh.query(
                PostgresQuery(unsafeSQL: """
                    SELECT set_config('statement_timeout', '\(Self.statementTimeoutMs)', false),
                           set_config('lock_timeout', '\(Self.lockTimeoutMs)', false),
                           set_config('idle_in_transaction_session_timeout', '\(Self.idleInTransactionTimeoutMs)', false)
                    """), logger: logger))
            return fresh
        } catch let failure as PSQLError {
            logger.warning("cannot connect to the database", metadata: ["db.url": "\(url)", "db.lane": "\(role)", "db.error": "\(failure.code)"])
            throw failure
        }
    }

    /// `?` placeholders as PostgreSQL's numbered ones, outside quoted text.
    private func postgresText(of sql: String) -> String {
        if let cached = translated[sql] { return cached }
        var text = ""
        text.reserveCapacity(sql.utf8.count + 16)
        var number = 0
        var quoted = false
        for character in sql {
            if character == "'" { quoted.toggle() }
            if character == "?", !quoted {
                number += 1
                text += "$\(number)"
            } else {
                text.append(character)
            }
        }
        translated[sql] = text
        return text
    }
}

/// The lane's connection broke in the middle of a transaction: the transaction is
/// gone, so the lane does not connect again until it has been rolled back.
struct PostgresConnectionLost: Error {}

/// COMMIT answered that the transaction had been rolled back (a statement of it had
/// failed unseen): nothing of it was written.
struct PostgresTransactionRolledBack: Error {
    let tag: String
}

/// One row of a PostgreSQL result, read as ``SQLiteKit/SQLRow`` reads SQLite's: by
/// column index, integers as `Int64` (a `SUM` of `BIGINT`s is `NUMERIC` in
/// PostgreSQL, read here as the whole number it is).
public struct PostgresSQLRow: SQLRow {
    let row: PostgresRandomAccessRow

    public func int(_ index: Int32) -> Int64 { optionalInt(index) ?? 0 }

    public func optionalInt(_ index: Int32) -> Int64? {
        let cell = row[Int(index)]
        guard cell.bytes != nil else { return nil }
        if cell.dataType == .numeric {
            let decimal = decoded(cell, Decimal.self)
            return NSDecimalNumber(decimal: decimal).int64Value
        }
        return decoded(cell, Int64.self)
    }

    public func text(_ index: Int32) -> String { optionalText(index) ?? "" }

    public func optionalText(_ index: Int32) -> String? {
        let cell = row[Int(index)]
        guard cell.bytes != nil else { return nil }
        return decoded(cell, String.self)
    }

    public func blob(_ index: Int32) -> [UInt8] {
        let cell = row[Int(index)]
        guard cell.bytes != nil else { return [] }
        return Array(buffer: decoded(cell, ByteBuffer.self))
    }

    /// A column whose type the statement does not match is a defect in the
    /// service's SQL, caught by its tests on PostgreSQL: it stops here.
    private func decoded<T: PostgresDecodable>(_ cell: PostgresCell, _ type: T.Type) -> T {
        do {
            return try cell.decode(T.self)
        } catch {
            preconditionFailure("column \(cell.columnName) (\(cell.dataType)) is not a \(T.self): \(error)")
        }
    }
}
