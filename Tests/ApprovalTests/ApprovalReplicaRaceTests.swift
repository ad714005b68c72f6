import Banking
import Foundation
import Logging
import PostgresSupport
import RPC
import RPCTesting
import ServiceKit
import Synchronization
import Testing

@testable import Approval

/// Sixteen replicas' worth of approval-svc on the same rows at once: on PostgreSQL,
/// 16 engines with connections of their own on one database (as 16 approval-svc
/// processes sharing it and the signing key would be); on SQLite, one engine, which
/// is all a file allows. One submission is one approval, a decision is made once,
/// the event feed stays gap-free while it is written, the policy's budget holds, an
/// approval expires once and a delivery is claimed by one worker.
@Suite(.serialized)
struct ApprovalReplicaRaceTests {
    static let replicas = 16
    static let requester = "operator"
    static let agent = Identity(name: "agent", role: "agent")

    /// The replicas of one approval database, with the home their identities, policy and key come from.
    struct Replicas {
        let home: TestHome
        let engines: [ApprovalEngine]

        static func open(
            _ backend: DatabaseBackend, count: Int = replicas, notifications: NotificationConfiguration = .init()
        ) async throws -> Replicas {
            let home = try TestHome.make()
            try home.directory.prepare()
            let logger = Logger(label: "test")
            func engine(_ database: ApprovalDatabase) throws -> ApprovalEngine {
                try Replicas.engine(in: home, on: database, notifications: notifications)
            }
            switch backend {
            case .sqlite:
                let database = try ApprovalDatabase.sqlite(
                    path: home.directory.data.appendingPathComponent("approval.sqlite").path, logger: logger)
                return Replicas(home: home, engines: Array(repeating: try engine(database), count: count))
            case .postgres:
                let url = try PostgresURL(parsing: try PostgresTestCluster.shared().createDatabase(prefix: "approval_race"))
                var engines: [ApprovalEngine] = []
                for _ in 0..<count { engines.append(try engine(try await ApprovalDatabase.postgres(url, logger: logger))) }
                return Replicas(home: home, engines: engines)
            }
        }

        /// An engine with `home`'s identities and keys (made there at first use) on `database`.
        static func engine(in home: TestHome, on database: ApprovalDatabase, notifications: NotificationConfiguration = .init()) throws -> ApprovalEngine {
            try home.directory.prepare()
            return ApprovalEngine(
                database: database, policies: try PolicySource(path: repositoryRoot.appendingPathComponent("compose/policy.json").path),
                identities: try LiveIdentities(directory: home.directory), signer: try GrantKeys.loadOrCreateSigner(in: home.directory),
                logger: Logger(label: "test"), notifications: notifications, linkSigner: try LinkSigner.loadOrCreate(in: home.directory))
        }

        var first: ApprovalEngine { engines[0] }

        func close() async {
            var closed = Set<ObjectIdentifier>()
            for engine in engines where closed.insert(ObjectIdentifier(engine)).inserted { await engine.close() }
            home.remove()
        }

        /// Every event, oldest first.
        func allEvents() async throws -> [ApprovalEvent] {
            var events: [ApprovalEvent] = []
            while true {
                let page = try await first.events(after: events.last?.seq ?? 0, limit: 500)
                events += page
                if page.count < 500 { return events }
            }
        }
    }

    static func submission(_ call: String, _ wire: [String: JSONValue], run: String = "race", expiresIn: Int64? = nil) throws -> SubmitParams {
        SubmitParams(runID: run, callID: call, action: try Actions.action(wire), requestedBy: requester, expiresIn: expiresIn)
    }

    @Test(arguments: DatabaseBackend.allCases) func oneSubmissionIsOneApprovalHoweverManyReplicasSendIt(backend: DatabaseBackend) async throws {
        let replicas = try await Replicas.open(backend)
        defer { Task { await replicas.close() } }
        for round in 0..<5 {
            let params = try Self.submission("same-\(round)", Actions.transfer("150.00"))
            let outcomes = await ReplicaRace.race(replicas.engines) { engine, _ in try await engine.submit(params, by: Self.agent) }
            let failures = ReplicaRace.reasons(outcomes)
            #expect(failures.isEmpty, "round \(round): \(failures)")
            #expect(Set(ReplicaRace.wins(outcomes).map(\.approvalID)).count == 1, "round \(round): one call, one approval")
        }
        let submitted = try await replicas.allEvents().filter { $0.type == "submitted" }
        #expect(submitted.count == 5)
        #expect(try await replicas.first.verifyAudit().ok)
    }

