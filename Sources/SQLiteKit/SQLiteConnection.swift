import CSQLite
import Foundation

/// A value bound to or read from SQLite.
public enum SQLiteValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case text(String)
    case blob([UInt8])
}

/// A SQLite failure, with the statement that caused it.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// The SQLite result code.
    public let code: Int32
    /// SQLite's message.
    public let message: String
    /// The statement, when there was one.
    public let sql: String?

    public var description: String {
        "SQLite error \(code): \(message)" + (sql.map { " in: \($0.prefix(120))" } ?? "")
    }

    /// True for a UNIQUE or PRIMARY KEY violation.
    public var isConstraintViolation: Bool { code & 0xFF == SQLITE_CONSTRAINT }
}

/// Savepoint and statement journals stay in memory up to 16 MiB, in one chunk.
///
/// Every request of a group commit runs in a savepoint, and each statement in it
/// opens a statement journal in the same sub-journal. With SQLite's defaults a
/// sub-journal spills to a temporary file past 64 KiB (a pwrite per page on the
/// writer thread); with `temp_store=MEMORY` it stays in memory in 1 KiB chunks, and
/// releasing each statement truncates it by walking those chunks from the start:
/// quadratic in a large batch (measured in ledger-bench: the hottest loop of the
/// writer, 40 µs of writer CPU per transfer in a 500-transfer batch; 19 µs with
/// this). A spill size is also the chunk size, so a journal up to 16 MiB is one
/// allocation, below glibc's 32 MiB mmap ceiling so repeated transactions reuse
/// heap memory (64 MiB made every small transaction pay an mmap and page faults).
/// It must be set before SQLite initializes, hence once per process, before the
/// first connection; if anything opened SQLite earlier the call fails and SQLite's
/// default (a temporary file past 64 KiB) applies, which is slower, never wrong.
let statementJournalConfigured: Int32 = csqlite_config_statement_journal_spill(16 << 20)

/// One SQLite connection with a cache of prepared statements.
///
/// Not thread-safe: a ``SQLiteDatabase`` gives each connection to one thread at
/// a time, and only hands it to closures that run on that thread.
public final class SQLiteConnection {
    private let handle: OpaquePointer
    private var statements: [String: OpaquePointer] = [:]
    /// The file.
    public let path: String

    /// Opens (creating if needed) a database file.
    /// - Parameters:
    ///   - path: the file.
    ///   - readOnly: open for reading only.
    /// - Throws: ``SQLiteError``.
    public init(path: String, readOnly: Bool = false) throws {
        _ = statementJournalConfigured
        var handle: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let result = sqlite3_open_v2(path, &handle, flags, nil)
        guard result == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(handle)
            throw SQLiteError(code: result, message: "\(message) (\(path))", sql: nil)
        }
        self.handle = handle
        self.path = path
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    /// Runs SQL without results (several statements allowed; no parameters).
    /// - Parameter sql: the SQL.
    /// - Throws: ``SQLiteError``.
    public func executeScript(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let result = sqlite3_exec(handle, sql, nil, nil, &error)
        guard result == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(error)
            throw SQLiteError(code: result, message: message, sql: sql)
        }
    }

    /// Runs one statement with parameters; returns the number of rows changed.
    /// - Parameters:
    ///   - sql: one statement with `?` placeholders.
    ///   - values: the parameters, in order.
    /// - Throws: ``SQLiteError``.
    @discardableResult
    public func execute(_ sql: String, _ values: [SQLiteValue]) throws -> Int {
        let statement = try prepared(sql, values)
        defer { sqlite3_reset(statement) }
        let result = sqlite3_step(statement)
        guard result == SQLITE_DONE || result == SQLITE_ROW else { throw error(result, sql) }
        return Int(sqlite3_changes(handle))
    }

    /// Runs a query and maps every row.
    /// - Parameters:
    ///   - sql: one statement with `?` placeholders.
    ///   - values: the parameters.
    ///   - map: builds a value from a row.
    /// - Throws: ``SQLiteError`` or what `map` throws.
    public func query<T>(_ sql: String, _ values: [SQLiteValue], _ map: (SQLiteRow) throws -> T) throws -> [T] {
        let statement = try prepared(sql, values)
        defer { sqlite3_reset(statement) }
        var rows: [T] = []
        while true {
            let result = sqlite3_step(statement)
            if result == SQLITE_DONE { return rows }
            guard result == SQLITE_ROW else { throw error(result, sql) }
            rows.append(try map(SQLiteRow(statement: statement)))
        }
    }

    /// The first row of a query, mapped; nil when there is none.
    /// - Parameters:
    ///   - sql: one statement.
    ///   - values: the parameters.
    ///   - map: builds a value from the row.
    /// - Throws: ``SQLiteError`` or what `map` throws.
    public func queryOne<T>(_ sql: String, _ values: [SQLiteValue], _ map: (SQLiteRow) throws -> T) throws -> T? {
        let statement = try prepared(sql, values)
        defer { sqlite3_reset(statement) }
        let result = sqlite3_step(statement)
        if result == SQLITE_DONE { return nil }
        guard result == SQLITE_ROW else { throw error(result, sql) }
        return try map(SQLiteRow(statement: statement))
    }

    /// The rowid of the last insert on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    private func prepared(_ sql: String, _ values: [SQLiteValue]) throws -> OpaquePointer {
        let statement: OpaquePointer
        if let cached = statements[sql] {
            statement = cached
        } else {
            var fresh: OpaquePointer?
            let result = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &fresh, nil)
            guard result == SQLITE_OK, let fresh else { throw error(result, sql) }
            statements[sql] = fresh
            statement = fresh
        }
        sqlite3_clear_bindings(statement)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let result: Int32
            switch value {
            case .null: result = sqlite3_bind_null(statement, index)
            case .integer(let number): result = sqlite3_bind_int64(statement, index, number)
            case .text(let text): result = csqlite_bind_text_transient(statement, index, text, -1)
            case .blob(let bytes): result = bytes.withUnsafeBytes { csqlite_bind_blob_transient(statement, index, $0.baseAddress, Int32($0.count)) }
            }
            guard result == SQLITE_OK else { throw error(result, sql) }
        }
        return statement
    }

    private func error(_ code: Int32, _ sql: String) -> SQLiteError {
        SQLiteError(code: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }
}

/// One row of a result, valid only inside the mapping closure.
public struct SQLiteRow {
    let statement: OpaquePointer

    /// Column `index` as an integer (0 for NULL).
    public func int(_ index: Int32) -> Int64 { sqlite3_column_int64(statement, index) }

    /// Column `index` as an integer, nil for NULL.
    public func optionalInt(_ index: Int32) -> Int64? {
        sqlite3_column_type(statement, index) == SQLITE_NULL ? nil : sqlite3_column_int64(statement, index)
    }

    /// Column `index` as text ("" for NULL).
    public func text(_ index: Int32) -> String {
        guard let pointer = sqlite3_column_text(statement, index) else { return "" }
        return String(cString: pointer)
    }

    /// Column `index` as text, nil for NULL.
    public func optionalText(_ index: Int32) -> String? {
        sqlite3_column_type(statement, index) == SQLITE_NULL ? nil : text(index)
    }

    /// Column `index` as bytes.
    public func blob(_ index: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, index))
        guard count > 0, let pointer = sqlite3_column_blob(statement, index) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}
