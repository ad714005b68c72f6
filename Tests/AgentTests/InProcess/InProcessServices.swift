import Banking
import Contracts
import CurlKit
import Crypto
import Foundation
import LLM
import Ledger
import ModelSimulator
import RPC
@testable import StateStore
import Synchronization

/// state-svc's store served in process, as agent-svc's identity: every call goes to the
/// real `StateStore` (SQLite, versions, leases, events), its documents converted to the
/// consumer's type the way the wire would.
struct InProcessState: StateAPI {
    let store: StateStore
    var hooks = StateHooks()
    let identity = "agent"

    func createRun<D>(_ params: CreateRunParamsOf<D>) async throws -> CreateRunResult {
        try await store.createRun(
            CreateRunParams(runID: params.runID, sessionID: params.sessionID, data: JSONValue(encoding: params.data), events: params.events),
            identity: identity)
    }
    func loadRun<D>(_ runID: String, as document: D.Type) async throws -> RunRecordOf<D> {
        try Self.convert(try await store.loadRun(runID))
    }
    func claimRun<D>(_ params: ClaimRunParams, as document: D.Type) async throws -> RunRecordOf<D> {
        hooks.pauseWaitsForAClaim?.mark()
        return try Self.convert(try await store.claimRun(params))
    }
    func saveRun<D>(_ params: SaveRunParamsOf<D>) async throws -> SaveRunResult {
        if let claim = hooks.pauseWaitsForAClaim, params.owner == nil, params.status == RunStatus.awaitingApproval.rawValue {
            try await claim.wait()
        }
        return try await store.saveRun(
            SaveRunParams(
                runID: params.runID, expectedVersion: params.expectedVersion, status: params.status, data: JSONValue(encoding: params.data),
                owner: params.owner, events: params.events, release: params.release),
            identity: identity)
    }
    func releaseRun(_ params: ReleaseRunParams) async throws -> ReleaseRunResult { try await store.releaseRun(params) }
    func appendEvents(_ params: AppendEventsParams) async throws -> AppendEventsResult { try await store.appendEvents(params) }
    func listRuns(_ params: ListRunsParams) async throws -> ListRunsResult { try await store.listRuns(params) }
    func loadSession(_ params: LoadSessionParams) async throws -> LoadSessionResult { try await store.loadSession(params) }
    func appendSession(_ params: AppendSessionParams) async throws -> AppendSessionResult { try await store.appendSession(params) }
    func getCursor(_ name: String) async throws -> CursorResult { try await store.getCursor(name) }
    func setCursor(_ params: SetCursorParams) async throws -> CursorResult { try await store.setCursor(params) }

    /// The snapshot (`with_run`), then the run's events as they are written, read every
    /// few milliseconds from the store until the run is finished and its last event
    /// sent (as state-svc ends it), `timeout` or cancellation.
    func watchEvents<D>(
        _ params: ReadEventsParams, as document: D.Type, timeout: Duration, onEvent: @escaping @Sendable (RunWatchEvent<D>) -> Void
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        if hooks.watches.next() == 1, hooks.firstWatchEndsAtOnce { return }
        var after = params.afterSeq ?? 0
        if params.withRun == true {
            // The run and its newest seq from one read, as state-svc takes them: read apart,
            // a save between them would leave a snapshot older than its seq.
            let (run, last) = try await store.runWithLastSeq(params.runID)
            if params.afterSeq == nil { after = last }
            onEvent(.snapshot(RunSnapshotOf(run: try Self.convert(run), lastEventSeq: last, startSeq: after)))
        }
        while ContinuousClock.now < deadline, !Task.isCancelled {
            let page = try await store.readEvents(ReadEventsParams(runID: params.runID, afterSeq: after, limit: 100))
            for event in page.events { onEvent(.event(event)) }
            after = page.events.last?["seq"]?.intValue ?? after
            if !hooks.watchesNeverEnd, !page.hasMore, RunStatus(rawValue: page.status)?.isTerminal == true { return }
            if page.events.isEmpty { try await Task.sleep(for: .milliseconds(2)) }
        }
    }

    private static func convert<D>(_ record: RunRecord) throws -> RunRecordOf<D> {
        try JSONValue(encoding: record).decode(as: RunRecordOf<D>.self)
    }
}

/// What a test bends in ``InProcessState`` (nothing, by default).
struct StateHooks: Sendable {
    /// Watches of finished runs run on to their deadline, as a state-svc from before
    /// that rule would.
    var watchesNeverEnd = false
    /// A chat's pausing save waits until someone tried to claim the run: a decision
    /// follower meets the run while its chat is still placing its calls.
    var pauseWaitsForAClaim: Signal?
    /// Counts every watch of a run's events.
    var watches = Count()
    /// The first watch ends at once, before any event (state-svc away for a moment).
    var firstWatchEndsAtOnce = false
}

/// A flag one task raises and another waits for (bounded).
final class Signal: Sendable {
    private let raised = Mutex(false)