    @Test(arguments: DatabaseBackend.allCases) func anApprovalIsDecidedOnceWhenReplicasRaceToDecideIt(backend: DatabaseBackend) async throws {
        let replicas = try await Replicas.open(backend)
        defer { Task { await replicas.close() } }
        for round in 0..<5 {
            let pending = try await replicas.first.submit(try Self.submission("decide-\(round)", Actions.transfer("150.00")), by: Self.agent)
            #expect(pending.status == .pending && pending.requiredApprovers == 1)
            // Half the replicas approve it (approver1), half reject it (approver2), all at once.
            let outcomes = await ReplicaRace.race(replicas.engines) { engine, index in
                let (decision, approver): (Decision, String) = index.isMultiple(of: 2) ? (.approve, "approver1") : (.reject, "approver2")
                return try await engine.decide(
                    DecideParams(approvalID: pending.approvalID, decision: decision, version: 1),
                    by: Identity(name: approver, role: "approver"))
            }
            let final = try await replicas.first.get(pending.approvalID)
            #expect([.approved, .rejected].contains(final.status))
            #expect((final.status == .approved) == (final.grant != nil), "a grant exactly when approved")
            for case .success(let view) in outcomes {
                #expect(view.status == final.status, "round \(round): a caller was told \(view.status), the approval is \(final.status)")
            }
            let decisions = try await replicas.allEvents().filter {
                $0.approvalID == pending.approvalID && ["approved", "rejected"].contains($0.type)
            }
            #expect(decisions.count == 1, "round \(round): decided \(decisions.count) times")
        }
        #expect(try await replicas.first.verifyAudit().ok)
    }

    /// A reader follows the feed while sixteen replicas write it: every page it reads
    /// continues the last without a gap (an event committed after a later one would
    /// show as a gap here, and be skipped by a watcher whose cursor passed it).
    @Test(arguments: DatabaseBackend.allCases) func theFeedIsGapFreeWhileReplicasWriteIt(backend: DatabaseBackend) async throws {
        let replicas = try await Replicas.open(backend)
        defer { Task { await replicas.close() } }
        let writing = Atomic<Bool>(true)
        let reader = Task { () throws -> (read: Int, gaps: [String]) in
            var cursor: Int64 = 0
            var gaps: [String] = []
            var read = 0
            while true {
                let done = !writing.load(ordering: .acquiring)
                let page = try await replicas.engines[1].events(after: cursor, limit: 100)
                for event in page {
                    if event.seq != cursor + 1 { gaps.append("after \(cursor) came \(event.seq)") }
                    cursor = event.seq
                    read += 1
                }
                if done && page.isEmpty { return (read, gaps) }
            }
        }
        let outcomes = await ReplicaRace.race(replicas.engines) { engine, index in
            for call in 0..<10 {
                _ = try await engine.submit(try Self.submission("feed-\(index)-\(call)", Actions.deposit("1.00"), run: "feed-\(index)"), by: Self.agent)
            }
        }
        writing.store(false, ordering: .releasing)
        let (read, gaps) = try await reader.value
        #expect(outcomes.allSatisfy { (try? $0.get()) != nil })
        #expect(gaps.isEmpty, "\(gaps.prefix(5))")
        let events = try await replicas.allEvents()
        #expect(events.map(\.seq) == Array(1...Int64(events.count)))
        #expect(events.count == 16 * 10 * 2, "each deposit: submitted, approved")
        #expect(read == events.count)
        #expect(try await replicas.first.verifyAudit().ok)
    }

    /// Sixty-four $99 transfers through sixteen replicas at once: the policy runs two
    /// by itself ($198 of its $200 a day), never three: the window total each decision
    /// reads includes every decision committed before it.
    @Test(arguments: DatabaseBackend.allCases) func theDailyBudgetHoldsAcrossReplicas(backend: DatabaseBackend) async throws {
        let replicas = try await Replicas.open(backend)
        defer { Task { await replicas.close() } }
        let outcomes = await ReplicaRace.race(replicas.engines) { engine, index in
            var views: [ApprovalView] = []
            for call in 0..<4 {
                views.append(try await engine.submit(try Self.submission("budget-\(index)-\(call)", Actions.transfer("99.00")), by: Self.agent))
            }
            return views
        }
        let views = ReplicaRace.wins(outcomes).flatMap { $0 }
        #expect(views.count == 64)
        #expect(views.filter { $0.requiredApprovers == 0 }.count == 2)
    }

