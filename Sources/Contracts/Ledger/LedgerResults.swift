/// An account as `ledger.open_account` reports it.
public struct AccountResult: Codable, Sendable, Equatable {
    public let account: String
    public let displayName: String
    public let currency: String
    public let openingBalance: String
    public let openedAt: String

    enum CodingKeys: String, CodingKey {
        case account, currency
        case displayName = "display_name"
        case openingBalance = "opening_balance"
        case openedAt = "opened_at"
    }

    /// - Parameters: the wire fields.
    public init(account: String, displayName: String, currency: String, openingBalance: String, openedAt: String) {
        self.account = account
        self.displayName = displayName
        self.currency = currency
        self.openingBalance = openingBalance
        self.openedAt = openedAt
    }
}

/// `ledger.balance`, and one row of `ledger.accounts`.
public struct BalanceResult: Codable, Sendable, Equatable {
    public let account: String
    public let displayName: String
    public let kind: String
    public let currency: String
    /// Everything posted to the account (may be negative only for `external`).
    public let posted: String
    /// Reserved by pending, unexpired holds.
    public let held: String
    /// `posted - held`: what a transfer or hold may still take.
    public let available: String

    enum CodingKeys: String, CodingKey {
        case account, kind, currency, posted, held, available
        case displayName = "display_name"
    }

    /// - Parameters: the wire fields.
    public init(account: String, displayName: String, kind: String, currency: String, posted: String, held: String, available: String) {
        self.account = account
        self.displayName = displayName
        self.kind = kind
        self.currency = currency
        self.posted = posted
        self.held = held
        self.available = available
    }
}

/// `ledger.accounts`.
public struct AccountsResult: Codable, Sendable, Equatable {
    public let accounts: [BalanceResult]
    /// Pass as `cursor` for the next page; absent on the last page.
    public let nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case accounts
        case nextCursor = "next_cursor"
    }

    /// - Parameters: the wire fields.
    public init(accounts: [BalanceResult], nextCursor: String? = nil) {
        self.accounts = accounts
        self.nextCursor = nextCursor
    }
}

/// A journal entry that moved money: `ledger.deposit`, `ledger.transfer`, and
/// each successful element of `ledger.transfer_batch`.
public struct EntryResult: Codable, Sendable, Equatable {
    public let entryID: Int64
    public let kind: String
    public let from: String
    public let to: String
    public let amount: String
    public let currency: String
    public let memo: String?
    public let idempotencyKey: String
    public let grantID: String
    public let createdAt: String

    enum CodingKeys: String, CodingKey {
        case kind, from, to, amount, currency, memo
        case entryID = "entry_id"
        case idempotencyKey = "idempotency_key"
        case grantID = "grant_id"
        case createdAt = "created_at"
    }

    /// - Parameters: the wire fields.
    public init(entryID: Int64, kind: String, from: String, to: String, amount: String, currency: String, memo: String? = nil, idempotencyKey: String, grantID: String, createdAt: String) {
        self.entryID = entryID
        self.kind = kind
        self.from = from
        self.to = to
        self.amount = amount
        self.currency = currency
        self.memo = memo
        self.idempotencyKey = idempotencyKey
        self.grantID = grantID
        self.createdAt = createdAt
    }
}

/// A hold: `ledger.hold`, `ledger.post`, `ledger.void`.
public struct HoldResult: Codable, Sendable, Equatable {
    public let holdID: String
    /// `pending`, `posted`, `voided` or `expired`.
    public let state: String
    public let from: String
    public let to: String
    public let amount: String
    public let currency: String
    /// The transfer's memo, when it has one.
    public let memo: String?
    public let idempotencyKey: String
    public let expiresAt: String
    public let createdAt: String
    /// Set once posted.
    public let entryID: Int64?
    public let grantID: String?
    /// Set once voided.
    public let voidReason: String?
    /// When it was posted, voided or expired.
    public let resolvedAt: String?

    enum CodingKeys: String, CodingKey {
        case state, from, to, amount, currency, memo
        case holdID = "hold_id"
        case idempotencyKey = "idempotency_key"
        case expiresAt = "expires_at"
        case createdAt = "created_at"
        case entryID = "entry_id"
        case grantID = "grant_id"
        case voidReason = "void_reason"
        case resolvedAt = "resolved_at"
    }

    /// - Parameters: the wire fields.
    public init(holdID: String, state: String, from: String, to: String, amount: String, currency: String, memo: String? = nil, idempotencyKey: String, expiresAt: String, createdAt: String, entryID: Int64? = nil, grantID: String? = nil, voidReason: String? = nil, resolvedAt: String? = nil) {
        self.holdID = holdID
        self.state = state
        self.from = from
        self.to = to
        self.amount = amount
        self.currency = currency
        self.memo = memo
        self.idempotencyKey = idempotencyKey
        self.expiresAt = expiresAt
        self.createdAt = createdAt
        self.entryID = entryID
        self.grantID = grantID
        self.voidReason = voidReason
        self.resolvedAt = resolvedAt
    }
}

