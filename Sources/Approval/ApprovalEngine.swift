import Banking
import Foundation
import Logging
import PostgresSupport
import RPC
import SQLiteKit

/// How long things last.
public struct ApprovalConfiguration: Sendable {
    /// How long a grant stays valid: minutes, so a grant that leaks is soon useless.
    public var grantTTL: TimeInterval = 300
    /// How long a pending approval waits for people when the submitter gives no `expires_in`.
    public var defaultExpiry: TimeInterval = 86_400
    /// The longest `expires_in` accepted: a month; anything longer is forgotten, not pending.
    public var maximumExpiry: TimeInterval = 30 * 86_400
    /// How long after its approval a grant may still be renewed (`approval.renew_grant`):
    /// well inside the ledger's idempotency retention (7 days), so a renewed grant can
    /// never execute an action a second time under its idempotency key.
    public var grantRenewalWindow: TimeInterval = 86_400
    /// A grant with less than this left is renewed; one with more is returned as it is.
    public var grantRenewalMargin: TimeInterval = 30

    public init() {}
}

/// The approval queue: every operation is one durable transaction that also
/// appends its events and audit records, so state, events and audit never disagree.
public final class ApprovalEngine: Sendable {
    /// Approvals one expiry sweep handles in one transaction: keeps a sweep short.
    static let expiryBatch = 500

    let database: any SQLDatabase
    /// Where other replicas' changes are heard (PostgreSQL only); nil on SQLite.
    let shared: PostgresPool?
    /// Follows ``ApprovalStore/changes`` on `shared`, waking this replica's watchers.
    private let listener: Task<Void, Never>?
    /// The policy in force (reloaded by ``PolicyWatcher``); read once per decision.
    public let policies: PolicySource
    /// Who the people are and which accounts they own (reloaded by ``IdentityWatcher``).
    public let identities: LiveIdentities
    let signer: GrantSigner
    let clock: ApprovalClock
    let configuration: ApprovalConfiguration
    let notifier = ChangeNotifier()
    let logger: Logger
    let notifications: NotificationConfiguration
    let linkSigner: LinkSigner?

    /// - Parameters:
    ///   - database: the approval tables (``ApprovalDatabase/sqlite(path:logger:)`` or ``ApprovalDatabase/postgres(_:logger:)``).
    ///   - policies: the policy in force.
    ///   - identities: the stack's identities: requesters must be people who own the paying account.
    ///   - signer: the grant signing key.
    ///   - clock: where time comes from.
    ///   - configuration: lifetimes.
    ///   - logger: for the service's log.
    ///   - notifications: where notices go (default: nowhere).
    ///   - linkSigner: signs approve/reject links (nil: notices carry no links, redeem_link refuses).
    public init(
        database: ApprovalDatabase, policies: PolicySource, identities: LiveIdentities, signer: GrantSigner,
        clock: ApprovalClock = .system,
        configuration: ApprovalConfiguration = .init(), logger: Logger,
        notifications: NotificationConfiguration = .init(), linkSigner: LinkSigner? = nil
    ) {
        self.notifications = notifications
        self.linkSigner = linkSigner
        self.database = database.database
        self.shared = database.shared
        self.policies = policies
        self.identities = identities
        self.signer = signer
        self.clock = clock
        self.configuration = configuration
        self.logger = logger
        let notifier = self.notifier
        listener = database.shared?.listen(channel: ApprovalStore.changes, wakeAll: { notifier.signal() }) { _ in notifier.signal() }
    }


    // MARK: submit

    func submit(_ params: SubmitParams, by identity: Identity) async throws -> ApprovalView {
        try Validate.text(params.runID, field: "run_id", maximum: Validate.maximumIDLength)
        try Validate.text(params.callID, field: "call_id", maximum: Validate.maximumIDLength)
        try Validate.text(params.requestedBy, field: "requested_by", maximum: Validate.maximumNameLength)
        try Validate.action(params.action, field: "action")
        let expiresIn = try expiry(params.expiresIn)
        try requireRequester(params.requestedBy, owning: params.action)
        let policy = policies.current
        try Self.requireCurrency(params.action, field: "action.currency", held: policy)
        let view = try await change { [self] connection in
            try submit(params, expiresIn: expiresIn, policy: policy, by: identity, connection: connection)
        }
        notifier.signal()
        return view
    }

