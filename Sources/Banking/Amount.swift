import Wire

/// An exact amount of money in minor units (cents). Never a binary float.
///
/// On the wire an amount is a decimal string with at most two fraction digits
/// (`"150"`, `"150.5"`, `"150.00"`); ``description`` always writes two
/// (`"150.00"`), which is the canonical form grants sign.
public struct Amount: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Minor units (cents for USD).
    public let minorUnits: Int64

    /// The largest amount one movement may carry: $1,000,000,000.00. Far above any
    /// real transfer here, and far below Int64 overflow even when many are summed.
    public static let maximum = Amount(unchecked: 100_000_000_000)

    /// - Parameter minorUnits: cents; must be in `0...maximum`.
    public init?(minorUnits: Int64) {
        guard minorUnits >= 0, minorUnits <= Self.maximum.minorUnits else { return nil }
        self.minorUnits = minorUnits
    }

    private init(unchecked minorUnits: Int64) { self.minorUnits = minorUnits }

    /// Zero, for balances.
    public static let zero = Amount(unchecked: 0)

    /// Parses a wire amount strictly: digits, an optional point with one or two
    /// digits; no sign, exponent, separators, spaces, or leading zeros.
    /// - Parameter text: e.g. `"150.00"`.
    /// - Throws: ``AmountError`` saying what is wrong.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let whole = parts[0]
        let fraction = parts.count == 2 ? parts[1] : ""
        guard !whole.isEmpty, whole.utf8.allSatisfy({ (48...57).contains($0) }) else {
            throw AmountError.notDecimal(text)
        }
        guard parts.count == 1 || (!fraction.isEmpty && fraction.utf8.allSatisfy { (48...57).contains($0) }) else {
            throw AmountError.notDecimal(text)
        }
        guard fraction.utf8.count <= 2 else { throw AmountError.tooPrecise(text) }
        guard whole.count == 1 || whole.first != "0" else { throw AmountError.notDecimal(text) }
        guard whole.utf8.count <= 10, let units = Int64(whole) else { throw AmountError.tooLarge(text) }
        let cents = Int64(fraction.padding(toLength: 2, withPad: "0", startingAt: 0)) ?? 0
        let total = units * 100 + cents
        guard total <= Self.maximum.minorUnits else { throw AmountError.tooLarge(text) }
        self.minorUnits = total
    }

    /// Parses an amount a movement may carry: valid and above zero.
    /// - Parameters:
    ///   - text: the wire amount.
    ///   - field: the params field, for the error.
    /// - Throws: ``RPCError`` INVALID_ARGUMENT naming `field`.
    public static func positive(_ text: String, field: String = "amount") throws -> Amount {
        let amount: Amount
        do {
            amount = try Amount(parsing: text)
        } catch let error as AmountError {
            throw RPCError.invalidParams(field: field, error.description, reason: error.reason)
        }
        guard amount.minorUnits > 0 else {
            throw RPCError.invalidParams(field: field, "must be more than zero", reason: "AMOUNT_NOT_POSITIVE")
        }
        return amount
    }

    /// `"150.00"`: whole units, a point, two digits.
    public var description: String {
        let cents = minorUnits % 100
        return "\(minorUnits / 100).\(cents < 10 ? "0" : "")\(cents)"
    }

    public static func < (lhs: Amount, rhs: Amount) -> Bool { lhs.minorUnits < rhs.minorUnits }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try Amount(parsing: text)
        } catch let error as AmountError {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Why a wire amount was refused.
public enum AmountError: Error, Equatable, CustomStringConvertible {
    case notDecimal(String)
    case tooPrecise(String)
    case tooLarge(String)

    /// A stable reason for the wire.
    public var reason: String {
        switch self {
        case .notDecimal: "AMOUNT_NOT_DECIMAL"
        case .tooPrecise: "AMOUNT_TOO_PRECISE"
        case .tooLarge: "AMOUNT_TOO_LARGE"
        }
    }

    public var description: String {
        switch self {
        case .notDecimal(let text):
            "'\(text.prefix(40))' is not an amount; write a decimal string like \"150.00\" (no sign, exponent or separators)"
        case .tooPrecise(let text):
            "'\(text.prefix(40))' has more than two decimals; amounts are exact to the cent"
        case .tooLarge(let text):
            "'\(text.prefix(40))' is over the limit of \(Amount.maximum) per movement"
        }
    }
}
