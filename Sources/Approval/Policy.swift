import Banking
import Foundation

/// The single policy decision point: for each action, how many distinct people
/// must approve it (zero: the policy approves it by itself), judged on the action
/// and on what its account did recently.
///
/// Loaded from `compose/policy.json` (see ``Policy/parse(_:)``). Three kinds of rule:
///
/// - **Tiers** (`rules`), tried in order; the first whose `kind` matches and whose
///   `above` the amount exceeds decides. A tier with a `window` also matches when the
///   account's live total of that kind over the window (pending, approved and executed
///   actions, this one included) exceeds `above`: the second $7,500 of a day needs
///   what $15,000 needs, so splitting a payment never avoids a person.
/// - **Budgets** (`budgets`) bound what the policy approves by itself: an action a
///   tier would auto-approve needs people once the account's auto-approved total or
///   count over the budget's window would pass its limit.
/// - **Currencies**: an action in a currency the books do not hold is refused.
///
/// An action no tier matches needs one approver: a gap in the file fails safe.
/// ``evaluate(_:history:)`` is a pure function of the action and the history it is given.
public struct Policy: Sendable, Equatable {
    /// The most approvers a rule may ask for: there are only so many people on call.
    public static let maximumApprovers = 5
    /// The most tiers, and the most budgets, a file may hold: a longer policy is not reviewable.
    public static let maximumRules = 100
    /// The longest window: the history queries stay small, and a month is the longest
    /// period a bank's limits are usually set for.
    public static let maximumWindow: TimeInterval = 31 * 86_400

    /// One tier of the policy.
    public struct Rule: Sendable, Equatable {
        /// A name recorded with every decision it makes.
        public let name: String
        /// The kind of action it applies to.
        public let kind: Action.Kind
        /// It applies only to amounts (or window totals) strictly above this (nil: any amount).
        public let above: Amount?
        /// Distinct approvers needed; 0 approves by policy (within the budgets).
        public let approvers: Int
        /// Also applied to the account's live total over this window (nil: the single action only).
        public let window: PolicyWindow?
        /// Whether the requester's own approval counts towards ``approvers`` (the seed's
        /// Pattern 1: a user confirms their own transfer). Never at a two-person tier.
        public let requesterMayApprove: Bool

        /// - Parameters: see the properties.
        public init(
            name: String, kind: Action.Kind, above: Amount? = nil, approvers: Int, window: PolicyWindow? = nil,
            requesterMayApprove: Bool = false
        ) {
            self.name = name
            self.kind = kind
            self.above = above
            self.approvers = approvers
            self.window = window
            self.requesterMayApprove = requesterMayApprove
        }
    }

    /// A limit on what the policy approves by itself, per account and kind, over a rolling window.
    public struct Budget: Sendable, Equatable {
        /// A name recorded with every decision it makes.
        public let name: String
        /// The kind of action it counts.
        public let kind: Action.Kind
        /// The rolling window.
        public let window: PolicyWindow
        /// The most the policy approves by itself in the window (nil: no limit on the total).
        public let maximumTotal: Amount?
        /// The most actions the policy approves by itself in the window (nil: no limit on the count).
        public let maximumCount: Int?
        /// Distinct approvers an action beyond the budget needs (at least one).
        public let approvers: Int
        /// Whether the requester's own approval counts, as for a tier.
        public let requesterMayApprove: Bool

        /// - Parameters: see the properties.
        public init(
            name: String, kind: Action.Kind, window: PolicyWindow, maximumTotal: Amount? = nil, maximumCount: Int? = nil,
            approvers: Int = 1, requesterMayApprove: Bool = false
        ) {
            self.name = name
            self.kind = kind
            self.window = window
            self.maximumTotal = maximumTotal
            self.maximumCount = maximumCount
            self.approvers = approvers
            self.requesterMayApprove = requesterMayApprove
        }
    }

    /// What the policy decided for one action, and why.
    public struct Decision: Sendable, Equatable {
        /// Distinct approvers needed; 0 means approved by policy.
        public let approvers: Int
        /// The rule (tier or budget) that decided (`default` when none matched).
        public let rule: String
        /// The policy's version.
        public let version: String
        /// Whether the requester's own approval counts.
        public let requesterMayApprove: Bool
        /// The figures that decided, shown to approvers and written to the audit chain:
        /// `amount`, and for a window `window`, `window_total` and `limit` (or `window_count`).
        public let figures: [String: String]

