import Banking
import Foundation
import RPC
import RPCTesting
import Testing

/// Holds over the real socket: reserve, post under a grant, void, expire.
struct LedgerHoldTests {
    static func expiry(_ seconds: TimeInterval) -> JSONValue { .string(GrantTime.format(Date().addingTimeInterval(seconds))) }

    /// A hold carries its transfer's memo: it posts only under a grant for exactly that
    /// memo, and the journal records it.
    @Test(arguments: DatabaseBackend.allCases) func aHoldPostsOnlyUnderAGrantForItsMemo(backend: DatabaseBackend) async throws {
        let ledger = try await LedgerHarness.start(backend: backend)
        defer { Task { await ledger.stop() } }
        try await ledger.open("checking", "1000.00")
        try await ledger.open("bob")
        let request: JSONValue = [
            "from": "checking", "to": "bob", "amount": "500.00", "memo": "rent", "idempotency_key": "run:rent", "expires_at": Self.expiry(3600),
        ]
        let hold = try await ledger.call("ledger.hold", request, as: "agent")
        #expect(hold["memo"] == "rent")
        try await ledger.expectError("ledger.hold", request.with("memo", "rent, December"), as: "agent", .alreadyExists, "IDEMPOTENCY_KEY_REUSED")
        let holdID = try #require(hold["hold_id"])
        for memo in [nil, "groceries"] as [String?] {
            let other = try ledger.grant(.transfer, from: "checking", to: "bob", amount: "500.00", key: "run:rent", memo: memo)
            try await ledger.expectError(
                "ledger.post", ["hold_id": holdID, "grant": try JSONValue(encoding: other)], as: "agent", .permissionDenied, "GRANT_ACTION_MISMATCH")
        }
        let grant = try ledger.grant(.transfer, from: "checking", to: "bob", amount: "500.00", key: "run:rent", memo: "rent")
        let posted = try await ledger.call("ledger.post", ["hold_id": holdID, "grant": try JSONValue(encoding: grant)], as: "agent")
        #expect(posted["state"] == "posted")
        let statement = try await ledger.call("ledger.statement", ["account": "bob"])
        #expect(statement["entries"]?.arrayValues?.last?["memo"] == "rent")
    }