    private func submit(
        _ params: SubmitParams, expiresIn: TimeInterval, policy: Policy, by identity: Identity, connection: any SQLConnection
    ) throws -> ApprovalView {
        if let existing = try ApprovalStore.find(runID: params.runID, callID: params.callID, on: connection) {
            guard existing.originalAction == params.action else {
                throw RPCError(.alreadyExists, reason: "IDEMPOTENCY_KEY_REUSED",
                    "run \(params.runID) call \(params.callID) was already submitted with a different action (approval \(existing.approvalID))")
            }
            return try ApprovalStore.view(existing, connection: connection)
        }
        let now = clock.now()
        let nowMs = ApprovalTime.milliseconds(now)
        let history = try ApprovalStore.history(
            of: params.action, windows: policy.windows(for: params.action.kind), now: nowMs, excluding: nil, connection: connection)
        let decision = policy.evaluate(params.action, history: history)
        var record = ApprovalRecord(
            seq: 0, approvalID: Identifiers.make(prefix: "ap_", bytes: 15), runID: params.runID, callID: params.callID,
            version: 1, status: .pending, action: params.action, originalAction: params.action,
            requestedBy: params.requestedBy, submittedBy: identity.name, requiredApprovers: decision.approvers,
            policyVersion: decision.version, policyRule: decision.rule, createdAt: nowMs, updatedAt: nowMs,
            expiresAt: ApprovalTime.milliseconds(now.addingTimeInterval(expiresIn)),
            requesterMayApprove: decision.requesterMayApprove, policyFigures: decision.figures)
        try ApprovalStore.insert(record, on: connection)
        try ApprovalStore.appendEvent("submitted", for: record, actor: identity.name, at: nowMs, connection: connection)
        try audit("submitted", record, actor: identity.name, at: now, connection: connection, detail: [
            "requested_by": params.requestedBy, "required_approvers": "\(decision.approvers)", "policy_rule": decision.rule,
            "policy_figures": ApprovalStore.json(decision.figures), "requester_may_approve": "\(decision.requesterMayApprove)",
            "expires_at": ApprovalTime.format(milliseconds: record.expiresAt),
        ])
        logger.info("approval submitted", metadata: [
            "approval.id": "\(record.approvalID)", "run.id": "\(record.runID)", "policy.rule": "\(decision.rule)",
            "approval.required": "\(decision.approvers)", "requested_by": "\(params.requestedBy)",
        ])
        if decision.approvers == 0 {
            try approve(&record, approvers: [ApprovalEvent.policyActor], actor: ApprovalEvent.policyActor, at: now, connection: connection)
        } else {
            try enqueueRequested(record, connection: connection)
        }
        return try ApprovalStore.view(record, connection: connection)
    }

    func expiry(_ seconds: Int64?) throws -> TimeInterval {
        guard let seconds else { return configuration.defaultExpiry }
        guard seconds >= 1, TimeInterval(seconds) <= configuration.maximumExpiry else {
            throw RPCError.invalidParams(
                field: "expires_in", "must be between 1 and \(Int64(configuration.maximumExpiry)) seconds",
                reason: "EXPIRY_OUT_OF_RANGE")
        }
        return TimeInterval(seconds)
    }

    // MARK: cancel, complete

