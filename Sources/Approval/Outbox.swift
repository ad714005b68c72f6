import Crypto
import CurlKit
import Foundation
import Logging
import NIOPosix
import RPC
import SQLiteKit
import ServiceLifecycle

/// A delivery's visible state (`approval.deliveries`).
public struct DeliveryView: Sendable, Codable, Equatable {
    public let deliveryID: String
    public let approvalID: String
    /// `webhook` or `email`.
    public let channel: String
    /// `approval.requested` or `approval.completed`.
    public let kind: String
    /// `pending` (not yet delivered; retried with backoff), `delivered` or `failed` (gave up).
    public let state: String
    public let attempts: Int64
    public let nextAttemptAt: String?
    public let lastError: String?
    public let deliveredAt: String?

    enum CodingKeys: String, CodingKey {
        case deliveryID = "delivery_id", approvalID = "approval_id", channel, kind, state, attempts
        case nextAttemptAt = "next_attempt_at", lastError = "last_error", deliveredAt = "delivered_at"
    }
}

struct RedeemLinkParams: Decodable, Sendable {
    let token: String
    let decision: Decision
}

struct PreviewLinkParams: Decodable, Sendable {
    let token: String
}

/// What a link would do, for the page that asks a person to confirm it.
struct LinkPreview: Encodable, Sendable {
    let decision: Decision
    /// The approval version the link was issued for.
    let version: Int64
    let expiresAt: String
    /// Whether it was used already (a link decides once).
    let used: Bool
    let approval: ApprovalView

    enum CodingKeys: String, CodingKey { case decision, version, used, approval, expiresAt = "expires_at" }
}

struct DeliveriesResult: Encodable, Sendable {
    let deliveries: [DeliveryView]
}

/// One due delivery, as the worker reads it.
struct DueDelivery: Sendable {
    let deliveryID: String
    let approvalID: String
    let channel: String
    let payload: String
    let attempts: Int64
    /// The row's `next_attempt_at` once claimed: the claim's token (a failure is recorded
    /// only while the row still carries it, so a worker whose lease ran out and was
    /// claimed again by another cannot reschedule it under the other's feet).
    let claimedUntil: Int64
}

extension ApprovalEngine {
    /// Decides an approval through a link token: valid signature, unexpired,
    /// unused, for the approval's current version, and the decision it was made for.
    func redeemLink(_ params: RedeemLinkParams) async throws -> ApprovalView {
        guard params.token.utf8.count <= 1_024, let linkSigner, let payload = linkSigner.verify(params.token) else {
            throw RPCError(.permissionDenied, reason: "LINK_INVALID", "the link token is not one this service signed")
        }
        guard payload.d == params.decision else {
            throw RPCError(.permissionDenied, reason: "LINK_DECISION_MISMATCH",
                "this link can only \(payload.d.rawValue) approval \(payload.a)")
        }
        guard clock.now().timeIntervalSince1970 < TimeInterval(payload.e) else {
            throw RPCError(.failedPrecondition, reason: "LINK_EXPIRED", "the link expired; decide in the approval list instead")
        }
        let policy = policies.current
        let outcome = try await change { [self] connection -> Result<ApprovalView, RPCError> in
            guard let link = try connection.queryOne(
                "SELECT approval_id, version, decision, recipient, used_at FROM link_tokens WHERE nonce = ?", [.text(payload.n)],
                { (approvalID: $0.text(0), version: $0.int(1), decision: $0.text(2), recipient: $0.text(3), used: $0.optionalInt(4)) }),
                link.approvalID == payload.a, link.version == payload.v, link.decision == payload.d.rawValue
            else {
                throw RPCError(.permissionDenied, reason: "LINK_INVALID", "the link token is not one this service issued")
            }
            guard link.used == nil else {
                throw RPCError(.failedPrecondition, reason: "LINK_ALREADY_USED", "this link was already used; a link decides once")
            }
            try refuseApproveLinkNeedingPeople(payload, connection: connection)
            _ = try connection.execute(
                "UPDATE link_tokens SET used_at = ? WHERE nonce = ?",
                [.integer(ApprovalTime.milliseconds(clock.now())), .text(payload.n)])
            // Every link counts as the same approver, "link", and only ever on an
            // approval that needs one person (see `refuseApproveLinkNeedingPeople`).
            let decider = Identity(name: "link", role: "approver")
            let params = DecideParams(
                approvalID: payload.a, decision: payload.d, reason: "decided by \(link.recipient) link", editedAction: nil,
                version: payload.v)
            return try decide(params, version: payload.v, policy: policy, by: decider, connection: connection)
        }
        notifier.signal()
        return try outcome.get()
    }

