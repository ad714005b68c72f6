import Approval
import Banking
import Foundation
import RPC
import RPCTesting
import Testing

/// Batches of transfers (a payroll) approved as a whole, over the real
/// `approval-svc` socket, checked against `Protocols/approval.openrpc.json`.
@Suite(.serialized)
struct BatchApprovalTests {
    static func transfer(_ amount: String, to: String = "alice", key: String) -> JSONValue {
        ["from": "checking", "to": .string(to), "amount": .string(amount), "idempotency_key": .string(key)]
    }

    static func payroll(_ count: Int, of amount: String, prefix: String = "pay") -> JSONValue {
        .array((0..<count).map { transfer(amount, to: $0 % 2 == 0 ? "alice" : "bob", key: "\(prefix)-\($0)") })
    }

    static func submit(
        _ harness: ApprovalHarness, _ id: String, _ transfers: JSONValue, requestedBy: String = "payroll-office",
        expiresIn: Int64? = nil
    ) async throws -> BatchApprovalView {
        var params: [String: JSONValue] = ["batch_id": .string(id), "requested_by": .string(requestedBy), "transfers": transfers]
        if let expiresIn { params["expires_in"] = .int(expiresIn) }
        return try await harness.call("approval.submit_batch", as: "operator", params).decode(as: BatchApprovalView.self)
    }

    static func get(_ harness: ApprovalHarness, _ id: String, as identity: String) async throws -> BatchApprovalView {
        try await harness.call("approval.get_batch", as: identity, ["approval_id": .string(id)]).decode(as: BatchApprovalView.self)
    }

    static func decide(_ harness: ApprovalHarness, _ id: String, as approver: String, _ decision: String = "approve") async throws -> BatchApprovalView {
        try await harness.call("approval.decide_batch", as: approver, ["approval_id": .string(id), "decision": .string(decision)])
            .decode(as: BatchApprovalView.self)
    }

