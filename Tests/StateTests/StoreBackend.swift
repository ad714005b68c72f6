import Foundation
import Logging
import PostgresSupport
import RPCTesting
import Testing

@testable import StateStore

/// The two places state-svc keeps its rows (``RPCTesting/DatabaseBackend``).
typealias StoreBackend = DatabaseBackend

extension DatabaseBackend: CustomTestStringConvertible {
    public var testDescription: String { rawValue }
}

extension DatabaseBackend {
    /// state-svc's arguments for this backend.
    func serviceArguments() throws -> [String] { try serviceArguments(prefix: "state") }

    /// A store in this process, with `limits`; `close` deletes what it made.
    func openStore(limits: StateStore.Limits = StateStore.Limits()) async throws -> (store: StateStore, cleanUp: @Sendable () -> Void) {
        switch self {
        case .sqlite:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID().uuidString).sqlite").path
            let store = try StateStore(path: path, limits: limits, logger: Logger(label: "test"))
            return (store, { try? FileManager.default.removeItem(atPath: path) })
        case .postgres:
            let url = try PostgresURL(parsing: try PostgresTestCluster.shared().createDatabase(prefix: "store"))
            return (try await StateStore.postgres(url, limits: limits, logger: Logger(label: "test")), {})
        }
    }

    /// Runs `body` with `count` stores on one database: replicas' worth of writers,
    /// opened at once (their migrations race too). SQLite has one process per file, so
    /// there it is one store `count` times. The stores are closed however `body` ends.
    func withReplicas(_ count: Int, _ body: ([StateStore]) async throws -> Void) async throws {
        var stores: [StateStore] = []
        var cleanUp: @Sendable () -> Void = {}
        switch self {
        case .sqlite:
            let (store, remove) = try await openStore()
            (stores, cleanUp) = (Array(repeating: store, count: count), remove)
        case .postgres:
            let url = try PostgresURL(parsing: try PostgresTestCluster.shared().createDatabase(prefix: "replicas"))
            stores = try await withThrowingTaskGroup(of: StateStore.self) { group in
                for _ in 0..<count { group.addTask { try await StateStore.postgres(url, logger: Logger(label: "test")) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        var outcome: (any Error)?
        do { try await body(stores) } catch { outcome = error }
        var seen = Set<ObjectIdentifier>()
        for store in stores where seen.insert(ObjectIdentifier(store)).inserted { await store.close() }
        cleanUp()
        if let outcome { throw outcome }
    }
}
