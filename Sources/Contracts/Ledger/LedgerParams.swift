import Banking

/// `ledger.open_account` params.
public struct OpenAccountParams: Codable, Sendable {
    public var account: String
    public var displayName: String?
    public var openingBalance: String?
    public var currency: String?

    /// - Parameters: the wire fields.
    public init(account: String, displayName: String? = nil, openingBalance: String? = nil, currency: String? = nil) {
        self.account = account
        self.displayName = displayName
        self.openingBalance = openingBalance
        self.currency = currency
    }

    enum CodingKeys: String, CodingKey {
        case account, currency
        case displayName = "display_name"
        case openingBalance = "opening_balance"
    }
}

/// `ledger.balance` params.
public struct AccountParams: Codable, Sendable {
    public var account: String
    /// - Parameter account: the account name.
    public init(account: String) { self.account = account }
}

/// `ledger.accounts` params.
public struct AccountsParams: Codable, Sendable {
    public var cursor: String?
    public var limit: Int?
    /// - Parameters: an opaque cursor from a previous page, and the page size.
    public init(cursor: String? = nil, limit: Int? = nil) {
        self.cursor = cursor
        self.limit = limit
    }
}

/// `ledger.statement` params.
public struct StatementParams: Codable, Sendable {
    public var account: String
    public var cursor: String?
    public var limit: Int?
    /// - Parameters: the account, an opaque cursor, and the page size.
    public init(account: String, cursor: String? = nil, limit: Int? = nil) {
        self.account = account
        self.cursor = cursor
        self.limit = limit
    }
}

/// `ledger.deposit` params.
public struct DepositParams: Codable, Sendable {
    public var account: String
    public var amount: String
    public var currency: String?
    public var memo: String?
    public var idempotencyKey: String
    public var grant: Grant?

    /// - Parameters: the wire fields.
    public init(account: String, amount: String, currency: String? = nil, memo: String? = nil, idempotencyKey: String, grant: Grant?) {
        self.account = account
        self.amount = amount
        self.currency = currency
        self.memo = memo
        self.idempotencyKey = idempotencyKey
        self.grant = grant
    }

    enum CodingKeys: String, CodingKey {
        case account, amount, currency, memo, grant
        case idempotencyKey = "idempotency_key"
    }
}

/// `ledger.transfer` params, and one element of `ledger.transfer_batch`.
public struct TransferParams: Codable, Sendable {
    public var from: String
    public var to: String
    public var amount: String
    public var currency: String?
    public var memo: String?
    public var idempotencyKey: String
    public var grant: Grant?
    /// Batch only: this element succeeds or fails together with the next one.
    public var linked: Bool?

    /// - Parameters: the wire fields.
    public init(
        from: String, to: String, amount: String, currency: String? = nil, memo: String? = nil,
        idempotencyKey: String, grant: Grant?, linked: Bool? = nil
    ) {
        self.from = from
        self.to = to
        self.amount = amount
        self.currency = currency
        self.memo = memo
        self.idempotencyKey = idempotencyKey
        self.grant = grant
        self.linked = linked
    }

    enum CodingKeys: String, CodingKey {
        case from, to, amount, currency, memo, grant, linked
        case idempotencyKey = "idempotency_key"
    }
}

/// `ledger.transfer_batch` params.
public struct TransferBatchParams: Codable, Sendable {
    public var transfers: [TransferParams]
    /// A grant over the whole batch (its elements then carry none).
    public var grant: BatchGrant?
    /// - Parameters:
    ///   - transfers: the elements, applied in order.
    ///   - grant: a batch grant covering exactly these transfers, or nil when each carries its own.
    public init(transfers: [TransferParams], grant: BatchGrant? = nil) {
        self.transfers = transfers
        self.grant = grant
    }
}

/// `ledger.hold` params.
public struct HoldParams: Codable, Sendable {
    public var from: String
    public var to: String
    public var amount: String
    public var currency: String?
    /// The transfer's memo: posting the hold needs a grant for exactly this memo.
    public var memo: String?
    public var idempotencyKey: String
    public var expiresAt: String

    /// - Parameters: the wire fields (`expires_at` is RFC 3339 UTC, whole seconds).
    public init(
        from: String, to: String, amount: String, currency: String? = nil, memo: String? = nil, idempotencyKey: String,
        expiresAt: String
    ) {
        self.from = from
        self.to = to
        self.amount = amount
        self.currency = currency
        self.memo = memo
        self.idempotencyKey = idempotencyKey
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case from, to, amount, currency, memo
        case idempotencyKey = "idempotency_key"
        case expiresAt = "expires_at"
    }
}

/// `ledger.post` params.
public struct PostParams: Codable, Sendable {
    public var holdID: String
    public var grant: Grant?
    /// - Parameters: the hold and the grant that approves it.
    public init(holdID: String, grant: Grant?) {
        self.holdID = holdID
        self.grant = grant
    }

    enum CodingKeys: String, CodingKey {
        case grant
        case holdID = "hold_id"
    }
}

/// `ledger.void` params.
public struct VoidParams: Codable, Sendable {
    public var holdID: String
    public var reason: String
    /// - Parameters: the hold and why it is released.
    public init(holdID: String, reason: String) {
        self.holdID = holdID
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case reason
        case holdID = "hold_id"
    }
}
