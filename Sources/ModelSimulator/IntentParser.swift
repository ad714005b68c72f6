import Foundation

/// One banking request found in a sentence.
public struct BankingIntent: Sendable, Equatable {
    /// What is asked.
    public enum Kind: String, Sendable, Equatable {
        case checkBalance = "check_balance"
        case deposit
        case transfer
    }

    public let kind: Kind
    /// The amount as the user wrote it, normalized (`$1,250.50` → `1250.50`); nil for balances.
    public let amount: String?
    /// The payee as written, lowercased (`Alice` → `alice`); transfers only.
    public let payee: String?
    /// What it is for: the words after "for" (`… to Bob for rent` → `rent`); nil if not said.
    public let memo: String?

    /// - Parameters: see the properties.
    public init(_ kind: Kind, amount: String? = nil, payee: String? = nil, memo: String? = nil) {
        self.kind = kind
        self.amount = amount
        self.payee = payee
        self.memo = memo
    }
}

/// Finds banking requests in plain English with fixed rules — the simulator's
/// "understanding". It is not a language model and does not pretend to be one.
public enum IntentParser {
    /// Every request in `text`, in order ("Check my balance and transfer $50 to Alice"
    /// gives a balance check, then a transfer).
    /// - Parameter text: the user's message.
    public static func parse(_ text: String) -> [BankingIntent] {
        var intents: [BankingIntent] = []
        for clause in clauses(of: text.lowercased()) {
            if let found = intent(in: clause) {
                intents.append(found)
            } else if let previous = intents.last, previous.kind != .checkBalance, let amount = amount(in: clause) {
                // "… $150 to Alice and $20 to Bob": the verb carries over.
                let (request, memo) = purpose(of: clause)
                intents.append(BankingIntent(
                    previous.kind, amount: amount, payee: previous.kind == .transfer ? payee(in: request) : nil, memo: memo))
            }
        }
        return intents
    }

    private static func clauses(of text: String) -> [String] {
        var pieces = [text]
        for separator in [" and then ", " then ", " and ", ";", ". ", ", "] {
            pieces = pieces.flatMap { $0.components(separatedBy: separator) }
        }
        return pieces.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    private static func intent(in clause: String) -> BankingIntent? {
        let words = Set(clause.split(whereSeparator: { !$0.isLetter }).map(String.init))
        let (request, memo) = purpose(of: clause)
        if !words.isDisjoint(with: ["transfer", "send", "pay", "wire"]) {
            return BankingIntent(.transfer, amount: amount(in: request), payee: payee(in: request), memo: memo)
        }
        if !words.isDisjoint(with: ["deposit", "add"]) {
            return BankingIntent(.deposit, amount: amount(in: request), memo: memo)
        }
        if words.contains("balance") || (words.contains("how") && words.contains("much") && words.contains("have")) {
            return BankingIntent(.checkBalance)
        }
        return nil
    }

    /// A clause without its purpose, and the purpose: the words after the first " for "
    /// (`transfer $500 to bob for rent` → `transfer $500 to bob`, `rent`), trimmed of
    /// end punctuation; nil when there is none.
    static func purpose(of clause: String) -> (request: String, memo: String?) {
        guard let range = clause.range(of: " for ") else { return (clause, nil) }
        let memo = clause[range.upperBound...].trimmingCharacters(in: .whitespaces.union(.punctuationCharacters))
        // At most 140 bytes of UTF-8 (what the books take), cut between characters.
        var kept = ""
        for character in memo where kept.utf8.count + character.utf8.count <= 140 { kept.append(character) }
        return (String(clause[..<range.lowerBound]), kept.isEmpty ? nil : kept)
    }

    /// `$1,250.50`, `$ 50`, `150 dollars`, `75 usd`: digits with optional thousands
    /// separators and decimals, kept as written (three decimals stay three: the agent refuses them).
    static func amount(in clause: String) -> String? {
        let patterns = [#"\$\s?([0-9][0-9,]*(?:\.[0-9]+)?)"#, #"([0-9][0-9,]*(?:\.[0-9]+)?)\s*(?:dollars|dollar|usd|bucks)\b"#]
        for pattern in patterns {
            guard let regex = try? NSRegularExpression(pattern: pattern),
                  let match = regex.firstMatch(in: clause, range: NSRange(clause.startIndex..., in: clause)),
                  let range = Range(match.range(at: 1), in: clause)
            else { continue }
            return clause[range].replacingOccurrences(of: ",", with: "")
        }
        return nil
    }

    /// The word after "to" (skipping "my", "the", "account"), letters only.
    static func payee(in clause: String) -> String? {
        let words = clause.split(whereSeparator: { $0 == " " }).map { $0.trimmingCharacters(in: .punctuationCharacters) }
        guard let index = words.lastIndex(of: "to") else { return nil }
        let skip: Set = ["my", "the", "account", "a", "an", "mr", "mrs", "ms"]
        for word in words[(index + 1)...] where !skip.contains(word) && !word.isEmpty {
            let name = word.filter { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
            return name.isEmpty ? nil : name
        }
        return nil
    }
}
