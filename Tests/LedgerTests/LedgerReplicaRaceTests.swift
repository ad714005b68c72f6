import Banking
import Foundation
import RPC
import RPCTesting
import Testing

@testable import Ledger

/// Sixteen replicas' worth of writers on the same rows at once: on PostgreSQL, 16
/// ledgers with connections of their own on one database (as 16 ledger-svc processes
/// would be); on SQLite, one ledger, which is all a file allows. Money moves once
/// per key and per approval, a hold ends once, and no account is overdrawn.
struct LedgerReplicaRaceTests {
    typealias Fixture = LedgerLibraryTests.Fixture
    static let replicas = 16

    func opened(_ backend: DatabaseBackend, _ accounts: [String: String]) async throws -> (Fixture, [Ledger]) {
        let fixture = try await Fixture(backend)
        for (name, opening) in accounts.sorted(by: { $0.key < $1.key }) {
            _ = try await fixture.ledger.openAccount(OpenAccountParams(account: name, openingBalance: opening))
        }
        return (fixture, try await fixture.replicas(Self.replicas))
    }

    @Test(arguments: DatabaseBackend.allCases) func oneKeyMovesMoneyOnceHoweverManyReplicasSendIt(backend: DatabaseBackend) async throws {
        let (fixture, ledgers) = try await opened(backend, ["payer": "1000.00", "payee": "0"])
        for round in 0..<5 {
            let key = "same-key-\(round)"
            let grant = try fixture.grant(.transfer, from: "payer", to: "payee", amount: "10.00", key: key)
            let outcomes = await ReplicaRace.race(ledgers) { ledger, _ in
                try await ledger.transfer(TransferParams(from: "payer", to: "payee", amount: "10.00", idempotencyKey: key, grant: grant))
            }
            let entries = Set(ReplicaRace.wins(outcomes).map(\.entryID))
            #expect(ReplicaRace.reasons(outcomes).isEmpty, "round \(round): \(ReplicaRace.reasons(outcomes))")
            #expect(entries.count == 1, "round \(round): one key wrote entries \(entries)")
        }
        let balance = try await fixture.ledger.balance(AccountParams(account: "payer"))
        #expect(balance.posted == "950.00", "five keys, five movements of 10.00")
        #expect(try await fixture.ledger.verify().balanced)
        await fixture.close()
    }

    @Test(arguments: DatabaseBackend.allCases) func oneApprovalExecutesOnceWhateverGrantsAndKeysItComesWith(backend: DatabaseBackend) async throws {
        let (fixture, ledgers) = try await opened(backend, ["payer": "1000.00", "payee": "0"])
        for round in 0..<5 {
            // Sixteen grants of one approval (as renewals make), each with its own key.
            let grants = try (0..<Self.replicas).map { index in
                try fixture.grant(.transfer, from: "payer", to: "payee", amount: "10.00", key: "k-\(round)-\(index)", approvalID: "ap_race_\(round)")
            }
            let outcomes = await ReplicaRace.race(ledgers) { ledger, index in
                try await ledger.transfer(TransferParams(
                    from: "payer", to: "payee", amount: "10.00", idempotencyKey: "k-\(round)-\(index)", grant: grants[index]))
            }
            #expect(ReplicaRace.wins(outcomes).count == 1, "round \(round): \(ReplicaRace.wins(outcomes).count) movements under one approval")
            #expect(Set(ReplicaRace.reasons(outcomes)) == ["GRANT_ALREADY_USED"], "round \(round): \(ReplicaRace.reasons(outcomes))")
        }
        #expect(try await fixture.ledger.balance(AccountParams(account: "payer")).posted == "950.00")
        #expect(try await fixture.ledger.verify().balanced)
        await fixture.close()
    }