    func cancel(_ params: CancelParams, by identity: Identity) async throws -> ApprovalView {
        try Validate.text(params.approvalID, field: "approval_id", maximum: Validate.maximumIDLength)
        try Validate.text(params.reason, field: "reason", maximum: Validate.maximumReasonLength)
        let outcome = try await change { [self] connection -> Result<ApprovalView, RPCError> in
            var record = try load(params.approvalID, connection: connection)
            let now = clock.now()
            if try expireIfDue(&record, now: now, connection: connection) { return .failure(Self.notDecidable(record)) }
            if record.status == .cancelled { return .success(try ApprovalStore.view(record, connection: connection)) }
            guard record.status == .pending else { throw Self.notDecidable(record) }
            record.status = .cancelled
            record.reason = params.reason
            record.updatedAt = ApprovalTime.milliseconds(now)
            try ApprovalStore.update(record, on: connection)
            try ApprovalStore.appendEvent(
                "cancelled", for: record, actor: identity.name, at: record.updatedAt, reason: params.reason, connection: connection)
            try audit("cancelled", record, actor: identity.name, at: now, connection: connection, detail: ["reason": params.reason])
            return .success(try ApprovalStore.view(record, connection: connection))
        }
        notifier.signal()
        return try outcome.get()
    }

    func complete(_ params: CompleteParams, by identity: Identity) async throws -> ApprovalView {
        try Validate.text(params.approvalID, field: "approval_id", maximum: Validate.maximumIDLength)
        guard ["succeeded", "failed"].contains(params.outcome.status) else {
            throw RPCError.invalidParams(field: "outcome.status", "must be 'succeeded' or 'failed'")
        }
        try Validate.optionalText(params.outcome.detail, field: "outcome.detail", maximum: Validate.maximumReasonLength)
        let view = try await change { [self] connection in
            var record = try load(params.approvalID, connection: connection)
            if [.completed, .failed].contains(record.status), record.outcome == params.outcome {
                return try ApprovalStore.view(record, connection: connection)  // a retry
            }
            guard record.status == .approved else { throw Self.notCompletable(record) }
            let now = clock.now()
            // An approved action that could not be executed ends as failed, with the reason:
            // it never stays approved, and people and the model see why.
            record.status = params.outcome.status == "succeeded" ? .completed : .failed
            if record.status == .failed { record.reason = params.outcome.detail ?? "the executor reported a failure" }
            record.outcome = params.outcome
            record.updatedAt = ApprovalTime.milliseconds(now)
            try ApprovalStore.update(record, on: connection)
            try ApprovalStore.appendEvent(
                record.status.rawValue, for: record, actor: identity.name, at: record.updatedAt, reason: params.outcome.detail,
                connection: connection)
            try audit(record.status.rawValue, record, actor: identity.name, at: now, connection: connection, detail: [
                "outcome": params.outcome.status, "detail": params.outcome.detail ?? "", "grant_id": record.grant?.grantID ?? "",
            ])
            try enqueueCompleted(record, connection: connection)
            return try ApprovalStore.view(record, connection: connection)
        }
        notifier.signal()
        return view
    }

    // MARK: renew

