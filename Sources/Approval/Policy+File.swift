import Banking
import Foundation

extension Policy {
    /// Reads and validates a policy file.
    /// - Parameter path: a JSON file.
    /// - Throws: ``PolicyError`` saying what is wrong and where.
    public static func load(path: String) throws -> Policy {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PolicyError("\(path): cannot be read (pass --policy <file> or set HITL_POLICY)")
        }
        do {
            return try parse(data)
        } catch let error as PolicyError {
            throw PolicyError("\(path): \(error.description)")
        }
    }

    /// Parses and validates policy JSON:
    ///
    /// ```json
    /// {"version": "2026-12-07.1", "description": "...", "currencies": ["USD"],
    ///  "rules": [{"name": "...", "kind": "transfer", "above": "10000.00", "approvers": 2, "window": "24h"}, ...],
    ///  "budgets": [{"name": "...", "kind": "transfer", "window": "24h", "max_total": "200.00", "max_count": 5,
    ///               "approvers": 1, "requester_may_approve": true}, ...]}
    /// ```
    /// - Parameter data: the file's bytes.
    /// - Throws: ``PolicyError`` naming the offending rule and field.
    public static func parse(_ data: Data) throws -> Policy {
        let file: PolicyFile
        do {
            file = try JSONDecoder().decode(PolicyFile.self, from: data)
        } catch let error as DecodingError {
            throw PolicyError(describe(error))
        } catch {
            throw PolicyError("not JSON: \(error)")
        }
        let version = file.version.trimmingCharacters(in: .whitespaces)
        guard !version.isEmpty, version.count <= 64 else { throw PolicyError("version must be 1 to 64 characters") }
        guard !file.rules.isEmpty, file.rules.count <= maximumRules else {
            throw PolicyError("rules must hold 1 to \(maximumRules) rules")
        }
        guard (file.budgets?.count ?? 0) <= maximumRules else { throw PolicyError("budgets must hold at most \(maximumRules) budgets") }
        var names = Set<String>()
        let rules = try file.rules.enumerated().map { index, raw in try validate(raw, at: index, names: &names) }
        let budgets = try (file.budgets ?? []).enumerated().map { index, raw in try validate(raw, at: index, names: &names) }
        let currencies = file.currencies ?? ["USD"]
        guard !currencies.isEmpty else { throw PolicyError("currencies must name at least one currency, e.g. [\"USD\"]") }
        for (index, code) in currencies.enumerated() where !(code.count == 3 && code.utf8.allSatisfy({ (65...90).contains($0) })) {
            throw PolicyError("currencies[\(index)] '\(code.prefix(16))' is not a three-letter ISO 4217 code such as USD")
        }
        return Policy(version: version, summary: file.description, rules: rules, budgets: budgets, currencies: Set(currencies))
    }

    private static func validate(_ raw: PolicyFile.Rule, at index: Int, names: inout Set<String>) throws -> Rule {
        let place = "rules[\(index)]"
        let name = try validateName(raw.name, place: place, names: &names)
        let named = "\(place) '\(name)'"
        let kind = try validateKind(raw.kind, place: named)
        var above: Amount?
        if let text = raw.above {
            do { above = try Amount(parsing: text) } catch {
                throw PolicyError("\(named).above: \(error)")
            }
        }
        guard (0...maximumApprovers).contains(raw.approvers) else {
            throw PolicyError("\(named).approvers must be between 0 (approved by policy) and \(maximumApprovers)")
        }
        let window = try raw.window.map { try validateWindow($0, place: named) }
        if window != nil, above == nil {
            throw PolicyError("\(named).window needs 'above': a window total is compared with it")
        }
        let requesterMayApprove = raw.requesterMayApprove ?? false
        try validateRequester(requesterMayApprove, approvers: raw.approvers, place: named)
        return Rule(name: name, kind: kind, above: above, approvers: raw.approvers, window: window, requesterMayApprove: requesterMayApprove)
    }

    private static func validate(_ raw: PolicyFile.Budget, at index: Int, names: inout Set<String>) throws -> Budget {
        let place = "budgets[\(index)]"
        let name = try validateName(raw.name, place: place, names: &names)
        let named = "\(place) '\(name)'"
        let kind = try validateKind(raw.kind, place: named)
        let window = try validateWindow(raw.window, place: named)
        var total: Amount?
        if let text = raw.maxTotal {
            do { total = try Amount(parsing: text) } catch {
                throw PolicyError("\(named).max_total: \(error)")
            }
        }
        if let count = raw.maxCount, !(0...1_000_000).contains(count) {
            throw PolicyError("\(named).max_count must be between 0 and 1000000")
        }
        guard total != nil || raw.maxCount != nil else {
            throw PolicyError("\(named) needs max_total, max_count or both: a budget without a limit limits nothing")
        }
        let approvers = raw.approvers ?? 1
        guard (1...maximumApprovers).contains(approvers) else {
            throw PolicyError("\(named).approvers must be between 1 and \(maximumApprovers): past the budget, people decide")
        }
        let requesterMayApprove = raw.requesterMayApprove ?? false
        try validateRequester(requesterMayApprove, approvers: approvers, place: named)
        return Budget(
            name: name, kind: kind, window: window, maximumTotal: total, maximumCount: raw.maxCount, approvers: approvers,
            requesterMayApprove: requesterMayApprove)
    }

    private static func validateName(_ name: String, place: String, names: inout Set<String>) throws -> String {
        guard !name.isEmpty, name.count <= 64 else { throw PolicyError("\(place).name must be 1 to 64 characters") }
        guard names.insert(name).inserted else { throw PolicyError("\(place).name '\(name)' is used twice") }
        return name
    }

    private static func validateKind(_ text: String, place: String) throws -> Action.Kind {
        guard let kind = Action.Kind(rawValue: text) else {
            throw PolicyError("\(place).kind '\(text.prefix(32))' is not one of: deposit, transfer")
        }
        return kind
    }

    private static func validateWindow(_ text: String, place: String) throws -> PolicyWindow {
        guard let window = PolicyWindow(parsing: text), TimeInterval(window.seconds) <= maximumWindow else {
            throw PolicyError("\(place).window '\(text.prefix(32))' must be a number and a unit (s, m, h or d), at most 31d, e.g. \"24h\"")
        }
        return window
    }

    private static func validateRequester(_ mayApprove: Bool, approvers: Int, place: String) throws {
        guard mayApprove, approvers >= 2 else { return }
        throw PolicyError("\(place).requester_may_approve cannot be true with \(approvers) approvers: at a two-person tier the requester's own vote never counts")
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: ["."])
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is required"
        case .typeMismatch(_, let context): return "\(path(context.codingPath)) has the wrong type"
        case .valueNotFound(_, let context): return "\(path(context.codingPath)) must not be null"
        case .dataCorrupted(let context):
            if context.debugDescription.hasPrefix("unknown member") { return "\(path(context.codingPath)): \(context.debugDescription)" }
            return "not valid policy JSON: \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    /// Finds the policy file: `--policy`, else `$HITL_POLICY`, else
    /// `compose/policy.json` in the working folder or the nearest parent holding one.
    /// - Parameter explicit: the `--policy` value.
    public static func locate(_ explicit: String? = nil) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let env = ProcessInfo.processInfo.environment["HITL_POLICY"], !env.isEmpty { return env }
        var folder = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        while true {
            let candidate = folder.appendingPathComponent("compose/policy.json").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            let parent = folder.deletingLastPathComponent()
            if parent.path == folder.path { return "compose/policy.json" }
            folder = parent
        }
    }
}

