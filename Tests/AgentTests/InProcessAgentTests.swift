@testable import Agent
import Banking
import Contracts
import Crypto
import Foundation
import LLM
import Ledger
import Logging
import RPC
import StateStore
import Synchronization
import Testing

/// The agent over its services in one process, through the same contracts agent-svc
/// uses: the real state store and books (SQLite in a temporary folder), approvals in
/// memory with grants the books verify, the model simulator without HTTP. Chat →
/// pause → decide → resume runs in milliseconds; what only processes can show (crashes,
/// sockets, restarts) stays in the process-level suites.
final class InProcessBank: Sendable {
    let state: StateStore
    let ledger: Ledger
    let approvals: InProcessApprovals
    let agent: Agent
    let folder: URL
    static let requester = Identity(name: "operator", role: "operator", accounts: ["checking"])

    private init(model: InProcessModel, hooks: StateHooks) async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("inproc-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let logger = Logger(label: "in-process")
        let key = Curve25519.Signing.PrivateKey()
        state = try StateStore(path: folder.appendingPathComponent("state.sqlite").path, logger: logger)
        ledger = try Ledger(
            path: folder.appendingPathComponent("ledger.sqlite").path, verifier: GrantVerifier(key: key.publicKey), logger: logger)
        approvals = InProcessApprovals(signer: GrantSigner(key: key))
        _ = try await ledger.openAccount(OpenAccountParams(account: "checking", openingBalance: "1000.00"))
        _ = try await ledger.openAccount(OpenAccountParams(account: "alice"))
        _ = try await ledger.openAccount(OpenAccountParams(account: "bob"))
        let identities = LiveIdentities(IdentityRegistry(entries: [(digest: "unused", identity: Self.requester)]))
        let llm = LLMClient(
            configuration: LLMConfiguration(baseURL: "http://in-process/v1", apiKey: nil, model: "simulator", api: .chat), transport: model,
            logger: logger)
        agent = Agent(
            ledger: ledger, approval: approvals, state: InProcessState(store: state, hooks: hooks), llm: llm, identities: identities, logger: logger)
    }

    /// Runs `body` with a fresh bank, and removes it after.
    static func with(
        model: InProcessModel = InProcessModel(), hooks: StateHooks = StateHooks(), _ body: (InProcessBank) async throws -> Void
    ) async throws {
        let bank = try await InProcessBank(model: model, hooks: hooks)
        do {
            try await body(bank)
        } catch {
            await bank.close()
            throw error
        }
        await bank.close()
    }

    private func close() async {
        await agent.close()
        await ledger.close()
        await state.close()
        try? FileManager.default.removeItem(at: folder)
    }

    func chat(_ message: String) async throws -> RunResult {
        try await agent.chat(ChatParams(message: message), caller: Self.requester) { _ in }
    }

    func balance(_ account: String) async throws -> BalanceResult {
        try await ledger.balance(AccountParams(account: account))
    }

    /// The phase the run's stored document says it is in.
    func phase(_ runID: String) async throws -> String? {
        try await state.loadRun(runID).data["phase"]?.stringValue
    }

    /// The run once it is `completed` (or as it stands after 10 s).
    func untilCompleted(_ runID: String) async throws -> RunResult {
        let deadline = ContinuousClock.now + .seconds(10)
        var run = try await agent.getRun(runID: runID)
        while run.status != "completed", ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
            run = try await agent.getRun(runID: runID)
        }
        return run
    }
}

@Suite struct InProcessAgentTests {
    @Test func aTransferOverTheLimitWaitsForAPersonThenRunsExactlyOnce() async throws {
        try await InProcessBank.with { bank in
            let paused = try await bank.chat("Transfer $500 to Bob")
            #expect(paused.status == "awaiting_approval")
            let call = try #require(paused.pending.first)
            #expect(paused.pending.count == 1)
            #expect(call.action.amount.description == "500.00" && call.action.to == "bob")
            // Held while people decide: nothing posted, the funds reserved.
            #expect(try await bank.balance("checking").held == "500.00")
            #expect(try await bank.balance("bob").posted == "0.00")

            _ = try await bank.approvals.decide(call.approvalID, approve: true)
            let done = try await bank.agent.resume(runID: paused.runID) { _ in }
            #expect(done.status == "completed")
            #expect(try await bank.balance("bob").posted == "500.00")
            #expect(try await bank.balance("checking").posted == "500.00")
            #expect(try await bank.balance("checking").held == "0.00")

            // A second resume (a retry, another process) finds the run finished: nothing moves again.
            let again = try await bank.agent.resume(runID: paused.runID) { _ in }
            #expect(again.status == "completed")
            #expect(try await bank.balance("bob").posted == "500.00")
            #expect(try await bank.approvals.get(call.approvalID).status == .completed)
        }
    }

