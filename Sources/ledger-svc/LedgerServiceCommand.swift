import ArgumentParser
import Banking
import Foundation
import Ledger
import Logging
import PostgresSupport
import ServiceKit

@main
struct LedgerServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger-svc",
        abstract: "The exact, double-entry ledger: accounts, holds and the journal. Moves no money without a signed grant.",
        discussion: """
            Serves newline-delimited JSON-RPC 2.0 on <home>/run/ledger.sock and keeps its books in \
            <home>/data/ledger.sqlite, or in PostgreSQL with --database (or $HITL_DATABASE_URL), which any \
            number of ledger-svc replicas can share. Deposits, transfers and hold postings need a grant signed by \
            approval-svc; the public key is read from <home>/run/grant-public.key (approval-svc \
            creates it at its first start, so ledger-svc waits for it a bounded time).

            Example:
              ledger-svc --home .hitl &
              hitl call ledger ledger.balance '{"account": "checking"}'
              ledger-svc --database 'postgres://hitl@db.internal/hitl?sslmode=require'
            """)

    @OptionGroup var options: ServiceOptions

    @Option(help: ArgumentHelp("approval-svc's grant public key (default: <home>/run/grant-public.key).", valueName: "path"))
    var grantPublicKey: String?

    @Option(help: ArgumentHelp("How long to wait for the grant public key to appear at start-up, in milliseconds.", valueName: "ms"))
    var grantKeyWaitMs: Int64 = 30_000

    @Option(help: ArgumentHelp(
        "Where the books are kept: a SQLite file (default: <home>/data/ledger.sqlite), or PostgreSQL: postgres://user[:password]@host[:port]/database[?sslmode=require], or ?host=/socket/folder. Default: $HITL_DATABASE_URL when set (the place for a URL with a password: ps shows arguments).",
        valueName: "path|url"))
    var database: String?

    mutating func validate() throws {
        guard (0...600_000).contains(grantKeyWaitMs) else {
            throw ValidationError("--grant-key-wait-ms must be between 0 and 600000")
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
        let logger = Logger(label: "ledger")
        let directory = options.directory
        let keyPath = grantPublicKey ?? GrantKeys.publicKeyPath(in: directory)
        let ledger: Ledger
        do {
            try directory.prepare()
            let verifier = try await Self.waitForVerifier(path: keyPath, waitMs: grantKeyWaitMs, logger: logger)
            if let url = try PostgresURL.chosen(option: database) {
                ledger = try await Ledger.postgres(url, verifier: verifier, logger: logger)
                logger.info("keeping the books in PostgreSQL", metadata: ["db.url": "\(url)"])
            } else {
                let path = database ?? directory.data.appendingPathComponent("ledger.sqlite").path
                ledger = try Ledger(path: path, verifier: verifier, logger: logger)
            }
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode.failure
        }
        do {
            try await ServiceMain.run(
                description: try LedgerService.description(), options: options,
                services: [LedgerSweeper(ledger: ledger, logger: logger)]
            ) { router in
                LedgerService.register(&router, ledger: ledger)
            }
        } catch {
            await ledger.close()
            throw error
        }
        await ledger.close()
    }

    /// Loads the grant public key, polling while it does not exist yet (approval-svc
    /// may still be starting); a file that exists but is malformed fails at once.
    static func waitForVerifier(path: String, waitMs: Int64, logger: Logger) async throws -> GrantVerifier {
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(waitMs)
        var logged = false
        while !FileManager.default.fileExists(atPath: path) && clock.now < deadline {
            if !logged {
                logger.notice("waiting for the grant public key (approval-svc creates it)", metadata: ["ledger.key": "\(path)"])
                logged = true
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try GrantKeys.loadVerifier(path: path)
    }
}
