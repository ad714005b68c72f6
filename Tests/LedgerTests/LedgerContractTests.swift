import Banking
import Foundation
import RPC
import RPCTesting
import Testing

/// Black-box tests over the real ledger-svc socket. Every answer is checked
/// against `Protocols/ledger.openrpc.json` (results against their schemas,
/// errors against the errors each method documents).
struct LedgerContractTests {
    @Test(arguments: DatabaseBackend.allCases) func servesExactlyTheDocumentedMethods(backend: DatabaseBackend) async throws {
        let ledger = try await LedgerHarness.start(backend: backend)
        defer { Task { await ledger.stop() } }
        let ledgerMethods = Set(ledger.contract.methodNames.filter { $0.hasPrefix("ledger.") })
        #expect(ledgerMethods == [
            "ledger.open_account", "ledger.balance", "ledger.accounts", "ledger.deposit", "ledger.transfer", "ledger.hold",
            "ledger.post", "ledger.void", "ledger.statement", "ledger.transfer_batch", "ledger.verify",
        ])
        let health = try await ledger.call("health.check", [:], as: nil)
        #expect(health["status"] == "SERVING")
        #expect(health["service"] == "ledger")
    }

    @Test(arguments: DatabaseBackend.allCases) func accountsOpenOnceAndReportBalances(backend: DatabaseBackend) async throws {
        let ledger = try await LedgerHarness.start(backend: backend)
        defer { Task { await ledger.stop() } }
        let opened = try await ledger.call("ledger.open_account", ["account": "checking", "display_name": "Checking", "opening_balance": "1000.00"])
        #expect(opened["opening_balance"] == "1000.00")
        // The same request again answers the same; different details are refused.
        let again = try await ledger.call("ledger.open_account", ["account": "checking", "display_name": "Checking", "opening_balance": "1000"])
        #expect(again == opened)
        try await ledger.expectError("ledger.open_account", ["account": "checking", "opening_balance": "5.00"], .alreadyExists, "ACCOUNT_EXISTS")
        try await ledger.expectError("ledger.open_account", ["account": "external"], .alreadyExists, "ACCOUNT_EXISTS")
        try await ledger.expectError("ledger.open_account", ["account": "x"], as: "agent", .permissionDenied, "ROLE_NOT_ALLOWED")
        try await ledger.expectError("ledger.open_account", ["account": "x"], as: nil, .unauthenticated, "UNAUTHENTICATED")
        try await ledger.expectError("ledger.open_account", ["account": "Bad Name"], .invalidArgument, "INVALID_FIELD", field: "account")
        try await ledger.expectError("ledger.open_account", ["account": "y", "opening_balance": "1.234"], .invalidArgument, "AMOUNT_TOO_PRECISE", field: "opening_balance")
        try await ledger.expectError("ledger.open_account", ["account": "y", "currency": "EUR"], .invalidArgument, "INVALID_FIELD", field: "currency")
        try await ledger.open("alice")
        try await ledger.open("bob")

        let (posted, held, available) = try await ledger.balance("checking")
        #expect((posted, held, available) == ("1000.00", "0.00", "1000.00"))
        let external = try await ledger.call("ledger.balance", ["account": "external"], as: "agent")
        #expect(external["posted"] == "-1000.00")
        try await ledger.expectError("ledger.balance", ["account": "nobody"], .notFound, "ACCOUNT_NOT_FOUND")
        try await ledger.expectError("ledger.balance", [:], .invalidArgument, "MISSING_FIELD", field: "account")
        try await ledger.expectError("ledger.balance", ["account": 7], .invalidArgument, "INVALID_FIELD", field: "account")

        let first = try await ledger.call("ledger.accounts", ["limit": 2], as: "approver1")
        #expect(first["accounts"]?.arrayCount == 2)
        let cursor = try #require(first["next_cursor"])
        let second = try await ledger.call("ledger.accounts", ["limit": 2, "cursor": cursor])
        #expect(second["accounts"]?.arrayCount == 2)
        #expect(second["next_cursor"] == nil)
        try await ledger.expectError("ledger.accounts", ["limit": 0], .invalidArgument, "INVALID_FIELD", field: "limit")
        try await ledger.expectError("ledger.accounts", ["limit": 501], .invalidArgument, "INVALID_FIELD", field: "limit")
        try await ledger.expectError("ledger.accounts", ["cursor": "!!"], .invalidArgument, "INVALID_FIELD", field: "cursor")
        try await ledger.expectBalanced()
    }

    @Test(arguments: DatabaseBackend.allCases) func depositsAndTransfersAreIdempotentAndJournaled(backend: DatabaseBackend) async throws {
        let ledger = try await LedgerHarness.start(backend: backend)
        defer { Task { await ledger.stop() } }
        try await ledger.open("checking", "1000.00")
        try await ledger.open("alice")

        // The memo is part of what was approved: a grant without it does not cover it.
        let bare = try ledger.grant(.deposit, to: "checking", amount: "25.50", key: "run1:call1")
        try await ledger.expectError("ledger.deposit", [
            "account": "checking", "amount": "25.5", "memo": "paycheck", "idempotency_key": "run1:call1", "grant": try JSONValue(encoding: bare),
        ], as: "agent", .permissionDenied, "GRANT_ACTION_MISMATCH")
        let depositGrant = try ledger.grant(.deposit, to: "checking", amount: "25.50", key: "run1:call1", memo: "paycheck")
        let deposit: JSONValue = ["account": "checking", "amount": "25.5", "memo": "paycheck", "idempotency_key": "run1:call1",
                                  "grant": try JSONValue(encoding: depositGrant)]
        let deposited = try await ledger.call("ledger.deposit", deposit, as: "agent")
        #expect(deposited["from"] == "external")
        #expect(deposited["amount"] == "25.50")
        // Same key, same request: the original result, identical; nothing moves twice.
        #expect(try await ledger.call("ledger.deposit", deposit, as: "agent") == deposited)
        try await ledger.expectError("ledger.deposit", deposit.with("memo", "other"), as: "agent", .alreadyExists, "IDEMPOTENCY_KEY_REUSED")
        #expect(try await ledger.balance("checking").0 == "1025.50")

        let transferred = try await ledger.transfer("checking", "alice", "150.00", key: "run1:call2")
        #expect(transferred["kind"] == "transfer")
        let replayGrant = try ledger.grant(.transfer, from: "checking", to: "alice", amount: "150.00", key: "run1:call2")
        let replay = try await ledger.call("ledger.transfer", try ledger.transferParams("checking", "alice", "150", key: "run1:call2", grant: replayGrant), as: "agent")
        #expect(replay == transferred)
        #expect(try await ledger.balance("checking").0 == "875.50")
        #expect(try await ledger.balance("alice").0 == "150.00")

        let tooMuch = try ledger.grant(.transfer, from: "alice", to: "checking", amount: "150.01", key: "k-over")
        try await ledger.expectError("ledger.transfer", try ledger.transferParams("alice", "checking", "150.01", key: "k-over", grant: tooMuch),
                                     as: "agent", .failedPrecondition, "INSUFFICIENT_FUNDS")
        let unknown = try ledger.grant(.transfer, from: "alice", to: "nobody", amount: "1.00", key: "k-unknown")
        try await ledger.expectError("ledger.transfer", try ledger.transferParams("alice", "nobody", "1.00", key: "k-unknown", grant: unknown),
                                     as: "agent", .notFound, "ACCOUNT_NOT_FOUND")
        let toExternal = try ledger.grant(.deposit, to: "external", amount: "1.00", key: "k-ext")
        try await ledger.expectError("ledger.deposit", ["account": "external", "amount": "1.00", "idempotency_key": "k-ext", "grant": try JSONValue(encoding: toExternal)],
                                     as: "agent", .invalidArgument, "EXTERNAL_ACCOUNT", field: "account")
        try await ledger.expectError("ledger.transfer", try ledger.transferParams("external", "alice", "1.00", key: "k-ext2", grant: nil),
                                     as: "agent", .invalidArgument, "EXTERNAL_ACCOUNT", field: "from")
        try await ledger.expectError("ledger.transfer", try ledger.transferParams("alice", "checking", "1.00", key: "k", grant: nil),
                                     as: "approver1", .permissionDenied, "ROLE_NOT_ALLOWED")

        // The statement: newest first, a page at a time.
        let page1 = try await ledger.call("ledger.statement", ["account": "checking", "limit": 2], as: "approver1")
        let lines = try #require(page1["entries"]?.arrayValues)
        #expect(lines.map { $0["amount"] } == ["-150.00", "25.50"])
        #expect(lines.map { $0["balance_after"] } == ["875.50", "1025.50"])
        #expect(lines.first?["counterparty"] == "alice")
        let page2 = try await ledger.call("ledger.statement", ["account": "checking", "cursor": try #require(page1["next_cursor"])])
        #expect(page2["entries"]?.arrayValues?.map { $0["kind"] } == ["opening"])
        #expect(page2["next_cursor"] == nil)
        try await ledger.expectError("ledger.statement", ["account": "nobody"], .notFound, "ACCOUNT_NOT_FOUND")
        try await ledger.expectError("ledger.statement", ["account": "checking", "cursor": "abc"], .invalidArgument, "INVALID_FIELD", field: "cursor")
        try await ledger.expectError("ledger.statement", ["account": "checking", "limit": 1000], .invalidArgument, "INVALID_FIELD", field: "limit")

        let verdict = try await ledger.call("ledger.verify", [:], as: "approver2")
        #expect(verdict["balanced"] == true)
        #expect(verdict["customer_total"] == "1025.50")
        #expect(verdict["external_total"] == "-1025.50")
        #expect(verdict["entries"] == 3)
    }

    /// Every kind of bad amount is INVALID_ARGUMENT naming the field, for every method that takes one.
    @Test(arguments: DatabaseBackend.allCases) func badAmountsAreRefusedNamingTheField(backend: DatabaseBackend) async throws {
        let ledger = try await LedgerHarness.start(backend: backend)
        defer { Task { await ledger.stop() } }
        try await ledger.open("checking", "100.00")
        try await ledger.open("alice")
        let cases: [(JSONValue, String)] = [
            ("0", "AMOUNT_NOT_POSITIVE"), ("0.00", "AMOUNT_NOT_POSITIVE"), ("-5.00", "AMOUNT_NOT_DECIMAL"),
            ("1.001", "AMOUNT_TOO_PRECISE"), ("0.333", "AMOUNT_TOO_PRECISE"), ("NaN", "AMOUNT_NOT_DECIMAL"),
            ("Infinity", "AMOUNT_NOT_DECIMAL"), ("1e3", "AMOUNT_NOT_DECIMAL"), ("", "AMOUNT_NOT_DECIMAL"),
            (" 1", "AMOUNT_NOT_DECIMAL"), ("1,000.00", "AMOUNT_NOT_DECIMAL"), ("01.00", "AMOUNT_NOT_DECIMAL"),
            ("1.", "AMOUNT_NOT_DECIMAL"), ("99999999999", "AMOUNT_TOO_LARGE"), ("1000000000.01", "AMOUNT_TOO_LARGE"),
            ("123456789012345678901234567890", "AMOUNT_TOO_LARGE"),
            (150, "INVALID_FIELD"), (1.5, "INVALID_FIELD"), (true, "INVALID_FIELD"), (nil, "INVALID_FIELD"),
        ]
        let grant = try JSONValue(encoding: try ledger.grant(.transfer, from: "checking", to: "alice", amount: "1.00", key: "k"))
        let future = GrantTime.format(Date().addingTimeInterval(600))
        for (amount, reason) in cases {
            let transfer: JSONValue = ["from": "checking", "to": "alice", "amount": amount, "idempotency_key": "k", "grant": grant]
            try await ledger.expectError("ledger.transfer", transfer, as: "agent", .invalidArgument, reason, field: "amount")
            let deposit: JSONValue = ["account": "alice", "amount": amount, "idempotency_key": "k", "grant": grant]
            try await ledger.expectError("ledger.deposit", deposit, as: "agent", .invalidArgument, reason, field: "amount")
            let hold: JSONValue = ["from": "checking", "to": "alice", "amount": amount, "idempotency_key": "k", "expires_at": .string(future)]
            try await ledger.expectError("ledger.hold", hold, as: "agent", .invalidArgument, reason, field: "amount")
            let batch: JSONValue = ["transfers": [transfer]]
            if reason != "INVALID_FIELD" {  // a wrong JSON type fails the whole batch; a bad value only its element
                let outcome = try await ledger.call("ledger.transfer_batch", batch, as: "agent")
                #expect(outcome["results"]?.arrayValues?.first?["error"]?["reason"] == .string(reason))
                #expect(outcome["results"]?.arrayValues?.first?["error"]?["field"] == "transfers[0].amount")
            }
        }
        // A JSON NaN literal is not JSON at all.
        let raw = try await RawConnection.connect(ledger.home.socket("ledger"))
        let parse = try await raw.roundTrip(#"{"jsonrpc":"2.0","id":1,"method":"ledger.transfer","params":{"amount":NaN}}"#)
        #expect(parse?["error"]?["code"] == .int(-32700))
        await raw.close()
        #expect(try await ledger.balance("checking").0 == "100.00")
        try await ledger.expectBalanced()
    }

    /// Wrong types, missing fields, malformed names: each names the field.
    @Test(arguments: DatabaseBackend.allCases) func badParamsAreRefusedNamingTheField(backend: DatabaseBackend) async throws {
        let ledger = try await LedgerHarness.start(backend: backend)
        defer { Task { await ledger.stop() } }
        try await ledger.open("checking", "100.00")
        try await ledger.open("alice")
        let grant = try JSONValue(encoding: try ledger.grant(.transfer, from: "checking", to: "alice", amount: "1.00", key: "k"))
        let good: JSONValue = ["from": "checking", "to": "alice", "amount": "1.00", "idempotency_key": "k", "grant": grant]
        let cases: [(JSONValue, String, String)] = [
            (good.with("from", 5), "INVALID_FIELD", "from"),
            (good.with("to", "Alice!"), "INVALID_FIELD", "to"),
            (good.with("to", "checking"), "INVALID_FIELD", "to"),
            (good.with("idempotency_key", nil), "MISSING_FIELD", "idempotency_key"),
            (good.with("idempotency_key", ""), "INVALID_FIELD", "idempotency_key"),
            (good.with("idempotency_key", .string(String(repeating: "k", count: 257))), "INVALID_FIELD", "idempotency_key"),
            (good.with("memo", .string(String(repeating: "m", count: 141))), "INVALID_FIELD", "memo"),
            (good.with("currency", "usd"), "INVALID_FIELD", "currency"),
            (good.with("linked", true), "INVALID_FIELD", "linked"),
            (good.with("amount", nil), "MISSING_FIELD", "amount"),
            (good.with("grant", "a grant"), "INVALID_FIELD", "grant"),
            (good.with("grant", grant.with("signature", nil)), "MISSING_FIELD", "grant.signature"),
            (good.with("grant", grant.with("action", grant["action"]?.with("amount", "1.001"))), "INVALID_FIELD", "grant.action.amount"),
        ]
        for (params, reason, field) in cases {
            try await ledger.expectError("ledger.transfer", params, as: "agent", .invalidArgument, reason, field: field)
        }
        // Positional params are not accepted.
        let raw = try await RawConnection.connect(ledger.home.socket("ledger"))
        let token = try ledger.home.token("agent")
        let answer = try await raw.roundTrip(#"{"jsonrpc":"2.0","id":1,"method":"ledger.balance","params":["checking"],"_meta":{"token":"\#(token)"}}"#)
        #expect(answer?["error"]?["code"] == .int(-32602))
        await raw.close()
        #expect(try await ledger.balance("checking").0 == "100.00")
    }

    @Test(arguments: DatabaseBackend.allCases) func batchesApplyEachElementOrEachLinkedChain(backend: DatabaseBackend) async throws {
        let ledger = try await LedgerHarness.start(backend: backend)
        defer { Task { await ledger.stop() } }
        try await ledger.open("checking", "100.00")
        try await ledger.open("alice")
        func element(_ from: String, _ to: String, _ amount: String, _ key: String, linked: Bool? = nil) throws -> JSONValue {
            let params = try ledger.transferParams(from, to, amount, key: key, grant: try ledger.grant(.transfer, from: from, to: to, amount: amount, key: key))
            return linked.map { params.with("linked", .bool($0)) } ?? params
        }
        let batch: JSONValue = ["transfers": .array([
            try element("checking", "alice", "30.00", "b1"),
            try element("checking", "alice", "500.00", "b2"),  // fails alone
            try element("checking", "alice", "20.00", "b3", linked: true),
            try element("alice", "checking", "999.00", "b4"),  // fails, and takes b3 with it
            try element("alice", "checking", "5.00", "b5"),
        ])]
        let outcome = try await ledger.call("ledger.transfer_batch", batch, as: "agent")
        let results = try #require(outcome["results"]?.arrayValues)
        #expect(results.map { $0["error"]?["reason"] } == [nil, "INSUFFICIENT_FUNDS", "LINKED_EVENT_FAILED", "INSUFFICIENT_FUNDS", nil])
        #expect(outcome["applied"] == 2)
        #expect(try await ledger.balance("checking").0 == "75.00")
        #expect(try await ledger.balance("alice").0 == "25.00")
        // Replaying the batch: applied elements answer as before, nothing moves twice.
        let replay = try await ledger.call("ledger.transfer_batch", batch, as: "agent")
        #expect(replay["results"]?.arrayValues?[0] == results[0])
        #expect(try await ledger.balance("checking").0 == "75.00")

        try await ledger.expectError("ledger.transfer_batch", ["transfers": []], as: "agent", .invalidArgument, "INVALID_FIELD", field: "transfers")
        let tooMany = JSONValue.array(Array(repeating: try element("checking", "alice", "1.00", "x"), count: 501))
        try await ledger.expectError("ledger.transfer_batch", ["transfers": tooMany], as: "agent", .invalidArgument, "INVALID_FIELD", field: "transfers")
        try await ledger.expectError("ledger.transfer_batch", ["transfers": [try element("checking", "alice", "1.00", "l", linked: true)]],
                                     as: "agent", .invalidArgument, "INVALID_FIELD", field: "transfers[0].linked")
        try await ledger.expectError("ledger.transfer_batch", ["transfers": [["from": 1]]], as: "agent", .invalidArgument, "INVALID_FIELD", field: "transfers[0].from")
        try await ledger.expectError("ledger.transfer_batch", ["transfers": []], as: "approver1", .permissionDenied, "ROLE_NOT_ALLOWED")
        try await ledger.expectBalanced()
    }
}

extension JSONValue {
    var arrayCount: Int? { arrayValues?.count }
}
