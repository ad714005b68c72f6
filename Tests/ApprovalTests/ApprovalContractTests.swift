import Approval
import Banking
import Foundation
import RPC
import RPCTesting
import Testing

/// Black-box tests over the real `approval-svc` socket, checked against
/// `Protocols/approval.openrpc.json`.
@Suite(.serialized)
struct ApprovalContractTests {
    @Test(arguments: DatabaseBackend.allCases) func servedMethodsAreExactlyTheDocumentedOnes(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let discovered = try await harness.client(nil).call("rpc.discover", NoParams(), as: JSONValue.self)
        guard case .array(let methods)? = discovered["methods"] else { Issue.record("no methods"); return }
        let served = Set(methods.compactMap { $0["name"]?.stringValue }.filter { $0.hasPrefix("approval.") })
        #expect(served == Set(Contract.shared.methodNames.filter { $0.hasPrefix("approval.") }))
        #expect(served.count == 20)
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func policyApprovesDepositsAndSmallTransfersWithAVerifiableGrant(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let verifier = try harness.verifier()
        let version = try Policy.load(path: PolicyTests.shipped).version
        for action in [Actions.deposit("500.00"), Actions.transfer("100.00")] {
            let approval = try await harness.submit(run: "run-auto", call: "call-\(action["kind"]!.stringValue!)", action)
            #expect(approval.status == .approved)
            #expect(approval.requiredApprovers == 0)
            let grant = try #require(approval.grant)
            #expect(grant.approvers == ["policy:auto"])
            #expect(grant.policyVersion == version)
            #expect(grant.idempotencyKey == "run-auto:\(approval.callID)")
            #expect(grant.grantID.wholeMatch(of: /gr_[A-Za-z0-9_-]{8,64}/) != nil)
            try verifier.verify(grant, permits: try Actions.action(action), idempotencyKey: grant.idempotencyKey)
        }
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func submitIsIdempotentOnRunAndCall(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let first = try await harness.submit(run: "run-1", call: "call-1", Actions.transfer("150.00"))
        let again = try await harness.submit(run: "run-1", call: "call-1", Actions.transfer("150.00"))
        #expect(first.approvalID == again.approvalID)
        #expect(again.status == .pending)
        await expectError("approval.submit", .alreadyExists, "IDEMPOTENCY_KEY_REUSED") {
            _ = try await harness.submit(run: "run-1", call: "call-1", Actions.transfer("151.00"))
        }
        let auto = try await harness.submit(run: "run-1", call: "call-2", Actions.deposit("10.00"))
        let autoAgain = try await harness.submit(run: "run-1", call: "call-2", Actions.deposit("10.00"))
        #expect(auto.grant == autoAgain.grant, "a retried auto-approval returns the same grant, not a second one")
        let events = try await harness.events()
        #expect(events.map(\.type) == ["submitted", "submitted", "approved"])
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func oneApproverApprovesAndTheExecutorCompletes(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let pending = try await harness.submit(Actions.transfer("150.00"))
        #expect(pending.status == .pending)
        #expect(pending.requiredApprovers == 1)
        #expect(pending.policyRule == "transfer-over-100-one-approver")
        #expect(pending.grant == nil)
        let approved = try await harness.decide(pending.approvalID, as: "approver1", reason: "looks right")
        #expect(approved.status == .approved)
        #expect(approved.approvedBy == ["approver1"])
        #expect(approved.grant == nil, "an approver never sees the grant; the executor reads it")
        let grant = try #require(try await harness.grant(pending.approvalID))
        #expect(grant.approvers == ["approver1"])
        try harness.verifier().verify(grant, permits: try Actions.action(Actions.transfer("150.00")), idempotencyKey: grant.idempotencyKey)

        await expectError("approval.decide", .failedPrecondition, "ALREADY_APPROVED") {
            _ = try await harness.decide(pending.approvalID, as: "approver2")
        }
        await expectError("approval.cancel", .failedPrecondition, "ALREADY_APPROVED") {
            try await harness.call("approval.cancel", as: "agent", ["approval_id": .string(pending.approvalID), "reason": "changed my mind"])
        }
        let outcome: JSONValue = .object(["status": "succeeded", "detail": "journal 42"])
        let completed = try await harness.call(
            "approval.complete", as: "agent", ["approval_id": .string(pending.approvalID), "outcome": outcome]
        ).decode(as: ApprovalView.self)
        #expect(completed.status == .completed)
        #expect(completed.outcome?.detail == "journal 42")
        _ = try await harness.call("approval.complete", as: "agent", ["approval_id": .string(pending.approvalID), "outcome": outcome])
        await expectError("approval.complete", .failedPrecondition, "ALREADY_COMPLETED") {
            try await harness.call("approval.complete", as: "agent", [
                "approval_id": .string(pending.approvalID), "outcome": .object(["status": "failed"]),
            ])
        }
        await expectError("approval.decide", .failedPrecondition, "ALREADY_COMPLETED") {
            _ = try await harness.decide(pending.approvalID, as: "approver2", "reject")
        }
        let types = try await harness.events().map(\.type)
        #expect(types == ["submitted", "approved", "completed"])
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func separationOfDuties(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        // At the two-person tier the requester's own vote never counts.
        let pending = try await harness.submit(Actions.transfer("15000.00"), requestedBy: "approver2")
        #expect(pending.requiredApprovers == 2 && !pending.requesterMayApprove)
        await expectError("approval.decide", .permissionDenied, "ROLE_NOT_ALLOWED") {
            _ = try await harness.decide(pending.approvalID, as: "agent")
        }
        await expectError("approval.decide", .permissionDenied, "ROLE_NOT_ALLOWED") {
            _ = try await harness.decide(pending.approvalID, as: "operator")
        }
        await expectError("approval.decide", .unauthenticated, "UNAUTHENTICATED") {
            _ = try await harness.decide(pending.approvalID, as: nil)
        }
        await expectError("approval.submit", .permissionDenied, "ROLE_NOT_ALLOWED") {
            try await harness.call("approval.submit", as: "approver1", [
                "run_id": "r", "call_id": "c", "action": .object(Actions.deposit("1.00")), "requested_by": "me",
            ])
        }
        await expectError("approval.get", .unauthenticated, "UNKNOWN_TOKEN") {
            _ = try await RPCClient(path: harness.home.socket("approval"), token: "not-a-token")
                .call("approval.get", ["approval_id": JSONValue.string(pending.approvalID)], as: JSONValue.self)
        }
        await expectError("approval.decide", .permissionDenied, "REQUESTER_CANNOT_DECIDE") {
            _ = try await harness.decide(pending.approvalID, as: "approver2")
        }
        #expect(try await harness.get(pending.approvalID).status == .pending)
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func twoApproverTierNeedsTwoDistinctPeople(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let pending = try await harness.submit(Actions.transfer("20000.00"))
        #expect(pending.requiredApprovers == 2)
        let once = try await harness.decide(pending.approvalID, as: "approver1")
        #expect(once.status == .pending)
        #expect(once.approvedBy == ["approver1"])
        let twice = try await harness.decide(pending.approvalID, as: "approver1")
        #expect(twice.status == .pending, "the same approver twice counts once")
        #expect(twice.approvedBy == ["approver1"])
        await expectError("approval.decide", .failedPrecondition, "APPROVER_ALREADY_VOTED") {
            _ = try await harness.decide(pending.approvalID, as: "approver1", "reject")
        }
        let approved = try await harness.decide(pending.approvalID, as: "approver2")
        #expect(approved.status == .approved)
        #expect(try await harness.grant(pending.approvalID)?.approvers == ["approver1", "approver2"])
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func editedActionIsGrantedAndTheOriginalNever(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let verifier = try harness.verifier()
        let original = Actions.transfer("500.00")
        let edited = Actions.transfer("90.00")
        let pending = try await harness.submit(original)
        await expectError("approval.decide", .invalidArgument, "EDIT_REQUIRES_APPROVE", field: "edited_action") {
            _ = try await harness.decide(pending.approvalID, as: "approver1", "reject", edited: edited)
        }
        await expectError("approval.decide", .invalidArgument, "INVALID_FIELD", field: "edited_action.from") {
            _ = try await harness.decide(pending.approvalID, as: "approver1", edited: Actions.transfer("90.00", from: "Checking"))
        }
        let approved = try await harness.decide(pending.approvalID, as: "approver1", edited: edited, version: 1)
        #expect(approved.status == .approved)
        #expect(approved.version == 2)
        #expect(approved.action == (try Actions.action(edited)))
        #expect(approved.originalAction == (try Actions.action(original)))
        let grant = try #require(try await harness.grant(pending.approvalID))
        #expect(grant.approvalVersion == 2)
        try verifier.verify(grant, permits: try Actions.action(edited), idempotencyKey: grant.idempotencyKey)
        #expect(throws: RPCError.self) {
            try verifier.verify(grant, permits: try Actions.action(original), idempotencyKey: grant.idempotencyKey)
        }
        let audit = try await harness.call("approval.audit", ["approval_id": .string(pending.approvalID)])
        let records = try (audit["records"] ?? .null).decode(as: [AuditRecord].self)
        #expect(records.map(\.step) == ["submitted", "edited", "vote", "approved"])
        #expect(records.filter { $0.step == "approved" }.map(\.version) == [2], "only the edited version was ever approved")
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func anEditIntoTheTwoApproverTierNeedsASecondApprover(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let pending = try await harness.submit(Actions.transfer("150.00"))
        let edited = try await harness.decide(pending.approvalID, as: "approver1", edited: Actions.transfer("15000.00"))
        #expect(edited.status == .pending)
        #expect(edited.version == 2)
        #expect(edited.requiredApprovers == 2)
        #expect(edited.approvedBy == ["approver1"])
        await expectError("approval.decide", .failedPrecondition, "VERSION_MISMATCH") {
            _ = try await harness.decide(pending.approvalID, as: "approver2", version: 1)
        }
        let approved = try await harness.decide(pending.approvalID, as: "approver2", version: 2)
        #expect(approved.status == .approved)
        let grant = try await harness.grant(pending.approvalID)
        #expect(grant?.action == (try Actions.action(Actions.transfer("15000.00"))))
        #expect(grant?.approvers == ["approver1", "approver2"])
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func rejectAndCancelAreFinal(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let first = try await harness.submit(Actions.transfer("150.00"))
        let rejected = try await harness.decide(first.approvalID, as: "approver1", "reject", reason: "not today")
        #expect(rejected.status == .rejected)
        #expect(rejected.reason == "not today")
        #expect(rejected.grant == nil)
        await expectError("approval.decide", .failedPrecondition, "ALREADY_REJECTED") {
            _ = try await harness.decide(first.approvalID, as: "approver2")
        }
        await expectError("approval.complete", .failedPrecondition, "NOT_APPROVED") {
            try await harness.call("approval.complete", as: "agent", [
                "approval_id": .string(first.approvalID), "outcome": .object(["status": "succeeded"]),
            ])
        }
        let second = try await harness.submit(Actions.transfer("150.00"))
        let cancel: [String: JSONValue] = ["approval_id": .string(second.approvalID), "reason": "the user withdrew"]
        let cancelled = try await harness.call("approval.cancel", as: "agent", cancel).decode(as: ApprovalView.self)
        #expect(cancelled.status == .cancelled)
        _ = try await harness.call("approval.cancel", as: "operator", cancel)
        await expectError("approval.decide", .failedPrecondition, "APPROVAL_CANCELLED") {
            _ = try await harness.decide(second.approvalID, as: "approver1")
        }
        await expectError("approval.cancel", .permissionDenied, "ROLE_NOT_ALLOWED") {
            try await harness.call("approval.cancel", as: "approver1", cancel)
        }
        let types = try await harness.events().map(\.type)
        #expect(types == ["submitted", "rejected", "submitted", "cancelled"])
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func unknownApprovalsAreNotFound(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let missing: JSONValue = "ap_doesnotexist"
        await expectError("approval.get", .notFound, "APPROVAL_NOT_FOUND") {
            try await harness.call("approval.get", ["approval_id": missing])
        }
        await expectError("approval.decide", .notFound, "APPROVAL_NOT_FOUND") {
            _ = try await harness.decide("ap_doesnotexist", as: "approver1")
        }
        await expectError("approval.cancel", .notFound, "APPROVAL_NOT_FOUND") {
            try await harness.call("approval.cancel", as: "agent", ["approval_id": missing, "reason": "x"])
        }
        await expectError("approval.complete", .notFound, "APPROVAL_NOT_FOUND") {
            try await harness.call("approval.complete", as: "agent", ["approval_id": missing, "outcome": .object(["status": "failed"])])
        }
        await expectError("approval.audit", .notFound, "APPROVAL_NOT_FOUND") {
            try await harness.call("approval.audit", ["approval_id": missing])
        }
        await harness.stop()
    }

    /// Bad input of every kind: (method, identity, params, reason, field).
    static let badInput: [(String, String, [String: JSONValue], String, String)] = [
        ("approval.submit", "agent", ["call_id": "c", "action": .object(Actions.deposit("1.00")), "requested_by": "a"], "MISSING_FIELD", "run_id"),
        ("approval.submit", "agent", ["run_id": "", "call_id": "c", "action": .object(Actions.deposit("1.00")), "requested_by": "a"], "INVALID_FIELD", "run_id"),
        ("approval.submit", "agent", ["run_id": .string(String(repeating: "r", count: 121)), "call_id": "c", "action": .object(Actions.deposit("1.00")), "requested_by": "a"], "INVALID_FIELD", "run_id"),
        ("approval.submit", "agent", ["run_id": "r", "call_id": "c", "action": .object(Actions.transfer("-5")), "requested_by": "a"], "INVALID_FIELD", "action.amount"),
        ("approval.submit", "agent", ["run_id": "r", "call_id": "c", "action": .object(Actions.transfer("1.001")), "requested_by": "a"], "INVALID_FIELD", "action.amount"),
        ("approval.submit", "agent", ["run_id": "r", "call_id": "c", "action": .object(Actions.transfer("0")), "requested_by": "a"], "INVALID_FIELD", "action.amount"),
        ("approval.submit", "agent", ["run_id": "r", "call_id": "c", "action": .object(Actions.transfer("1e3")), "requested_by": "a"], "INVALID_FIELD", "action.amount"),
        ("approval.submit", "agent", ["run_id": "r", "call_id": "c", "action": .object(["kind": "transfer", "from": "a", "to": "b", "amount": .int(150), "currency": "USD"]), "requested_by": "a"], "INVALID_FIELD", "action.amount"),
        ("approval.submit", "agent", ["run_id": "r", "call_id": "c", "action": .object(["kind": "steal", "to": "b", "amount": "1.00", "currency": "USD"]), "requested_by": "a"], "INVALID_FIELD", "action.kind"),
        ("approval.submit", "agent", ["run_id": "r", "call_id": "c", "action": .object(["kind": "transfer", "to": "b", "amount": "1.00", "currency": "USD"]), "requested_by": "a"], "INVALID_FIELD", "action.from"),
        ("approval.submit", "agent", ["run_id": "r", "call_id": "c", "action": .object(Actions.transfer("1.00", from: "alice", to: "alice")), "requested_by": "a"], "INVALID_FIELD", "action.to"),
        ("approval.submit", "agent", ["run_id": "r", "call_id": "c", "action": .object(Actions.transfer("1.00", to: "Bob Smith")), "requested_by": "a"], "INVALID_FIELD", "action.to"),
        ("approval.submit", "agent", ["run_id": "r", "call_id": "c", "action": .object(["kind": "deposit", "to": "b", "amount": "1.00", "currency": "usd"]), "requested_by": "a"], "INVALID_FIELD", "action.currency"),
        ("approval.submit", "agent", ["run_id": "r", "call_id": "c", "action": .object(Actions.deposit("1.00")), "requested_by": "a", "expires_in": 0], "EXPIRY_OUT_OF_RANGE", "expires_in"),
        ("approval.submit", "agent", ["run_id": "r", "call_id": "c", "action": "transfer", "requested_by": "a"], "INVALID_FIELD", "action"),
        ("approval.decide", "approver1", ["approval_id": "ap_x", "decision": "maybe"], "INVALID_FIELD", "decision"),
        ("approval.decide", "approver1", ["decision": "approve"], "MISSING_FIELD", "approval_id"),
        ("approval.decide", "approver1", ["approval_id": "ap_x", "decision": "approve", "reason": .string(String(repeating: "x", count: 1001))], "INVALID_FIELD", "reason"),
        ("approval.decide", "approver1", ["approval_id": "ap_x", "decision": "approve", "version": 0], "INVALID_FIELD", "version"),
        ("approval.cancel", "agent", ["approval_id": "ap_x"], "MISSING_FIELD", "reason"),
        ("approval.complete", "agent", ["approval_id": "ap_x", "outcome": .object(["status": "maybe"])], "INVALID_FIELD", "outcome.status"),
        ("approval.get", "operator", [:], "MISSING_FIELD", "approval_id"),
        ("approval.list", "operator", ["limit": 0], "INVALID_FIELD", "limit"),
        ("approval.list", "operator", ["status": "lost"], "INVALID_FIELD", "status"),
        ("approval.list", "operator", ["cursor": "zzz"], "INVALID_CURSOR", "cursor"),
        ("approval.events", "operator", ["after_seq": -1], "INVALID_FIELD", "after_seq"),
        ("approval.events", "operator", ["limit": 1001], "INVALID_FIELD", "limit"),
        ("approval.watch", "operator", ["max_events": 0], "INVALID_FIELD", "max_events"),
        ("approval.audit", "operator", ["approval_id": 7], "INVALID_FIELD", "approval_id"),
    ]

    @Test(arguments: DatabaseBackend.allCases) func badInputIsInvalidArgumentNamingTheField(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        for (method, identity, params, reason, field) in Self.badInput {
            await expectError(method, .invalidArgument, reason, field: field) {
                try await harness.call(method, as: identity, params)
            }
        }
        #expect(try await harness.events().isEmpty, "no bad input changed anything")
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func listFiltersAndPages(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        var pendingIDs: [String] = []
        for index in 0..<5 {
            pendingIDs.append(try await harness.submit(run: "run-a", call: "call-\(index)", Actions.transfer("150.00")).approvalID)
        }
        _ = try await harness.submit(run: "run-b", call: "call-1", Actions.deposit("1.00"))
        var seen: [String] = []
        var cursor: JSONValue?
        repeat {
            var params: [String: JSONValue] = ["status": "pending", "limit": 2]
            if let cursor { params["cursor"] = cursor }
            let page = try await harness.call("approval.list", params)
            seen += try (page["approvals"] ?? .null).decode(as: [ApprovalView].self).map(\.approvalID)
            cursor = page["next_cursor"]
        } while cursor != nil
        #expect(seen == pendingIDs)
        let runB = try await harness.call("approval.list", as: "agent", ["run_id": "run-b"])
        let runBApprovals = try (runB["approvals"] ?? .null).decode(as: [ApprovalView].self)
        #expect(runBApprovals.map(\.status) == [.approved])
        await harness.stop()
    }
}

/// Start-up refuses a bad policy with a clear error.
struct ApprovalStartupTests {
    @Test func anInvalidPolicyStopsTheServiceWithAClearError() async throws {
        let home = try TestHome.make()
        defer { home.remove() }
        let policy = home.directory.home.appendingPathComponent("policy.json").path
        try #"{"version": "v", "rules": [{"name": "x", "kind": "transfer", "approvers": 7}]}"#
            .write(toFile: policy, atomically: true, encoding: .utf8)
        do {
            let process = try await ServiceProcess.launch("approval-svc", service: "approval", home: home, arguments: ["--policy", policy])
            await process.terminate()
            Issue.record("approval-svc started with an invalid policy")
        } catch {
            #expect("\(error)".contains("rules[0] 'x'.approvers must be between 0"), "\(error)")
        }
    }
}
