import RPC

/// The ledger's errors: each a gRPC status and a stable reason, as documented
/// in `Protocols/ledger.openrpc.json`.
public enum LedgerError {
    /// NOT_FOUND/ACCOUNT_NOT_FOUND.
    static func accountNotFound(_ account: String, field: String) -> RPCError {
        RPCError(.notFound, reason: "ACCOUNT_NOT_FOUND", "no account '\(account)'; open it first with ledger.open_account",
                 details: ["field": .string(field), "account": .string(account)])
    }

    /// ALREADY_EXISTS/ACCOUNT_EXISTS.
    static func accountExists(_ account: String) -> RPCError {
        RPCError(.alreadyExists, reason: "ACCOUNT_EXISTS",
                 "account '\(account)' already exists with different details", details: ["account": .string(account)])
    }

    /// FAILED_PRECONDITION/INSUFFICIENT_FUNDS.
    static func insufficientFunds(_ account: String, available: Int64, wanted: Int64) -> RPCError {
        RPCError(.failedPrecondition, reason: "INSUFFICIENT_FUNDS",
                 "'\(account)' has \(Money.format(available)) available (held funds excluded), not \(Money.format(wanted))",
                 details: ["account": .string(account), "available": .string(Money.format(available))])
    }

    /// FAILED_PRECONDITION/CURRENCY_MISMATCH.
    static func currencyMismatch(_ account: String, has: String, wanted: String) -> RPCError {
        RPCError(.failedPrecondition, reason: "CURRENCY_MISMATCH", "'\(account)' holds \(has), not \(wanted)",
                 details: ["account": .string(account)])
    }

    /// ALREADY_EXISTS/IDEMPOTENCY_KEY_REUSED.
    static func keyReused(_ key: String) -> RPCError {
        RPCError(.alreadyExists, reason: "IDEMPOTENCY_KEY_REUSED",
                 "idempotency key '\(key.prefix(64))' was already used for a different request; use a new key for a new request",
                 details: ["field": .string("idempotency_key")])
    }

    /// PERMISSION_DENIED/GRANT_MISSING.
    static let grantMissing = RPCError(.permissionDenied, reason: "GRANT_MISSING",
        "this call moves money and needs a grant from approval-svc in params.grant", details: ["field": .string("grant")])

    /// PERMISSION_DENIED/GRANT_ALREADY_USED.
    static func grantUsed(_ use: GrantUse, earlier: String) -> RPCError {
        let message = earlier == use.grantID
            ? "grant \(use.grantID.prefix(80)) was already used; a grant executes exactly once"
            : "approval \(use.approvalID.prefix(80)) was already executed (under grant \(earlier.prefix(80))); an approval executes exactly once"
        return RPCError(.permissionDenied, reason: "GRANT_ALREADY_USED", message, details: ["field": .string("grant.grant_id")])
    }

    /// NOT_FOUND/HOLD_NOT_FOUND.
    static func holdNotFound(_ holdID: String) -> RPCError {
        RPCError(.notFound, reason: "HOLD_NOT_FOUND", "no hold '\(holdID.prefix(64))'", details: ["field": .string("hold_id")])
    }

    /// FAILED_PRECONDITION/HOLD_EXPIRED, HOLD_VOIDED, HOLD_ALREADY_POSTED.
    static func holdClosed(_ holdID: String, state: HoldState) -> RPCError {
        switch state {
        case .expired:
            RPCError(.failedPrecondition, reason: "HOLD_EXPIRED", "hold \(holdID) expired and its funds were released; place a new hold")
        case .voided:
            RPCError(.failedPrecondition, reason: "HOLD_VOIDED", "hold \(holdID) was voided; its funds were released")
        case .posted:
            RPCError(.failedPrecondition, reason: "HOLD_ALREADY_POSTED", "hold \(holdID) was already posted; it executes at most once")
        case .pending:
            RPCError.internalError()
        }
    }

    /// INVALID_ARGUMENT/EXTERNAL_ACCOUNT: the equity account cannot pay a transfer or receive one it funds.
    static func externalAccount(field: String) -> RPCError {
        RPCError.invalidParams(field: field,
            "'external' is the bank's equity account; money comes from it only through ledger.deposit",
            reason: "EXTERNAL_ACCOUNT")
    }

    /// ABORTED/LINKED_EVENT_FAILED: a batch element not applied because another in its chain failed.
    static func linkedFailed(index: Int) -> RPCError {
        RPCError(.aborted, reason: "LINKED_EVENT_FAILED",
                 "not applied: element \(index) of the same linked chain failed, so the whole chain was rolled back")
    }
}
