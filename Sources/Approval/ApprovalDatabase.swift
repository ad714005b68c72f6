import Logging
import PostgresSupport
import SQLiteKit

/// Where the approval tables live: a SQLite file of this process's own (the
/// embedded default), or PostgreSQL shared by any number of approval-svc replicas.
public struct ApprovalDatabase: Sendable {
    let database: any SQLDatabase
    /// On PostgreSQL, a pool whose only use is the LISTEN connection that hears
    /// other replicas' changes (it opens nothing until then).
    let shared: PostgresPool?

    /// Opens (creating and migrating) the SQLite file at `path`.
    /// - Throws: ``SQLiteKit/SQLiteError`` when it cannot be opened or migrated.
    public static func sqlite(path: String, logger: Logger) throws -> ApprovalDatabase {
        ApprovalDatabase(
            database: try SQLiteDatabase(path: path, migrations: ApprovalSchema.migrations, logger: logger), shared: nil)
    }

    /// Opens the approval tables in PostgreSQL, migrating them once whichever replica
    /// starts first.
    /// - Throws: ``PostgresSupport/PostgresURLError``; UNAVAILABLE/DATABASE_UNAVAILABLE when it cannot be reached.
    public static func postgres(_ url: PostgresURL, logger: Logger) async throws -> ApprovalDatabase {
        let database = try await PostgresSQLDatabase.open(url: url, migrations: ApprovalSchema.postgres, name: "approval", logger: logger)
        var limits = PostgresPool.Limits()
        limits.maximumConnections = 1
        do {
            return ApprovalDatabase(database: database, shared: try PostgresPool(url: url, limits: limits, logger: logger))
        } catch {
            await database.close()
            throw error
        }
    }
}
