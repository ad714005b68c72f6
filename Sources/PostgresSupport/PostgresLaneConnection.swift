import Dispatch
import Foundation
import Logging
import NIOCore
import PostgresNIO
import RPC
import SQLiteKit
import Synchronization

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
    /// as a conflict (55P03) and is tried again, like a deadlock. Longer than
    /// ``idleInTransactionTimeoutMs``: a lock held by a replica that died is released
    /// before a waiter gives up on it.
    static let lockTimeoutMs = 15_000
    /// How long a session may sit idle inside a transaction before the server ends it
    /// (and rolls it back): a replica that hangs or loses power mid-batch (no FIN ever
    /// reaches the server) holds its locks at most this long. The lanes never wait on
    /// anything but the server inside a transaction, so 10 s of silence means trouble.
    /// (Every session starts with it too: ``PostgresPool/sessionParameters``.)
    static let idleInTransactionTimeoutMs = 10_000

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
        if error is PostgresCommitOutcomeUnknown {
            logger.error("database connection lost during a commit", metadata: ["db.lane": "\(role)"])
            return PostgresPool.commitOutcomeUnknown
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
    /// - Throws: ``PostgresConnectionLost`` when the connection was gone before COMMIT
    ///   could be sent (nothing was committed); ``PostgresCommitOutcomeUnknown`` when it
    ///   was sent and no answer came (the server may have committed).
    func commit() throws -> String {
        defer { inTransaction = false }
        let future = try send("COMMIT", [])
        let tag: String
        do {
            tag = try answer(future).metadata.command
        } catch let failure as PSQLError where failure.code == .server {
            abandonPending()
            throw failure
        } catch {
            abandonPending()
            throw PostgresCommitOutcomeUnknown()
        }
        // A statement sent without waiting that failed had failed the transaction: the tag says ROLLBACK.
        try checkPending()
        return tag
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

/// COMMIT was sent and its answer never came (the connection died, or the wait gave
/// up): the transaction may or may not have been committed.
struct PostgresCommitOutcomeUnknown: Error {}

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