    @Test(arguments: DatabaseBackend.allCases) func holdsReservePostAndVoidAtMostOnce(backend: DatabaseBackend) async throws {
        let ledger = try await LedgerHarness.start(backend: backend)
        defer { Task { await ledger.stop() } }
        try await ledger.open("checking", "1000.00")
        try await ledger.open("alice")
        let request: JSONValue = ["from": "checking", "to": "alice", "amount": "600.00", "idempotency_key": "run:hold1", "expires_at": Self.expiry(3600)]
        let hold = try await ledger.call("ledger.hold", request, as: "agent")
        #expect(hold["state"] == "pending")
        #expect(try await ledger.call("ledger.hold", request, as: "agent") == hold)
        try await ledger.expectError("ledger.hold", request.with("amount", "601.00"), as: "agent", .alreadyExists, "IDEMPOTENCY_KEY_REUSED")
        #expect(try await ledger.balance("checking") == ("1000.00", "600.00", "400.00"))
        // Held funds are not available: neither to a transfer nor to another hold.
        let overdraw = try ledger.grant(.transfer, from: "checking", to: "alice", amount: "400.01", key: "run:t1")
        try await ledger.expectError("ledger.transfer", try ledger.transferParams("checking", "alice", "400.01", key: "run:t1", grant: overdraw),
                                     as: "agent", .failedPrecondition, "INSUFFICIENT_FUNDS")
        try await ledger.expectError("ledger.hold", request.with("idempotency_key", "run:hold2").with("amount", "400.01"),
                                     as: "agent", .failedPrecondition, "INSUFFICIENT_FUNDS")

        let holdID = try #require(hold["hold_id"])
        let wrongAmount = try ledger.grant(.transfer, from: "checking", to: "alice", amount: "60.00", key: "run:hold1")
        try await ledger.expectError("ledger.post", ["hold_id": holdID, "grant": try JSONValue(encoding: wrongAmount)], as: "agent", .permissionDenied, "GRANT_ACTION_MISMATCH")
        let wrongKey = try ledger.grant(.transfer, from: "checking", to: "alice", amount: "600.00", key: "run:other")
        try await ledger.expectError("ledger.post", ["hold_id": holdID, "grant": try JSONValue(encoding: wrongKey)], as: "agent", .permissionDenied, "GRANT_IDEMPOTENCY_MISMATCH")
        try await ledger.expectError("ledger.post", ["hold_id": holdID], as: "agent", .permissionDenied, "GRANT_MISSING")
        #expect(try await ledger.balance("checking") == ("1000.00", "600.00", "400.00"))

        let grant = try JSONValue(encoding: try ledger.grant(
            .transfer, from: "checking", to: "alice", amount: "600.00", key: "run:hold1", approvalID: "ap_hold1"))
        let posted = try await ledger.call("ledger.post", ["hold_id": holdID, "grant": grant], as: "agent")
        #expect(posted["state"] == "posted")
        #expect(posted["entry_id"] != nil)
        #expect(try await ledger.balance("checking") == ("400.00", "0.00", "400.00"))
        #expect(try await ledger.balance("alice").0 == "600.00")
        // Posting again with the same grant answers the same; with another grant, or voiding, is refused.
        #expect(try await ledger.call("ledger.post", ["hold_id": holdID, "grant": grant], as: "agent") == posted)
        // A renewed grant of the same approval (a resume that retried after its grant was
        // renewed) hears what happened, once: the money moved, it is not told the post failed.
        let renewed = try JSONValue(encoding: try ledger.grant(
            .transfer, from: "checking", to: "alice", amount: "600.00", key: "run:hold1", approvalID: "ap_hold1"))
        #expect(try await ledger.call("ledger.post", ["hold_id": holdID, "grant": renewed], as: "agent") == posted)
        let renewedElsewhere = try JSONValue(encoding: try ledger.grant(
            .transfer, from: "checking", to: "alice", amount: "60.00", key: "run:hold1", approvalID: "ap_hold1"))
        try await ledger.expectError(
            "ledger.post", ["hold_id": holdID, "grant": renewedElsewhere], as: "agent", .failedPrecondition, "HOLD_ALREADY_POSTED")
        let second = try JSONValue(encoding: try ledger.grant(.transfer, from: "checking", to: "alice", amount: "600.00", key: "run:hold1"))
        try await ledger.expectError("ledger.post", ["hold_id": holdID, "grant": second], as: "agent", .failedPrecondition, "HOLD_ALREADY_POSTED")
        try await ledger.expectError("ledger.void", ["hold_id": holdID, "reason": "changed my mind"], as: "agent", .failedPrecondition, "HOLD_ALREADY_POSTED")
        #expect(try await ledger.balance("alice").0 == "600.00")

        let other = try await ledger.call("ledger.hold", request.with("idempotency_key", "run:hold3").with("amount", "100.00"), as: "agent")
        let otherID = try #require(other["hold_id"])
        #expect(try await ledger.balance("checking").2 == "300.00")
        let voided = try await ledger.call("ledger.void", ["hold_id": otherID, "reason": "rejected by approver1"], as: "operator")
        #expect(voided["state"] == "voided")
        #expect(voided["void_reason"] == "rejected by approver1")
        #expect(try await ledger.call("ledger.void", ["hold_id": otherID, "reason": "again"], as: "agent") == voided)
        #expect(try await ledger.balance("checking").2 == "400.00")
        let otherGrant = try JSONValue(encoding: try ledger.grant(.transfer, from: "checking", to: "alice", amount: "100.00", key: "run:hold3"))
        try await ledger.expectError("ledger.post", ["hold_id": otherID, "grant": otherGrant], as: "agent", .failedPrecondition, "HOLD_VOIDED")

        try await ledger.expectError("ledger.post", ["hold_id": "hold_999", "grant": otherGrant], as: "agent", .notFound, "HOLD_NOT_FOUND")
        try await ledger.expectError("ledger.post", ["hold_id": "nonsense", "grant": otherGrant], as: "agent", .notFound, "HOLD_NOT_FOUND")
        try await ledger.expectError("ledger.void", ["hold_id": "hold_999", "reason": "x"], as: "agent", .notFound, "HOLD_NOT_FOUND")
        try await ledger.expectError("ledger.void", ["hold_id": otherID, "reason": ""], as: "agent", .invalidArgument, "INVALID_FIELD", field: "reason")
        try await ledger.expectError("ledger.void", ["hold_id": otherID], as: "agent", .invalidArgument, "MISSING_FIELD", field: "reason")
        try await ledger.expectError("ledger.hold", request.with("expires_at", Self.expiry(-5)), as: "agent", .invalidArgument, "INVALID_FIELD", field: "expires_at")
        try await ledger.expectError("ledger.hold", request.with("expires_at", Self.expiry(40 * 86400)), as: "agent", .invalidArgument, "INVALID_FIELD", field: "expires_at")
        try await ledger.expectError("ledger.hold", request.with("expires_at", "tomorrow"), as: "agent", .invalidArgument, "INVALID_FIELD", field: "expires_at")
        try await ledger.expectError("ledger.hold", request.with("to", "nobody").with("idempotency_key", "n"), as: "agent", .notFound, "ACCOUNT_NOT_FOUND")
        try await ledger.expectError("ledger.hold", request.with("from", "external"), as: "agent", .invalidArgument, "EXTERNAL_ACCOUNT", field: "from")
        try await ledger.expectError("ledger.hold", request, as: "approver1", .permissionDenied, "ROLE_NOT_ALLOWED")

        let statement = try await ledger.call("ledger.statement", ["account": "alice"])
        #expect(statement["entries"]?.arrayValues?.first?["hold_id"] == holdID)
        try await ledger.expectBalanced()
    }