        /// - Parameters: see the properties.
        public init(approvers: Int, rule: String, version: String, requesterMayApprove: Bool = false, figures: [String: String] = [:]) {
            self.approvers = approvers
            self.rule = rule
            self.version = version
            self.requesterMayApprove = requesterMayApprove
            self.figures = figures
        }
    }

    /// Recorded with every decision, so an audit can tell which policy decided.
    public let version: String
    /// What the file says the policy is for (shown by `hitl`, not interpreted).
    public let summary: String?
    /// The tiers, in order.
    public let rules: [Rule]
    /// The auto-approval budgets.
    public let budgets: [Budget]
    /// The currencies the books hold (ISO 4217); an action in any other is refused.
    public let currencies: Set<String>

    /// - Parameters: see the properties.
    public init(
        version: String, summary: String? = nil, rules: [Rule], budgets: [Budget] = [], currencies: Set<String> = ["USD"]
    ) {
        self.version = version
        self.summary = summary
        self.rules = rules
        self.budgets = budgets
        self.currencies = currencies
    }

    /// Every window the policy looks back over for `kind`: what a history must answer.
    /// - Parameter kind: deposit or transfer.
    public func windows(for kind: Action.Kind) -> Set<PolicyWindow> {
        Set(rules.filter { $0.kind == kind }.compactMap(\.window) + budgets.filter { $0.kind == kind }.map(\.window))
    }

    /// Decides how an action must be approved.
    /// - Parameters:
    ///   - action: a validated action.
    ///   - history: the account's recent actions (``PolicyHistory/none`` for a first action).
    /// - Returns: the approvers needed, the rule that said so and the figures it looked at.
    public func evaluate(_ action: Action, history: PolicyHistory = .none) -> Decision {
        let amount = action.amount.minorUnits
        let tier = tier(for: action.kind, amount: amount, history: history)
        guard tier.approvers == 0 else { return tier }
        for budget in budgets where budget.kind == action.kind {
            let used = history.autoApproved(budget.window)
            if let limit = budget.maximumTotal, used.total + amount > limit.minorUnits {
                return Decision(
                    approvers: budget.approvers, rule: budget.name, version: version, requesterMayApprove: budget.requesterMayApprove,
                    figures: [
                        "amount": action.amount.description, "window": budget.window.description,
                        "window_total": Self.text(used.total + amount), "limit": limit.description,
                    ])
            }
            if let limit = budget.maximumCount, used.count + 1 > limit {
                return Decision(
                    approvers: budget.approvers, rule: budget.name, version: version, requesterMayApprove: budget.requesterMayApprove,
                    figures: [
                        "amount": action.amount.description, "window": budget.window.description,
                        "window_count": "\(used.count + 1)", "limit": "\(limit)",
                    ])
            }
        }
        return tier
    }

    /// The first tier for `kind` that the amount, or the window total, exceeds.
    private func tier(for kind: Action.Kind, amount: Int64, history: PolicyHistory) -> Decision {
        for rule in rules where rule.kind == kind {
            var figures = ["amount": Self.text(amount)]
            if let above = rule.above {
                figures["limit"] = above.description
                var exceeded = amount > above.minorUnits
                if let window = rule.window {
                    let total = history.liveTotal(window) + amount
                    figures["window"] = window.description
                    figures["window_total"] = Self.text(total)
                    exceeded = exceeded || total > above.minorUnits
                }
                guard exceeded else { continue }
            }
            return Decision(
                approvers: rule.approvers, rule: rule.name, version: version, requesterMayApprove: rule.requesterMayApprove,
                figures: figures)
        }
        return Decision(approvers: 1, rule: "default", version: version, figures: ["amount": Self.text(amount)])
    }

