import Banking
import Crypto
import Foundation
import RPC
import SQLiteKit

/// Where notifications go. Secrets are given as values read from files, never as flags.
public struct NotificationConfiguration: Sendable {
    /// Where approve/reject links point (the HTTP gateway).
    public var linkBaseURL = "http://127.0.0.1:8765"
    /// A webhook receiver; nil: no webhook.
    public var webhookURL: String?
    /// The HMAC key for webhook signatures.
    public var webhookSecret: [UInt8] = []
    /// Send Slack-compatible bodies (`{"text": ...}`) to the webhook.
    public var slack = false
    /// An SMTP server (`smtp://host:port`); nil: no email.
    public var smtpURL: String?
    public var mailFrom = "approvals@hitl.local"
    public var mailTo: [String] = []
    /// The first retry's delay; each later one doubles, up to ``maximumRetryDelay``.
    public var initialRetryDelay: TimeInterval = 1
    /// Backoff stops growing here: a receiver back after an outage hears within minutes.
    public var maximumRetryDelay: TimeInterval = 300
    /// After this many attempts a delivery is `failed` (about a day at the maximum delay).
    public var maximumAttempts = 300

    public init() {}

    var channels: [String] {
        (webhookURL == nil ? [] : ["webhook"]) + (smtpURL == nil || mailTo.isEmpty ? [] : ["email"])
    }
}

/// Signs and checks approve/reject link tokens:
/// `v1.<base64url payload>.<base64url HMAC-SHA256(payload)>`, where the payload is
/// `{"a": approval_id, "d": decision, "e": expiry (unix seconds), "n": nonce, "v": version}`.
/// The nonce is stored when issued and marked used when redeemed (single use).
public struct LinkSigner: Sendable {
    let key: SymmetricKey

    /// - Parameter key: 32 secret bytes.
    public init(key: [UInt8]) { self.key = SymmetricKey(data: key) }

    /// Names the key without giving it away (HMAC of a fixed label): replicas compare
    /// it to know they sign links alike.
    public var fingerprint: String {
        Hex.encode(Array(HMAC<SHA256>.authenticationCode(for: Data("hitl link key fingerprint".utf8), using: key)).prefix(16))
    }

    /// Loads the link key from `<run>/link-signing.key` (0600), creating it at first start.
    /// - Throws: ``RunDirectoryError`` when it cannot be read or written.
    public static func loadOrCreate(in directory: RunDirectory) throws -> LinkSigner {
        let path = directory.run.appendingPathComponent("link-signing.key").path
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            guard let raw = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), raw.count == 32 else {
                throw RunDirectoryError("\(path) does not hold a 32-byte key; delete it to make a new one (old links stop working)")
            }
            return LinkSigner(key: Array(raw))
        }
        try directory.prepare()
        let key = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        try IdentityProvisioner.writePrivate(Data(Data(key).base64EncodedString().utf8), to: path)
        return LinkSigner(key: key)
    }

    struct Payload: Codable, Equatable {
        let a: String
        let d: Decision
        let e: Int64
        let n: String
        let v: Int64
    }

    func token(_ payload: Payload) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = Base64URL.encode((try? encoder.encode(payload)) ?? Data())
        let mac = HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: key)
        return "v1.\(body).\(Base64URL.encode(Data(mac)))"
    }

    /// The payload of a token whose signature checks; nil otherwise.
    func verify(_ token: String) -> Payload? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1", let mac = Base64URL.decode(String(parts[2])),
              HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Data(parts[1].utf8), using: key),
              let json = Base64URL.decode(String(parts[1]))
        else { return nil }
        return try? JSONDecoder().decode(Payload.self, from: json)
    }
}

/// What one delivery carries, fixed when it is enqueued (retries send the same content).
struct NotificationPayload: Codable, Sendable {
    /// `approval.requested` or `approval.completed`.
    let type: String
    let approval: ApprovalView
    let links: [String: String]?
    let text: String
}

extension ApprovalEngine {
    /// The decisions a notice carries links for. A link is not a person, so an
    /// approval that needs more than one approver gets no approve link (people
    /// sign in to the page to approve it; `redeemLink` refuses one anyway);
    /// a reject link is always safe: any rejection rejects.
    static func linkDecisions(for record: ApprovalRecord) -> [Decision] {
        record.requiredApprovers > 1 ? [.reject] : [.approve, .reject]
    }

    /// Enqueues the "approval needed" notice for each configured channel, with
    /// fresh links per channel (see ``linkDecisions(for:)``), in the caller's transaction.
    func enqueueRequested(_ record: ApprovalRecord, connection: any SQLConnection) throws {
        guard let linkSigner else { return }
        for channel in notifications.channels {
            var links: [String: String] = [:]
            for decision in Self.linkDecisions(for: record) {
                let nonce = Identifiers.make(prefix: "", bytes: 16)
                let expiry = record.expiresAt / 1000
                try connection.execute(
                    "INSERT INTO link_tokens (nonce, approval_id, version, decision, recipient, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                    [.text(nonce), .text(record.approvalID), .integer(record.version), .text(decision.rawValue), .text(channel),
                     .integer(record.expiresAt)])
                let token = linkSigner.token(.init(a: record.approvalID, d: decision, e: expiry, n: nonce, v: record.version))
                links[decision.rawValue] = "\(notifications.linkBaseURL)/links/\(token)?decision=\(decision.rawValue)"
            }
            let view = try ApprovalStore.view(record, connection: connection)
            // The approval's own page (sign-in needed): its context, history, edits and every decision.
            let page = "\(notifications.linkBaseURL)/approvals/\(record.approvalID)"
            links["page"] = page
            let approve = links["approve"].map { "Approve: \($0)" } ?? """
                To approve, sign in at \(page) (this needs \(record.requiredApprovers) \
                different approvers, so there is no approve link).
                """
            let text = """
                Approval needed: \(Self.describe(record.action)) (requested by \(record.requestedBy), \
                approval \(record.approvalID), expires \(view.expiresAt)).
                \(approve)
                Reject: \(links["reject"] ?? "")
                Details and history: \(page)
                """
            try enqueue(channel: channel, payload: .init(type: "approval.requested", approval: view, links: links, text: text),
                        record: record, connection: connection)
        }
    }

    /// Enqueues the completion notice for each configured channel.
    func enqueueCompleted(_ record: ApprovalRecord, connection: any SQLConnection) throws {
        let view = try ApprovalStore.view(record, connection: connection)
        let text = "Completed: \(Self.describe(record.action)) \(record.outcome?.status ?? "") (approval \(record.approvalID))."
        for channel in notifications.channels {
            try enqueue(channel: channel, payload: .init(type: "approval.completed", approval: view, links: nil, text: text),
                        record: record, connection: connection)
        }
    }

    private func enqueue(channel: String, payload: NotificationPayload, record: ApprovalRecord, connection: any SQLConnection) throws {
        try connection.execute(
            """
            INSERT INTO deliveries (delivery_id, approval_id, channel, kind, payload, state, attempts, next_attempt_at, created_at)
            VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)
            """,
            [.text(Identifiers.make(prefix: "dl_", bytes: 15)), .text(record.approvalID), .text(channel), .text(payload.type),
             .text(ApprovalStore.json(payload)), .integer(record.updatedAt), .integer(record.updatedAt)])
    }

    static func describe(_ action: Action) -> String {
        let source = action.from.map { " from \($0)" } ?? ""
        return "\(action.kind.rawValue) of \(action.displayAmount)\(source) to \(action.to)"
    }
}