    @Test(arguments: DatabaseBackend.allCases) func expiredHoldsReleaseTheirFundsByThemselves(backend: DatabaseBackend) async throws {
        let ledger = try await LedgerHarness.start(backend: backend)
        defer { Task { await ledger.stop() } }
        try await ledger.open("checking", "100.00")
        try await ledger.open("alice")
        let first = try await ledger.call("ledger.hold", ["from": "checking", "to": "alice", "amount": "70.00", "idempotency_key": "h1", "expires_at": Self.expiry(5)], as: "agent")
        let second = try await ledger.call("ledger.hold", ["from": "checking", "to": "alice", "amount": "30.00", "idempotency_key": "h2", "expires_at": Self.expiry(5)], as: "agent")
        #expect(try await ledger.balance("checking").2 == "0.00")
        // expires_at has whole seconds (5 s leaves room for a loaded machine): wait past it, plus one sweep.
        try await Task.sleep(for: .milliseconds(6_600))
        #expect(try await ledger.balance("checking") == ("100.00", "0.00", "100.00"))
        let grant = try JSONValue(encoding: try ledger.grant(.transfer, from: "checking", to: "alice", amount: "70.00", key: "h1"))
        try await ledger.expectError("ledger.post", ["hold_id": try #require(first["hold_id"]), "grant": grant], as: "agent", .failedPrecondition, "HOLD_EXPIRED")
        try await ledger.expectError("ledger.void", ["hold_id": try #require(second["hold_id"]), "reason": "late"], as: "agent", .failedPrecondition, "HOLD_EXPIRED")
        let verdict = try await ledger.call("ledger.verify")
        #expect(verdict["pending_holds"] == 0)
        #expect(try await ledger.balance("alice").0 == "0.00")
        try await ledger.expectBalanced()
    }
}
