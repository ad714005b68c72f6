import Approval
import Banking
import Foundation
import RPC
import RPCTesting
import Testing

/// The walks past the policy that issue 12 found, each tried against the real
/// approval-svc with the shipped policy: every one now ends at a person.
@Suite(.serialized)
struct PolicyWalkTests {
    /// Six $90 transfers: the policy approves the first two ($180 of its $200 a day), and
    /// every one after needs a person, saying which budget and with what figures.
    @Test(arguments: DatabaseBackend.allCases) func repeatedSmallTransfersStopAtAPersonOnceTheBudgetIsSpent(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        var decided: [ApprovalView] = []
        for index in 0..<6 { decided.append(try await harness.submit(call: "c\(index)", Actions.transfer("90.00"))) }
        #expect(decided.map(\.requiredApprovers) == [0, 0, 1, 1, 1, 1])
        #expect(decided.map(\.status) == [.approved, .approved, .pending, .pending, .pending, .pending])
        let third = decided[2]
        #expect(third.policyRule == "daily-auto-transfer-budget")
        #expect(third.policyFigures == ["amount": "90.00", "window": "24h", "window_total": "270.00", "limit": "200.00"])
        let audit = try await harness.call("approval.audit", ["approval_id": .string(third.approvalID)])
        let submitted = try #require(audit["records"]?.arrayValues?.first?["detail"]?.stringValue)
        #expect(submitted.contains("daily-auto-transfer-budget") && submitted.contains("window_total"), "the audit chain names the rule and figures")
        await harness.stop()
    }