    @Test(arguments: DatabaseBackend.allCases) func aPayrollIsApprovedOnceWithAGrantForExactlyItsTransfers(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let transfers = Self.payroll(3, of: "150")
        let batch = try await Self.submit(harness, "payroll-2026-12", transfers)
        #expect(batch.status == .pending && batch.grant == nil)
        #expect(batch.approvalID.hasPrefix("ab_"))
        #expect(batch.requiredApprovers == 1 && batch.policyRule == "batch:transfer-over-100-one-approver")
        #expect(batch.batch.count == 3 && batch.batch.total == "450.00" && batch.batch.currency == "USD")
        #expect(batch.transfers?.map(\.currency) == ["USD", "USD", "USD"], "the currency is filled in")

        // Idempotent on batch_id; other transfers under the same id are refused.
        #expect(try await Self.submit(harness, "payroll-2026-12", transfers).approvalID == batch.approvalID)
        await expectError("approval.submit_batch", .alreadyExists, "IDEMPOTENCY_KEY_REUSED") {
            _ = try await Self.submit(harness, "payroll-2026-12", Self.payroll(3, of: "151"))
        }
        // Roles: the agent cannot submit a batch, the operator cannot decide one.
        await expectError("approval.submit_batch", .permissionDenied, "ROLE_NOT_ALLOWED") {
            try await harness.call("approval.submit_batch", as: "agent", ["batch_id": "b", "requested_by": "x", "transfers": transfers])
        }
        await expectError("approval.decide_batch", .permissionDenied, "ROLE_NOT_ALLOWED") {
            _ = try await Self.decide(harness, batch.approvalID, as: "operator")
        }

        let approved = try await Self.decide(harness, batch.approvalID, as: "approver1")
        #expect(approved.status == .approved && approved.approvedBy == ["approver1"])
        #expect(approved.grant == nil, "approvers never see the grant")
        let grant = try #require(try await Self.get(harness, batch.approvalID, as: "operator").grant)
        #expect(grant.batch == batch.batch && grant.approvers == ["approver1"] && grant.approvalID == batch.approvalID)
        let items = try #require(batch.transfers).map { BatchItem(action: Action(kind: .transfer, from: $0.from, to: $0.to, amount: $0.amount), idempotencyKey: $0.idempotencyKey) }
        try harness.verifier().verify(grant, covers: items)
        #expect(throws: RPCError.self, "the grant covers nothing else") { try harness.verifier().verify(grant, covers: Array(items.dropLast())) }

        // Once approved, nobody decides it again.
        await expectError("approval.decide_batch", .failedPrecondition, "ALREADY_APPROVED") {
            _ = try await Self.decide(harness, batch.approvalID, as: "approver2", "reject")
        }
        #expect(try await Self.get(harness, batch.approvalID, as: "approver2") == approved)
        let listed = try await harness.call("approval.list_batches", ["status": "approved"])
        #expect(listed["batches"]?.arrayValues?.map { $0["approval_id"] } == [.string(batch.approvalID)])
        #expect(listed["batches"]?.arrayValues?.first?["transfers"] == nil, "lists carry summaries only")

        let audit = try await harness.call("approval.audit", ["approval_id": .string(batch.approvalID)])
        let steps = audit["records"]?.arrayValues ?? []
        #expect(steps.map { $0["step"]?.stringValue } == ["submitted", "vote", "approved"])
        #expect(steps.allSatisfy { $0["action_hash"]?.stringValue == batch.batch.digest })
        #expect(try await harness.verifyAudit().ok)
        #expect(try await harness.events().isEmpty, "batches stay out of the agents' event feed")
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func aBatchNeedsAPersonAlwaysAndTwoWhenItsTotalIsLarge(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        // Each $30 transfer, and their $90 total, would be approved by policy; the batch still needs a person.
        let small = try await Self.submit(harness, "small", Self.payroll(3, of: "30"))
        #expect(small.status == .pending && small.requiredApprovers == 1 && small.policyRule == "batch:always-a-person")
        // Three $50 transfers are small, their $150 total is not: the total's rule decides.
        let medium = try await Self.submit(harness, "medium", Self.payroll(3, of: "50"))
        #expect(medium.requiredApprovers == 1 && medium.policyRule == "batch:transfer-over-100-one-approver")
        // 200 × $60 = $12,000: its total is in the two-approver tier.
        let large = try await Self.submit(harness, "large", Self.payroll(200, of: "60"))
        #expect(large.requiredApprovers == 2 && large.policyRule == "batch:large-transfer-two-approvers")
        #expect(large.batch.total == "12000.00")
        let once = try await Self.decide(harness, large.approvalID, as: "approver1")
        #expect(once.status == .pending && once.grant == nil)
        // The same approver again counts once; voting the other way is refused.
        #expect(try await Self.decide(harness, large.approvalID, as: "approver1") == once)
        await expectError("approval.decide_batch", .failedPrecondition, "APPROVER_ALREADY_VOTED") {
            _ = try await Self.decide(harness, large.approvalID, as: "approver1", "reject")
        }
        let twice = try await Self.decide(harness, large.approvalID, as: "approver2")
        #expect(twice.status == .approved)
        #expect(try await Self.get(harness, large.approvalID, as: "agent").grant?.approvers == ["approver1", "approver2"])
        // The requester's name never decides, even holding an approver's token.
        let own = try await Self.submit(harness, "own", Self.payroll(1, of: "500"), requestedBy: "approver1")
        await expectError("approval.decide_batch", .permissionDenied, "REQUESTER_CANNOT_DECIDE") {
            _ = try await Self.decide(harness, own.approvalID, as: "approver1")
        }
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func aRejectedOrExpiredBatchHasNoGrant(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let rejected = try await Self.submit(harness, "r", Self.payroll(2, of: "200"))
        let outcome = try await harness.call(
            "approval.decide_batch", as: "approver1", ["approval_id": .string(rejected.approvalID), "decision": "reject", "reason": "wrong month"])
        #expect(outcome["status"] == "rejected" && outcome["grant"] == nil && outcome["reason"] == "wrong month")
        await expectError("approval.decide_batch", .failedPrecondition, "ALREADY_REJECTED") {
            _ = try await Self.decide(harness, rejected.approvalID, as: "approver2")
        }

        let lapsing = try await Self.submit(harness, "e", Self.payroll(2, of: "200"), expiresIn: 1)
        try await Task.sleep(for: .milliseconds(2_500))  // the expiry timer wakes at least once a second
        let expired = try await harness.call("approval.get_batch", ["approval_id": .string(lapsing.approvalID)])
        #expect(expired["status"] == "expired" && expired["grant"] == nil)
        await expectError("approval.decide_batch", .failedPrecondition, "APPROVAL_EXPIRED") {
            _ = try await Self.decide(harness, lapsing.approvalID, as: "approver1")
        }
        let steps = try await harness.call("approval.audit", ["approval_id": .string(lapsing.approvalID)])["records"]?.arrayValues
        #expect(steps?.last?["step"] == "expired" && steps?.last?["actor"] == "system:expiry")
        #expect(try await harness.verifyAudit().ok)
        await harness.stop()
    }

    /// (params, reason, field) for approval.submit_batch.
    static let badSubmissions: [([String: JSONValue], String, String)] = [
        (["requested_by": "x", "transfers": payroll(1, of: "1")], "MISSING_FIELD", "batch_id"),
        (["batch_id": "b", "requested_by": "x", "transfers": []], "INVALID_FIELD", "transfers"),
        (["batch_id": "b", "requested_by": "x", "transfers": payroll(501, of: "1")], "INVALID_FIELD", "transfers"),
        (["batch_id": "b", "requested_by": "x", "transfers": [transfer("1.001", key: "k")]], "INVALID_FIELD", "transfers[0].amount"),
        (["batch_id": "b", "requested_by": "x", "transfers": [transfer("1", key: "k"), transfer("0", key: "l")]], "INVALID_FIELD", "transfers[1].amount"),
        (["batch_id": "b", "requested_by": "x", "transfers": [transfer("1", to: "checking", key: "k")]], "INVALID_FIELD", "transfers[0].to"),
        (["batch_id": "b", "requested_by": "x", "transfers": [transfer("1", to: "Bob Smith", key: "k")]], "INVALID_FIELD", "transfers[0].to"),
        (["batch_id": "b", "requested_by": "x", "transfers": [transfer("1", key: "k"), transfer("2", key: "k")]], "DUPLICATE_IDEMPOTENCY_KEY", "transfers[1].idempotency_key"),
        (["batch_id": "b", "requested_by": "x", "transfers": [transfer("1", key: "k"), ["from": "checking", "to": "bob", "amount": "1", "currency": "EUR", "idempotency_key": "l"]]], "INVALID_FIELD", "transfers[1].currency"),
        (["batch_id": "b", "requested_by": "x", "transfers": [["from": "checking", "to": "bob", "amount": "1", "idempotency_key": ""]]], "INVALID_FIELD", "transfers[0].idempotency_key"),
        (["batch_id": "b", "requested_by": "x", "transfers": payroll(1, of: "1"), "expires_in": 0], "EXPIRY_OUT_OF_RANGE", "expires_in"),
    ]

    @Test(arguments: DatabaseBackend.allCases) func badInputIsInvalidArgumentNamingTheField(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        for (params, reason, field) in Self.badSubmissions {
            await expectError("approval.submit_batch", .invalidArgument, reason, field: field) {
                try await harness.call("approval.submit_batch", as: "operator", params)
            }
        }
        await expectError("approval.decide_batch", .invalidArgument, "INVALID_FIELD", field: "decision") {
            try await harness.call("approval.decide_batch", as: "approver1", ["approval_id": "ab_x", "decision": "maybe"])
        }
        await expectError("approval.list_batches", .invalidArgument, "INVALID_FIELD", field: "limit") {
            try await harness.call("approval.list_batches", ["limit": 0])
        }
        await expectError("approval.get_batch", .notFound, "APPROVAL_NOT_FOUND") {
            try await harness.call("approval.get_batch", ["approval_id": "ab_missing"])
        }
        await expectError("approval.decide_batch", .notFound, "APPROVAL_NOT_FOUND") {
            _ = try await Self.decide(harness, "ap_single_not_batch", as: "approver1")
        }
        #expect(try await harness.call("approval.list_batches")["batches"]?.arrayValues?.isEmpty == true, "nothing was stored")
        await harness.stop()
    }
}
