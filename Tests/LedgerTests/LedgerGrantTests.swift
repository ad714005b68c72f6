import Banking
import Crypto
import Foundation
import RPC
import RPCTesting
import ServiceKit
import Testing

/// The enforcement point: a grant that is missing, forged, altered, for
/// something else, expired or already used is refused, and nothing moves.
struct LedgerGrantTests {
    /// Signs arbitrary grant JSON with the trusted key (to build grants no
    /// honest signer would issue), exactly as Grant.Body's canonical bytes.
    static func signRaw(_ grant: JSONValue, home: TestHome) throws -> JSONValue {
        let text = try String(contentsOfFile: GrantKeys.privateKeyPath(in: home.directory), encoding: .utf8)
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: try #require(Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines))))
        let body = grant.with("signature", nil)
        let signature = try key.signature(for: Data(body.jsonText().utf8))
        return grant.with("signature", .string(Base64URL.encode(signature)))
    }

    @Test(arguments: DatabaseBackend.allCases) func forgedAlteredMisdirectedExpiredAndReusedGrantsMoveNothing(backend: DatabaseBackend) async throws {
        let ledger = try await LedgerHarness.start(backend: backend)
        defer { Task { await ledger.stop() } }
        try await ledger.open("checking", "1000.00")
        try await ledger.open("alice")
        try await ledger.open("bob")
        let before = try await ledger.call("ledger.verify")

        func refuse(_ grant: JSONValue?, from: String = "checking", to: String = "alice", amount: String = "150.00", key: String = "run:call",
                    _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            var params: JSONValue = ["from": .string(from), "to": .string(to), "amount": .string(amount), "idempotency_key": .string(key)]
            if let grant { params = params.with("grant", grant) }
            try await ledger.expectError("ledger.transfer", params, as: "agent", .permissionDenied, reason, sourceLocation: sourceLocation)
        }
        let valid = try JSONValue(encoding: try ledger.grant(.transfer, from: "checking", to: "alice", amount: "150.00", key: "run:call"))

        try await refuse(nil, "GRANT_MISSING")
        try await refuse(.null, "GRANT_MISSING")
        // Forged: the trusted key id, but signed by another key.
        let otherKey = Curve25519.Signing.PrivateKey()
        let forgedSignature = try otherKey.signature(for: Data(valid.with("signature", nil).jsonText().utf8))
        try await refuse(valid.with("signature", .string(Base64URL.encode(forgedSignature))), "GRANT_SIGNATURE_INVALID")
        try await refuse(valid.with("signature", "not-base64!"), "GRANT_SIGNATURE_INVALID")
        // Signed by a key this ledger does not trust.
        let stranger = GrantSigner(key: otherKey)
        try await refuse(try JSONValue(encoding: try ledger.grant(.transfer, from: "checking", to: "alice", amount: "150.00", key: "run:call", signer: stranger)), "GRANT_KEY_UNKNOWN")
        // Altered amount, recipient, payer or expiry: the signature no longer matches.
        let altered = valid["action"]!
        try await refuse(valid.with("action", altered.with("amount", "1500.00")), amount: "1500.00", "GRANT_SIGNATURE_INVALID")
        try await refuse(valid.with("action", altered.with("to", "bob")), to: "bob", "GRANT_SIGNATURE_INVALID")
        try await refuse(valid.with("action", altered.with("from", "bob")), from: "bob", "GRANT_SIGNATURE_INVALID")
        try await refuse(valid.with("expires_at", "2099-01-01T00:00:00Z"), "GRANT_SIGNATURE_INVALID")
        try await refuse(valid.with("approvers", ["approver1"]), "GRANT_SIGNATURE_INVALID")
        // A valid grant for something else: another account, amount, kind or key.
        try await refuse(valid, to: "bob", "GRANT_ACTION_MISMATCH")
        try await refuse(valid, amount: "149.99", "GRANT_ACTION_MISMATCH")
        try await refuse(valid, from: "bob", "GRANT_ACTION_MISMATCH")
        try await refuse(try JSONValue(encoding: try ledger.grant(.deposit, to: "alice", amount: "150.00", key: "run:call")), "GRANT_ACTION_MISMATCH")
        try await refuse(valid, key: "run:other-call", "GRANT_IDEMPOTENCY_MISMATCH")
        // Expired, and malformed (signed, but with an expiry that is no time).
        try await refuse(try JSONValue(encoding: try ledger.grant(.transfer, from: "checking", to: "alice", amount: "150.00", key: "run:call", expiresIn: -1)), "GRANT_EXPIRED")
        try await refuse(try Self.signRaw(valid.with("expires_at", "tomorrow"), home: ledger.home), "GRANT_MALFORMED")

        #expect(try await ledger.call("ledger.verify") == before, "a refused grant moved money")
        #expect(try await ledger.balance("checking").0 == "1000.00")

        // Reused: a grant spent on a direct transfer cannot also post the hold it was meant for.
        let hold = try await ledger.call("ledger.hold", [
            "from": "checking", "to": "alice", "amount": "150.00", "idempotency_key": "run:call",
            "expires_at": .string(GrantTime.format(Date().addingTimeInterval(600))),
        ], as: "agent")
        try await ledger.call("ledger.transfer", try ledger.transferParams("checking", "alice", "150.00", key: "run:call", grant: try valid.decode(as: Grant.self)), as: "agent")
        #expect(try await ledger.balance("checking") == ("850.00", "150.00", "700.00"))
        try await ledger.expectError("ledger.post", ["hold_id": try #require(hold["hold_id"]), "grant": valid], as: "agent", .permissionDenied, "GRANT_ALREADY_USED")
        #expect(try await ledger.balance("checking") == ("850.00", "150.00", "700.00"), "the reused grant moved money")
        #expect(try await ledger.balance("alice").0 == "150.00")
        try await ledger.expectBalanced()
    }

    /// approval-svc may renew a grant that ran out unused (approval.renew_grant): the
    /// fresh grant has a new grant id for the same approval, action and key. However
    /// the two grants are used (a hold posted and a transfer, in either order, which
    /// are different idempotency scopes), the approval moves money once.
    @Test(arguments: DatabaseBackend.allCases) func aRenewedGrantCannotExecuteAnApprovalASecondTime(backend: DatabaseBackend) async throws {
        let ledger = try await LedgerHarness.start(backend: backend)
        defer { Task { await ledger.stop() } }
        try await ledger.open("checking", "1000.00")
        try await ledger.open("bob")
        let expiry = JSONValue.string(GrantTime.format(Date().addingTimeInterval(3600)))
        for (order, approval) in [("post, then transfer", "ap_renewed_1"), ("transfer, then post", "ap_renewed_2")] {
            let key = "run:\(approval)"
            let first = try JSONValue(encoding: try ledger.grant(.transfer, from: "checking", to: "bob", amount: "150.00", key: key, approvalID: approval))
            let renewed = try JSONValue(encoding: try ledger.grant(.transfer, from: "checking", to: "bob", amount: "150.00", key: key, approvalID: approval))
            #expect(first["grant_id"] != renewed["grant_id"])
            let hold = try await ledger.call("ledger.hold", [
                "from": "checking", "to": "bob", "amount": "150.00", "idempotency_key": .string(key), "expires_at": expiry,
            ], as: "agent")
            let transfer: JSONValue = ["from": "checking", "to": "bob", "amount": "150.00", "idempotency_key": .string(key)]
            if order == "post, then transfer" {
                _ = try await ledger.call("ledger.post", ["hold_id": hold["hold_id"]!, "grant": first], as: "agent")
                try await ledger.expectError("ledger.transfer", transfer.with("grant", renewed), as: "agent", .permissionDenied, "GRANT_ALREADY_USED")
            } else {
                _ = try await ledger.call("ledger.transfer", transfer.with("grant", first), as: "agent")
                try await ledger.expectError("ledger.post", ["hold_id": hold["hold_id"]!, "grant": renewed], as: "agent", .permissionDenied, "GRANT_ALREADY_USED")
                _ = try await ledger.call("ledger.void", ["hold_id": hold["hold_id"]!, "reason": "executed by transfer"], as: "agent")
            }
        }
        #expect(try await ledger.balance("bob").0 == "300.00", "two approvals, two movements of 150.00: no more")
        try await ledger.expectBalanced()
    }
}