    @Test func aRejectionReleasesTheHoldAndTellsTheModel() async throws {
        try await InProcessBank.with { bank in
            let paused = try await bank.chat("Transfer $500 to Bob")
            let call = try #require(paused.pending.first)
            _ = try await bank.approvals.decide(call.approvalID, approve: false, reason: "not today")
            let done = try await bank.agent.resume(runID: paused.runID) { _ in }
            #expect(done.status == "completed")
            #expect(try await bank.balance("checking").held == "0.00")
            #expect(try await bank.balance("checking").posted == "1000.00")
            #expect(try await bank.balance("bob").posted == "0.00")
            #expect(done.reply?.isEmpty == false)
        }
    }

    @Test func aSmallTransferRunsAtOnceWithThePolicysGrant() async throws {
        try await InProcessBank.with { bank in
            let done = try await bank.chat("Transfer $50 to Alice")
            #expect(done.status == "completed")
            #expect(done.pending.isEmpty)
            #expect(try await bank.balance("alice").posted == "50.00")
            #expect(await bank.approvals.calls.filter { $0 == "submit" }.count == 1)
        }
    }

    @Test func aResumeBeforeTheDecisionLeavesTheRunPausedAndMovesNothing() async throws {
        try await InProcessBank.with { bank in
            let paused = try await bank.chat("Transfer $500 to Bob")
            let early = try await bank.agent.resume(runID: paused.runID) { _ in }
            #expect(early.status == "awaiting_approval")
            #expect(early.pending.map(\.approvalID) == paused.pending.map(\.approvalID))
            #expect(try await bank.balance("bob").posted == "0.00")
            #expect(try await bank.balance("checking").held == "500.00")
        }
    }

    @Test func theDecisionFollowerAloneResumesADecidedRun() async throws {
        try await InProcessBank.with { bank in
            let follower = Task { try await DecisionFollower(agent: bank.agent, pollInterval: .milliseconds(10)).follow() }
            defer { follower.cancel() }
            let paused = try await bank.chat("Transfer $500 to Bob")
            let call = try #require(paused.pending.first)
            _ = try await bank.approvals.decide(call.approvalID, approve: true)
            // Nobody calls resume: the follower sees the decision and continues the run.
            #expect(try await bank.untilCompleted(paused.runID).status == "completed")
            #expect(try await bank.balance("bob").posted == "500.00")
        }
    }

