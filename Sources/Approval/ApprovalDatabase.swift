import Logging
import RPC
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

extension ApprovalEngine {
    /// On PostgreSQL, makes sure this replica signs with the same keys as the others on
    /// the database: records its key fingerprints if it is the first, else compares.
    /// (A SQLite file has one process, so nothing to agree with.)
    /// - Throws: ``RPC/RunDirectoryError`` naming the keys to copy when they differ.
    public func requireSharedKeys() async throws {
        guard shared != nil else { return }
        let own = ["grant": signer.keyID].merging(linkSigner.map { ["link": $0.fingerprint] } ?? [:]) { first, _ in first }
        let now = ApprovalTime.milliseconds(clock.now())
        let recorded = try await database.write { connection in
            for (purpose, fingerprint) in own.sorted(by: { $0.key < $1.key }) {
                _ = try connection.execute(
                    "INSERT INTO signing_keys (purpose, fingerprint, recorded_at) VALUES (?, ?, ?) ON CONFLICT (purpose) DO NOTHING",
                    [.text(purpose), .text(fingerprint), .integer(now)])
            }
            return try connection.query("SELECT purpose, fingerprint FROM signing_keys") { ($0.text(0), $0.text(1)) }
        }
        for (purpose, fingerprint) in recorded where own[purpose].map({ $0 != fingerprint }) ?? false {
            throw RunDirectoryError(
                "this approval-svc's \(purpose) signing key (\(own[purpose] ?? "?")) is not the one the other replicas on this database use (\(fingerprint)): "
                    + "copy run/grant-signing.key, run/grant-public.key and run/link-signing.key from a host already running, then start again")
        }
    }

    /// Every change to the approval tables: one request on the database's writer,
    /// which first takes the audit chain's head (``ApprovalStore/serialize(_:)``), so
    /// that on PostgreSQL the replicas sharing the database change approvals one
    /// transaction at a time, in the order they commit.
    @discardableResult
    func change<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await database.write { connection in
            try ApprovalStore.serialize(connection)
            return try body(connection)
        }
    }
}
