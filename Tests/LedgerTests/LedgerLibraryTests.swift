import Banking
import Crypto
import Foundation
import Logging
import PostgresSupport
import RPC
import SQLiteKit
import Synchronization
import RPCTesting
import Testing

@testable import Ledger

/// The Ledger library used directly, with a clock the test moves.
struct LedgerLibraryTests {
    /// A clock the test moves.
    final class TestClock: Sendable {
        let time = Mutex(Date())
        var now: Date { time.withLock { $0 } }
    }

    final class Fixture: Sendable {
        let folder: String
        let signer = GrantSigner(key: Curve25519.Signing.PrivateKey())
        let clock = TestClock()
        let ledger: Ledger
        /// The PostgreSQL database's URL, nil on SQLite.
        let databaseURL: String?
        /// Ledgers ``replicas(_:)`` opened beside `ledger`.
        private let opened = Mutex<[Ledger]>([])

        init(_ backend: DatabaseBackend) async throws {
            folder = NSTemporaryDirectory() + "ledger-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let clock = self.clock
            switch backend {
            case .sqlite:
                databaseURL = nil
                ledger = try Ledger(path: folder + "/ledger.sqlite", verifier: signer.verifier, clock: { clock.now },
                                    logger: Logger(label: "test"))
            case .postgres:
                let url = try PostgresTestCluster.shared().createDatabase(prefix: "ledger")
                databaseURL = url
                ledger = try await Ledger.postgres(try PostgresURL(parsing: url), verifier: signer.verifier, clock: { clock.now },
                                                   logger: Logger(label: "test"))
            }
        }

