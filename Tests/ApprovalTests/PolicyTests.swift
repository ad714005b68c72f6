import Approval
import Banking
import Foundation
import Testing

struct PolicyTests {
    static let shipped = repositoryRoot.appendingPathComponent("compose/policy.json").path

    static func transfer(_ amount: String) throws -> Action {
        Action(kind: .transfer, from: "checking", to: "alice", amount: try Amount(parsing: amount))
    }

    @Test(arguments: [
        ("0.01", 0), ("100.00", 0), ("100.01", 1), ("150.00", 1), ("10000.00", 1), ("10000.01", 2), ("1000000.00", 2),
    ])
    func theShippedPolicyHasTheSeedDefaultsAndATwoApproverTier(amount: String, approvers: Int) throws {
        let policy = try Policy.load(path: Self.shipped)
        #expect(policy.evaluate(try Self.transfer(amount)).approvers == approvers)
    }

    @Test func depositsAreApprovedByPolicy() throws {
        let policy = try Policy.load(path: Self.shipped)
        let deposit = Action(kind: .deposit, from: nil, to: "checking", amount: try Amount(parsing: "5000.00"))
        let decision = policy.evaluate(deposit)
        #expect(decision.approvers == 0)
        #expect(decision.rule == "deposit-auto")
        #expect(decision.version == policy.version)
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
    }

    @Test func anActionNoRuleMatchesNeedsOnePerson() throws {
        let policy = try Policy.parse(Data(#"{"version": "v", "rules": [{"name": "d", "kind": "deposit", "approvers": 0}]}"#.utf8))
        let decision = policy.evaluate(try Self.transfer("1.00"))
        #expect(decision.approvers == 1)
        #expect(decision.rule == "default")
        #expect(decision.version == "v")
    }

    @Test(arguments: [
        (#"{"rules": []}"#, "version is required"),
        (#"{"version": "v", "rules": []}"#, "rules must hold 1 to 100 rules"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "withdrawal", "approvers": 1}]}"#, "rules[0].kind 'withdrawal' is not one of: deposit, transfer"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "transfer", "above": "1.234", "approvers": 1}]}"#, "rules[0].above"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "transfer", "approvers": 9}]}"#, "rules[0].approvers must be between 0"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "transfer", "approvers": 1}, {"name": "a", "kind": "deposit", "approvers": 0}]}"#, "rules[1].name 'a' is used twice"),
        (#"{"version": "v", "rules": [{"name": "a", "kind": "transfer"}]}"#, "rules[0].approvers is required"),
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
}