    /// Decides how a batch of transfers (a payroll) must be approved: always by
    /// people, and never by fewer than its strictest transfer needs, nor than its
    /// total would need as one transfer (a hundred $99 payments are $9,900 of risk).
    /// The submitter and the requester of a batch never decide it.
    /// - Parameter actions: the batch's validated transfers (at least one).
    /// - Returns: at least one approver; the rule is `batch:` and the rule that set
    ///   the number (the total's on a tie), or `batch:always-a-person` when no rule asks for anyone.
    public func evaluate(batch actions: [Action]) -> Decision {
        precondition(!actions.isEmpty, "a batch holds at least one transfer")
        let total = actions.reduce(Int64(0)) { $0 + $1.amount.minorUnits }
        var strictest = tier(for: .transfer, amount: total, history: .none)
        for action in actions {
            let decision = tier(for: .transfer, amount: action.amount.minorUnits, history: .none)
            if decision.approvers > strictest.approvers { strictest = decision }
        }
        let figures = ["count": "\(actions.count)", "total": Self.text(total)]
        guard strictest.approvers > 0 else {
            return Decision(approvers: 1, rule: "batch:always-a-person", version: version, figures: figures)
        }
        return Decision(approvers: strictest.approvers, rule: "batch:" + strictest.rule, version: version, figures: figures)
    }

    static func text(_ minorUnits: Int64) -> String {
        Amount(minorUnits: minorUnits)?.description ?? "\(minorUnits / 100).\(String(format: "%02lld", minorUnits % 100))"
    }
}

/// A rolling window, written `30m`, `1h`, `24h` or `7d` in the policy file (and shown
/// as written); two windows of the same length are the same window.
public struct PolicyWindow: Sendable, Hashable, CustomStringConvertible {
    /// Its length in seconds.
    public let seconds: Int64
    private let spelling: String?

    /// - Parameter seconds: the length (at least one).
    public init(seconds: Int64) {
        precondition(seconds > 0, "a window lasts at least a second")
        self.seconds = seconds
        self.spelling = nil
    }

    public static func == (lhs: PolicyWindow, rhs: PolicyWindow) -> Bool { lhs.seconds == rhs.seconds }

    public func hash(into hasher: inout Hasher) { hasher.combine(seconds) }

    /// Reads `<number><unit>` with unit `s`, `m`, `h` or `d`.
    /// - Parameter text: e.g. `24h`.
    /// - Returns: nil when the text is not a window.
    public init?(parsing text: String) {
        guard let unit = text.last, let number = Int64(text.dropLast()), number > 0, number <= 1_000_000 else { return nil }
        let scale: Int64
        switch unit {
        case "s": scale = 1
        case "m": scale = 60
        case "h": scale = 3_600
        case "d": scale = 86_400
        default: return nil
        }
        self.seconds = number * scale
        self.spelling = text
    }

    public var description: String {
        if let spelling { return spelling }
        if seconds % 86_400 == 0 { return "\(seconds / 86_400)d" }
        if seconds % 3_600 == 0 { return "\(seconds / 3_600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}

/// What the policy needs to know of one account's recent actions of one kind and
/// currency, per window: read by the engine in the same transaction that records the
/// decision, so two actions decided at once never both spend the same budget.
public struct PolicyHistory: Sendable {
    /// The account's auto-approved actions in a window.
    public struct Usage: Sendable, Equatable {
        /// Their total, in minor units.
        public let total: Int64
        /// How many.
        public let count: Int

        /// - Parameters: see the properties.
        public init(total: Int64, count: Int) {
            self.total = total
            self.count = count
        }
    }

    private let live: [PolicyWindow: Int64]
    private let auto: [PolicyWindow: Usage]

    /// - Parameters:
    ///   - live: per window, the total of live actions (pending, approved, executed), not counting the one decided.
    ///   - autoApproved: per window, what the policy approved by itself.
    public init(live: [PolicyWindow: Int64], autoApproved: [PolicyWindow: Usage]) {
        self.live = live
        self.auto = autoApproved
    }

    /// An account with no recent actions.
    public static let none = PolicyHistory(live: [:], autoApproved: [:])

    /// The live total over `window`, in minor units.
    public func liveTotal(_ window: PolicyWindow) -> Int64 { live[window] ?? 0 }

    /// What the policy approved by itself over `window`.
    public func autoApproved(_ window: PolicyWindow) -> Usage { auto[window] ?? Usage(total: 0, count: 0) }
}
