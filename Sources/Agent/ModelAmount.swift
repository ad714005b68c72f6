import Banking
import Foundation
import LLM
import RPC

/// Reads an amount the way models write one, exactly, and forgives only what is
/// unambiguous: `"$50.00"`, `"50"`, `50`, `50.0`, `"1,250.50"`, `"USD 50"`,
/// `"50 dollars"` are all exact amounts. What could mean two things or lose a
/// cent is refused with a message the model can act on: `"50.005"` (past the
/// cent), `"1.250,50"` and `"1,25"` (a decimal comma?), `"fifty"`, `1e3`
/// (an exponent), `"€50"` (another currency), `-5` and `0`.
///
/// This is the agent's model-facing edge only. The ledger and approval-svc keep
/// their strict wire format (``Amount/init(parsing:)``); what this returns is an
/// ``Amount``, and everything after it sees only that.
enum ModelAmount {
    /// What a grammar-constrained server can enforce while the model writes: whole
    /// dollars without sign, separators or leading zeros (up to ``Amount/maximum``'s
    /// ten digits), then at most two decimals. Servers that turn schemas into
    /// grammars (llama.cpp, vLLM, OpenAI's strict mode) then cannot emit `"$50.00"`.
    static let pattern = #"^(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$"#

    /// What the model is told an amount is.
    static let schemaDescription = "US dollars as a decimal string with at most two decimals, such as \"50.00\""

    /// An amount argument of a tool.
    static let schema: JSONValue = ["type": "string", "pattern": .string(pattern), "description": .string(schemaDescription)]

    /// An amount field that may be null (the ActionPlan's, for balance checks).
    static let nullableSchema: JSONValue = [
        "type": ["string", "null"], "pattern": .string(pattern),
        "description": .string("for a deposit or a transfer, " + schemaDescription + "; null to check the balance"),
    ]

    /// The longest amount text read: `"USD 1,000,000,000.00"` is 20 characters;
    /// more is not an amount and is not echoed back whole.
    static let maximumTextLength = 40

    /// Currency markers that mean US dollars, before or after the number (compared lowercased).
    static let dollarPrefixes = ["us$", "usd", "$"]
    static let dollarSuffixes = ["usd", "dollars", "dollar", "$"]
    /// Symbols and codes of other currencies: named in the refusal rather than "not an amount".
    static let otherCurrencies = ["€", "£", "¥", "₹", "eur", "gbp", "jpy", "cad", "aud", "chf", "inr", "cny"]

    /// An amount from a tool argument or a plan field: a string or a JSON number's exact text.
    /// - Parameter value: the argument as the model wrote it.
    /// - Returns: the amount, more than zero.
    /// - Throws: ``ToolRefusal`` saying what is wrong and how to write it.
    static func parse(_ value: ExactJSON?) throws -> Amount {
        switch value {
        case .string(let text)?: return try parse(text: text)
        case .number(let text)?: return try parse(number: text)
        case nil, .null?: throw ToolRefusal(message: "amount is missing; write it as a decimal string such as \"50.00\"")
        default: throw ToolRefusal(message: "amount must be a decimal string such as \"50.00\"")
        }
    }

    /// A JSON number's text: digits with at most two decimals; no sign, no exponent.
    static func parse(number text: String) throws -> Amount {
        if text.hasPrefix("-") { throw ToolRefusal(message: "amount \(text) is negative; amounts must be more than zero") }
        if text.contains(where: { $0 == "e" || $0 == "E" }) {
            throw ToolRefusal(message: "amount \(text.prefix(maximumTextLength)) has an exponent; write the digits as a string such as \"1000.00\"")
        }
        return try exact(text, as: text)
    }

    /// A string: an optional dollar marker around the number, optional thousands
    /// commas in groups of three, at most two decimals.
    static func parse(text original: String) throws -> Amount {
        guard original.count <= maximumTextLength else {
            throw ToolRefusal(message: "amount '\(original.prefix(maximumTextLength))…' is too long to be an amount; write a decimal string such as \"50.00\"")
        }
        var text = Substring(original.trimmingCharacters(in: .whitespaces))
        if let other = otherCurrencies.first(where: { text.lowercased().contains($0) }) {
            throw ToolRefusal(message: "amount '\(original)' is in another currency (\(other.uppercased())); this account holds US dollars only")
        }
        text = strip(text, prefixes: dollarPrefixes, suffixes: dollarSuffixes)
        if text.hasPrefix("-") || text.hasPrefix("+") {
            throw ToolRefusal(message: "amount '\(original)' has a sign; write a positive decimal string such as \"50.00\"")
        }
        let digits = try withoutGroupSeparators(text, original: original)
        return try exact(digits, as: original)
    }

    /// Removes one dollar marker before and one after the number, with the spaces next to them.
    private static func strip(_ text: Substring, prefixes: [String], suffixes: [String]) -> Substring {
        var text = text
        if let prefix = prefixes.first(where: { text.lowercased().hasPrefix($0) }) {
            text = text.dropFirst(prefix.count).drop(while: { $0 == " " })
        }
        if let suffix = suffixes.first(where: { text.lowercased().hasSuffix($0) }) {
            text = Substring(text.dropLast(suffix.count).reversed().drop(while: { $0 == " " }).reversed())
        }
        return text
    }

    /// `1,250.50` → `1250.50`. Commas only as thousands separators, in groups of
    /// three before the point; a comma after a point (`1.250,50`) or in any other
    /// place (`1,25`) could be a decimal comma, so it is refused.
    private static func withoutGroupSeparators(_ text: Substring, original: String) throws -> String {
        guard text.contains(",") else { return String(text) }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let groups = parts[0].split(separator: ",", omittingEmptySubsequences: false)
        let wellGrouped = parts.count == 1 || !parts[1].contains(",")
        guard wellGrouped, let first = groups.first, (1...3).contains(first.count), groups.dropFirst().allSatisfy({ $0.count == 3 }) else {
            throw ToolRefusal(message: "amount '\(original)' is ambiguous (is the comma a decimal point?); write it with a point and no separators, such as \"1250.50\"")
        }
        return groups.joined() + (parts.count == 2 ? "." + parts[1] : "")
    }

    /// The strict parse of what is left, with the model-facing message when it fails.
    private static func exact(_ digits: String, as original: String) throws -> Amount {
        var text = digits
        // "050" or "007.50": leading zeros are unambiguous in a model's amount; the wire form has none.
        while text.count > 1, text.hasPrefix("0"), !text.hasPrefix("0.") { text.removeFirst() }
        let amount: Amount
        do {
            amount = try Amount(parsing: text)
        } catch AmountError.tooPrecise {
            throw ToolRefusal(message: "amount '\(original)' has more than two decimals; amounts are exact to the cent, such as \"50.00\"")
        } catch AmountError.tooLarge {
            throw ToolRefusal(message: "amount '\(original)' is over the limit of \(Amount.maximum) per movement")
        } catch {
            throw ToolRefusal(message: "amount '\(original.prefix(maximumTextLength))' is not an amount; write a decimal string such as \"50.00\"")
        }
        guard amount.minorUnits > 0 else { throw ToolRefusal(message: "amount must be more than zero") }
        return amount
    }
}
