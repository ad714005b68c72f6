import Crypto
import Foundation
import Wire

/// One transfer a batch grant covers: its action and the idempotency key it must carry.
public struct BatchItem: Sendable, Hashable {
    /// Exactly what may be executed.
    public let action: Action
    /// The ledger idempotency key the execution must carry.
    public let idempotencyKey: String

    /// - Parameters:
    ///   - action: the transfer.
    ///   - idempotencyKey: its ledger idempotency key.
    public init(action: Action, idempotencyKey: String) {
        self.action = action
        self.idempotencyKey = idempotencyKey
    }
}

/// What a batch grant covers: how many transfers, their total, and the digest
/// that binds each of them, in order.
public struct BatchSummary: Sendable, Hashable, Codable {
    /// The most transfers one batch (and so one batch grant) holds: one
    /// `ledger.transfer_batch` call, which stays well under the 1 MiB line limit.
    public static let maximumCount = 500

    /// Transfers in the batch.
    public let count: Int
    /// The sum of their amounts, with two fraction digits (may exceed one movement's maximum).
    public let total: String
    /// The one currency of every transfer.
    public let currency: String
    /// Lowercase hex SHA-256 of the canonical JSON array of `{action, idempotency_key}`, in order.
    public let digest: String

    /// The summary of `items`: what approval-svc signs and the ledger recomputes.
    /// - Parameter items: the transfers, in order (at least one, one currency).
    public init(of items: [BatchItem]) {
        precondition(!items.isEmpty, "a batch holds at least one transfer")
        count = items.count
        total = Self.format(cents: items.reduce(Int64(0)) { $0 + $1.action.amount.minorUnits })
        currency = items[0].action.currency
        digest = Self.digest(of: items)
    }

    /// - Parameters: the members, as received.
    public init(count: Int, total: String, currency: String, digest: String) {
        self.count = count
        self.total = total
        self.currency = currency
        self.digest = digest
    }

    /// The digest of `items`: SHA-256 over `[{"action":{…},"idempotency_key":"…"},…]`
    /// in canonical JSON (the grant's rule), as lowercase hex.
    public static func digest(of items: [BatchItem]) -> String {
        var hasher = SHA256()
        var json = CanonicalJSON(capacity: 256 * min(items.count, 64))
        json.beginArray()
        for item in items {
            json.beginObject()
            json.key("action")
            item.action.writeCanonical(into: &json)
            json.key("idempotency_key")
            json.string(item.idempotencyKey)
            json.endObject()
            if json.bytes.count > 8_192 { json.flush(into: &hasher) }
        }
        json.endArray()
        json.flush(into: &hasher)
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    static func format(cents: Int64) -> String {
        let fraction = cents % 100
        return "\(cents / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    func writeCanonical(into json: inout CanonicalJSON) {
        json.beginObject()
        json.key("count")
        json.integer(Int64(count))
        json.key("currency")
        json.string(currency)
        json.key("digest")
        json.string(digest)
        json.key("total")
        json.string(total)
        json.endObject()
    }
}

extension CanonicalJSON {
    /// Feeds the bytes written so far to `hasher` and forgets them (digests of large batches).
    mutating func flush(into hasher: inout SHA256) {
        hasher.update(data: bytes)
        removeAll()
    }
}

/// A signed permission to execute one batch of transfers (a payroll, say),
/// each exactly as listed and in that order, once.
///
/// A person approves the batch as a whole; approval-svc's key signs
/// ``canonicalBytes``: every member but `signature`, in canonical JSON, like a
/// single ``Grant``. It has `batch` where a single grant has `action`,
/// `idempotency_key`, `run_id` and `call_id`, so neither can pass for the other.
/// `Protocols/grant.schema.json` (`definitions.BatchGrant`) is the normative description.
public struct BatchGrant: Sendable, Hashable, Codable {
    /// Single use: consumed in the transaction that applies the batch.
    public let grantID: String
    /// The approval this grant decides.
    public let approvalID: String
    public let approvalVersion: Int64
    /// What the batch holds: count, total, currency, digest.
    public let batch: BatchSummary
    /// Who approved, sorted.
    public let approvers: [String]
    public let policyVersion: String
    /// RFC 3339 UTC, whole seconds.
    public let issuedAt: String
    public let expiresAt: String
    /// First 16 hex digits of SHA-256 of the signing public key.
    public let keyID: String
    /// base64url (no padding) Ed25519 signature of ``canonicalBytes``.
    public let signature: String

