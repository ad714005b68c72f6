import Banking
import Crypto
import Foundation
import RPC

/// A validated money movement: what a deposit, transfer or batch element asks for.
struct MovementRequest: Sendable {
    /// `deposit` or `transfer`; the idempotency scope too.
    let kind: Action.Kind
    /// The payer: `external` for deposits.
    let from: String
    let to: String
    let amount: Amount
    let currency: String
    let memo: String?
    let idempotencyKey: String
    /// The element's own grant; nil for an element of a batch under a batch grant.
    let grant: Grant?
    /// The grant consumed when this movement is applied: its own, or the batch grant's.
    let grantID: String
    /// The approval that grant decides.
    let approvalID: String
    /// SHA-256 of the canonical request without its grant, computed once, off the writer.
    let fingerprint: [UInt8]

    init(kind: Action.Kind, from: String, to: String, amount: Amount, currency: String, memo: String?,
         idempotencyKey: String, grant: Grant?, use: GrantUse) {
        self.kind = kind
        self.from = from
        self.to = to
        self.amount = amount
        self.currency = currency
        self.memo = memo
        self.idempotencyKey = idempotencyKey
        self.grant = grant
        grantID = use.grantID
        approvalID = use.approvalID
        fingerprint = Fingerprint.canonical([("amount", amount.description), ("currency", currency), ("from", from),
                                             ("kind", kind.rawValue), ("memo", memo ?? ""), ("to", to)])
    }

    /// What single use consumes.
    var use: GrantUse { GrantUse(grantID: grantID, approvalID: approvalID) }

    /// What the grant must permit, member for member (the memo included).
    var action: Action {
        Action(kind: kind, from: kind == .deposit ? nil : from, to: to, amount: amount, currency: currency, memo: memo)
    }

    /// What a batch grant must cover for this element.
    var batchItem: BatchItem { BatchItem(action: action, idempotencyKey: idempotencyKey) }

}

/// A validated `ledger.hold`.
struct HoldRequest: Sendable {
    let from: String
    let to: String
    let amount: Amount
    let currency: String
    let memo: String?
    let idempotencyKey: String
    let expiresAt: Int64

    /// A hold without a memo keeps the fingerprint it had before holds carried one.
    var fingerprint: [UInt8] {
        var fields: [(key: StaticString, value: String)] = [
            ("amount", amount.description), ("currency", currency), ("expires_at", String(expiresAt)), ("from", from),
            ("kind", "hold"),
        ]
        if let memo { fields.append(("memo", memo)) }
        fields.append(("to", to))
        return Fingerprint.canonical(fields)
    }
}

/// Request fingerprints: SHA-256 of the fields as sorted-key JSON. Stored with
/// every idempotency key, so the bytes must never change.
enum Fingerprint {
    /// The fingerprint of `fields`, given in key order: the same bytes as ``of(_:)``
    /// (the tests hold them equal), written by hand since every movement needs one.
    static func canonical(_ fields: [(key: StaticString, value: String)]) -> [UInt8] {
        var json = CanonicalJSON(capacity: 192)
        json.beginObject()
        for (key, value) in fields {
            json.key(key)
            json.string(value)
        }
        json.endObject()
        return Array(SHA256.hash(data: json.bytes))
    }

    /// The reference definition, through `JSONEncoder` with sorted keys.
    static func of(_ fields: [String: String]) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a dictionary of strings cannot fail.
        let bytes = (try? encoder.encode(fields)) ?? Data()
        return Array(SHA256.hash(data: bytes))
    }
}

/// Turns wire params into validated requests, naming the field on every failure.
enum Validate {
    static func account(_ name: String, field: String) throws -> String {
        try AccountName.validate(name, field: field)
        return name
    }

    static func currency(_ code: String?, field: String) throws -> String {
        let code = code ?? "USD"
        guard LedgerLimits.currencies.contains(code) else {
            throw RPCError.invalidParams(field: field, "'\(code.prefix(8))' is not a currency these books hold (\(LedgerLimits.currencies.sorted().joined(separator: ", ")))")
        }
        return code
    }

    static func idempotencyKey(_ key: String, field: String) throws -> String {
        guard (1...LedgerLimits.maximumIdempotencyKeyLength).contains(key.utf8.count) else {
            throw RPCError.invalidParams(field: field, "must be 1 to \(LedgerLimits.maximumIdempotencyKeyLength) bytes")
        }
        return key
    }

    static func text(_ text: String?, field: String, limit: Int, required: Bool = false) throws -> String? {
        guard let text else {
            if required { throw RPCError.invalidParams(field: field, "is required", reason: "MISSING_FIELD") }
            return nil
        }
        guard text.utf8.count <= limit, !(required && text.isEmpty) else {
            throw RPCError.invalidParams(field: field, required ? "must be 1 to \(limit) bytes" : "must be at most \(limit) bytes")
        }
        return text
    }

