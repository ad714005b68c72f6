import Approval
import Banking
import Foundation
import Testing

struct PolicyTests {
    static let shipped = repositoryRoot.appendingPathComponent("compose/policy.json").path

    static func transfer(_ amount: String) throws -> Action {
        Action(kind: .transfer, from: "checking", to: "alice", amount: try Amount(parsing: amount))
    }

    static func deposit(_ amount: String) throws -> Action {
        Action(kind: .deposit, from: nil, to: "checking", amount: try Amount(parsing: amount))
    }

    static let day = PolicyWindow(seconds: 86_400)
    static let hour = PolicyWindow(seconds: 3_600)

    /// History in dollars: the live total over a day, and what the policy approved by itself.
    static func history(live: Int64 = 0, autoTotal: Int64 = 0, autoCount: Int = 0, hourCount: Int? = nil) -> PolicyHistory {
        PolicyHistory(
            live: [day: live * 100],
            autoApproved: [
                day: .init(total: autoTotal * 100, count: autoCount),
                hour: .init(total: autoTotal * 100, count: hourCount ?? autoCount),
            ])
    }

    @Test(arguments: [
        ("0.01", 0), ("100.00", 0), ("100.01", 1), ("150.00", 1), ("10000.00", 1), ("10000.01", 2), ("1000000.00", 2),
    ])
    func theShippedTiersForOneTransferOnAQuietDay(amount: String, approvers: Int) throws {
        let policy = try Policy.load(path: Self.shipped)
        #expect(policy.evaluate(try Self.transfer(amount)).approvers == approvers)
    }

    /// The seed's three requests keep their behaviour: $50 runs, a $200 deposit runs,
    /// $500 asks one person, whose own confirmation counts (the seed's Pattern 1).
    @Test func theSeedsRequestsDecideAsInTheSeed() throws {
        let policy = try Policy.load(path: Self.shipped)
        #expect(policy.evaluate(try Self.transfer("50.00")).approvers == 0)
        #expect(policy.evaluate(try Self.deposit("200.00")).approvers == 0)
        let rent = policy.evaluate(try Self.transfer("500.00"))
        #expect(rent.approvers == 1 && rent.rule == "transfer-over-100-one-approver" && rent.requesterMayApprove)
        #expect(rent.figures == ["amount": "500.00", "limit": "100.00"])
    }

    @Test(arguments: [("200.00", 0, "deposit-auto"), ("1000.01", 1, "deposit-over-1000-one-approver"), ("5000000.00", 2, "large-deposit-two-approvers")])
    func depositsHaveCeilings(amount: String, approvers: Int, rule: String) throws {
        let policy = try Policy.load(path: Self.shipped)
        let decision = policy.evaluate(try Self.deposit(amount))
        #expect(decision.approvers == approvers && decision.rule == rule)
        #expect(decision.version == policy.version)
    }

    /// Six $90 transfers: the policy approves by itself only while the day's $200 budget holds.
    @Test func smallTransfersStopAtAPersonOnceTheDailyBudgetIsSpent() throws {
        let policy = try Policy.load(path: Self.shipped)
        #expect(policy.evaluate(try Self.transfer("90.00"), history: Self.history(autoTotal: 0)).approvers == 0)
        #expect(policy.evaluate(try Self.transfer("90.00"), history: Self.history(live: 90, autoTotal: 90, autoCount: 1)).approvers == 0)
        let third = policy.evaluate(try Self.transfer("90.00"), history: Self.history(live: 180, autoTotal: 180, autoCount: 2))
        #expect(third.approvers == 1 && third.rule == "daily-auto-transfer-budget" && third.requesterMayApprove)
        #expect(third.figures == ["amount": "90.00", "window": "24h", "window_total": "270.00", "limit": "200.00"])
    }

    @Test func aSixthSmallTransferInAnHourNeedsAPerson() throws {
        let policy = try Policy.load(path: Self.shipped)
        let history = PolicyHistory(live: [Self.day: 500], autoApproved: [Self.day: .init(total: 500, count: 5), Self.hour: .init(total: 500, count: 5)])
        let sixth = policy.evaluate(try Self.transfer("1.00"), history: history)
        #expect(sixth.approvers == 1 && sixth.rule == "hourly-auto-transfer-count")
        #expect(sixth.figures["window_count"] == "6" && sixth.figures["limit"] == "5")
    }

    /// The second $7,500 of a day needs what $15,000 needs: two people, never the requester.
    @Test func splittingAPaymentNeverAvoidsTheTwoPersonTier() throws {
        let policy = try Policy.load(path: Self.shipped)
        #expect(policy.evaluate(try Self.transfer("7500.00"), history: Self.history()).approvers == 1)
        let second = policy.evaluate(try Self.transfer("7500.00"), history: Self.history(live: 7_500))
        #expect(second.approvers == 2 && second.rule == "large-transfer-two-approvers" && !second.requesterMayApprove)
        #expect(second.figures == ["amount": "7500.00", "window": "24h", "window_total": "15000.00", "limit": "10000.00"])
        // Even a small transfer, once the day's total has passed the tier.
        #expect(policy.evaluate(try Self.transfer("25.00"), history: Self.history(live: 9_990)).approvers == 2)
        // Deposits sum up the same way.
        #expect(policy.evaluate(try Self.deposit("6000.00"), history: Self.history(live: 6_000)).approvers == 2)
    }