        /// `count` ledgers on this fixture's books, as `count` ledger-svc replicas would be:
        /// on PostgreSQL each with its own connections (opened at once, their migrations
        /// racing too); on SQLite this one ledger `count` times, which is all a file allows.
        /// ``close()`` closes them.
        func replicas(_ count: Int) async throws -> [Ledger] {
            guard let databaseURL else { return Array(repeating: ledger, count: count) }
            let url = try PostgresURL(parsing: databaseURL)
            let (verifier, clock) = (signer.verifier, self.clock)
            let others = try await withThrowingTaskGroup(of: Ledger.self) { group in
                for _ in 1..<count {
                    group.addTask { try await Ledger.postgres(url, verifier: verifier, clock: { clock.now }, logger: Logger(label: "test")) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            opened.withLock { $0 += others }
            return [ledger] + others
        }

        /// Runs `sql` behind the ledger's back (tampering, for the tests that must catch it).
        func behindTheLedgersBack(_ sql: String) throws {
            if let databaseURL {
                _ = try PostgresTestCluster.shared().runProgram("psql", ["-v", "ON_ERROR_STOP=1", "-q", databaseURL, "-c", sql])
            } else {
                try SQLiteConnection(path: folder + "/ledger.sqlite").execute(sql)
            }
        }

        func advance(_ seconds: TimeInterval) { clock.time.withLock { $0 = $0.addingTimeInterval(seconds) } }

        func grant(_ kind: Action.Kind, from: String?, to: String, amount: String, key: String, approvalID: String? = nil) throws -> Grant {
            let issued = clock.now
            let id = UUID().uuidString.prefix(8)
            return try signer.sign(Grant.Body(
                grantID: "gr_" + id, approvalID: approvalID ?? "ap_" + id, approvalVersion: 1, runID: "r", callID: key,
                action: Action(kind: kind, from: from, to: to, amount: try Amount(parsing: amount)), idempotencyKey: key,
                approvers: ["policy:auto"], policyVersion: "t", issuedAt: issued, expiresAt: issued.addingTimeInterval(30 * 86400),
                keyID: signer.keyID))
        }

        func transfer(_ from: String, _ to: String, _ amount: String, key: String, grant: Grant? = nil) async throws -> EntryResult {
            try await ledger.transfer(TransferParams(
                from: from, to: to, amount: amount, idempotencyKey: key,
                grant: try grant ?? self.grant(.transfer, from: from, to: to, amount: amount, key: key)))
        }

        func close() async {
            for replica in opened.withLock({ $0 }) { await replica.close() }
            await ledger.close()
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    @Test func handWrittenFingerprintsEqualTheJSONEncoderOnes() throws {
        for memo in ["", "rent", "quote \" slash / back \\ nl \n ctl \u{01}", "café 💸 日本", "\u{2028}\u{7F}"] {
            let request = MovementRequest(
                kind: .transfer, from: "checking", to: "alice", amount: try Amount(parsing: "150.5"), currency: "USD", memo: memo,
                idempotencyKey: "k", grant: nil, use: GrantUse(grantID: "gr_x", approvalID: "ap_x"))
            #expect(request.fingerprint == Fingerprint.of([
                "kind": "transfer", "from": "checking", "to": "alice", "amount": "150.50", "currency": "USD", "memo": memo,
            ]), "\(memo)")
        }
        let hold = HoldRequest(
            from: "a", to: "b", amount: try Amount(parsing: "1"), currency: "USD", memo: nil, idempotencyKey: "k", expiresAt: 1_800_000_000_123)
        #expect(hold.fingerprint == Fingerprint.of([
            "kind": "hold", "from": "a", "to": "b", "amount": "1.00", "currency": "USD", "expires_at": "1800000000123",
        ]))
        // A hold with a memo fingerprints it too, in key order; one without keeps its old bytes.
        let rent = HoldRequest(
            from: "a", to: "b", amount: try Amount(parsing: "1"), currency: "USD", memo: "rent", idempotencyKey: "k", expiresAt: 1_800_000_000_123)
        #expect(rent.fingerprint == Fingerprint.of([
            "kind": "hold", "from": "a", "to": "b", "amount": "1.00", "currency": "USD", "expires_at": "1800000000123", "memo": "rent",
        ]))
    }

    @Test func handWrittenTimesEqualFoundationsFormatter() {
        var state: UInt64 = 99
        var samples: [Int64] = [0, 1, 999, 1_000, 86_399_999, 951_782_400_000, 1_709_164_800_000, 4_102_444_799_999]
        for _ in 0..<3_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            samples.append(Int64(state >> 22) % 4_102_444_800_000)
        }
        for milliseconds in samples {
            let expected = LedgerTime.formatWithFoundation(milliseconds: milliseconds)
            let actual = LedgerTime.format(milliseconds: milliseconds)
            // Foundation goes through a Double and may round the last digit down:
            // the same second and the same millisecond or one below.
            #expect(actual.prefix(20) == expected.prefix(20) && actual.count == expected.count, "\(milliseconds): \(actual) vs \(expected)")
            #expect(LedgerTime.milliseconds(try! Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt).parse(actual)) / 1000
                    == milliseconds / 1000, "\(actual)")
        }
    }

    @Test(arguments: [(Int64(0), "0.00"), (5, "0.05"), (-5, "-0.05"), (123_456, "1234.56"), (-100_000, "-1000.00")])
    func signedAmountsFormatExactly(cents: Int64, text: String) {
        #expect(Money.format(cents) == text)
    }

    @Test(arguments: DatabaseBackend.allCases) func equalAmountsWrittenDifferentlyAreTheSameRequest(backend: DatabaseBackend) async throws {
        let fixture = try await Fixture(backend)
        _ = try await fixture.ledger.openAccount(OpenAccountParams(account: "a", openingBalance: "10"))
        _ = try await fixture.ledger.openAccount(OpenAccountParams(account: "b"))
        let grant = try fixture.grant(.transfer, from: "a", to: "b", amount: "1.50", key: "k")
        let first = try await fixture.transfer("a", "b", "1.5", key: "k", grant: grant)
        let second = try await fixture.transfer("a", "b", "1.50", key: "k", grant: grant)
        #expect(first == second)
        #expect(try await fixture.ledger.balance(AccountParams(account: "b")).posted == "1.50")
        await fixture.close()
    }

    @Test(arguments: DatabaseBackend.allCases) func holdsExpireLazilyAndTheSweeperRecordsIt(backend: DatabaseBackend) async throws {
        let fixture = try await Fixture(backend)
        let ledger = fixture.ledger
        _ = try await ledger.openAccount(OpenAccountParams(account: "a", openingBalance: "100"))
        _ = try await ledger.openAccount(OpenAccountParams(account: "b"))
        let expiresAt = GrantTime.format(fixture.clock.now.addingTimeInterval(3600))
        let hold = try await ledger.hold(HoldParams(from: "a", to: "b", amount: "80", idempotencyKey: "h", expiresAt: expiresAt))
        #expect(try await ledger.balance(AccountParams(account: "a")).available == "20.00")
        await #expect(throws: RPCError.self) { try await fixture.transfer("a", "b", "20.01", key: "t1") }

        fixture.advance(3601)
        // Reads stop counting it at once; a write on the account may use the funds.
        #expect(try await ledger.balance(AccountParams(account: "a")).available == "100.00")
        _ = try await fixture.transfer("a", "b", "90", key: "t2")
        let grant = try fixture.grant(.transfer, from: "a", to: "b", amount: "80", key: "h")
        let error = await #expect(throws: RPCError.self) { try await ledger.post(PostParams(holdID: hold.holdID, grant: grant)) }
        #expect(error?.reason == "HOLD_EXPIRED")
        #expect(try await ledger.expireDueHolds() == 0, "the transfer on the account already recorded the expiry")
        #expect(try await ledger.verify().balanced)
        await fixture.close()
    }

    /// A batch keeps its accounts in memory while it applies (``BatchBooks``): it
    /// must still count pending holds, release lapsed ones, refuse what the
    /// running balance cannot pay, and leave balances equal to their postings.
    @Test(arguments: DatabaseBackend.allCases) func aBatchCountsHoldsAndRunningBalancesLikeSingleTransfers(backend: DatabaseBackend) async throws {
        let fixture = try await Fixture(backend)
        let ledger = fixture.ledger
        _ = try await ledger.openAccount(OpenAccountParams(account: "a", openingBalance: "100"))
        _ = try await ledger.openAccount(OpenAccountParams(account: "b", openingBalance: "5"))
        _ = try await ledger.openAccount(OpenAccountParams(account: "c"))
        let soon = GrantTime.format(fixture.clock.now.addingTimeInterval(60))
        let later = GrantTime.format(fixture.clock.now.addingTimeInterval(7200))
        _ = try await ledger.hold(HoldParams(from: "a", to: "c", amount: "50", idempotencyKey: "lapses", expiresAt: soon))
        _ = try await ledger.hold(HoldParams(from: "a", to: "c", amount: "40", idempotencyKey: "stays", expiresAt: later))
        fixture.advance(61)  // the 50.00 hold lapsed: a has 100 - 40 = 60 available
        func element(_ from: String, _ to: String, _ amount: String, _ key: String) throws -> TransferParams {
            TransferParams(from: from, to: to, amount: amount, idempotencyKey: key,
                           grant: try fixture.grant(.transfer, from: from, to: to, amount: amount, key: key))
        }
        let outcome = try await ledger.transferBatch(TransferBatchParams(transfers: [
            try element("a", "b", "35", "e1"),   // 60 → 25 available
            try element("a", "b", "25.01", "e2"), // more than the 25.00 left
            try element("b", "c", "40", "e3"),   // b got 35 in this batch: 40 of its 40
            try element("a", "c", "25", "e4"),   // exactly what is left
            try element("b", "a", "0.01", "e5"), // b is empty now
        ]))
        #expect(outcome.results.map { $0.error?.reason } == [nil, "INSUFFICIENT_FUNDS", nil, nil, "INSUFFICIENT_FUNDS"])
        #expect(outcome.applied == 3)
        let a = try await ledger.balance(AccountParams(account: "a"))
        #expect(a.posted == "40.00" && a.held == "40.00" && a.available == "0.00")
        #expect(try await ledger.balance(AccountParams(account: "b")).posted == "0.00")
        #expect(try await ledger.balance(AccountParams(account: "c")).posted == "65.00")
        #expect(try await ledger.expireDueHolds() == 0, "the batch recorded the lapsed hold's expiry")
        #expect(try await ledger.verify().balanced)
        await fixture.close()
    }

    /// After the idempotency key is forgotten (past retention), replaying the
    /// same request with the same grant still moves nothing: the grant was consumed.
    @Test(arguments: DatabaseBackend.allCases) func aGrantWorksOnceEvenAfterItsKeyIsForgotten(backend: DatabaseBackend) async throws {
        let fixture = try await Fixture(backend)
        let ledger = fixture.ledger
        _ = try await ledger.openAccount(OpenAccountParams(account: "a", openingBalance: "100"))
        _ = try await ledger.openAccount(OpenAccountParams(account: "b"))
        let grant = try fixture.grant(.transfer, from: "a", to: "b", amount: "10", key: "k")
        _ = try await fixture.transfer("a", "b", "10", key: "k", grant: grant)
        fixture.advance(Double(LedgerLimits.idempotencyRetentionSeconds) - 60)
        #expect(try await ledger.purgeIdempotencyKeys() == 0, "keys are kept for the whole retention")
        fixture.advance(120)
        #expect(try await ledger.purgeIdempotencyKeys() == 1)
        let error = await #expect(throws: RPCError.self) { try await fixture.transfer("a", "b", "10", key: "k", grant: grant) }
        #expect(error?.reason == "GRANT_ALREADY_USED")
        #expect(try await ledger.balance(AccountParams(account: "a")).posted == "90.00")
        await fixture.close()
    }

    /// `ledger.verify` is a real check: tampering with a balance behind the
    /// ledger's back is found.
    @Test(arguments: DatabaseBackend.allCases) func verifyFindsBooksThatDoNotBalance(backend: DatabaseBackend) async throws {
        let fixture = try await Fixture(backend)
        _ = try await fixture.ledger.openAccount(OpenAccountParams(account: "a", openingBalance: "100"))
        #expect(try await fixture.ledger.verify().balanced)
        try fixture.behindTheLedgersBack("UPDATE accounts SET balance = balance + 1 WHERE name = 'a'")
        let verdict = try await fixture.ledger.verify()
        #expect(!verdict.balanced)
        #expect(verdict.problems.contains { $0.contains("balances differ from their postings: a") })
        await fixture.close()
    }

    @Test func linkedChainsAreFoundFromTheFlags() {
        func element(_ linked: Bool?) -> TransferParams {
            TransferParams(from: "a", to: "b", amount: "1", idempotencyKey: "k", grant: nil, linked: linked)
        }
        #expect(Ledger.chains([element(nil), element(true), element(false), element(true), element(true), element(nil)])
            == [0..<1, 1..<3, 3..<6])
    }
}
