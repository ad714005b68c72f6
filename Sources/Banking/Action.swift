/// A mutating action: what an approval decides and a grant binds, exactly.
public struct Action: Sendable, Hashable, Codable {
    /// What kind of movement.
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case deposit
        case transfer
    }

    /// Deposit or transfer.
    public let kind: Kind
    /// The paying account; absent for deposits (they come from outside the bank).
    public let from: String?
    /// The receiving account.
    public let to: String
    /// How much.
    public let amount: Amount
    /// ISO 4217 code; `USD` is the only currency the default books hold.
    public let currency: String
    /// What it is for ("rent"), as the journal records it: part of what is approved and
    /// signed, so nobody can add or change it after the decision.
    public let memo: String?

    /// The longest memo: a line on a statement, not a document.
    public static let maximumMemoLength = 140

    /// - Parameters:
    ///   - kind: deposit or transfer.
    ///   - from: the paying account (transfers only).
    ///   - to: the receiving account.
    ///   - amount: how much.
    ///   - currency: ISO 4217 code.
    ///   - memo: what it is for (nil: nothing said).
    public init(kind: Kind, from: String?, to: String, amount: Amount, currency: String = "USD", memo: String? = nil) {
        self.kind = kind
        self.from = from
        self.to = to
        self.amount = amount
        self.currency = currency
        self.memo = memo
    }

    /// The account whose limits the action counts against: a transfer's payer, a deposit's receiver.
    public var account: String { from ?? to }

    /// The same action with another amount, payee or memo: what an approver may change.
    /// - Parameters: see ``init(kind:from:to:amount:currency:memo:)``.
    public func edited(to: String? = nil, amount: Amount? = nil, memo: String?? = nil) -> Action {
        Action(kind: kind, from: from, to: to ?? self.to, amount: amount ?? self.amount, currency: currency, memo: memo ?? self.memo)
    }

    /// Writes the action's canonical JSON (members sorted; `from` and `memo` only when
    /// present), as `JSONEncoder` with sorted keys would.
    /// - Parameter json: the writer.
    public func writeCanonical(into json: inout CanonicalJSON) {
        json.beginObject()
        json.key("amount")
        json.string(amount.description)
        json.key("currency")
        json.string(currency)
        if let from {
            json.key("from")
            json.string(from)
        }
        json.key("kind")
        json.string(kind.rawValue)
        if let memo {
            json.key("memo")
            json.string(memo)
        }
        json.key("to")
        json.string(to)
        json.endObject()
    }

    /// Checks the shape a grant may bind: a transfer has a distinct payer; a
    /// deposit has none; account names and currency are well formed.
    /// - Throws: ``GrantFormatError`` naming the field.
    public func validate() throws {
        switch kind {
        case .transfer:
            guard let from else { throw GrantFormatError(field: "action.from", "a transfer needs a paying account") }
            try AccountName.validate(from, field: "action.from")
            guard from != to else { throw GrantFormatError(field: "action.to", "a transfer needs two different accounts") }
        case .deposit:
            guard from == nil else { throw GrantFormatError(field: "action.from", "a deposit has no paying account") }
        }
        try AccountName.validate(to, field: "action.to")
        guard amount.minorUnits > 0 else { throw GrantFormatError(field: "action.amount", "must be more than zero") }
        guard currency.count == 3, currency.utf8.allSatisfy({ (65...90).contains($0) }) else {
            throw GrantFormatError(field: "action.currency", "must be a three-letter ISO 4217 code such as USD")
        }
        if let memo, let problem = Self.memoProblem(memo) { throw GrantFormatError(field: "action.memo", problem) }
    }

    /// What is wrong with a memo, or nil: 1 to ``maximumMemoLength`` bytes of UTF-8 (as
    /// the ledger counts them, so a memo approved is one the books take), one line.
    public static func memoProblem(_ memo: String) -> String? {
        guard !memo.isEmpty, memo.utf8.count <= maximumMemoLength else {
            return "must be 1 to \(maximumMemoLength) bytes of UTF-8 (leave it out to say nothing)"
        }
        guard !memo.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return "must be one line of text without control characters"
        }
        return nil
    }
}

/// Account names: lowercase letters, digits, `_` and `-`, 1 to 64 characters,
/// starting with a letter (`checking`, `alice`).
public enum AccountName {
    /// Checks an account name.
    /// - Parameters:
    ///   - name: the name.
    ///   - field: the params field, for the error.
    /// - Throws: ``GrantFormatError``.
    public static func validate(_ name: String, field: String) throws {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count), (97...122).contains(bytes[0]),
              bytes.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || $0 == 95 || $0 == 45 })
        else {
            throw GrantFormatError(field: field, "'\(name.prefix(64))' is not an account name (lowercase letters, digits, '_' or '-', starting with a letter)")
        }
    }
}
