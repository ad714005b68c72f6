/// The SQL a service writes once and runs on either backend: SQLite's embedded
/// file, or PostgreSQL shared by replicas (`PostgresSupport.PostgresSQLDatabase`,
/// which runs the same statements on a blocking connection of its own thread).
///
/// Statements use `?` placeholders and the SQL both engines read alike; where they
/// differ (row locks, a snapshot's BEGIN) the connection's ``SQLDialect`` says how.

/// Which engine a connection talks to, and the few phrases that differ.
public enum SQLDialect: Sendable {
    case sqlite
    case postgres

    /// Appended to a `SELECT` inside a write that goes on to change the rows it
    /// read: PostgreSQL locks them against other replicas' transactions until the
    /// commit; SQLite has one writer, so its reads need no lock (and it has no such phrase).
    public var forUpdate: String {
        switch self {
        case .sqlite: ""
        case .postgres: " FOR UPDATE"
        }
    }

    /// Appended to a `SELECT` that claims work (due deliveries, expired rows): on
    /// PostgreSQL it locks the rows it returns and passes over rows another replica's
    /// transaction holds, so two replicas never claim the same row; SQLite has one writer.
    public var forUpdateSkipLocked: String {
        switch self {
        case .sqlite: ""
        case .postgres: " FOR UPDATE SKIP LOCKED"
        }
    }

    /// The text of `key` in the JSON object held (as text) in `column`, NULL when absent.
    /// `column` and `key` are the statement's own names, never a caller's input.
    public func jsonText(_ column: String, _ key: String) -> String {
        switch self {
        case .sqlite: "json_extract(\(column), '$.\(key)')"
        case .postgres: "(\(column)::jsonb ->> '\(key)')"
        }
    }
}

/// One row of a result, read by column index, valid only inside the mapping closure.
public protocol SQLRow {
    /// Column `index` as an integer (0 for NULL).
    func int(_ index: Int32) -> Int64
    /// Column `index` as an integer, nil for NULL.
    func optionalInt(_ index: Int32) -> Int64?
    /// Column `index` as text ("" for NULL).
    func text(_ index: Int32) -> String
    /// Column `index` as text, nil for NULL.
    func optionalText(_ index: Int32) -> String?
    /// Column `index` as bytes.
    func blob(_ index: Int32) -> [UInt8]
}

/// A connection a write or a read runs on, handed only to closures that run on its own thread.
public protocol SQLConnection: AnyObject {
    associatedtype Row: SQLRow

    /// The engine, for the phrases that differ.
    var dialect: SQLDialect { get }

    /// Runs one statement that returns no rows the caller needs.
    /// - Returns: the rows it changed.
    @discardableResult
    func execute(_ sql: String, _ values: [SQLiteValue]) throws -> Int

    /// Runs a query and maps every row.
    func query<T>(_ sql: String, _ values: [SQLiteValue], _ map: (Row) throws -> T) throws -> [T]

    /// The first row of a query, mapped; nil when there is none.
    func queryOne<T>(_ sql: String, _ values: [SQLiteValue], _ map: (Row) throws -> T) throws -> T?

    /// Runs a statement whose outcome the caller does not need before its next one:
    /// SQLite runs it at once; PostgreSQL sends it without waiting for the answer, and
    /// its failure is thrown by the next statement that waits, or by ``settle()``.
    func executeLater(_ sql: String, _ values: [SQLiteValue]) throws

    /// Waits for every statement sent by ``executeLater(_:_:)``; throws the first failure.
    func settle() throws
}

extension SQLConnection {
    /// ``execute(_:_:)`` without parameters.
    @discardableResult
    public func execute(_ sql: String) throws -> Int { try execute(sql, []) }

    /// ``query(_:_:_:)`` without parameters.
    public func query<T>(_ sql: String, _ map: (Row) throws -> T) throws -> [T] { try query(sql, [], map) }

    /// ``executeLater(_:_:)`` without parameters.
    public func executeLater(_ sql: String) throws { try executeLater(sql, []) }

    /// ``queryOne(_:_:_:)`` without parameters.
    public func queryOne<T>(_ sql: String, _ map: (Row) throws -> T) throws -> T? { try queryOne(sql, [], map) }
}

/// A service's database on either backend: writes in group commits, reads beside them.
public protocol SQLDatabase: Sendable {
    associatedtype Connection: SQLConnection

    /// Runs `body` in the next group commit and returns once it is durable. A
    /// throwing body rolls back only its own work. On PostgreSQL a body may run
    /// more than once (its transaction lost a race and is tried again), so it must
    /// do nothing but read and write through the connection.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T

    /// Runs `body` on a reader connection.
    @discardableResult
    func read<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T

    /// Runs `body` on a reader connection inside one read-only transaction: every
    /// statement sees the same snapshot, whatever commits meanwhile.
    @discardableResult
    func snapshot<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T

    /// Stops the database's threads once queued work is done.
    func close() async
}

extension SQLiteConnection: SQLConnection {
    public var dialect: SQLDialect { .sqlite }

    public func executeLater(_ sql: String, _ values: [SQLiteValue]) throws {
        try execute(sql, values)
    }

    public func settle() {}
}

extension SQLiteRow: SQLRow {}