    /// What a link would do, once its signature and record check out: the page that
    /// asks a person to confirm shows nothing for a token this service did not sign.
    /// - Throws: PERMISSION_DENIED `LINK_INVALID`, FAILED_PRECONDITION `LINK_EXPIRED`.
    func previewLink(_ params: PreviewLinkParams) async throws -> LinkPreview {
        guard params.token.utf8.count <= 1_024, let linkSigner, let payload = linkSigner.verify(params.token) else {
            throw RPCError(.permissionDenied, reason: "LINK_INVALID", "the link token is not one this service signed")
        }
        guard clock.now().timeIntervalSince1970 < TimeInterval(payload.e) else {
            throw RPCError(.failedPrecondition, reason: "LINK_EXPIRED", "the link expired; decide in the approval list instead")
        }
        return try await database.read { [self] connection in
            guard let used = try connection.queryOne(
                "SELECT used_at FROM link_tokens WHERE nonce = ? AND approval_id = ? AND version = ? AND decision = ?",
                [.text(payload.n), .text(payload.a), .integer(payload.v), .text(payload.d.rawValue)], { $0.optionalInt(0) })
            else {
                throw RPCError(.permissionDenied, reason: "LINK_INVALID", "the link token is not one this service issued")
            }
            let view = try ApprovalStore.view(try load(payload.a, connection: connection), connection: connection)
            return LinkPreview(
                decision: payload.d, version: payload.v, expiresAt: ApprovalTime.format(milliseconds: payload.e * 1000),
                used: used != nil, approval: view.withoutGrant())
        }
    }

    /// An approve link never counts toward an approval that needs more than one
    /// approver: a link is not a person, and whoever holds a notice could otherwise
    /// fill a second seat beside their own vote on the page. Such approvals get no
    /// approve links (``enqueueRequested(_:connection:)``); this refuses any issued
    /// before that rule. Rejections stay: any rejection rejects. An approval that is
    /// no longer pending, or at another version, is left for `decide` to refuse
    /// with its own reason.
    /// - Throws: FAILED_PRECONDITION `LINK_NEEDS_SIGN_IN`.
    private func refuseApproveLinkNeedingPeople(_ payload: LinkSigner.Payload, connection: any SQLConnection) throws {
        guard payload.d == .approve else { return }
        let record = try load(payload.a, connection: connection)
        guard record.status == .pending, record.version == payload.v, record.requiredApprovers > 1 else { return }
        throw RPCError(.failedPrecondition, reason: "LINK_NEEDS_SIGN_IN",
            "approval \(record.approvalID) needs \(record.requiredApprovers) different approvers, and a link is not one: "
                + "sign in to the approval page to approve it (a reject link still rejects)",
            details: ["required_approvers": .int(Int64(record.requiredApprovers))])
    }

    func deliveries(of approvalID: String) async throws -> [DeliveryView] {
        try Validate.text(approvalID, field: "approval_id", maximum: Validate.maximumIDLength)
        return try await database.read { [self] connection in
            _ = try load(approvalID, connection: connection)
            return try connection.query(
                """
                SELECT delivery_id, approval_id, channel, kind, state, attempts, next_attempt_at, last_error, delivered_at
                FROM deliveries WHERE approval_id = ? ORDER BY created_at, delivery_id
                """, [.text(approvalID)]
            ) { row in
                let state = row.text(4)
                return DeliveryView(
                    deliveryID: row.text(0), approvalID: row.text(1), channel: row.text(2), kind: row.text(3), state: state,
                    attempts: row.int(5),
                    nextAttemptAt: state == "pending" ? ApprovalTime.format(milliseconds: row.int(6)) : nil,
                    lastError: row.optionalText(7), deliveredAt: row.optionalInt(8).map { ApprovalTime.format(milliseconds: $0) })
            }
        }
    }