    func mark() { raised.withLock { $0 = true } }

    var isRaised: Bool { raised.withLock { $0 } }

    /// Waits until raised, at most `limit`.
    func wait(upTo limit: Duration = .seconds(5)) async throws {
        let deadline = ContinuousClock.now + limit
        while !isRaised, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(2)) }
    }
}

/// approval-svc as the agent sees it, in memory: transfers and deposits over $100.00
/// wait for one approver, the rest are approved at once, and an approval's grant is
/// signed with a key the real `Ledger` trusts, so nothing moves without one.
actor InProcessApprovals: ApprovalAPI {
    static let threshold = Amount(minorUnits: 10_000)!
    let signer: GrantSigner
    private var approvals: [String: ApprovalView] = [:]
    private var byCall: [String: String] = [:]
    private var events: [DecidedEvent] = []
    private var watchers: [UUID: AsyncStream<DecidedEvent>.Continuation] = [:]
    /// Every call the agent made, by method, in order (what a test counts).
    private(set) var calls: [String] = []

    /// Approvals needing a person are approved right after they are submitted (the agent
    /// still gets the pending answer): a person deciding before the chat saved its pause.
    private var approveWhenSubmitted = false

    init(signer: GrantSigner) { self.signer = signer }

    func approveAsSoonAsSubmitted() { approveWhenSubmitted = true }

    func submit(_ params: SubmitParams) async throws -> ApprovalView {
        calls.append("submit")
        let key = "\(params.runID):\(params.callID)"
        if let id = byCall[key], let known = approvals[id] { return known }
        let id = "appr_\(approvals.count + 1)"
        byCall[key] = id
        let needsPerson = params.action.amount > Self.threshold
        var view = Self.view(id: id, params: params, status: needsPerson ? .pending : .approved, required: needsPerson ? 1 : 0)
        if !needsPerson { view = try grant(view, approvers: []) }
        approvals[id] = view
        record(needsPerson ? "submitted" : "approved", view, actor: needsPerson ? "agent" : ApprovalEvent.policyActor)
        if needsPerson, approveWhenSubmitted { _ = try decide(id, approve: true) }
        return view
    }

    func get(_ approvalID: String) async throws -> ApprovalView {
        calls.append("get")
        return try find(approvalID)
    }

    func cancel(_ params: CancelParams) async throws -> ApprovalView {
        calls.append("cancel")
        let view = try find(params.approvalID)
        guard view.status == .pending else { return view }
        let cancelled = Self.with(view, status: .cancelled, reason: params.reason)
        approvals[params.approvalID] = cancelled
        record("cancelled", cancelled, actor: "agent")
        return cancelled
    }

    func complete(_ params: CompleteParams) async throws -> ApprovalView {
        calls.append("complete")
        let view = try find(params.approvalID)
        guard view.status == .approved else { return view }
        let completed = Self.with(view, status: params.outcome.status == "succeeded" ? .completed : .failed, outcome: params.outcome)
        approvals[params.approvalID] = completed
        return completed
    }

    func renewGrant(_ approvalID: String) async throws -> ApprovalView {
        calls.append("renew_grant")
        let renewed = try grant(try find(approvalID), approvers: ["approver1"])
        approvals[approvalID] = renewed
        return renewed
    }

    func list(_ params: ListParams) async throws -> ListResult {
        calls.append("list")
        let matching = approvals.values.filter { params.runID == nil || $0.runID == params.runID }.sorted { $0.approvalID < $1.approvalID }
        return ListResult(approvals: matching, nextCursor: nil)
    }

    func watch(_ params: WatchParams, timeout: Duration, onEvent: @escaping @Sendable (DecidedEvent) -> Void) async throws {
        let (stream, continuation) = AsyncStream.makeStream(of: DecidedEvent.self)
        let id = UUID()
        for event in events where event.event.seq > (params.afterSeq ?? 0) { continuation.yield(event) }
        watchers[id] = continuation
        let ender = Task {
            try? await Task.sleep(for: timeout)
            continuation.finish()
        }
        defer { ender.cancel() }
        await withTaskCancellationHandler {
            for await event in stream { onEvent(event) }
        } onCancel: {
            continuation.finish()
        }
        watchers[id] = nil
    }

    /// A person's decision, as `approval.decide` makes it.
    func decide(_ approvalID: String, approve: Bool, reason: String? = nil, by person: String = "approver1") throws -> ApprovalView {
        let view = try find(approvalID)
        guard view.status == .pending else { throw RPCError(.failedPrecondition, reason: "NOT_PENDING", "already \(view.status.rawValue)") }
        let decided = approve ? try grant(view, approvers: [person]) : Self.with(view, status: .rejected, reason: reason)
        approvals[approvalID] = decided
        record(approve ? "approved" : "rejected", decided, actor: person)
        return decided
    }

    private func find(_ approvalID: String) throws -> ApprovalView {
        guard let view = approvals[approvalID] else { throw RPCError(.notFound, reason: "APPROVAL_NOT_FOUND", "no approval \(approvalID)") }
        return view
    }

    private func record(_ type: String, _ view: ApprovalView, actor: String) {
        let event = ApprovalEvent(
            seq: Int64(events.count + 1), type: type, approvalID: view.approvalID, runID: view.runID, callID: view.callID,
            version: view.version, status: view.status, actor: actor, at: GrantTime.format(Date()), reason: view.reason)
        let decided = DecidedEvent(event: event, approval: DecidedEvent.decisions.contains(type) ? view : nil)
        events.append(decided)
        for watcher in watchers.values { watcher.yield(decided) }
    }

    private func grant(_ view: ApprovalView, approvers: [String]) throws -> ApprovalView {
        let now = Date()
        let body = Grant.Body(
            grantID: "grant_\(UUID().uuidString.prefix(8))", approvalID: view.approvalID, approvalVersion: view.version, runID: view.runID,
            callID: view.callID, action: view.action, idempotencyKey: "\(view.runID):\(view.callID)", approvers: approvers,
            policyVersion: "in-process", issuedAt: now, expiresAt: now.addingTimeInterval(600), keyID: signer.keyID)
        return Self.with(view, status: .approved, grant: try signer.sign(body), approvedBy: approvers)
    }

    private static func view(id: String, params: SubmitParams, status: ApprovalStatus, required: Int) -> ApprovalView {
        let now = GrantTime.format(Date())
        return ApprovalView(
            approvalID: id, runID: params.runID, callID: params.callID, version: 1, status: status, action: params.action,
            originalAction: params.action, requestedBy: params.requestedBy, submittedBy: "agent", requiredApprovers: required,
            approvedBy: [], policyVersion: "in-process", policyRule: required > 0 ? "over-100" : "auto", policyFigures: [:],
            requesterMayApprove: false, createdAt: now, updatedAt: now, expiresAt: GrantTime.format(Date().addingTimeInterval(3600)),
            reason: nil, outcome: nil, grant: nil)
    }

    private static func with(
        _ view: ApprovalView, status: ApprovalStatus, reason: String? = nil, outcome: Outcome? = nil, grant: Grant? = nil,
        approvedBy: [String]? = nil
    ) -> ApprovalView {
        ApprovalView(
            approvalID: view.approvalID, runID: view.runID, callID: view.callID, version: view.version, status: status, action: view.action,
            originalAction: view.originalAction, requestedBy: view.requestedBy, submittedBy: view.submittedBy,
            requiredApprovers: view.requiredApprovers, approvedBy: approvedBy ?? view.approvedBy, policyVersion: view.policyVersion,
            policyRule: view.policyRule, policyFigures: view.policyFigures, requesterMayApprove: view.requesterMayApprove,
            createdAt: view.createdAt, updatedAt: GrantTime.format(Date()), expiresAt: view.expiresAt, reason: reason ?? view.reason,
            outcome: outcome ?? view.outcome, grant: grant ?? view.grant)
    }
}