    @Test(arguments: DatabaseBackend.allCases) func aHoldIsPostedOnceOrVoidedOnceNeverBoth(backend: DatabaseBackend) async throws {
        let (fixture, ledgers) = try await opened(backend, ["payer": "1000.00", "payee": "0"])
        var posted = 0
        for round in 0..<6 {
            let key = "hold-\(round)"
            let hold = try await fixture.ledger.hold(HoldParams(
                from: "payer", to: "payee", amount: "10.00", idempotencyKey: key,
                expiresAt: GrantTime.format(fixture.clock.now.addingTimeInterval(3600))))
            let grant = try fixture.grant(.transfer, from: "payer", to: "payee", amount: "10.00", key: key)
            // Half the replicas post it, half void it, all at once.
            let outcomes = await ReplicaRace.race(ledgers) { ledger, index in
                index % 2 == 0
                    ? try await ledger.post(PostParams(holdID: hold.holdID, grant: grant))
                    : try await ledger.void(VoidParams(holdID: hold.holdID, reason: "race"))
            }
            let states = Set(ReplicaRace.wins(outcomes).map(\.state))
            #expect(states.count == 1, "round \(round): the hold ended as \(states)")
            let reasons = Set(ReplicaRace.reasons(outcomes))
            if states == ["posted"] {
                posted += 1
                #expect(reasons == ["HOLD_ALREADY_POSTED"], "round \(round): voids after the post: \(reasons)")
                #expect(Set(ReplicaRace.wins(outcomes).map(\.entryID)).count == 1, "round \(round): one entry")
            } else {
                #expect(states == ["voided"], "round \(round): \(states)")
                #expect(reasons == ["HOLD_VOIDED"], "round \(round): posts after the void: \(reasons)")
            }
        }
        let balance = try await fixture.ledger.balance(AccountParams(account: "payer"))
        #expect(balance.posted == Money.format(100_000 - Int64(posted) * 1_000), "\(posted) holds posted")
        #expect(balance.held == "0.00")
        #expect(try await fixture.ledger.verify().balanced)
        await fixture.close()
    }

    @Test(arguments: DatabaseBackend.allCases) func replicasSpendingOneAccountNeverOverdrawIt(backend: DatabaseBackend) async throws {
        let (fixture, ledgers) = try await opened(backend, ["payer": "1000.00", "a": "0", "b": "0"])
        let grants = try (0..<Self.replicas * 4).map { index in
            try fixture.grant(.transfer, from: "payer", to: index % 2 == 0 ? "a" : "b", amount: "100.00", key: "spend-\(index)")
        }
        // Every replica sends four transfers of 100.00 one after another: 64 for the 10 that fit.
        let outcomes = await ReplicaRace.race(ledgers) { ledger, replica in
            var reasons: [String] = []
            for round in 0..<4 {
                let index = replica * 4 + round
                do {
                    _ = try await ledger.transfer(TransferParams(
                        from: "payer", to: index % 2 == 0 ? "a" : "b", amount: "100.00", idempotencyKey: "spend-\(index)", grant: grants[index]))
                    reasons.append("OK")
                } catch let error as RPCError {
                    reasons.append(error.reason)
                }
            }
            return reasons
        }
        let all = ReplicaRace.wins(outcomes).flatMap { $0 }
        #expect(all.count == 64)
        #expect(all.count { $0 == "OK" } == 10, "\(all.count { $0 == "OK" }) transfers of 100.00 out of 1000.00")
        #expect(Set(all.filter { $0 != "OK" }) == ["INSUFFICIENT_FUNDS"])
        #expect(try await fixture.ledger.balance(AccountParams(account: "payer")).posted == "0.00")
        #expect(try await fixture.ledger.verify().balanced)
        await fixture.close()
    }

    @Test(arguments: DatabaseBackend.allCases) func anAccountOpensOnceAndItsOpeningBalanceIsPaidOnce(backend: DatabaseBackend) async throws {
        let (fixture, ledgers) = try await opened(backend, [:])
        let outcomes = await ReplicaRace.race(ledgers) { ledger, index in
            // One replica asks for different details: it is refused whoever comes first.
            try await ledger.openAccount(OpenAccountParams(account: "shared", openingBalance: index == 0 ? "99.00" : "50.00"))
        }
        let wins = ReplicaRace.wins(outcomes)
        let reasons = ReplicaRace.reasons(outcomes)
        #expect(Set(wins.map(\.openingBalance)).count == 1, "\(wins.map(\.openingBalance))")
        #expect(Set(reasons) == ["ACCOUNT_EXISTS"], "\(reasons)")
        let winner = try #require(wins.first?.openingBalance)
        #expect(reasons.count == (winner == "99.00" ? Self.replicas - 1 : 1), "the other details were refused: \(reasons)")
        #expect(try await fixture.ledger.balance(AccountParams(account: "shared")).posted == winner)
        #expect(try await fixture.ledger.verify().balanced)
        await fixture.close()
    }
}