    /// Claims up to `limit` deliveries that are due. On PostgreSQL, where other replicas'
    /// workers look too, each one's next attempt moves ``OutboxWorker/claimLease`` ahead
    /// in the same transaction, so they pass over it (and skip rows being claimed right
    /// now), and a worker that dies mid-delivery leaves it due again once the lease ends.
    /// A SQLite file has one process and so one worker: it takes the due rows as they are
    /// (after a crash, a notice being delivered is due again at once).
    ///
    /// The one write outside ``change(_:)``: a claim touches no approval, event or audit record.
    func claimDueDeliveries(limit: Int) async throws -> [DueDelivery] {
        let now = ApprovalTime.milliseconds(clock.now())
        let due = "FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?"
        // Most rounds find nothing due: look on a reader before taking the writer.
        guard try await database.read({ connection in
            try connection.queryOne("SELECT 1 \(due) LIMIT 1", [.integer(now)]) { _ in true } ?? false
        }) else { return [] }
        let leaseEnd = now + Int64(OutboxWorker.claimLease.components.seconds * 1000)
        return try await database.write { connection in
            let leased = connection.dialect == .postgres
            let claimed = try connection.query(
                "SELECT delivery_id, approval_id, channel, payload, attempts, next_attempt_at \(due) ORDER BY next_attempt_at LIMIT ?"
                    + connection.dialect.forUpdateSkipLocked,
                [.integer(now), .integer(Int64(limit))]
            ) {
                DueDelivery(
                    deliveryID: $0.text(0), approvalID: $0.text(1), channel: $0.text(2), payload: $0.text(3), attempts: $0.int(4),
                    claimedUntil: leased ? leaseEnd : $0.int(5))
            }
            if leased {
                for delivery in claimed {
                    try connection.executeLater(
                        "UPDATE deliveries SET next_attempt_at = ? WHERE delivery_id = ?", [.integer(leaseEnd), .text(delivery.deliveryID)])
                }
            }
            return claimed
        }
    }

    func nextDeliveryAttempt() async throws -> Date? {
        try await database.read { connection in
            try connection.queryOne("SELECT MIN(next_attempt_at) FROM deliveries WHERE state = 'pending'") { $0.optionalInt(0) } ?? nil
        }.map { ApprovalTime.date(milliseconds: $0) }
    }

    /// Records the outcome of one attempt: delivered (with a `notified` event and
    /// audit record), or scheduled again with exponential backoff, or failed for good.
    func recordAttempt(_ delivery: DueDelivery, error: String?) async throws {
        try await change { [self] connection in
            let now = clock.now()
            let nowMs = ApprovalTime.milliseconds(now)
            let attempts = delivery.attempts + 1
            if error == nil {
                // Delivered twice (a lease ran out mid-delivery): the first report stands.
                guard try connection.execute(
                    "UPDATE deliveries SET state = 'delivered', attempts = ?, delivered_at = ?, last_error = NULL WHERE delivery_id = ? AND state = 'pending'",
                    [.integer(attempts), .integer(nowMs), .text(delivery.deliveryID)]) == 1
                else { return }
                let record = try load(delivery.approvalID, connection: connection)
                try ApprovalStore.appendEvent(
                    "notified", for: record, actor: "notify:\(delivery.channel)", at: nowMs, reason: delivery.deliveryID,
                    connection: connection)
                try audit("notified", record, actor: "notify:\(delivery.channel)", at: now, connection: connection, detail: [
                    "delivery_id": delivery.deliveryID, "channel": delivery.channel, "attempts": "\(attempts)",
                ])
                return
            }
            let exponent = Double(min(attempts - 1, 30))
            let delay = min(notifications.initialRetryDelay * pow(2, exponent), notifications.maximumRetryDelay)
            let state = attempts >= notifications.maximumAttempts ? "failed" : "pending"
            _ = try connection.execute(
                """
                UPDATE deliveries SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?
                WHERE delivery_id = ? AND state = 'pending' AND next_attempt_at = ?
                """,
                [.text(state), .integer(attempts), .integer(nowMs + Int64(delay * 1000)), .text(error ?? ""), .text(delivery.deliveryID),
                 .integer(delivery.claimedUntil)])
        }
        if error == nil { notifier.signal() }
    }
}

/// Delivers the outbox: webhook (HMAC-signed, optionally Slack-shaped) and SMTP,
/// through libcurl on a thread pool, retrying with backoff until delivered.
public struct OutboxWorker: Service {
    /// Deliveries attempted per round: a slow receiver delays at most this many.
    static let batch = 8
    /// The longest sleep between looks at the outbox: bounds how late a new notice
    /// leaves (the outbox is read, cheaply, four times a second at most).
    static let maximumSleep: TimeInterval = 0.25
    /// After a failed round (database trouble): try again without flooding the log.
    static let pauseAfterFailure: TimeInterval = 1

    let engine: ApprovalEngine

    /// - Parameter engine: whose outbox to deliver.
    public init(engine: ApprovalEngine) { self.engine = engine }