    @Test func theWindowsAPolicyLooksBackOver() throws {
        let policy = try Policy.load(path: Self.shipped)
        #expect(policy.windows(for: .transfer) == [Self.day, Self.hour])
        #expect(policy.windows(for: .deposit) == [Self.day])
        #expect(policy.currencies == ["USD"])
    }

    /// A batch needs a person always, never fewer than its strictest transfer, and
    /// never fewer than its total would as one transfer.
    @Test(arguments: [
        (["30.00", "30.00", "30.00"], 1, "batch:always-a-person"),
        (["50.00", "50.00", "50.00"], 1, "batch:transfer-over-100-one-approver"),
        (["20000.00", "1.00"], 2, "batch:large-transfer-two-approvers"),
        (Array(repeating: "60.00", count: 200), 2, "batch:large-transfer-two-approvers"),
        (["150.00"], 1, "batch:transfer-over-100-one-approver"),
    ])
    func aBatchIsDecidedByItsStrictestTransferOrItsTotal(amounts: [String], approvers: Int, rule: String) throws {
        let policy = try Policy.load(path: Self.shipped)
        let decision = policy.evaluate(batch: try amounts.map(Self.transfer))
        #expect(decision.approvers == approvers)
        #expect(decision.rule == rule)
        #expect(decision.version == policy.version)
        #expect(!decision.requesterMayApprove)
    }

    @Test func anActionNoRuleMatchesNeedsOnePerson() throws {
        let policy = try Policy.parse(Data(#"{"version": "v", "rules": [{"name": "d", "kind": "deposit", "approvers": 0}]}"#.utf8))
        let decision = policy.evaluate(try Self.transfer("1.00"))
        #expect(decision.approvers == 1)
        #expect(decision.rule == "default")
        #expect(decision.version == "v")
    }

    @Test(arguments: ["30s", "15m", "24h", "7d", "31d"])
    func windowsReadAndWriteTheSame(text: String) throws {
        let window = try #require(PolicyWindow(parsing: text))
        #expect(window.description == text)
        #expect(window == PolicyWindow(seconds: window.seconds), "a window is its length, however it is written")
    }

    @Test(arguments: [
        (#"{"rules": []}"#, "version is required"),
        (#"{"version": "v", "rules": []}"#, "rules must hold 1 to 100 rules"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "withdrawal", "approvers": 1}]}"#, "rules[0] 'a'.kind 'withdrawal' is not one of: deposit, transfer"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "transfer", "above": "1.234", "approvers": 1}]}"#, "rules[0] 'a'.above"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "transfer", "approvers": 9}]}"#, "rules[0] 'a'.approvers must be between 0"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "transfer", "approvers": 1}, {"name": "a", "kind": "deposit", "approvers": 0}]}"#, "rules[1].name 'a' is used twice"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "transfer"}]}"#, "rules[0].approvers is required"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "transfer", "window": "24h", "approvers": 2}]}"#, "rules[0] 'a'.window needs 'above'"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "transfer", "above": "1", "window": "a day", "approvers": 2}]}"#, "rules[0] 'a'.window 'a day' must be a number and a unit"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "transfer", "above": "1", "window": "32d", "approvers": 2}]}"#, "at most 31d"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "transfer", "approvers": 2, "requester_may_approve": true}]}"#, "rules[0] 'a'.requester_may_approve cannot be true with 2 approvers"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "transfer", "approvers": 1, "approver": 2}]}"#, "rules[0].approver: unknown member 'approver'"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "transfer", "approvers": 1}], "budgets": [{"name": "b", "kind": "transfer", "window": "1d"}]}"#, "budgets[0] 'b' needs max_total, max_count or both"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "transfer", "approvers": 1}], "budgets": [{"name": "b", "kind": "transfer", "window": "1d", "max_totl": "5"}]}"#, "budgets[0].max_totl: unknown member"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "transfer", "approvers": 1}], "budgets": [{"name": "b", "kind": "transfer", "window": "1d", "max_count": 3, "approvers": 0}]}"#, "budgets[0] 'b'.approvers must be between 1"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "transfer", "approvers": 1}], "currencies": ["usd"]}"#, "currencies[0] 'usd' is not a three-letter ISO 4217 code"),
        ("rules:", "not valid policy JSON"),
    ])
    func invalidPoliciesAreRefusedWithAClearError(text: String, message: String) {
        #expect {
            _ = try Policy.parse(Data(text.utf8))
        } throws: { error in
            (error as? PolicyError)?.description.contains(message) == true
        }
    }

    @Test func aMissingFileNamesTheFlag() {
        #expect {
            _ = try Policy.load(path: "/nonexistent/policy.json")
        } throws: { error in
            (error as? PolicyError)?.description.contains("--policy") == true
        }
    }

    /// A policy source reloads a valid file and keeps its policy when the file is broken.
    @Test func aReloadTakesAValidFileAndRefusesABrokenOne() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("policy-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try #"{"version": "one", "rules": [{"name": "a", "kind": "transfer", "approvers": 1}]}"#.write(toFile: path, atomically: true, encoding: .utf8)
        let source = try PolicySource(path: path)
        #expect(source.current.version == "one")
        try #"{"version": "two", "rules": [{"name": "a", "kind": "transfer", "approvers": 2}]}"#.write(toFile: path, atomically: true, encoding: .utf8)
        let versions = try source.reload()
        #expect(versions.previous == "one" && versions.current == "two")
        try #"{"version": "three", "rules": [{"name": "a", "kind": "transfer", "approvers": 99}]}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: PolicyError.self) { try source.reload() }
        #expect(source.current.version == "two", "a broken file changes nothing")
    }
}
