import Foundation
import Logging
import RPC
import ServiceLifecycle

/// One approval event, as much as the follower reads.
struct ApprovalEvent: Decodable, Sendable {
    let seq: Int64
    let type: String
    let runID: String
    /// When the change happened (RFC 3339).
    let at: String?

    enum CodingKeys: String, CodingKey {
        case seq, type, at
        case runID = "run_id"
    }
}

/// A run's status, as much as the follower reads of `state.load_run`.
struct RunStatusRecord: Decodable, Sendable {
    let status: String
}

struct CursorRecord: Decodable, Sendable {
    let value: Int64
}

/// Follows approval decisions (approval.watch) from a durable cursor in state-svc and resumes the
/// runs they unblock, so a decision made while agent-svc was down is acted on
/// when it returns. The cursor moves only after the event was handled.
public struct DecisionFollower: Service {
    public static let cursorName = "agent.approvals"
    static let decisions: Set<String> = ["approved", "rejected", "expired", "cancelled"]
    /// How old a decision must be before the follower resumes its run. Whoever decided
    /// interactively (the gateway's POST /execute, `hitl chat`) resumes the run at once
    /// and streams its events to the person who decided; the follower is the backstop
    /// for decisions made elsewhere (a link, `hitl approve`, while agent-svc was down),
    /// so it lets them go first instead of racing them to the claim. Events are read in
    /// order, so in a steady stream the follower is at most this far behind.
    static let interactiveGrace: Duration = .milliseconds(500)
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

    /// Follows approval.watch from the durable cursor; each event is handled, then
    /// the cursor moves past it (compare-and-set, so two followers never skip one).
    /// Returns when the watch ends; throws when handling fails (it is retried from the cursor).
    func follow() async throws {
        let start = try await agent.state.request(
            "state.get_cursor", ["name": .string(Self.cursorName)], as: CursorRecord.self, idempotent: true).value
        let (events, continuation) = AsyncStream.makeStream(of: ApprovalEvent.self)
        let approval = agent.approval
        let watch = Task {
            defer { continuation.finish() }
            _ = try? await approval.stream(
                "approval.watch", ["after_seq": .int(start)] as JSONValue, event: ApprovalEvent.self, as: JSONValue.self,
                options: .init(timeout: .hours(24), idempotent: true)
            ) { continuation.yield($0) }
        }
        defer { watch.cancel() }
        var position = start
        for await event in events {
            if Self.decisions.contains(event.type) {
                try await Self.waitForGrace(after: event)
                try await resumeRetrying(event)
            }
            _ = try await agent.state.request(
                "state.set_cursor", ["name": .string(Self.cursorName), "value": .int(event.seq), "expected": .int(position)],
                as: JSONValue.self)
            position = event.seq
        }
    }

    /// Sleeps until the event is ``interactiveGrace`` old (no wait for older events).
    static func waitForGrace(after event: ApprovalEvent, now: Date = Date()) async throws {
        guard let text = event.at, let at = Timestamps.parse(text) else { return }
        let age = now.timeIntervalSince(at)
        let grace = Double(interactiveGrace.components.attoseconds) / 1e18 + Double(interactiveGrace.components.seconds)
        guard age < grace else { return }
        try await Task.sleep(for: .milliseconds(Int64((grace - age) * 1000)))
    }

    /// Attempts per decision before the follower moves on: one run that cannot be
    /// resumed now (a service away, a document too large) must not hold up every
    /// later decision. The run stays paused and the reconciler resumes it later.
    static let attemptsPerEvent = 4

    private func resumeRetrying(_ event: ApprovalEvent) async throws {
        for attempt in 1...Self.attemptsPerEvent {
            do {
                return try await resume(event.runID)
            } catch is CancellationError {
                throw CancellationError()
            } catch where attempt < Self.attemptsPerEvent {
                agent.logger.warning("decision follower: resuming \(event.runID) failed (attempt \(attempt)): \(error)")
                try await Task.sleep(for: .milliseconds(250 << attempt))
            } catch {
                agent.logger.error("decision follower moves past \(event.runID) after \(attempt) attempts; the reconciler resumes it later: \(error)")
            }
        }
    }

    /// Resumes a run; runs that are not the agent's, already finished, or being
    /// resumed by another process are not this follower's to handle.
    private func resume(_ runID: String) async throws {
        do {
            // A run still in its first call (an auto-approved action, or a decision made
            // before the chat saved the run) is that call's to finish: it checks its
            // approvals after saving. Claiming it here would only get in its way.
            let current = try await agent.state.request(
                "state.load_run", ["run_id": .string(runID)], as: RunStatusRecord.self, idempotent: true)
            guard current.status == "awaiting_approval" else {
                agent.logger.debug("decision follower skips \(runID): \(current.status)")
                return
            }
            _ = try await agent.resume(runID: runID) { _ in }
        } catch let error as RPCError where ["RUN_NOT_FOUND", "RUN_CLAIMED", "TERMINAL_STATUS", "NOT_AN_AGENT_RUN"].contains(error.reason) {
            agent.logger.debug("decision follower skips \(runID): \(error.reason)")
        } catch let error as RPCError where Agent.isFinal(error) {
            // A run that cannot continue must not block every later decision.
            agent.logger.error("decision follower could not resume \(runID): \(error)")
        }
    }
}
