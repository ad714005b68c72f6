import Banking
import Crypto
import Foundation
import Wire
import Testing

struct BatchGrantTests {
    let signer = GrantSigner(key: Curve25519.Signing.PrivateKey())
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func items(_ amounts: [String]) throws -> [BatchItem] {
        try amounts.enumerated().map { index, amount in
            BatchItem(action: Action(kind: .transfer, from: "payer", to: "p\(index)", amount: try Amount(parsing: amount)),
                      idempotencyKey: "pay:\(index)")
        }
    }

    func grant(_ items: [BatchItem]) throws -> BatchGrant {
        try signer.sign(BatchGrant(
            grantID: "gr_batch0001", approvalID: "ap_1", approvalVersion: 1, batch: BatchSummary(of: items),
            approvers: ["approver2", "approver1"], policyVersion: "p1", issuedAt: now, expiresAt: now.addingTimeInterval(300),
            keyID: signer.keyID))
    }

    func reason(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as RPCError {
            return error.reason
        } catch {
            return "\(error)"
        }
    }

    @Test func summaryAndDigestFollowTheDefinition() throws {
        let batch = try items(["1", "2.50"])
        let summary = BatchSummary(of: batch)
        #expect(summary.count == 2 && summary.total == "3.50" && summary.currency == "USD")
        let canonical = #"[{"action":{"amount":"1.00","currency":"USD","from":"payer","kind":"transfer","to":"p0"},"idempotency_key":"pay:0"},"#
            + #"{"action":{"amount":"2.50","currency":"USD","from":"payer","kind":"transfer","to":"p1"},"idempotency_key":"pay:1"}]"#
        #expect(summary.digest == SHA256.hash(data: Data(canonical.utf8)).map { String(format: "%02x", $0) }.joined())
        // A large batch is hashed in pieces; the digest is still over the whole text.
        let large = try items((0..<500).map { "\($0 + 1).01" })
        #expect(BatchSummary.digest(of: large) == BatchSummary.digest(of: large))
        #expect(BatchSummary.digest(of: large) != BatchSummary.digest(of: Array(large.reversed())))
    }

    @Test func aBatchGrantCoversExactlyItsBatch() throws {
        let batch = try items(["1", "2.50", "3"])
        let grant = try grant(batch)
        #expect(grant.approvers == ["approver1", "approver2"])
        try signer.verifier.verify(grant, covers: batch, now: now)
        #expect(reason { try signer.verifier.verify(grant, covers: [batch[1], batch[0], batch[2]], now: now) } == "GRANT_BATCH_MISMATCH")
        #expect(reason { try signer.verifier.verify(grant, covers: Array(batch.prefix(2)), now: now) } == "GRANT_BATCH_MISMATCH")
        #expect(reason { try signer.verifier.verify(grant, covers: try items(["1", "2.50", "3.01"]), now: now) } == "GRANT_BATCH_MISMATCH")
        #expect(reason { try signer.verifier.verify(grant, covers: batch, now: now.addingTimeInterval(300)) } == "GRANT_EXPIRED")
        let stranger = GrantSigner(key: Curve25519.Signing.PrivateKey())
        #expect(reason { try stranger.verifier.verify(grant, covers: batch, now: now) } == "GRANT_KEY_UNKNOWN")
    }

    @Test func aSingleGrantsSignatureIsNoBatchGrantsSignature() throws {
        let batch = try items(["150"])
        let single = try signer.sign(Grant.Body(
            grantID: "gr_batch0001", approvalID: "ap_1", approvalVersion: 1, runID: "r", callID: "c", action: batch[0].action,
            idempotencyKey: "pay:0", approvers: ["approver1", "approver2"], policyVersion: "p1", issuedAt: now,
            expiresAt: now.addingTimeInterval(300), keyID: signer.keyID))
        let borrowed = try JSONValue(encoding: try grant(batch)).with("signature", .string(single.signature)).decode(as: BatchGrant.self)
        #expect(reason { try signer.verifier.verify(borrowed, covers: batch, now: now) } == "GRANT_SIGNATURE_INVALID")
    }
}

extension JSONValue {
    func with(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var members) = self else { return self }
        members[key] = value
        return .object(members)
    }
}
