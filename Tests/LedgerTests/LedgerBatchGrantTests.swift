import Banking
import Crypto
import Foundation
import RPC
import RPCTesting
import Testing

/// `ledger.transfer_batch` under one grant for the whole batch (a payroll a
/// person approved once): it applies exactly that batch, once, and refuses it
/// for any other batch, altered, forged, expired or reused, moving nothing.
struct LedgerBatchGrantTests {
    typealias Element = (from: String, to: String, amount: String, key: String)

    static func items(_ elements: [Element]) throws -> [BatchItem] {
        try elements.map {
            BatchItem(action: Action(kind: .transfer, from: $0.from, to: $0.to, amount: try Amount(parsing: $0.amount)), idempotencyKey: $0.key)
        }
    }

    static func grant(
        covering elements: [Element], signer: GrantSigner, expiresIn: TimeInterval = 3600, keyID: String? = nil
    ) throws -> BatchGrant {
        let now = Date()
        let id = UUID().uuidString.replacingOccurrences(of: "-", with: "")
        return try signer.sign(BatchGrant(
            grantID: "gr_" + id, approvalID: "ap_payroll_" + id, approvalVersion: 1,
            batch: BatchSummary(of: try items(elements)), approvers: ["approver1"], policyVersion: "test-1",
            issuedAt: now.addingTimeInterval(-60), expiresAt: now.addingTimeInterval(expiresIn), keyID: keyID ?? signer.keyID))
    }

    static func params(_ elements: [Element], grant: JSONValue?) -> JSONValue {
        var params: JSONValue = ["transfers": .array(elements.map {
            ["from": .string($0.from), "to": .string($0.to), "amount": .string($0.amount), "idempotency_key": .string($0.key)]
        })]
        if let grant { params = params.with("grant", grant) }
        return params
    }

    static func reasons(_ result: JSONValue) -> [String] {
        (result["results"]?.arrayValues ?? []).map { $0["error"]?["reason"]?.stringValue ?? "OK" }
    }

    static let payroll: [Element] = [
        ("payer", "alice", "100.00", "payroll-1:alice"), ("payer", "bob", "250.50", "payroll-1:bob"),
        ("payer", "carol", "75.25", "payroll-1:carol"),
    ]

    func start(_ backend: DatabaseBackend) async throws -> LedgerHarness {
        let ledger = try await LedgerHarness.start(backend: backend)
        try await ledger.open("payer", "1000.00")
        for name in ["alice", "bob", "carol"] { try await ledger.open(name) }
        return ledger
    }

    @Test(arguments: DatabaseBackend.allCases) func aBatchGrantAppliesExactlyItsBatchAndAReplayIsIdentical(backend: DatabaseBackend) async throws {
        let ledger = try await start(backend)
        defer { Task { await ledger.stop() } }
        let grant = try Self.grant(covering: Self.payroll, signer: ledger.signer)
        let params = Self.params(Self.payroll, grant: try JSONValue(encoding: grant))
        let first = try await ledger.call("ledger.transfer_batch", params, as: "agent")
        #expect(first["applied"] == 3 && first["failed"] == 0, "\(first.jsonText())")
        for outcome in first["results"]?.arrayValues ?? [] {
            #expect(outcome["result"]?["grant_id"]?.stringValue == grant.grantID)
        }
        #expect(try await ledger.balance("payer").0 == "574.25")
        #expect(try await ledger.balance("bob").0 == "250.50")
        // A retry after a timeout: the same batch and grant answer with the original results and move nothing.
        let replay = try await ledger.call("ledger.transfer_batch", params, as: "agent")
        #expect(replay == first)
        #expect(try await ledger.balance("payer").0 == "574.25")
        // One element alone, retried through ledger.transfer with its key: the original result too.
        let single = try await ledger.call("ledger.transfer", [
            "from": "payer", "to": "bob", "amount": "250.50", "idempotency_key": "payroll-1:bob",
            "grant": try JSONValue(encoding: try ledger.grant(.transfer, from: "payer", to: "bob", amount: "250.50", key: "payroll-1:bob")),
        ], as: "agent")
        #expect(single == first["results"]?.element(1)?["result"])
        try await ledger.expectBalanced()
    }