    /// A fresh grant for an approved action whose grant expired before the
    /// executor could use it (the agent was down for longer than the grant's
    /// minutes): same approval, action, approvers and idempotency key; a new
    /// grant id and validity. Safe because the ledger executes an approval once,
    /// whichever of its grants is shown (it records every consumed grant's approval id).
    func renewGrant(_ params: ApprovalIDParams, by identity: Identity) async throws -> ApprovalView {
        try Validate.text(params.approvalID, field: "approval_id", maximum: Validate.maximumIDLength)
        let view = try await change { [self] connection in
            var record = try load(params.approvalID, connection: connection)
            guard record.status == .approved, let current = record.grant else { throw Self.notCompletable(record) }
            let now = clock.now()
            if let expires = GrantTime.parse(current.expiresAt), expires.timeIntervalSince(now) > configuration.grantRenewalMargin {
                return try ApprovalStore.view(record, connection: connection)  // still good: nothing to renew
            }
            // Measured from the approval itself, not the last renewal: renewing cannot stretch it.
            let approvedAtMs = try connection.queryOne(
                "SELECT at FROM events WHERE approval_id = ? AND type = 'approved' ORDER BY seq LIMIT 1",
                [.text(record.approvalID)]) { $0.int(0) } ?? record.updatedAt
            let approvedAt = Date(timeIntervalSince1970: Double(approvedAtMs) / 1000)
            guard now.timeIntervalSince(approvedAt) <= configuration.grantRenewalWindow else {
                throw RPCError(
                    .failedPrecondition, reason: "RENEWAL_WINDOW_PASSED",
                    "approval \(record.approvalID) was approved too long ago for its grant to be renewed; submit the action again",
                    details: ["approval_status": .string(record.status.rawValue)])
            }
            let body = Grant.Body(
                grantID: Identifiers.make(prefix: "gr_", bytes: 18), approvalID: current.approvalID,
                approvalVersion: current.approvalVersion, runID: current.runID, callID: current.callID, action: current.action,
                idempotencyKey: current.idempotencyKey, approvers: current.approvers, policyVersion: current.policyVersion,
                issuedAt: now, expiresAt: now.addingTimeInterval(configuration.grantTTL), keyID: signer.keyID)
            let grant = try signer.sign(body)
            record.grant = grant
            record.updatedAt = ApprovalTime.milliseconds(now)
            try ApprovalStore.update(record, on: connection)
            try audit("grant_renewed", record, actor: identity.name, at: now, connection: connection, detail: [
                "previous_grant_id": current.grantID, "grant_id": grant.grantID, "grant_expires_at": grant.expiresAt,
            ])
            return try ApprovalStore.view(record, connection: connection)
        }
        return view
    }

    public func close() async {
        listener?.cancel()
        await shared?.close()
        await database.close()
    }

    // MARK: helpers

    func load(_ approvalID: String, connection: any SQLConnection) throws -> ApprovalRecord {
        guard let record = try ApprovalStore.find(approvalID, on: connection) else {
            throw RPCError(.notFound, reason: "APPROVAL_NOT_FOUND", "no approval \(approvalID)")
        }
        return record
    }

    func audit(
        _ step: String, _ record: ApprovalRecord, actor: String, at now: Date, connection: any SQLConnection,
        detail: [String: String] = [:]
    ) throws {
        try AuditLog.append(
            .init(at: now, approvalID: record.approvalID, step: step, actor: actor, version: record.version,
                  policyVersion: record.policyVersion, actionHash: AuditLog.actionHash(record.action), detail: detail),
            on: connection)
    }

    /// Why a decision (or cancellation) is refused: the approval is no longer pending.
    static func notDecidable(_ record: ApprovalRecord) -> RPCError {
        notDecidable(approvalID: record.approvalID, status: record.status, expiresAt: record.expiresAt)
    }

    /// Why an approval (single or batch) in `status` can no longer be decided.
    static func notDecidable(approvalID: String, status: ApprovalStatus, expiresAt: Int64) -> RPCError {
        let (reason, what): (String, String) = switch status {
        case .approved: ("ALREADY_APPROVED", "was already approved")
        case .rejected: ("ALREADY_REJECTED", "was already rejected")
        case .cancelled: ("APPROVAL_CANCELLED", "was cancelled")
        case .expired: ("APPROVAL_EXPIRED", "expired at \(ApprovalTime.format(milliseconds: expiresAt))")
        case .completed: ("ALREADY_COMPLETED", "was already approved and executed")
        case .failed: ("EXECUTION_FAILED", "was approved but could not be executed")
        case .pending: ("NOT_PENDING", "is pending")
        }
        return RPCError(.failedPrecondition, reason: reason, "approval \(approvalID) \(what); it can no longer be decided",
            details: ["approval_status": .string(status.rawValue)])
    }