    /// Every save says where the run stands, so no reader infers it from state-svc's
    /// status (a paused run and a resume's checkpoint are both `awaiting_approval` there).
    @Test func eachSaveWritesTheRunsPhase() async throws {
        try await InProcessBank.with { bank in
            let paused = try await bank.chat("Transfer $500 to Bob")
            #expect(try await bank.phase(paused.runID) == "waiting_for_people")
            #expect(try await bank.state.loadRun(paused.runID).status == "awaiting_approval")
            _ = try await bank.approvals.decide(try #require(paused.pending.first).approvalID, approve: false, reason: "no")
            #expect(try await bank.agent.resume(runID: paused.runID) { _ in }.status == "completed")
            #expect(try await bank.phase(paused.runID) == "completed")
            let small = try await bank.chat("Transfer $20 to Bob")
            #expect(try await bank.phase(small.runID) == "completed")
        }
    }

    /// Documents saved before phases were written read as they were read then.
    @Test(arguments: [
        ("running", false, RunPhase.chatting), ("awaiting_approval", true, .waitingForPeople), ("awaiting_approval", false, .continuing),
        ("completed", false, .completed), ("failed", false, .failed), ("cancelled", false, .failed),
    ])
    func aDocumentWithoutAPhaseReadsAsBefore(status: String, pending: Bool, phase: RunPhase) throws {
        var document = RunDocument(mode: .tools, account: "checking", requestedBy: "operator", messages: [])
        document.phase = nil
        if pending {
            let action = Action(kind: .transfer, from: "checking", to: "bob", amount: Amount(minorUnits: 50_000)!)
            document.pending = [PendingCall(callID: "c1", approvalID: "ap_1", action: action)]
        }
        #expect(document.phase(stored: status) == phase)
        #expect(phase.storedStatus.rawValue == (status == "cancelled" ? "failed" : status))
    }

    /// What the user said a transfer is for reaches the approver, the grant and the books:
    /// the approval's action, the hold and the posted line all carry it.
    @Test(arguments: [AgentMode.tools, .structured])
    func thePurposeTheUserGaveReachesTheApproverAndTheBooks(mode: AgentMode) async throws {
        try await InProcessBank.with { bank in
            let paused = try await bank.agent.chat(
                ChatParams(message: "Transfer $500 to Bob for rent", mode: mode), caller: InProcessBank.requester) { _ in }
            let call = try #require(paused.pending.first)
            #expect(call.action.memo == "rent")
            #expect(try await bank.approvals.get(call.approvalID).action.memo == "rent")
            _ = try await bank.approvals.decide(call.approvalID, approve: true)
            #expect(try await bank.agent.resume(runID: paused.runID) { _ in }.status == "completed")
            let statement = try await bank.ledger.statement(StatementParams(account: "bob"))
            #expect(statement.entries.map(\.memo) == ["rent"])
            // Said nothing: no memo, as before.
            let plain = try await bank.chat("Transfer $20 to Alice")
            #expect(plain.status == "completed")
            #expect(try await bank.ledger.statement(StatementParams(account: "alice")).entries.map(\.memo) == [nil])
        }
    }

    /// A memo the model gets wrong is its to correct, never an action with a bad memo.
    @Test func aMemoThatIsNotOneShortLineIsRefusedToTheModel() throws {
        #expect(try Agent.memo(JSONValue.string("  rent ")) == "rent")
        #expect(try Agent.memo(JSONValue.string("   ")) == nil)
        #expect(try Agent.memo(JSONValue?.none) == nil)
        #expect(try Agent.memo(JSONValue.null) == nil)
        #expect(throws: ToolRefusal.self) { try Agent.memo(JSONValue.string(String(repeating: "x", count: 141))) }
        // Counted in bytes, as the books count it: 71 Cyrillic letters are 142 bytes.
        #expect(throws: ToolRefusal.self) { try Agent.memo(JSONValue.string(String(repeating: "ж", count: 71))) }
        #expect(try Agent.memo(JSONValue.string(String(repeating: "ж", count: 70))) == String(repeating: "ж", count: 70))
        #expect(throws: ToolRefusal.self) { try Agent.memo(JSONValue.string("rent\u{07}")) }
        #expect(throws: ToolRefusal.self) { try Agent.memo(JSONValue.int(5)) }
    }

    /// A person who decides while the chat is still placing its calls (the approval exists,
    /// the run is not yet saved paused): the follower finds the run running, waits for the
    /// chat's pause without polling, and resumes it. The chat asks approval-svc nothing
    /// after its save: no `approval.get` per pause.
    @Test func aDecisionBeforeTheChatSavesItsPauseIsResumedByTheFollower() async throws {
        let claimed = Signal()
        try await InProcessBank.with(hooks: StateHooks(pauseWaitsForAClaim: claimed)) { bank in
            await bank.approvals.approveAsSoonAsSubmitted()
            let follower = Task { try await DecisionFollower(agent: bank.agent, pollInterval: .milliseconds(10)).follow() }
            defer { follower.cancel() }
            let paused = try await bank.chat("Transfer $500 to Bob")
            #expect(claimed.isRaised, "the follower tried the run while its chat still worked on it")
            #expect(paused.status == "awaiting_approval")
            #expect(try await bank.untilCompleted(paused.runID).status == "completed")
            #expect(try await bank.balance("bob").posted == "500.00")
            #expect(try await bank.balance("checking").held == "0.00")
            #expect(!(await bank.approvals.calls).contains("get"))
        }
    }

    /// Events ride with the next save unless the model is slow: while a model turn takes
    /// longer than ``Agent/eventWriteDelay``, the calls that just ran are written on their
    /// own, so anyone following the run sees the transfer done while the model still thinks.
    @Test func whileASlowModelThinksTheCallsThatRanAreAlreadyWritten() async throws {
        let answer = Signal()
        try await InProcessBank.with(model: InProcessModel(laterTurnsWaitFor: answer)) { bank in
            let paused = try await bank.chat("Transfer $500 to Bob")
            let call = try #require(paused.pending.first)
            _ = try await bank.approvals.decide(call.approvalID, approve: true)
            let resumed = Task { try await bank.agent.resume(runID: paused.runID) { _ in } }
            // The model does not answer until told: the resume's events must be there before.
            let deadline = ContinuousClock.now + .seconds(10)
            var types: [String] = []
            while !types.contains("tool_result"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
                types = try await bank.state.readEvents(ReadEventsParams(runID: paused.runID)).events.compactMap { $0["type"]?.stringValue }
            }
            #expect(types.suffix(2) == ["approval_decided", "tool_result"], "written while the model thinks: \(types)")
            #expect(try await bank.balance("bob").posted == "500.00")
            answer.mark()
            #expect(try await resumed.value.status == "completed")
            let all = try await bank.state.readEvents(ReadEventsParams(runID: paused.runID)).events.compactMap { $0["type"]?.stringValue }
            #expect(all.filter { $0 == "tool_result" }.count == 1, "each event written once: \(all)")
        }
    }

    /// A decision follower's watch of a chat that ended before the chat saved (state-svc
    /// away for a moment) is not the decision handled: it is tried again, and the run
    /// resumes without waiting for the reconciler.
    @Test func aWatchThatEndsBeforeTheChatSavesIsTriedAgain() async throws {
        let claimed = Signal()
        try await InProcessBank.with(hooks: StateHooks(pauseWaitsForAClaim: claimed, firstWatchEndsAtOnce: true)) { bank in
            await bank.approvals.approveAsSoonAsSubmitted()
            let follower = Task { try await DecisionFollower(agent: bank.agent, pollInterval: .milliseconds(10)).follow() }
            defer { follower.cancel() }
            let paused = try await bank.chat("Transfer $500 to Bob")
            #expect(try await bank.untilCompleted(paused.runID).status == "completed")
            #expect(try await bank.balance("bob").posted == "500.00")
        }
    }

    /// The agent's own cancellations (a hold the books refused) are its chat's business:
    /// the follower neither claims nor follows the run for them.
    @Test func theFollowerLeavesTheAgentsOwnCancellationsAlone() async throws {
        let hooks = StateHooks()
        try await InProcessBank.with(hooks: hooks) { bank in
            let follower = Task { try await DecisionFollower(agent: bank.agent, pollInterval: .milliseconds(10)).follow() }
            defer { follower.cancel() }
            let run = try await bank.chat("Transfer $5000 to Bob")
            #expect(run.status == "completed")
            #expect(run.reply?.contains("available") == true, "the books refused the hold: \(run.reply ?? "")")
            try await Task.sleep(for: .milliseconds(300))
            #expect(hooks.watches.value == 0, "the follower followed the run for the agent's own cancellation")
        }
    }

    /// A state-svc that never ends the watch of a finished run (one from before that rule,
    /// during a rolling upgrade) holds a watcher about ``Agent/finishedWatchEndWait``, not
    /// until the watch's deadline.
    @Test(.timeLimit(.minutes(1))) func aFinishedRunsWatchEndsEvenWhenStateDoesNotEndIt() async throws {
        try await InProcessBank.with(hooks: StateHooks(watchesNeverEnd: true)) { bank in
            let paused = try await bank.chat("Transfer $500 to Bob")
            let call = try #require(paused.pending.first)
            _ = try await bank.approvals.decide(call.approvalID, approve: true)
            let resumed = Task { try await bank.agent.resume(runID: paused.runID) { _ in } }
            let started = ContinuousClock.now
            let watched = try await bank.agent.watchRun(WatchRunParams(runID: paused.runID, waitFor: [call.approvalID])) { _ in }
            _ = try await resumed.value
            #expect(watched.status == "completed")
            // Far from state's own 600 s deadline, which is what the watcher met before.
            #expect(ContinuousClock.now - started < .seconds(30))
        }
    }

    @Test func aWatcherSeesTheRunThroughToItsEnd() async throws {
        try await InProcessBank.with { bank in
            let paused = try await bank.chat("Transfer $500 to Bob")
            let call = try #require(paused.pending.first)
            _ = try await bank.approvals.decide(call.approvalID, approve: true)
            let resumed = Task { try await bank.agent.resume(runID: paused.runID) { _ in } }
            let seen = EventTypes()
            let watched = try await bank.agent.watchRun(WatchRunParams(runID: paused.runID, waitFor: [call.approvalID])) { event in
                if let type = event["type"]?.stringValue { seen.append(type) }
            }
            _ = try await resumed.value
            #expect(watched.status == "completed")
            #expect(seen.types.contains("run_completed"))
        }
    }
}

/// Event types as a watcher receives them.
final class EventTypes: Sendable {
    private let storage = Mutex<[String]>([])
    func append(_ type: String) { storage.withLock { $0.append(type) } }
    var types: [String] { storage.withLock { $0 } }
}