/// One line of `ledger.statement`: this account's side of an entry.
public struct StatementLine: Codable, Sendable, Equatable {
    public let postingID: Int64
    public let entryID: Int64
    public let kind: String
    /// Signed: negative when money left the account.
    public let amount: String
    public let currency: String
    /// The other account of the entry.
    public let counterparty: String
    /// This account's posted balance right after the entry.
    public let balanceAfter: String
    public let memo: String?
    public let holdID: String?
    /// The key of the call that moved the money (a hold's own key for a posted hold);
    /// none for opening balances.
    public let idempotencyKey: String?
    /// The grant that allowed it; none for opening balances.
    public let grantID: String?
    public let createdAt: String

    enum CodingKeys: String, CodingKey {
        case kind, amount, currency, counterparty, memo
        case postingID = "posting_id"
        case entryID = "entry_id"
        case balanceAfter = "balance_after"
        case holdID = "hold_id"
        case idempotencyKey = "idempotency_key"
        case grantID = "grant_id"
        case createdAt = "created_at"
    }

    /// - Parameters: the wire fields.
    public init(postingID: Int64, entryID: Int64, kind: String, amount: String, currency: String, counterparty: String, balanceAfter: String, memo: String? = nil, holdID: String? = nil, idempotencyKey: String? = nil, grantID: String? = nil, createdAt: String) {
        self.postingID = postingID
        self.entryID = entryID
        self.kind = kind
        self.amount = amount
        self.currency = currency
        self.counterparty = counterparty
        self.balanceAfter = balanceAfter
        self.memo = memo
        self.holdID = holdID
        self.idempotencyKey = idempotencyKey
        self.grantID = grantID
        self.createdAt = createdAt
    }
}

/// `ledger.statement`: newest first.
public struct StatementResult: Codable, Sendable, Equatable {
    public let account: String
    public let entries: [StatementLine]
    public let nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case account, entries
        case nextCursor = "next_cursor"
    }

    /// - Parameters: the wire fields.
    public init(account: String, entries: [StatementLine], nextCursor: String? = nil) {
        self.account = account
        self.entries = entries
        self.nextCursor = nextCursor
    }
}

/// The outcome of one `ledger.transfer_batch` element: a result or an error.
public struct BatchItemResult: Codable, Sendable, Equatable {
    public let index: Int
    public let result: EntryResult?
    public let error: BatchItemError?

    /// - Parameters: the wire fields.
    public init(index: Int, result: EntryResult? = nil, error: BatchItemError? = nil) {
        self.index = index
        self.result = result
        self.error = error
    }
}

/// Why one batch element failed: the same status and reason the single call would give.
public struct BatchItemError: Codable, Sendable, Equatable {
    public let code: Int
    public let status: String
    public let reason: String
    public let message: String
    public let field: String?

    /// - Parameters: the wire fields.
    public init(code: Int, status: String, reason: String, message: String, field: String? = nil) {
        self.code = code
        self.status = status
        self.reason = reason
        self.message = message
        self.field = field
    }
}

/// `ledger.transfer_batch`.
public struct TransferBatchResult: Codable, Sendable, Equatable {
    public let results: [BatchItemResult]
    public let applied: Int
    public let failed: Int

    /// - Parameters: the wire fields.
    public init(results: [BatchItemResult], applied: Int, failed: Int) {
        self.results = results
        self.applied = applied
        self.failed = failed
    }
}

/// `ledger.verify`: the proof that the books balance.
public struct VerifyResult: Codable, Sendable, Equatable {
    /// True when every check passed.
    public let balanced: Bool
    /// What failed, for people (empty when balanced).
    public let problems: [String]
    public let accounts: Int64
    public let entries: Int64
    public let postings: Int64
    /// Sum of every posting: must be zero.
    public let postingsTotal: String
    /// Sum of customer balances, and of the external account(s): they cancel out.
    public let customerTotal: String
    public let externalTotal: String
    /// Funds reserved by pending holds.
    public let heldTotal: String
    public let pendingHolds: Int64

    enum CodingKeys: String, CodingKey {
        case balanced, problems, accounts, entries, postings
        case postingsTotal = "postings_total"
        case customerTotal = "customer_total"
        case externalTotal = "external_total"
        case heldTotal = "held_total"
        case pendingHolds = "pending_holds"
    }

    /// - Parameters: the wire fields.
    public init(balanced: Bool, problems: [String], accounts: Int64, entries: Int64, postings: Int64, postingsTotal: String, customerTotal: String, externalTotal: String, heldTotal: String, pendingHolds: Int64) {
        self.balanced = balanced
        self.problems = problems
        self.accounts = accounts
        self.entries = entries
        self.postings = postings
        self.postingsTotal = postingsTotal
        self.customerTotal = customerTotal
        self.externalTotal = externalTotal
        self.heldTotal = heldTotal
        self.pendingHolds = pendingHolds
    }
}