    @Test(arguments: DatabaseBackend.allCases) func aBatchGrantIsRefusedForAnyOtherBatchAndNothingMoves(backend: DatabaseBackend) async throws {
        let ledger = try await start(backend)
        defer { Task { await ledger.stop() } }
        let grant = try Self.grant(covering: Self.payroll, signer: ledger.signer)
        let valid = try JSONValue(encoding: grant)
        let before = try await ledger.call("ledger.verify")

        func refuse(_ elements: [Element], _ grant: JSONValue, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let result = try await ledger.call("ledger.transfer_batch", Self.params(elements, grant: grant), as: "agent")
            #expect(result["applied"] == 0, "\(result.jsonText())", sourceLocation: sourceLocation)
            #expect(Self.reasons(result).allSatisfy { $0 == reason }, "\(Self.reasons(result))", sourceLocation: sourceLocation)
            #expect((result["results"]?.element(0)?["error"]?["status"]?.stringValue) == "PERMISSION_DENIED", sourceLocation: sourceLocation)
        }
        var altered = Self.payroll
        altered[1].amount = "2500.50"
        try await refuse(altered, valid, "GRANT_BATCH_MISMATCH")
        var redirected = Self.payroll
        redirected[2].to = "alice"
        try await refuse(redirected, valid, "GRANT_BATCH_MISMATCH")
        var rekeyed = Self.payroll
        rekeyed[0].key = "payroll-2:alice"
        try await refuse(rekeyed, valid, "GRANT_BATCH_MISMATCH")
        try await refuse([Self.payroll[1], Self.payroll[0], Self.payroll[2]], valid, "GRANT_BATCH_MISMATCH")  // reordered
        try await refuse(Array(Self.payroll.prefix(2)), valid, "GRANT_BATCH_MISMATCH")  // one dropped
        try await refuse(Self.payroll + [("payer", "alice", "1.00", "payroll-1:extra")], valid, "GRANT_BATCH_MISMATCH")
        // The grant altered to cover another batch: the signature no longer matches.
        let other = try BatchSummary(of: Self.items(altered))
        try await refuse(altered, valid.with("batch", try JSONValue(encoding: other)), "GRANT_SIGNATURE_INVALID")
        try await refuse(Self.payroll, valid.with("batch", valid["batch"]!.with("total", "1.00")), "GRANT_SIGNATURE_INVALID")
        try await refuse(Self.payroll, valid.with("approvers", ["approver2"]), "GRANT_SIGNATURE_INVALID")
        // Forged under the trusted key id, signed by a stranger's key, expired.
        let stranger = GrantSigner(key: Curve25519.Signing.PrivateKey())
        let forged = try Self.grant(covering: Self.payroll, signer: stranger)
        try await refuse(Self.payroll, valid.with("signature", .string(forged.signature)), "GRANT_SIGNATURE_INVALID")
        try await refuse(Self.payroll, try JSONValue(encoding: forged), "GRANT_KEY_UNKNOWN")
        let expired = try Self.grant(covering: Self.payroll, signer: ledger.signer, expiresIn: -1)
        try await refuse(Self.payroll, try JSONValue(encoding: expired), "GRANT_EXPIRED")

        // An invalid element fails on its own field; the batch is then not the approved one.
        var invalid = Self.payroll
        invalid[0].amount = "-1"
        let mixed = try await ledger.call("ledger.transfer_batch", Self.params(invalid, grant: valid), as: "agent")
        #expect(Self.reasons(mixed) == ["AMOUNT_NOT_DECIMAL", "GRANT_BATCH_MISMATCH", "GRANT_BATCH_MISMATCH"], "\(mixed.jsonText())")

        // Grants of the wrong shape are malformed params, not grants.
        let single = try JSONValue(encoding: try ledger.grant(.transfer, from: "payer", to: "alice", amount: "100.00", key: "payroll-1:alice"))
        try await ledger.expectError("ledger.transfer_batch", Self.params(Self.payroll, grant: single), as: "agent", .invalidArgument, "MISSING_FIELD")
        try await ledger.expectError("ledger.transfer", [
            "from": "payer", "to": "alice", "amount": "100.00", "idempotency_key": "payroll-1:alice", "grant": valid,
        ], as: "agent", .invalidArgument, "MISSING_FIELD")
        // A batch grant and per-element grants together: one or the other.
        guard case .object(var withOwn) = Self.params(Self.payroll, grant: valid), case .array(var elements)? = withOwn["transfers"] else {
            Issue.record("shape")
            return
        }
        elements[1] = elements[1].with("grant", single)
        withOwn["transfers"] = .array(elements)
        try await ledger.expectError("ledger.transfer_batch", .object(withOwn), as: "agent", .invalidArgument, "INVALID_FIELD", field: "transfers[1].grant")

        #expect(try await ledger.call("ledger.verify") == before, "a refused batch grant moved money")
        // The genuine batch still goes through once with the untouched grant.
        let applied = try await ledger.call("ledger.transfer_batch", Self.params(Self.payroll, grant: valid), as: "agent")
        #expect(applied["applied"] == 3)
        try await ledger.expectBalanced()
    }

