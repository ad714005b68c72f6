import Approval
import ArgumentParser
import Banking
import Foundation
import Logging
import PostgresSupport
import RPC
import ServiceKit
import ServiceLifecycle

@main
struct ApprovalServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approval-svc",
        abstract: "The policy decision point: approvals, signed grants, expiry and a hash-chained audit log.",
        discussion: """
            Serves newline-delimited JSON-RPC 2.0 on <home>/run/approval.sock. Every deposit and \
            transfer is submitted here; the policy (compose/policy.json) approves it at once or holds \
            it for approvers, and an approval produces an Ed25519-signed grant the ledger verifies. \
            The signing key is created at first start in <home>/run/grant-signing.key (0600); the \
            public key in <home>/run/grant-public.key. The database is <home>/data/approval.sqlite, or \
            PostgreSQL with --database (or $HITL_DATABASE_URL), which any number of approval-svc replicas \
            can share (give them the same signing key).

            Example:
              approval-svc --home .hitl --policy compose/policy.json &
              hitl call approval approval.list '{"status": "pending"}'
              approval-svc --database 'postgres://hitl@db.internal/hitl?sslmode=require'
            """)

    @OptionGroup var options: ServiceOptions

    @Option(help: ArgumentHelp("The policy file (default: $HITL_POLICY, else compose/policy.json).", valueName: "path"))
    var policy: String?

    @Option(name: .customLong("grant-ttl-seconds"), help: ArgumentHelp("How long a grant stays valid, in seconds.", valueName: "seconds"))
    var grantTTLSeconds: Int = 300

    @Option(help: ArgumentHelp("How long a pending approval waits when the submitter gives no expires_in.", valueName: "seconds"))
    var defaultExpirySeconds: Int = 86_400

    @Option(help: ArgumentHelp("Where approve/reject links point (the HTTP gateway).", valueName: "url"))
    var linkBaseURL = "http://127.0.0.1:8765"

    @Option(help: ArgumentHelp("POST notifications to this URL (JSON, HMAC-signed).", valueName: "url"))
    var webhookURL: String?

    @Option(help: ArgumentHelp("A file holding the webhook HMAC secret (or $HITL_WEBHOOK_SECRET).", valueName: "path"))
    var webhookSecretFile: String?

    @Flag(help: "Send Slack-compatible webhook bodies ({\"text\": ...}).")
    var slack = false

    @Option(help: ArgumentHelp("Send email through this SMTP server, e.g. smtp://127.0.0.1:2525.", valueName: "url"))
    var smtpURL: String?

    @Option(help: ArgumentHelp("The sender of notification email.", valueName: "address"))
    var mailFrom = "approvals@hitl.local"

    @Option(help: ArgumentHelp("A recipient of notification email (repeatable).", valueName: "address"))
    var mailTo: [String] = []

    @Option(help: ArgumentHelp("The first retry delay of a failed notification, in ms; later ones double, up to 5 minutes.", valueName: "ms"))
    var notifyRetryInitialMs = 1_000

    @Option(help: ArgumentHelp(
        "Where approvals are kept: a SQLite file (default: <home>/data/approval.sqlite), or PostgreSQL: postgres://user[:password]@host[:port]/database[?sslmode=require], or ?host=/socket/folder. Default: $HITL_DATABASE_URL when set (the place for a URL with a password: ps shows arguments).",
        valueName: "path|url"))
    var database: String?

    mutating func validate() throws {
        do {
            _ = try PostgresURL.chosen(option: database)
        } catch {
            throw ValidationError(error.description)
        }
        guard (10...600_000).contains(notifyRetryInitialMs) else {
            throw ValidationError("--notify-retry-initial-ms must be between 10 and 600000")
        }
        guard linkBaseURL.hasPrefix("http://") || linkBaseURL.hasPrefix("https://") else {
            throw ValidationError("--link-base-url must start with http:// or https://")
        }
        guard (10...86_400).contains(grantTTLSeconds) else {
            throw ValidationError("--grant-ttl-seconds must be between 10 and 86400")
        }
        guard (1...(30 * 86_400)).contains(defaultExpirySeconds) else {
            throw ValidationError("--default-expiry-seconds must be between 1 and 2592000")
        }
    }

    static func main() { ServiceMain.main(Self.self) }

    func run() async throws {
        ServiceMain.bootstrapLogging(level: options.logLevel)
        let logger = Logger(label: "approval")
        let engine: ApprovalEngine
        do {
            engine = try await open(logger: logger)
            try await engine.requireSharedKeys()
            try await engine.expireDue()
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode.failure
        }
        try await ServiceMain.run(
            description: try ApprovalService.description(), options: options,
            services: [
                ExpiryTimer(engine: engine), OutboxWorker(engine: engine), PolicyWatcher(source: engine.policies, logger: logger),
            ],
            identities: engine.identities
        ) { router in
            ApprovalService.register(&router, engine: engine)
        }
        await engine.close()
    }

    private func open(logger: Logger) async throws -> ApprovalEngine {
        let path = Policy.locate(policy)
        let policies = try PolicySource(path: path)
        logger.info("policy loaded", metadata: ["policy.path": "\(path)", "policy.version": "\(policies.current.version)"])
        let directory = options.directory
        try directory.prepare()
        let identities = try LiveIdentities(directory: directory)
        let signer = try GrantKeys.loadOrCreateSigner(in: directory)
        let database: ApprovalDatabase
        if let url = try PostgresURL.chosen(option: self.database) {
            database = try await .postgres(url, logger: logger)
            logger.info("keeping approvals in PostgreSQL", metadata: ["db.url": "\(url)"])
        } else {
            database = try .sqlite(path: self.database ?? directory.data.appendingPathComponent("approval.sqlite").path, logger: logger)
        }
        var configuration = ApprovalConfiguration()
        configuration.grantTTL = TimeInterval(grantTTLSeconds)
        configuration.defaultExpiry = TimeInterval(defaultExpirySeconds)
        return ApprovalEngine(
            database: database, policies: policies, identities: identities, signer: signer, clock: Self.clock(logger: logger),
            configuration: configuration, logger: logger, notifications: try notifications(),
            linkSigner: try LinkSigner.loadOrCreate(in: directory))
    }

    /// The notification settings; the webhook secret comes from a file or the environment, never a flag.
    private func notifications() throws -> NotificationConfiguration {
        var configuration = NotificationConfiguration()
        configuration.linkBaseURL = linkBaseURL.hasSuffix("/") ? String(linkBaseURL.dropLast()) : linkBaseURL
        configuration.webhookURL = webhookURL
        configuration.slack = slack
        configuration.smtpURL = smtpURL
        configuration.mailFrom = mailFrom
        configuration.mailTo = mailTo
        configuration.initialRetryDelay = TimeInterval(notifyRetryInitialMs) / 1000
        if webhookURL != nil {
            var secret = ProcessInfo.processInfo.environment["HITL_WEBHOOK_SECRET"] ?? ""
            if let webhookSecretFile {
                guard let text = try? String(contentsOfFile: webhookSecretFile, encoding: .utf8) else {
                    throw RunDirectoryError("--webhook-secret-file \(webhookSecretFile) cannot be read")
                }
                secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            guard secret.utf8.count >= 16 else {
                throw RunDirectoryError("a webhook needs a secret of at least 16 bytes: --webhook-secret-file or $HITL_WEBHOOK_SECRET")
            }
            configuration.webhookSecret = Array(secret.utf8)
        }
        if smtpURL != nil, mailTo.isEmpty {
            throw RunDirectoryError("--smtp-url needs at least one --mail-to")
        }
        return configuration
    }

    /// Tests move time forward with `HITL_TEST_CLOCK_OFFSET_FILE` (a file holding
    /// seconds to add to the system clock); production never sets it.
    private static func clock(logger: Logger) -> ApprovalClock {
        guard let path = ProcessInfo.processInfo.environment["HITL_TEST_CLOCK_OFFSET_FILE"],
              let text = try? String(contentsOfFile: path, encoding: .utf8),
              let offset = TimeInterval(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return .system }
        logger.warning("test clock: time is shifted", metadata: ["clock.offset_seconds": "\(offset)"])
        return ApprovalClock(offset: offset)
    }
}