    /// One model turn of 100 × $99: two run by policy ($198), the other 98 wait for a person.
    @Test(arguments: DatabaseBackend.allCases) func aHundredSmallTransfersInOneGoMoveAtMostTheBudget(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let results = try await withThrowingTaskGroup(of: ApprovalView.self) { group in
            for index in 0..<100 {
                group.addTask { try await harness.submit(run: "turn", call: "c\(index)", Actions.transfer("99.00")) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let automatic = results.filter { $0.requiredApprovers == 0 }
        #expect(automatic.count == 2, "the policy approved \(automatic.count) by itself")
        #expect(results.filter { $0.status == .pending }.count == 98)
        await harness.stop()
    }

    /// A $15,000 payment split in two $7,500 transfers: the second needs what $15,000
    /// needs, two people other than the requester.
    @Test(arguments: DatabaseBackend.allCases) func splittingAPaymentNeedsTwoPeopleOtherThanTheRequester(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let first = try await harness.submit(call: "c1", Actions.transfer("7500.00"), requestedBy: "approver1")
        #expect(first.requiredApprovers == 1 && first.requesterMayApprove)
        let second = try await harness.submit(call: "c2", Actions.transfer("7500.00"), requestedBy: "approver1")
        #expect(second.requiredApprovers == 2 && !second.requesterMayApprove)
        #expect(second.policyRule == "large-transfer-two-approvers")
        #expect(second.policyFigures["window_total"] == "15000.00")
        await expectError("approval.decide", .permissionDenied, "REQUESTER_CANNOT_DECIDE") {
            _ = try await harness.decide(second.approvalID, as: "approver1")
        }
        #expect(try await harness.decide(second.approvalID, as: "approver2").status == .pending)
        #expect(try await harness.decide(second.approvalID, as: "approver3").status == .approved)
        // At the one-person tier the requester confirms their own transfer (the seed's Pattern 1).
        #expect(try await harness.decide(first.approvalID, as: "approver1").status == .approved)
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func aLargeDepositWaitsForPeople(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let seed = try await harness.submit(call: "c1", Actions.deposit("200.00"))
        #expect(seed.status == .approved, "the seed's $200 deposit still runs at once")
        var deposits = 0
        for index in 0..<5 where try await harness.submit(call: "d\(index)", Actions.deposit("900.00")).requiredApprovers == 0 {
            deposits += 1
        }
        #expect(deposits == 2, "$200 + 2 × $900 fit the $2,000 a day the policy deposits by itself")
        let huge = try await harness.submit(call: "c2", Actions.deposit("5000000.00"))
        #expect(huge.status == .pending && huge.requiredApprovers == 2 && huge.policyRule == "large-deposit-two-approvers")
        // While it waits, it counts: the day's deposits are past $10,000, so every other one needs two people.
        #expect(try await harness.submit(call: "c3", Actions.deposit("10.00")).requiredApprovers == 2)
        await harness.stop()
    }

    /// An edit changes the amount, payee or memo only; one that sends more, or to someone
    /// else, needs a second person; every vote names the version it saw.
    @Test(arguments: DatabaseBackend.allCases) func editsStayWithinBounds(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let rent = try await harness.submit(call: "c1", Actions.transfer("500.00", to: "bob"))
        for (edited, field) in [
            (Actions.transfer("400.00", from: "alice", to: "checking"), "edited_action.from"),
            (Actions.deposit("400.00", to: "checking"), "edited_action.kind"),
            (Actions.transfer("400.00", to: "bob").merging(["currency": "EUR"]) { $1 }, "edited_action.currency"),
        ] {
            await expectError("approval.decide", .invalidArgument, field == "edited_action.currency" ? "CURRENCY_NOT_HELD" : "EDIT_NOT_ALLOWED", field: field) {
                _ = try await harness.decide(rent.approvalID, as: "approver1", edited: edited, version: 1)
            }
        }
        // Another payee: the editor's vote and someone else's.
        let redirected = try await harness.decide(rent.approvalID, as: "approver1", edited: Actions.transfer("500.00", to: "alice"), version: 1)
        #expect(redirected.status == .pending && redirected.requiredApprovers == 2 && redirected.version == 2)
        #expect(redirected.policyFigures["second_person"]?.contains("payee") == true)
        #expect(redirected.policyFigures["edited_by"] == "approver1")
        // A stale vote is refused with the current version; the current one counts.
        do {
            _ = try await harness.decide(rent.approvalID, as: "approver2", version: 1)
            Issue.record("a vote on version 1 was taken after the edit")
        } catch let error as RPCError {
            #expect(error.reason == "VERSION_MISMATCH" && error.details["version"] == 2, "\(error)")
        }
        #expect(try await harness.decide(rent.approvalID, as: "approver2", version: 2).status == .approved)

        // A raise needs a second person too; a cut does not.
        let raised = try await harness.submit(call: "c2", Actions.transfer("150.00", to: "bob"))
        let more = try await harness.decide(raised.approvalID, as: "approver1", edited: Actions.transfer("180.00", to: "bob"), version: 1)
        #expect(more.status == .pending && more.requiredApprovers == 2)
        let cut = try await harness.submit(call: "c3", Actions.transfer("150.00", to: "bob"))
        let less = try await harness.decide(cut.approvalID, as: "approver1", edited: Actions.transfer("120.00", to: "bob"), version: 1)
        #expect(less.status == .approved && less.requiredApprovers == 1)
        // The memo is the approvers' to change as well, and part of what is signed.
        let memo = try await harness.submit(call: "c4", Actions.transfer("150.00", to: "bob").merging(["memo": "rent"]) { $1 })
        let relabelled = try await harness.decide(
            memo.approvalID, as: "approver1", edited: Actions.transfer("150.00", to: "bob").merging(["memo": "rent, December"]) { $1 }, version: 1)
        #expect(relabelled.status == .approved && relabelled.action.memo == "rent, December")
        #expect(try await harness.grant(memo.approvalID)?.action.memo == "rent, December")
        await harness.stop()
    }

    @Test(arguments: DatabaseBackend.allCases) func aVoteMustNameItsVersion(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let pending = try await harness.submit(Actions.transfer("150.00"))
        await expectError("approval.decide", .invalidArgument, "MISSING_FIELD", field: "version") {
            _ = try await harness.call("approval.decide", as: "approver1", ["approval_id": .string(pending.approvalID), "decision": "approve"])
        }
        #expect(try await harness.get(pending.approvalID).approvedBy.isEmpty)
        await harness.stop()
    }

    /// The requester is a person of this stack who owns the paying account; the
    /// currency is one the books hold.
    @Test(arguments: DatabaseBackend.allCases) func onlyPeopleAskAndOnlyForTheirOwnAccounts(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        for name in ["agent", "someone"] {
            await expectError("approval.submit", .permissionDenied, "REQUESTER_NOT_A_PERSON") {
                _ = try await harness.submit(call: "c-\(name)", Actions.transfer("10.00"), requestedBy: name)
            }
        }
        await expectError("approval.submit", .permissionDenied, "ACCOUNT_NOT_OWNED") {
            _ = try await harness.submit(call: "c1", Actions.transfer("10.00", from: "alice", to: "bob"))
        }
        await expectError("approval.submit", .permissionDenied, "ACCOUNT_NOT_OWNED") {
            _ = try await harness.submit(call: "c2", Actions.deposit("10.00", to: "savings"))
        }
        await expectError("approval.submit", .invalidArgument, "CURRENCY_NOT_HELD", field: "action.currency") {
            _ = try await harness.submit(call: "c3", Actions.transfer("10.00").merging(["currency": "EUR"]) { $1 })
        }
        #expect(try await harness.events().isEmpty, "nothing refused was recorded")
        await harness.stop()
    }

    /// An approved action the executor could not run ends failed, with the reason; a
    /// batch that failed part-way too.
    @Test(arguments: DatabaseBackend.allCases) func whatCouldNotRunEndsFailedNeverApproved(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let auto = try await harness.submit(Actions.transfer("50.00", to: "nobody"))
        let failed = try await harness.call("approval.complete", as: "agent", [
            "approval_id": .string(auto.approvalID), "outcome": ["status": "failed", "detail": "ACCOUNT_NOT_FOUND: no account nobody"],
        ]).decode(as: ApprovalView.self)
        #expect(failed.status == .failed && failed.reason == "ACCOUNT_NOT_FOUND: no account nobody")
        #expect(try await harness.events().last?.type == "failed")
        let batch = try await harness.call("approval.submit_batch", as: "operator", [
            "batch_id": "b1", "requested_by": "operator",
            "transfers": [["from": "checking", "to": "alice", "amount": "10.00", "idempotency_key": "b1:0"]],
        ]).decode(as: BatchApprovalView.self)
        _ = try await harness.call("approval.decide_batch", as: "approver1", ["approval_id": .string(batch.approvalID), "decision": "approve"])
        let ended = try await harness.call("approval.complete_batch", as: "operator", [
            "approval_id": .string(batch.approvalID), "outcome": ["status": "failed", "detail": "transfers[0]: INSUFFICIENT_FUNDS"],
        ]).decode(as: BatchApprovalView.self)
        #expect(ended.status == .failed && ended.reason == "transfers[0]: INSUFFICIENT_FUNDS")
        await expectError("approval.complete_batch", .failedPrecondition, "ALREADY_COMPLETED") {
            _ = try await harness.call("approval.complete_batch", as: "operator", [
                "approval_id": .string(batch.approvalID), "outcome": ["status": "succeeded"],
            ])
        }
        #expect(try await harness.verifyAudit().ok)
        await harness.stop()
    }

    /// Grants go to the roles that execute, never to approvers or the gateway.
    @Test(arguments: DatabaseBackend.allCases) func onlyExecutorsSeeGrants(backend: DatabaseBackend) async throws {
        let home = try TestHome.make(identities: TestHome.defaultIdentities)
        let harness = try await ApprovalHarness.start(backend: backend, home: home)
        defer { Task { await harness.finish() } }
        let auto = try await harness.submit(Actions.transfer("50.00"))
        for (identity, sees) in [("agent", true), ("operator", true), ("approver1", false), ("gateway", false)] {
            let one = try await harness.call("approval.get", as: identity, ["approval_id": .string(auto.approvalID)])
            #expect((one["grant"] != nil) == sees, "\(identity) on approval.get")
            let listed = try await harness.call("approval.list", as: identity, ["status": "approved"])
            #expect((listed["approvals"]?.arrayValues?.first?["grant"] != nil) == sees, "\(identity) on approval.list")
        }
        await harness.stop()
    }

    /// A link token whose signature fails learns nothing about any approval.
    @Test(arguments: DatabaseBackend.allCases) func aForgedLinkPreviewsNothing(backend: DatabaseBackend) async throws {
        let home = try TestHome.make(identities: TestHome.defaultIdentities)
        let harness = try await ApprovalHarness.start(backend: backend, home: home)
        defer { Task { await harness.finish() } }
        let pending = try await harness.submit(Actions.transfer("150.00"))
        let payload = #"{"a":"\#(pending.approvalID)","d":"approve","e":4102444800,"n":"forged","v":1}"#
        let forged = "v1.\(Base64URL.encode(Data(payload.utf8))).\(Base64URL.encode(Data(repeating: 7, count: 32)))"
        do {
            _ = try await harness.call("approval.preview_link", as: "gateway", ["token": .string(forged)])
            Issue.record("a forged link was previewed")
        } catch let error as RPCError {
            #expect(error.reason == "LINK_INVALID")
            #expect(!error.message.contains(pending.approvalID) && error.details["approval_id"] == nil)
        }
        await harness.stop()
    }

    /// The policy file is reloaded when it changes: the new version decides from then on,
    /// and a broken file leaves the policy in force.
    @Test(arguments: DatabaseBackend.allCases) func thePolicyReloadsWithoutARestart(backend: DatabaseBackend) async throws {
        let home = try TestHome.make()
        let path = home.directory.home.appendingPathComponent("policy.json").path
        try String(contentsOfFile: PolicyTests.shipped, encoding: .utf8).write(toFile: path, atomically: true, encoding: .utf8)
        let harness = try await ApprovalHarness.start(backend: backend, policy: path, home: home)
        defer { Task { await harness.finish() } }
        #expect(try await harness.submit(call: "c1", Actions.transfer("50.00")).requiredApprovers == 0)
        try #"{"version": "strict-2", "rules": [{"name": "everything-one-approver", "kind": "transfer", "approvers": 1}]}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let deadline = ContinuousClock.now + .seconds(5)
        var decided = try await harness.submit(call: "c2", Actions.transfer("50.00"))
        var call = 3
        while decided.policyVersion != "strict-2", ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            decided = try await harness.submit(call: "c\(call)", Actions.transfer("1.00"))
            call += 1
        }
        #expect(decided.policyVersion == "strict-2" && decided.requiredApprovers == 1 && decided.policyRule == "everything-one-approver")
        try #"{"version": "broken", "rules": [{"name": "x", "kind": "transfer", "approvers": 42}]}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(2_500))
        #expect(try await harness.submit(call: "c-after", Actions.transfer("1.00")).policyVersion == "strict-2")
        await harness.stop()
    }

    /// A removed identity's token stops working within a second, without a restart.
    @Test(arguments: DatabaseBackend.allCases) func aRemovedIdentityIsRefusedAtOnce(backend: DatabaseBackend) async throws {
        let harness = try await ApprovalHarness.start(backend: backend)
        defer { Task { await harness.finish() } }
        let pending = try await harness.submit(Actions.transfer("150.00"))
        let token = try harness.home.token("approver2")
        let removed = try IdentityProvisioner.revoke(["approver2"], in: harness.home.directory)
        #expect(removed == ["approver2"])
        let client = RPCClient(path: harness.home.socket("approval"), token: token)
        defer { Task { await client.close() } }
        let clock = ContinuousClock()
        let start = clock.now
        var refusal: RPCError?
        while clock.now - start < .seconds(3) {
            do {
                _ = try await client.call("approval.get", ["approval_id": .string(pending.approvalID)] as JSONValue, as: JSONValue.self)
            } catch let error as RPCError {
                refusal = error
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(refusal?.reason == "UNKNOWN_TOKEN")
        #expect(clock.now - start < .seconds(1), "refused after \(clock.now - start)")
        await expectError("approval.decide", .unauthenticated, "UNKNOWN_TOKEN") {
            _ = try await client.call("approval.decide", [
                "approval_id": .string(pending.approvalID), "decision": "approve", "version": 1,
            ] as JSONValue, as: JSONValue.self)
        }
        await harness.stop()
    }
}
