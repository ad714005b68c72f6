import Banking
import Foundation

/// The single policy decision point: for each action, how many distinct people
/// must approve it (zero: the policy approves it by itself).
///
/// Loaded from `compose/policy.json`. Rules are tried in order; the first whose
/// `kind` matches and whose `above` (if any) the amount exceeds decides. An
/// action no rule matches needs one approver: a gap in the file fails safe.
public struct Policy: Sendable, Equatable {
    /// The most approvers a rule may ask for: there are only so many people on call.
    public static let maximumApprovers = 5
    /// The most rules a file may hold: a policy longer than this is not reviewable.
    public static let maximumRules = 100

    /// One rule of the policy.
    public struct Rule: Sendable, Equatable {
        /// A name recorded with every decision it makes.
        public let name: String
        /// The kind of action it applies to.
        public let kind: Action.Kind
        /// It applies only to amounts strictly above this (nil: any amount).
        public let above: Amount?
        /// Distinct approvers needed; 0 approves by policy.
        public let approvers: Int
    }

    /// What the policy decided for one action.
    public struct Decision: Sendable, Equatable {
        /// Distinct approvers needed; 0 means approved by policy.
        public let approvers: Int
        /// The rule that decided (`default` when none matched).
        public let rule: String
        /// The policy's version.
        public let version: String
    }

    /// Recorded with every decision, so an audit can tell which policy decided.
    public let version: String
    /// The rules, in order.
    public let rules: [Rule]

    /// - Parameters:
    ///   - version: the policy's version.
    ///   - rules: the rules, in order.
    public init(version: String, rules: [Rule]) {
        self.version = version
        self.rules = rules
    }

    /// Decides how an action must be approved.
    /// - Parameter action: a validated action.
    /// - Returns: the approvers needed, and the rule that said so.
    public func evaluate(_ action: Action) -> Decision {
        evaluate(action.kind, minorUnits: action.amount.minorUnits)
    }

    /// Decides how a batch of transfers (a payroll) must be approved: always by
    /// people, and never by fewer than its strictest transfer needs, nor than its
    /// total would need as one transfer (a hundred $99 payments are $9,900 of risk).
    /// - Parameter actions: the batch's validated transfers (at least one).
    /// - Returns: at least one approver; the rule is `batch:` and the rule that set
    ///   the number (the total's on a tie), or `batch:always-a-person` when no rule asks for anyone.
    public func evaluate(batch actions: [Action]) -> Decision {
        precondition(!actions.isEmpty, "a batch holds at least one transfer")
        let total = actions.reduce(Int64(0)) { $0 + $1.amount.minorUnits }
        var strictest = evaluate(.transfer, minorUnits: total)
        for decision in actions.lazy.map(evaluate) where decision.approvers > strictest.approvers { strictest = decision }
        guard strictest.approvers > 0 else { return Decision(approvers: 1, rule: "batch:always-a-person", version: version) }
        return Decision(approvers: strictest.approvers, rule: "batch:" + strictest.rule, version: version)
    }

    /// The first rule for `kind` whose threshold `minorUnits` exceeds decides.
    private func evaluate(_ kind: Action.Kind, minorUnits: Int64) -> Decision {
        for rule in rules where rule.kind == kind {
            if let above = rule.above, minorUnits <= above.minorUnits { continue }
            return Decision(approvers: rule.approvers, rule: rule.name, version: version)
        }
        return Decision(approvers: 1, rule: "default", version: version)
    }
}

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

    /// Parses and validates policy JSON.
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
        var names = Set<String>()
        let rules = try file.rules.enumerated().map { index, raw in
            try validate(raw, at: index, names: &names)
        }
        return Policy(version: version, rules: rules)
    }

    private static func validate(_ raw: PolicyFile.Rule, at index: Int, names: inout Set<String>) throws -> Rule {
        let place = "rules[\(index)]"
        guard !raw.name.isEmpty, raw.name.count <= 64 else { throw PolicyError("\(place).name must be 1 to 64 characters") }
        guard names.insert(raw.name).inserted else { throw PolicyError("\(place).name '\(raw.name)' is used twice") }
        guard let kind = Action.Kind(rawValue: raw.kind) else {
            throw PolicyError("\(place).kind '\(raw.kind)' is not one of: deposit, transfer")
        }
        var above: Amount?
        if let text = raw.above {
            do { above = try Amount(parsing: text) } catch {
                throw PolicyError("\(place).above: \(error)")
            }
        }
        guard (0...maximumApprovers).contains(raw.approvers) else {
            throw PolicyError("\(place).approvers must be between 0 (approved by policy) and \(maximumApprovers)")
        }
        return Rule(name: raw.name, kind: kind, above: above, approvers: raw.approvers)
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: ["."])
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is required"
        case .typeMismatch(_, let context): return "\(path(context.codingPath)) has the wrong type"
        case .valueNotFound(_, let context): return "\(path(context.codingPath)) must not be null"
        case .dataCorrupted(let context): return "not valid policy JSON: \(context.debugDescription)"
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

/// The file's shape, before validation.
private struct PolicyFile: Decodable {
    struct Rule: Decodable {
        let name: String
        let kind: String
        let above: String?
        let approvers: Int
    }
    let version: String
    let description: String?
    let rules: [Rule]
}

/// A policy file that cannot be used, with what is wrong and where.
public struct PolicyError: Error, CustomStringConvertible, Equatable {
    /// What is wrong, naming the rule and field.
    public let description: String
    /// - Parameter description: what is wrong.
    public init(_ description: String) { self.description = description }
}
