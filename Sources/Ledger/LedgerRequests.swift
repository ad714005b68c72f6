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
    let grant: Grant

    /// What the grant must permit, member for member.
    var action: Action {
        Action(kind: kind, from: kind == .deposit ? nil : from, to: to, amount: amount, currency: currency)
    }

    /// SHA-256 of the canonical request without its grant.
    var fingerprint: [UInt8] {
        Fingerprint.of(["kind": kind.rawValue, "from": from, "to": to, "amount": amount.description,
                        "currency": currency, "memo": memo ?? ""])
    }
}

/// A validated `ledger.hold`.
struct HoldRequest: Sendable {
    let from: String
    let to: String
    let amount: Amount
    let currency: String
    let idempotencyKey: String
    let expiresAt: Int64

    var fingerprint: [UInt8] {
        Fingerprint.of(["kind": "hold", "from": from, "to": to, "amount": amount.description,
                        "currency": currency, "expires_at": String(expiresAt)])
    }
}

/// Request fingerprints: SHA-256 of the fields as sorted-key JSON.
enum Fingerprint {
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
        return MovementRequest(
            kind: .deposit, from: Ledger.externalAccount, to: to,
            amount: try Amount.positive(params.amount, field: "amount"),
            currency: try currency(params.currency, field: "currency"),
            memo: try text(params.memo, field: "memo", limit: LedgerLimits.maximumMemoLength),
            idempotencyKey: try idempotencyKey(params.idempotencyKey, field: "idempotency_key"),
            grant: try grant(params.grant))
    }

    /// A transfer between two customer accounts; `prefix` names batch elements (`transfers[3].`).
    static func transfer(_ params: TransferParams, prefix: String = "") throws -> MovementRequest {
        let from = try account(params.from, field: prefix + "from")
        let to = try account(params.to, field: prefix + "to")
        guard from != Ledger.externalAccount else { throw LedgerError.externalAccount(field: prefix + "from") }
        guard to != Ledger.externalAccount else { throw LedgerError.externalAccount(field: prefix + "to") }
        guard from != to else { throw RPCError.invalidParams(field: prefix + "to", "must differ from 'from'") }
        return MovementRequest(
            kind: .transfer, from: from, to: to,
            amount: try Amount.positive(params.amount, field: prefix + "amount"),
            currency: try currency(params.currency, field: prefix + "currency"),
            memo: try text(params.memo, field: prefix + "memo", limit: LedgerLimits.maximumMemoLength),
            idempotencyKey: try idempotencyKey(params.idempotencyKey, field: prefix + "idempotency_key"),
            grant: try grant(params.grant))
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
            idempotencyKey: try idempotencyKey(params.idempotencyKey, field: "idempotency_key"), expiresAt: expiresAt)
    }
}
