import Banking
import Crypto
import Foundation
import Wire
import Testing

struct GrantTests {
    let signer = GrantSigner(key: Curve25519.Signing.PrivateKey())
    let action = Action(kind: .transfer, from: "checking", to: "alice", amount: try! Amount(parsing: "150"), currency: "USD")
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func grant(action: Action? = nil, expiresIn: TimeInterval = 300, approvers: [String] = ["approver1"]) throws -> Grant {
        try signer.sign(Grant.Body(
            grantID: "gr_test00001", approvalID: "ap_1", approvalVersion: 1, runID: "run_1", callID: "call_1",
            action: action ?? self.action, idempotencyKey: "run_1:call_1", approvers: approvers, policyVersion: "p1",
            issuedAt: now, expiresAt: now.addingTimeInterval(expiresIn), keyID: signer.keyID))
    }

    func reason(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as RPCError {
            #expect(error.status == .permissionDenied)
            return error.reason
        } catch {
            return "\(error)"
        }
    }

    @Test func aFreshGrantPermitsExactlyItsAction() throws {
        let grant = try grant()
        try signer.verifier.verify(grant, permits: action, idempotencyKey: "run_1:call_1", now: now)
    }

    @Test func canonicalBytesAreSortedCompactJSON() throws {
        let text = String(decoding: try grant().body.canonicalBytes, as: UTF8.self)
        #expect(text.hasPrefix(#"{"action":{"amount":"150.00","currency":"USD","from":"checking","kind":"transfer","to":"alice"},"approval_id":"ap_1""#))
        #expect(!text.contains(" "))
        #expect(!text.contains("signature"))
    }

    @Test func survivesAWireRoundTrip() throws {
        let original = try grant()
        let decoded = try JSONDecoder().decode(Grant.self, from: JSONEncoder().encode(original))
        try signer.verifier.verify(decoded, permits: action, idempotencyKey: "run_1:call_1", now: now)
    }

    @Test func alteredFieldsBreakTheSignature() throws {
        let original = try JSONValue(encoding: try grant())
        let tamperings: [(String, JSONValue)] = [
            ("amount", .string("1500.00")), ("to", .string("mallory")), ("from", .string("savings")), ("kind", .string("deposit")),
        ]
        for (field, value) in tamperings {
            guard case .object(var top) = original, case .object(var inner)? = top["action"] else { Issue.record("shape"); return }
            inner[field] = value
            top["action"] = .object(inner)
            let forged = try JSONValue.object(top).decode(as: Grant.self)
            #expect(reason { try signer.verifier.verify(forged, permits: forged.action, idempotencyKey: "run_1:call_1", now: now) } == "GRANT_SIGNATURE_INVALID", "\(field)")
        }
        for (field, value) in [("expires_at", JSONValue.string("2099-01-01T00:00:00Z")), ("approvers", .array([.string("approver2")])), ("grant_id", .string("gr_other0001"))] {
            guard case .object(var top) = original else { return }
            top[field] = value
            let forged = try JSONValue.object(top).decode(as: Grant.self)
            #expect(reason { try signer.verifier.verify(forged, permits: action, idempotencyKey: "run_1:call_1", now: now) } == "GRANT_SIGNATURE_INVALID", "\(field)")
        }
    }

    @Test func anotherKeysGrantIsRefused() throws {
        let other = GrantSigner(key: Curve25519.Signing.PrivateKey())
        let grant = try grant()
        #expect(reason { try other.verifier.verify(grant, permits: action, idempotencyKey: "run_1:call_1", now: now) } == "GRANT_KEY_UNKNOWN")
    }

    @Test func aForgedSignatureUnderTheTrustedKeyIdIsRefused() throws {
        let forger = GrantSigner(key: Curve25519.Signing.PrivateKey())
        let genuine = try grant()
        let forgedSignature = try forger.sign(Grant.Body(
            grantID: genuine.grantID, approvalID: "ap_1", approvalVersion: 1, runID: "run_1", callID: "call_1", action: action,
            idempotencyKey: "run_1:call_1", approvers: ["approver1"], policyVersion: "p1", issuedAt: now,
            expiresAt: now.addingTimeInterval(300), keyID: forger.keyID)).signature
        let forged = Grant(body: genuine.body, signature: forgedSignature)
        #expect(reason { try signer.verifier.verify(forged, permits: action, idempotencyKey: "run_1:call_1", now: now) } == "GRANT_SIGNATURE_INVALID")
    }

    @Test func expiredWrongActionAndWrongKeyAreRefused() throws {
        let grant = try grant()
        #expect(reason { try signer.verifier.verify(grant, permits: action, idempotencyKey: "run_1:call_1", now: now.addingTimeInterval(301)) } == "GRANT_EXPIRED")
        let bigger = Action(kind: .transfer, from: "checking", to: "alice", amount: try Amount(parsing: "150.01"))
        #expect(reason { try signer.verifier.verify(grant, permits: bigger, idempotencyKey: "run_1:call_1", now: now) } == "GRANT_ACTION_MISMATCH")
        let elsewhere = Action(kind: .transfer, from: "checking", to: "bob", amount: action.amount)
        #expect(reason { try signer.verifier.verify(grant, permits: elsewhere, idempotencyKey: "run_1:call_1", now: now) } == "GRANT_ACTION_MISMATCH")
        #expect(reason { try signer.verifier.verify(grant, permits: action, idempotencyKey: "run_1:call_2", now: now) } == "GRANT_IDEMPOTENCY_MISMATCH")
    }

    @Test func actionShapesAreValidated() throws {
        let amount = try Amount(parsing: "5")
        #expect(throws: GrantFormatError.self) { try Action(kind: .transfer, from: nil, to: "alice", amount: amount).validate() }
        #expect(throws: GrantFormatError.self) { try Action(kind: .transfer, from: "alice", to: "alice", amount: amount).validate() }
        #expect(throws: GrantFormatError.self) { try Action(kind: .deposit, from: "x", to: "alice", amount: amount).validate() }
        #expect(throws: GrantFormatError.self) { try Action(kind: .deposit, from: nil, to: "Alice", amount: amount).validate() }
        #expect(throws: GrantFormatError.self) { try Action(kind: .deposit, from: nil, to: "alice", amount: amount, currency: "usd").validate() }
        try Action(kind: .deposit, from: nil, to: "checking", amount: amount).validate()
    }
}