    /// Why `complete` is refused.
    static func notCompletable(_ record: ApprovalRecord) -> RPCError {
        if [.completed, .failed].contains(record.status) {
            return RPCError(.failedPrecondition, reason: "ALREADY_COMPLETED",
                "approval \(record.approvalID) was already completed with outcome '\(record.outcome?.status ?? "")'",
                details: ["approval_status": .string(record.status.rawValue)])
        }
        return RPCError(.failedPrecondition, reason: "NOT_APPROVED",
            "approval \(record.approvalID) is \(record.status.rawValue); only an approved action can be completed",
            details: ["approval_status": .string(record.status.rawValue)])
    }
}

/// Random identifiers: base64url of random bytes behind a prefix.
enum Identifiers {
    static func make(prefix: String, bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return prefix + Base64URL.encode((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}

/// Limits on what callers send, each with why.
enum Validate {
    /// run_id and call_id: two of them plus ':' must fit the grant's 256-byte idempotency key.
    static let maximumIDLength = 120
    /// requested_by: a person's or system's name, not a document.
    static let maximumNameLength = 128
    /// Reasons and details: a paragraph for people, not a payload.
    static let maximumReasonLength = 1_000
    /// list pages: enough for a screen of approvals.
    static let defaultPageSize = 50
    /// list pages: bounded response size (each approval is about 1 KiB).
    static let maximumPageSize = 500
    /// list search text: a name or a few words, not a document.
    static let maximumQueryLength = 200
    /// A batch transfer's ledger idempotency key: the ledger's own limit.
    static let maximumIdempotencyKeyLength = 256

    /// A list page's size and where it starts (cursors are `c<seq>`, as lists return them).
    /// - Throws: INVALID_ARGUMENT naming `limit`, or INVALID_CURSOR naming `cursor`.
    static func page(limit: Int?, cursor: String?) throws -> (limit: Int, after: Int64) {
        let limit = limit ?? defaultPageSize
        guard (1...maximumPageSize).contains(limit) else {
            throw RPCError.invalidParams(field: "limit", "must be between 1 and \(maximumPageSize)")
        }
        guard let cursor else { return (limit, 0) }
        guard cursor.hasPrefix("c"), let value = Int64(cursor.dropFirst()), value >= 0 else {
            throw RPCError.invalidParams(field: "cursor", "is not a cursor this service returned", reason: "INVALID_CURSOR")
        }
        return (limit, value)
    }

    /// An RFC 3339 time (`2026-12-07T00:00:00Z`, fractions allowed).
    /// - Throws: INVALID_ARGUMENT naming the field and the form it takes.
    static func time(_ text: String, field: String) throws -> Date {
        let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        guard let date = (try? withFraction.parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text)) else {
            throw RPCError.invalidParams(field: field, "must be an RFC 3339 time such as 2026-12-07T00:00:00Z")
        }
        return date
    }

    /// A decimal amount filter (`100`, `150.50`).
    /// - Throws: INVALID_ARGUMENT/INVALID_AMOUNT naming the field and the form it takes.
    static func amount(_ text: String, field: String) throws -> Amount {
        do {
            return try Amount(parsing: text)
        } catch let error as AmountError {
            throw RPCError.invalidParams(field: field, error.description, reason: "INVALID_AMOUNT")
        }
    }

    static func text(_ value: String, field: String, maximum: Int) throws {
        guard !value.isEmpty else { throw RPCError.invalidParams(field: field, "must not be empty") }
        try optionalText(value, field: field, maximum: maximum)
    }

    static func optionalText(_ value: String?, field: String, maximum: Int) throws {
        guard let value else { return }
        guard value.count <= maximum else { throw RPCError.invalidParams(field: field, "must be at most \(maximum) characters") }
        guard !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\n" }) else {
            throw RPCError.invalidParams(field: field, "must not contain control characters")
        }
    }

    static func action(_ action: Action, field: String) throws {
        do {
            try action.validate()
        } catch let error as GrantFormatError {
            let name = error.field.hasPrefix("action.") ? field + error.field.dropFirst("action".count) : error.field
            throw RPCError.invalidParams(field: name, error.message)
        }
    }
}