    public func run() async throws {
        guard !engine.notifications.channels.isEmpty else {
            // Nothing to deliver; a service that returns early would stop the whole group.
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                var pause = Self.maximumSleep
                do {
                    for delivery in try await engine.claimDueDeliveries(limit: Self.batch) {
                        let error = await attempt(delivery)
                        try await engine.recordAttempt(delivery, error: error)
                    }
                    if let next = try await engine.nextDeliveryAttempt() {
                        pause = min(max(next.timeIntervalSince(engine.clock.now()), 0), Self.maximumSleep)
                    }
                } catch is CancellationError {
                    return
                } catch {
                    engine.logger.error("outbox round failed", metadata: ["error": "\(error)"])
                    pause = Self.pauseAfterFailure
                }
                try? await Task.sleep(for: .milliseconds(Int64(pause * 1000)))
            }
        }
    }

    /// How long a claimed delivery is left to its worker before another may take it:
    /// longer than a whole round of ``batch`` attempts at ``deliveryTimeout`` each.
    static let claimLease: Duration = .seconds(120)
    /// How long one delivery attempt may take: a slow receiver costs a retry, not a stuck worker.
    static let deliveryTimeout: Duration = .seconds(10)
    /// How long connecting may take on loopback or a LAN.
    static let connectTimeout: Duration = .seconds(3)

    /// One attempt; returns nil when delivered, else what went wrong.
    private func attempt(_ delivery: DueDelivery) async -> String? {
        guard let payload = try? JSONDecoder().decode(NotificationPayload.self, from: Data(delivery.payload.utf8)) else {
            return "the stored payload cannot be read"
        }
        let configuration = engine.notifications
        let timestamp = Int64(engine.clock.now().timeIntervalSince1970)
        do {
            switch delivery.channel {
            case "webhook":
                let request = Self.webhook(payload, deliveryID: delivery.deliveryID, timestamp: timestamp, configuration: configuration)
                let response = try await CurlTransport.shared.send(HTTPRequest(
                    url: configuration.webhookURL ?? "",
                    headers: request.headers.map { line in
                        let parts = line.split(separator: ":", maxSplits: 1)
                        return (String(parts[0]), parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "")
                    },
                    body: Data(request.body), connectTimeout: Self.connectTimeout, totalTimeout: Self.deliveryTimeout), onBody: nil)
                return (200..<300).contains(response.status) ? nil : "the receiver answered HTTP \(response.status)"
            default:
                let message = Self.mail(payload, deliveryID: delivery.deliveryID, configuration: configuration)
                try await CurlTransport.shared.sendMail(
                    url: configuration.smtpURL ?? "", from: configuration.mailFrom, to: configuration.mailTo, message: message,
                    timeout: Self.deliveryTimeout)
                return nil
            }
        } catch {
            engine.logger.warning("delivery attempt failed", metadata: [
                "delivery.id": "\(delivery.deliveryID)", "delivery.channel": "\(delivery.channel)", "error": "\(error)",
            ])
            return "\(error)"
        }
    }

    /// The webhook request: JSON body (Slack-shaped when configured) and headers
    /// `X-HITL-Delivery-Id`, `X-HITL-Timestamp` and
    /// `X-HITL-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
    static func webhook(
        _ payload: NotificationPayload, deliveryID: String, timestamp: Int64, configuration: NotificationConfiguration
    ) -> (headers: [String], body: [UInt8]) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body: Data
        if configuration.slack {
            body = (try? encoder.encode(["text": payload.text])) ?? Data()
        } else {
            body = (try? encoder.encode(WebhookBody(deliveryID: deliveryID, payload: payload))) ?? Data()
        }
        let signed = Data("\(timestamp).".utf8) + body
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: configuration.webhookSecret))
        let signature = Hex.encode(Array(mac))
        return ([
            "Content-Type: application/json", "X-HITL-Delivery-Id: \(deliveryID)", "X-HITL-Timestamp: \(timestamp)",
            "X-HITL-Signature: v1=\(signature)",
        ], Array(body))
    }

    static func mail(_ payload: NotificationPayload, deliveryID: String, configuration: NotificationConfiguration) -> [UInt8] {
        let subject = payload.type == "approval.requested"
            ? "Approval needed: \(ApprovalEngine.describe(payload.approval.action))"
            : "Completed: \(ApprovalEngine.describe(payload.approval.action))"
        let date = Date().formatted(.iso8601)
        let lines = [
            "From: <\(configuration.mailFrom)>", "To: \(configuration.mailTo.map { "<\($0)>" }.joined(separator: ", "))",
            "Subject: \(subject)", "Message-ID: <\(deliveryID)@hitl.local>", "X-HITL-Delivery-Id: \(deliveryID)",
            "X-HITL-Date: \(date)", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "",
        ] + payload.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        return Array((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }
}

/// The generic webhook body.
private struct WebhookBody: Encodable {
    let deliveryID: String
    let payload: NotificationPayload
    enum CodingKeys: String, CodingKey { case deliveryID = "delivery_id", type, approval, links, text }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(deliveryID, forKey: .deliveryID)
        try container.encode(payload.type, forKey: .type)
        try container.encode(payload.approval, forKey: .approval)
        try container.encodeIfPresent(payload.links, forKey: .links)
        try container.encode(payload.text, forKey: .text)
    }
}