    @Test(arguments: DatabaseBackend.allCases) func aBatchGrantWorksOnceEvenForElementsThatFailedTheFirstTime(backend: DatabaseBackend) async throws {
        let ledger = try await start(backend)
        defer { Task { await ledger.stop() } }
        let batch: [Element] = [("payer", "alice", "600.00", "pay-3:alice"), ("payer", "bob", "600.00", "pay-3:bob")]
        let grant = try JSONValue(encoding: try Self.grant(covering: batch, signer: ledger.signer))
        let first = try await ledger.call("ledger.transfer_batch", Self.params(batch, grant: grant), as: "agent")
        #expect(Self.reasons(first) == ["OK", "INSUFFICIENT_FUNDS"], "\(first.jsonText())")
        // More money arrives; the same batch and grant again: the applied element
        // answers with its original result, the failed one cannot use the spent grant.
        try await ledger.call("ledger.deposit", [
            "account": "payer", "amount": "1000.00", "idempotency_key": "top-up",
            "grant": try JSONValue(encoding: try ledger.grant(.deposit, to: "payer", amount: "1000.00", key: "top-up")),
        ], as: "agent")
        let second = try await ledger.call("ledger.transfer_batch", Self.params(batch, grant: grant), as: "agent")
        #expect(Self.reasons(second) == ["OK", "GRANT_ALREADY_USED"], "\(second.jsonText())")
        #expect(second["results"]?.element(0) == first["results"]?.element(0))
        #expect(try await ledger.balance("bob").0 == "0.00", "a spent batch grant moved money")
        #expect(try await ledger.balance("payer").0 == "1400.00")
        // A batch grant cannot double as the grant of another batch either, nor can a batch whose every element failed spend it.
        let broke: [Element] = [("alice", "bob", "9999.00", "pay-4:bob")]
        let unspent = try JSONValue(encoding: try Self.grant(covering: broke, signer: ledger.signer))
        let failed = try await ledger.call("ledger.transfer_batch", Self.params(broke, grant: unspent), as: "agent")
        #expect(Self.reasons(failed) == ["INSUFFICIENT_FUNDS"])
        try await ledger.expectBalanced()
    }
}

extension JSONValue {
    /// Element `index` of an array, or nil.
    func element(_ index: Int) -> JSONValue? {
        guard let values = arrayValues, values.indices.contains(index) else { return nil }
        return values[index]
    }
}
