import Contracts
import Foundation
import Logging
import RPC
import ServiceLifecycle

/// Follows approval decisions (approval.watch) from a durable cursor in state-svc and resumes the
/// runs they unblock, so a decision made while agent-svc was down is acted on when it
/// returns. Clients (the gateway, `hitl chat`) decide and then watch the run: resuming
/// is agent-svc's alone.
///
/// Decisions are acted on concurrently, up to ``maximumConcurrentResumes`` runs at once, so
/// no decision waits behind another run's slow model turn; two decisions for the same run
/// resume it one after the other. The cursor moves past an event only once it and every
/// event before it were handled, in batches (``cursorInterval``), compare-and-set so two
/// followers never skip one.
public struct DecisionFollower: Service {
    public static let cursorName = "agent.approvals"
    static let decisions = DecidedEvent.decisions
    /// Runs resumed at once: each holds a claim and may wait seconds for the model; a
    /// burst of decisions past this waits its turn rather than flooding the model and services.
    static let maximumConcurrentResumes = 64
    /// How often the cursor is written while decisions are handled: one durable write per
    /// batch instead of one per event (a crash replays at most this much, and resuming is idempotent).
    static let cursorInterval: Duration = .milliseconds(200)
    let agent: Agent
    let pollInterval: Duration

    public init(agent: Agent, pollInterval: Duration = .milliseconds(500)) {
        self.agent = agent
        self.pollInterval = pollInterval
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await follow()
                } catch {
                    agent.logger.warning("decision follower: \(error)")
                }
                try? await Task.sleep(for: pollInterval)
            }
        }
    }

    /// Follows approval.watch from the durable cursor until the watch ends; throws when
    /// the cursor cannot be moved (another follower moved it: it is read again).
    func follow() async throws {
        let start = try await agent.state.getCursor(Self.cursorName).value
        let (events, continuation) = AsyncStream.makeStream(of: DecidedEvent.self)
        let approval = agent.approval
        let watch = Task {
            defer { continuation.finish() }
            try? await approval.watch(WatchParams(afterSeq: start, withApproval: true), timeout: .seconds(24 * 3600)) { continuation.yield($0) }
        }
        defer { watch.cancel() }
        let progress = FollowerProgress(start: start, slots: Self.maximumConcurrentResumes)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await persistCursor(progress, from: start)
                } catch {
                    // The cursor moved under this follower: stop reading, and start again from it.
                    watch.cancel()
                    throw error
                }
            }
            for await decided in events {
                let event = decided.event
                // An approval the policy granted at submission was run by the chat that
                // submitted it, in that same call; one agent-svc cancelled itself (a hold
                // refused, a run ending) is its run's own business: nothing to resume.
                guard Self.decisions.contains(event.type), event.actor != ApprovalEvent.policyActor,
                    !(event.type == "cancelled" && event.actor == agent.identityName)
                else {
                    await progress.skip(event.seq)
                    continue
                }
                await progress.acquireSlot()
                guard await progress.begin(event.seq, run: event.runID) else { continue }  // resumed again after the current pass
                group.addTask {
                    // Later passes (another decision for the run came meanwhile) read the
                    // approvals afresh: this event's copy may be older than theirs.
                    var known = decided.approval.map { [$0] } ?? []
                    repeat {
                        await resumeRetrying(event, decided: known)
                        known = []
                    } while await progress.finish(run: event.runID)
                }
            }
            await progress.close()
            try await group.waitForAll()
        }
    }

    /// Writes the cursor every ``cursorInterval`` while it moves; the last time once the
    /// follower is done with what it read. A write that fails for a while (state-svc
    /// restarting) is tried again at the next interval, not left to fail the follower
    /// hours later when its watch ends; only CURSOR_CONFLICT (another follower, or a
    /// write that landed although its answer was lost) ends it, to read the cursor again.
    private func persistCursor(_ progress: FollowerProgress, from start: Int64) async throws {
        var persisted = start
        while true {
            let (handled, closed) = await progress.handledThrough()
            if handled > persisted {
                do {
                    _ = try await agent.state.setCursor(SetCursorParams(name: Self.cursorName, value: handled, expected: persisted))
                    persisted = handled
                } catch let error as RPCError where error.reason != StateReason.cursorConflict {
                    agent.logger.warning(
                        "decision follower: the cursor stays at \(persisted) for now (tried \(handled)); trying again: \(error)")
                }
            }
            if closed, await progress.isIdle { return }
            try await Task.sleep(for: Self.cursorInterval)
        }
    }

    /// Attempts per decision before the follower moves on: one run that cannot be
    /// resumed now (a service away, a document too large) must not hold up every
    /// later decision. The run stays paused and the reconciler resumes it later.
    static let attemptsPerEvent = 4

    private func resumeRetrying(_ event: ApprovalEvent, decided: [ApprovalView]) async {
        for attempt in 1...Self.attemptsPerEvent {
            do {
                return try await resume(event.runID, decided: attempt == 1 ? decided : [])
            } catch is CancellationError {
                return
            } catch where attempt < Self.attemptsPerEvent {
                agent.logger.warning("decision follower: resuming \(event.runID) failed (attempt \(attempt)): \(error)")
                try? await Task.sleep(for: .milliseconds(250 << attempt))
            } catch {
                agent.logger.error("decision follower moves past \(event.runID) after \(attempt) attempts; the reconciler resumes it later: \(error)")
            }
        }
    }

    /// How long the follower waits for a chat that is still placing its calls to save its
    /// run. No model turn happens in that window (a turn with a call that waits for people
    /// ends the chat's loop once its calls are placed), only service calls, so a chat that
    /// takes longer has died: the sweeper ends its run, or the reconciler resumes it if it
    /// did pause.
    static let chatSaveWait: Duration = .seconds(30)

    /// The run once its chat saved it (paused, completed or failed), or nil after ``chatSaveWait``.
    private func untilChatSaves(_ runID: String) async throws -> RunResult? {
        try await withThrowingTaskGroup(of: RunResult?.self) { group in
            group.addTask { try await agent.watchRun(WatchRunParams(runID: runID)) { _ in } }
            group.addTask {
                try await Task.sleep(for: Self.chatSaveWait)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }

    /// Resumes a run; runs that are not the agent's, already finished, or being
    /// resumed by another process are not this follower's to handle.
    private func resume(_ runID: String, decided: [ApprovalView]) async throws {
        do {
            do {
                // The claim is for paused runs only (UNEXPECTED_STATUS otherwise), so the
                // follower never gets in the way of a chat still working on its run.
                _ = try await agent.resume(runID: runID, onlyIfPaused: true, decided: decided) { _ in }
            } catch let error as RPCError
                where error.reason == StateReason.unexpectedStatus && error.details["run_status"] == .string(RunStatus.running.rawValue)
            {
                // Decided while the run's chat was still placing its calls (the approval
                // exists before the run is saved paused): that chat's next save pauses the
                // run and leaves it to people, so wait for it (no polling: its events say
                // when) and resume then. The chat asks nothing after saving: one exchange
                // fewer per pause, paid only in this rare race.
                guard let settled = try await untilChatSaves(runID) else {
                    agent.logger.warning("decision follower: the chat of \(runID) did not save it within \(Self.chatSaveWait); the reconciler resumes it if it pauses")
                    return
                }
                if settled.status == RunStatus.running.rawValue {
                    // The watch ended before the chat saved (state-svc away for a moment):
                    // not handled, so the follower tries again rather than move past it.
                    throw RPCError(.unavailable, reason: "CHAT_NOT_SAVED", "run \(runID) is still in its chat; trying its decision again")
                }
                guard settled.status == RunStatus.awaitingApproval.rawValue, !settled.pending.isEmpty else { return }
                _ = try await agent.resume(runID: runID, onlyIfPaused: true, decided: decided) { _ in }
            }
        } catch let error as RPCError
            where [StateReason.runNotFound, StateReason.runClaimed, StateReason.terminalStatus, StateReason.unexpectedStatus, "NOT_AN_AGENT_RUN"]
                .contains(error.reason)
        {
            agent.logger.debug("decision follower skips \(runID): \(error.reason)")
        } catch let error as RPCError where Agent.isFinal(error) {
            // A run that cannot continue must not block every later decision.
            agent.logger.error("decision follower could not resume \(runID): \(error)")
        }
    }
}

/// What the follower has read and handled: which events are done (the cursor may pass
/// them once every earlier one is), which runs are being resumed (and whether another
/// decision for one came meanwhile), and how many resumes run at once.
actor FollowerProgress {
    private var order: [Int64] = []
    private var done: Set<Int64> = []
    private var handled: Int64
    private var active: [String: (seqs: [Int64], again: Bool)] = [:]
    private var free: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var closed = false

    init(start: Int64, slots: Int) {
        handled = start
        free = slots
    }

    /// An event that asks nothing of the follower.
    func skip(_ seq: Int64) {
        order.append(seq)
        markDone([seq])
    }

    /// Waits for one of the resume slots.
    func acquireSlot() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    /// A decision for `run`: true when a resume should start; false when one is running
    /// already (it goes again once it is done, and this event is done with it).
    func begin(_ seq: Int64, run: String) -> Bool {
        order.append(seq)
        if var current = active[run] {
            current.seqs.append(seq)
            current.again = true
            active[run] = current
            releaseSlot()
            return false
        }
        active[run] = ([seq], false)
        return true
    }

    /// A resume of `run` ended: true when it must go again (another decision came meanwhile).
    func finish(run: String) -> Bool {
        guard var current = active[run] else { return false }
        if current.again {
            current.again = false
            active[run] = current
            return true
        }
        active[run] = nil
        markDone(current.seqs)
        releaseSlot()
        return false
    }

    /// No more events will come.
    func close() { closed = true }

    /// The newest seq the cursor may move to, and whether reading has ended.
    func handledThrough() -> (Int64, Bool) { (handled, closed) }

    /// Whether every event read is handled.
    var isIdle: Bool { order.isEmpty && active.isEmpty }

    private func markDone(_ seqs: [Int64]) {
        done.formUnion(seqs)
        while let first = order.first, done.contains(first) {
            order.removeFirst()
            done.remove(first)
            handled = first
        }
    }

    private func releaseSlot() {
        if waiters.isEmpty {
            free += 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
