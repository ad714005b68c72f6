import ArgumentParser
import Foundation
import Logging
import PostgresSupport
import ServiceKit
import ServiceLifecycle
import StateStore

@main
struct StateServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state-svc",
        abstract: "Versioned agent runs, sessions and cursors: any process can resume a run exactly once.",
        discussion: """
            Serves newline-delimited JSON-RPC 2.0 on <home>/run/state.sock and keeps its data in \
            <home>/data/state.sqlite (WAL, synchronous=FULL, concurrent writes committed together), \
            or in PostgreSQL with --database (or $HITL_DATABASE_URL), which any number of state-svc \
            processes may share. The contract is Protocols/state.openrpc.json (also: rpc.discover).

            Examples:
              state-svc --home .hitl &
              hitl call state state.create_run '{"data": {"schema_version": 1}}'
              state-svc --prune-completed-after-hours 168 --prune-interval-minutes 60
              state-svc --database 'postgres://hitl@db.internal/hitl_state?sslmode=require'
            """)

    @OptionGroup var options: ServiceOptions

    @Option(help: ArgumentHelp(
        "Delete finished runs (completed, failed, cancelled) this many hours after they finished; off when absent.",
        valueName: "hours"))
    var pruneCompletedAfterHours: Int?

    @Option(help: ArgumentHelp("How often the periodic prune runs, in minutes.", valueName: "minutes"))
    var pruneIntervalMinutes: Int = 60

    @Option(help: ArgumentHelp(
        "Keep the data in PostgreSQL instead of <home>/data/state.sqlite: postgres://user[:password]@host[:port]/database[?sslmode=require], or ?host=/socket/folder. Default: $HITL_DATABASE_URL when set (the place for a URL with a password: ps shows arguments).",
        valueName: "url"))
    var database: String?

    @Option(help: ArgumentHelp("Connections to PostgreSQL this process opens at most.", valueName: "count"))
    var databaseConnections: Int = PostgresPool.Limits().maximumConnections

    mutating func validate() throws {
        if let hours = pruneCompletedAfterHours, !(0...87_600).contains(hours) {
            throw ValidationError("--prune-completed-after-hours must be between 0 and 87600 (ten years)")
        }
        guard (1...10_080).contains(pruneIntervalMinutes) else {
            throw ValidationError("--prune-interval-minutes must be between 1 and 10080 (a week)")
        }
        guard (1...64).contains(databaseConnections) else {
            throw ValidationError("--database-connections must be between 1 and 64")
        }
        if let database, !PostgresURL.isURL(database) {
            throw ValidationError("--database takes a postgres:// URL (state-svc's SQLite file is always <home>/data/state.sqlite)")
        }
        do {
            _ = try PostgresURL.chosen(option: database)
        } catch {
            throw ValidationError(error.description)
        }
    }

    static func main() { ServiceMain.main(Self.self) }

    func run() async throws {
        ServiceMain.bootstrapLogging(level: options.logLevel)
        let logger = Logger(label: StateService.name)
        let directory = options.directory
        let store: StateStore
        do {
            try directory.prepare()
            if let url = try PostgresURL.chosen(option: database) {
                var pool = PostgresPool.Limits()
                pool.maximumConnections = databaseConnections
                store = try await StateStore.postgres(url, pool: pool, logger: logger)
                logger.info("keeping the data in PostgreSQL", metadata: ["db.url": "\(url)"])
            } else {
                store = try StateStore(path: directory.data.appendingPathComponent("state.sqlite").path, logger: logger)
            }
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode.failure
        }
        var services: [any Service] = []
        if let hours = pruneCompletedAfterHours {
            services.append(StatePruner(
                store: store, retentionHours: hours, interval: .seconds(pruneIntervalMinutes * 60), logger: logger))
        }
        do {
            try await ServiceMain.run(description: try StateService.description(), options: options, services: services) {
                router in StateService.register(&router, store: store)
            }
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }
}