    @Test(arguments: DatabaseBackend.allCases) func everyDueApprovalExpiresOnceWhicheverReplicasSweep(backend: DatabaseBackend) async throws {
        let replicas = try await Replicas.open(backend)
        defer { Task { await replicas.close() } }
        var ids: [String] = []
        for call in 0..<20 {
            ids.append(try await replicas.first.submit(
                try Self.submission("lapse-\(call)", Actions.transfer("150.00"), expiresIn: 1), by: Self.agent).approvalID)
        }
        try await Task.sleep(for: .milliseconds(1_200))
        let outcomes = await ReplicaRace.race(replicas.engines) { engine, _ in try await engine.expireDue() }
        #expect(ReplicaRace.wins(outcomes).reduce(0, +) == 20, "\(outcomes)")
        let expired = try await replicas.allEvents().filter { $0.type == "expired" }
        #expect(expired.count == 20 && Set(expired.map(\.approvalID)) == Set(ids))
        #expect(try await replicas.first.verifyAudit().ok)
    }

    /// Due webhook deliveries claimed by sixteen outbox workers at once: each by one.
    /// PostgreSQL only: a SQLite file has one process and so one outbox worker, which
    /// takes due rows without a lease.
    @Test func aDeliveryIsClaimedByOneWorker() async throws {
        let backend = DatabaseBackend.postgres
        var notifications = NotificationConfiguration()
        notifications.webhookURL = "http://127.0.0.1:9/nobody-listens"
        notifications.webhookSecret = Array("a webhook secret of 32 bytes ok".utf8)
        let replicas = try await Replicas.open(backend, notifications: notifications)
        defer { Task { await replicas.close() } }
        for call in 0..<40 {
            _ = try await replicas.first.submit(try Self.submission("notice-\(call)", Actions.transfer("150.00")), by: Self.agent)
        }
        let outcomes = await ReplicaRace.race(replicas.engines) { engine, _ in try await engine.claimDueDeliveries(limit: 8).map(\.deliveryID) }
        let claimed = ReplicaRace.wins(outcomes).flatMap { $0 }
        #expect(outcomes.allSatisfy { (try? $0.get()) != nil })
        #expect(claimed.count == 40 && Set(claimed).count == 40, "40 notices, each claimed once: \(claimed.count) claims")
        let again = await ReplicaRace.race(replicas.engines) { engine, _ in try await engine.claimDueDeliveries(limit: 8).count }
        #expect(ReplicaRace.wins(again).reduce(0, +) == 0, "a claimed delivery waits out its lease")
    }

    /// A watcher of one replica wakes for a change committed through another.
    @Test(arguments: DatabaseBackend.allCases) func aWatcherHearsAnotherReplicasChange(backend: DatabaseBackend) async throws {
        let replicas = try await Replicas.open(backend, count: 2)
        defer { Task { await replicas.close() } }
        // Let the listener's LISTEN take effect (it wakes everyone once when it does).
        try await Task.sleep(for: .milliseconds(500))
        let subscription = try #require(replicas.engines[0].notifier.subscribe())
        var wakeUps = subscription.stream.makeAsyncIterator()
        let submitted = ContinuousClock.now
        let view = try await replicas.engines[1].submit(try Self.submission("heard", Actions.transfer("150.00")), by: Self.agent)
        // Wake-ups until replica 0 sees the change (a periodic safety wake may come first).
        while try await replicas.engines[0].events(after: 0, limit: 10).contains(where: { $0.approvalID == view.approvalID }) == false {
            _ = await wakeUps.next()
        }
        let waited = ContinuousClock.now - submitted
        #expect(waited < .seconds(1), "woke after \(waited): by the change, not the safety wake every \(PostgresPool.safetyWakeInterval)")
        replicas.engines[0].notifier.unsubscribe(subscription.id)
    }

    /// A replica whose signing keys differ from those recorded by the first refuses to
    /// start, naming the files to copy: its grants would fail at every ledger that trusts
    /// the first's public key.
    @Test func aReplicaWithOtherSigningKeysRefusesToStart() async throws {
        let url = try PostgresURL(parsing: try PostgresTestCluster.shared().createDatabase(prefix: "approval_keys"))
        let logger = Logger(label: "test")
        let home = try TestHome.make()
        defer { home.remove() }
        let first = try Replicas.engine(in: home, on: try await ApprovalDatabase.postgres(url, logger: logger))
        try await first.requireSharedKeys()
        let same = try Replicas.engine(in: home, on: try await ApprovalDatabase.postgres(url, logger: logger))
        try await same.requireSharedKeys()
        let otherHome = try TestHome.make()
        defer { otherHome.remove() }
        let other = try Replicas.engine(in: otherHome, on: try await ApprovalDatabase.postgres(url, logger: logger))
        await #expect {
            try await other.requireSharedKeys()
        } throws: { "\($0)".contains("grant signing key") && "\($0)".contains("copy run/grant-signing.key") }
        for engine in [first, same, other] { await engine.close() }
    }
}