/// The file's shape, before validation. Unknown members are refused, so a
/// misspelt limit (`max_totl`) is an error rather than a rule that limits nothing.
private struct PolicyFile: Decodable {
    struct Rule: Decodable {
        let name: String
        let kind: String
        let above: String?
        let approvers: Int
        let window: String?
        let requesterMayApprove: Bool?
        let description: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, kind, above, approvers, window, description
            case requesterMayApprove = "requester_may_approve"
        }

        init(from decoder: any Decoder) throws {
            try StrictKeys.check(decoder, allowed: CodingKeys.allCases.map(\.rawValue))
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            kind = try container.decode(String.self, forKey: .kind)
            above = try container.decodeIfPresent(String.self, forKey: .above)
            approvers = try container.decode(Int.self, forKey: .approvers)
            window = try container.decodeIfPresent(String.self, forKey: .window)
            requesterMayApprove = try container.decodeIfPresent(Bool.self, forKey: .requesterMayApprove)
            description = try container.decodeIfPresent(String.self, forKey: .description)
        }
    }

    struct Budget: Decodable {
        let name: String
        let kind: String
        let window: String
        let maxTotal: String?
        let maxCount: Int?
        let approvers: Int?
        let requesterMayApprove: Bool?
        let description: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, kind, window, approvers, description
            case maxTotal = "max_total", maxCount = "max_count", requesterMayApprove = "requester_may_approve"
        }

        init(from decoder: any Decoder) throws {
            try StrictKeys.check(decoder, allowed: CodingKeys.allCases.map(\.rawValue))
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            kind = try container.decode(String.self, forKey: .kind)
            window = try container.decode(String.self, forKey: .window)
            maxTotal = try container.decodeIfPresent(String.self, forKey: .maxTotal)
            maxCount = try container.decodeIfPresent(Int.self, forKey: .maxCount)
            approvers = try container.decodeIfPresent(Int.self, forKey: .approvers)
            requesterMayApprove = try container.decodeIfPresent(Bool.self, forKey: .requesterMayApprove)
            description = try container.decodeIfPresent(String.self, forKey: .description)
        }
    }

    let version: String
    let description: String?
    let currencies: [String]?
    let rules: [Rule]
    let budgets: [Budget]?

    enum CodingKeys: String, CodingKey, CaseIterable { case version, description, currencies, rules, budgets }

    init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.allCases.map(\.rawValue))
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(String.self, forKey: .version)
        description = try container.decodeIfPresent(String.self, forKey: .description)
        currencies = try container.decodeIfPresent([String].self, forKey: .currencies)
        rules = try container.decode([Rule].self, forKey: .rules)
        budgets = try container.decodeIfPresent([Budget].self, forKey: .budgets)
    }
}

/// Refuses members a type does not know.
private enum StrictKeys {
    struct AnyKey: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    static func check(_ decoder: any Decoder, allowed: [String]) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        for key in container.allKeys where !allowed.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(.init(
                codingPath: container.codingPath + [key],
                debugDescription: "unknown member '\(key.stringValue.prefix(32))'; the members are \(allowed.sorted().joined(separator: ", "))"))
        }
    }
}

/// A policy file that cannot be used, with what is wrong and where.
public struct PolicyError: Error, CustomStringConvertible, Equatable {
    /// What is wrong, naming the rule and field.
    public let description: String
    /// - Parameter description: what is wrong.
    public init(_ description: String) { self.description = description }
}