/// The model simulator answering in process: the same rules and wire format as
/// `model-sim`, without HTTP; `delay` makes each turn take that long.
struct InProcessModel: HTTPTransport {
    let model = SimulatedModel()
    var delay: Duration = .zero
    /// When set, every turn after the first waits (up to 10 s) until it is raised: a
    /// model still thinking while a test looks at the run.
    var laterTurnsWaitFor: Signal?
    private let turns = Count()

    init(delay: Duration = .zero, laterTurnsWaitFor: Signal? = nil) {
        self.delay = delay
        self.laterTurnsWaitFor = laterTurnsWaitFor
    }

    func send(_ request: HTTPRequest, onBody: (@Sendable (Data) -> Void)?) async throws -> HTTPResponse {
        if delay > .zero { try await Task.sleep(for: delay) }
        let turn = turns.next()
        if turn > 1, let gate = laterTurnsWaitFor { try await gate.wait(upTo: .seconds(10)) }
        let api: LLMAPI = request.url.hasSuffix("/chat/completions") ? .chat : .responses
        let parsed = try SimulatorRequest(body: try JSONValue(parsing: String(decoding: request.body, as: UTF8.self)), api: api)
        guard case .reply(let reply) = model.answer(parsed.conversation, structured: parsed.structured, hasTools: parsed.hasTools, seenBefore: false)
        else { return HTTPResponse(status: 500, headers: [:], body: Data("the simulator failed".utf8)) }
        let body = try JSONEncoder().encode(SimulatorWire.body(reply, api: api, id: "sim_in_process"))
        return HTTPResponse(status: 200, headers: ["content-type": "application/json"], body: body)
    }
}

/// How many times something happened (a model's turns, a store's watches).
final class Count: Sendable {
    private let count = Mutex(0)

    /// Counts one more and returns its number (1 for the first).
    @discardableResult
    func next() -> Int {
        count.withLock { count in
            count += 1
            return count
        }
    }

    var value: Int { count.withLock { $0 } }
}