    static func limit(_ limit: Int?, default defaultLimit: Int, maximum: Int) throws -> Int {
        guard let limit else { return defaultLimit }
        guard (1...maximum).contains(limit) else { throw RPCError.invalidParams(field: "limit", "must be 1 to \(maximum)") }
        return limit
    }

    static func grant(_ grant: Grant?) throws -> Grant {
        guard let grant else { throw LedgerError.grantMissing }
        return grant
    }

    /// A deposit: from `external` to a customer account.
    static func deposit(_ params: DepositParams) throws -> MovementRequest {
        let to = try account(params.account, field: "account")
        guard to != Ledger.externalAccount else { throw LedgerError.externalAccount(field: "account") }
        let amount = try Amount.positive(params.amount, field: "amount")
        let code = try currency(params.currency, field: "currency")
        let memo = try text(params.memo, field: "memo", limit: LedgerLimits.maximumMemoLength)
        let key = try idempotencyKey(params.idempotencyKey, field: "idempotency_key")
        let own = try grant(params.grant)
        return MovementRequest(
            kind: .deposit, from: Ledger.externalAccount, to: to, amount: amount, currency: code, memo: memo,
            idempotencyKey: key, grant: own, use: own.use)
    }

    /// A transfer between two customer accounts; `prefix` names batch elements (`transfers[3].`);
    /// `batchGrant` is set for an element of a batch under a batch grant (it carries no grant of its own).
    static func transfer(_ params: TransferParams, prefix: String = "", batchGrant: GrantUse? = nil) throws -> MovementRequest {
        let from = try account(params.from, field: prefix + "from")
        let to = try account(params.to, field: prefix + "to")
        guard from != Ledger.externalAccount else { throw LedgerError.externalAccount(field: prefix + "from") }
        guard to != Ledger.externalAccount else { throw LedgerError.externalAccount(field: prefix + "to") }
        guard from != to else { throw RPCError.invalidParams(field: prefix + "to", "must differ from 'from'") }
        let amount = try Amount.positive(params.amount, field: prefix + "amount")
        let code = try currency(params.currency, field: prefix + "currency")
        let memo = try text(params.memo, field: prefix + "memo", limit: LedgerLimits.maximumMemoLength)
        let key = try idempotencyKey(params.idempotencyKey, field: prefix + "idempotency_key")
        let own = batchGrant == nil ? try grant(params.grant) : nil
        return MovementRequest(
            kind: .transfer, from: from, to: to, amount: amount, currency: code, memo: memo, idempotencyKey: key,
            grant: own, use: own?.use ?? batchGrant ?? GrantUse(grantID: "", approvalID: ""))
    }

    static func hold(_ params: HoldParams, now: Date) throws -> HoldRequest {
        let from = try account(params.from, field: "from")
        let to = try account(params.to, field: "to")
        guard from != Ledger.externalAccount else { throw LedgerError.externalAccount(field: "from") }
        guard to != Ledger.externalAccount else { throw LedgerError.externalAccount(field: "to") }
        guard from != to else { throw RPCError.invalidParams(field: "to", "must differ from 'from'") }
        guard let expiry = GrantTime.parse(params.expiresAt) else {
            throw RPCError.invalidParams(field: "expires_at", "must be an RFC 3339 UTC time such as 2026-01-02T15:04:05Z")
        }
        let expiresAt = LedgerTime.milliseconds(expiry)
        let nowMs = LedgerTime.milliseconds(now)
        guard expiresAt > nowMs else { throw RPCError.invalidParams(field: "expires_at", "must be in the future") }
        guard expiresAt - nowMs <= LedgerLimits.maximumHoldSeconds * 1000 else {
            throw RPCError.invalidParams(field: "expires_at", "must be at most \(LedgerLimits.maximumHoldSeconds / 86400) days ahead")
        }
        return HoldRequest(
            from: from, to: to, amount: try Amount.positive(params.amount, field: "amount"),
            currency: try currency(params.currency, field: "currency"),
            memo: try text(params.memo, field: "memo", limit: LedgerLimits.maximumMemoLength),
            idempotencyKey: try idempotencyKey(params.idempotencyKey, field: "idempotency_key"), expiresAt: expiresAt)
    }
}

extension Grant {
    /// What the ledger consumes when this grant executes.
    var use: GrantUse { GrantUse(grantID: grantID, approvalID: approvalID) }
}

extension BatchGrant {
    /// What the ledger consumes when this batch grant executes.
    var use: GrantUse { GrantUse(grantID: grantID, approvalID: approvalID) }
}