    enum CodingKeys: String, CodingKey {
        case grantID = "grant_id"
        case approvalID = "approval_id"
        case approvalVersion = "approval_version"
        case batch, approvers
        case policyVersion = "policy_version"
        case issuedAt = "issued_at"
        case expiresAt = "expires_at"
        case keyID = "key_id"
        case signature
    }

    /// - Parameters: every member; `approvers` are sorted, times formatted as RFC 3339.
    public init(
        grantID: String, approvalID: String, approvalVersion: Int64, batch: BatchSummary, approvers: [String],
        policyVersion: String, issuedAt: Date, expiresAt: Date, keyID: String, signature: String = ""
    ) {
        self.grantID = grantID
        self.approvalID = approvalID
        self.approvalVersion = approvalVersion
        self.batch = batch
        self.approvers = approvers.sorted()
        self.policyVersion = policyVersion
        self.issuedAt = GrantTime.format(issuedAt)
        self.expiresAt = GrantTime.format(expiresAt)
        self.keyID = keyID
        self.signature = signature
    }

    private init(_ grant: BatchGrant, signature: String) {
        grantID = grant.grantID
        approvalID = grant.approvalID
        approvalVersion = grant.approvalVersion
        batch = grant.batch
        approvers = grant.approvers
        policyVersion = grant.policyVersion
        issuedAt = grant.issuedAt
        expiresAt = grant.expiresAt
        keyID = grant.keyID
        self.signature = signature
    }

    /// This grant with `signature`.
    func signed(_ signature: String) -> BatchGrant { BatchGrant(self, signature: signature) }

    /// The bytes the signature covers: every member but `signature`, keys sorted.
    public var canonicalBytes: Data { Data(canonicalJSON) }

    /// ``canonicalBytes`` as an array.
    public var canonicalJSON: [UInt8] {
        var json = CanonicalJSON()
        json.beginObject()
        json.key("approval_id")
        json.string(approvalID)
        json.key("approval_version")
        json.integer(approvalVersion)
        json.key("approvers")
        json.beginArray()
        for approver in approvers { json.string(approver) }
        json.endArray()
        json.key("batch")
        batch.writeCanonical(into: &json)
        json.key("expires_at")
        json.string(expiresAt)
        json.key("grant_id")
        json.string(grantID)
        json.key("issued_at")
        json.string(issuedAt)
        json.key("key_id")
        json.string(keyID)
        json.key("policy_version")
        json.string(policyVersion)
        json.endObject()
        return json.bytes
    }
}

extension GrantSigner {
    /// Signs a batch grant.
    /// - Parameter grant: the grant to sign (its keyID must be this key's; any signature is replaced).
    /// - Throws: when signing fails (it does not for valid keys).
    public func sign(_ grant: BatchGrant) throws -> BatchGrant {
        precondition(grant.keyID == keyID, "a grant must name the key that signs it")
        return grant.signed(Base64URL.encode(try key.signature(for: grant.canonicalJSON)))
    }
}

extension GrantVerifier {
    /// Checks that `grant` was signed by this key, is unexpired, and covers
    /// exactly `items`, in order. Single use is the caller's job.
    /// - Parameters:
    ///   - grant: the batch grant presented.
    ///   - items: the batch about to be executed.
    ///   - now: the current time.
    /// - Throws: ``RPCError`` PERMISSION_DENIED: GRANT_KEY_UNKNOWN, GRANT_SIGNATURE_INVALID,
    ///   GRANT_MALFORMED, GRANT_EXPIRED or GRANT_BATCH_MISMATCH.
    public func verify(_ grant: BatchGrant, covers items: [BatchItem], now: Date = Date()) throws {
        try checkSignature(keyID: grant.keyID, signature: grant.signature, content: grant.canonicalJSON)
        try checkExpiry(grant.expiresAt, now: now)
        guard grant.batch.count == items.count else {
            throw Self.mismatch("the batch grant covers \(grant.batch.count) transfers; this batch holds \(items.count)")
        }
        guard items.allSatisfy({ $0.action.currency == grant.batch.currency }) else {
            throw Self.mismatch("the batch grant covers transfers in \(grant.batch.currency) only")
        }
        let actual = BatchSummary(of: items)
        guard actual.total == grant.batch.total else {
            throw Self.mismatch("the batch grant covers a total of \(grant.batch.total) \(grant.batch.currency); this batch moves \(actual.total)")
        }
        guard actual.digest == grant.batch.digest else {
            throw Self.mismatch("this batch differs from the approved one (a transfer, key or their order changed): its digest is \(actual.digest), the grant's \(grant.batch.digest)")
        }
    }

    private static func mismatch(_ message: String) -> RPCError {
        RPCError(.permissionDenied, reason: "GRANT_BATCH_MISMATCH", message)
    }
}
