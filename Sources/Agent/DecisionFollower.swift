import Foundation
import Logging
import RPC
import ServiceLifecycle

/// One approval event, as much as the follower reads.
struct ApprovalEvent: Decodable, Sendable {
    let seq: Int64
    let type: String
    let runID: String

    enum CodingKeys: String, CodingKey {
        case seq, type
        case runID = "run_id"
    }
}

struct EventPage: Decodable, Sendable {
    let events: [ApprovalEvent]
    let lastSeq: Int64

    enum CodingKeys: String, CodingKey {
        case events
        case lastSeq = "last_seq"
    }
}

struct CursorRecord: Decodable, Sendable {
    let value: Int64
}

/// Follows approval decisions from a durable cursor in state-svc and resumes the
/// runs they unblock, so a decision made while agent-svc was down is acted on
/// when it returns. The cursor moves only after the event was handled.
public struct DecisionFollower: Service {
    public static let cursorName = "agent.approvals"
    static let decisions: Set<String> = ["approved", "rejected", "expired", "cancelled"]
    let agent: Agent
    let pollInterval: Duration

    public init(agent: Agent, pollInterval: Duration = .milliseconds(100)) {
        self.agent = agent
        self.pollInterval = pollInterval
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let progressed: Bool
                do {
                    progressed = try await step()
                } catch {
                    agent.logger.warning("decision follower: \(error)")
                    progressed = false
                }
                if !progressed { try? await Task.sleep(for: pollInterval) }
            }
        }
    }

    /// Handles one page of events; true when there was something to do.
    func step() async throws -> Bool {
        let cursor = try await agent.state.request("state.get_cursor", ["name": .string(Self.cursorName)], as: CursorRecord.self, idempotent: true).value
        let page = try await agent.approval.request(
            "approval.events", ["after_seq": .int(cursor), "limit": 100], as: EventPage.self, idempotent: true)
        guard !page.events.isEmpty else { return false }
        var position = cursor
        for event in page.events {
            if Self.decisions.contains(event.type) { try await resume(event.runID) }
            _ = try await agent.state.request(
                "state.set_cursor", ["name": .string(Self.cursorName), "value": .int(event.seq), "expected": .int(position)],
                as: JSONValue.self)
            position = event.seq
        }
        return true
    }

    /// Resumes a run; runs that are not the agent's, already finished, or being
    /// resumed by another process are not this follower's to handle.
    private func resume(_ runID: String) async throws {
        do {
            _ = try await agent.resume(runID: runID) { _ in }
        } catch let error as RPCError where ["RUN_NOT_FOUND", "RUN_CLAIMED", "TERMINAL_STATUS"].contains(error.reason) {
            agent.logger.debug("decision follower skips \(runID): \(error.reason)")
        } catch is DecodingError {
            agent.logger.debug("decision follower skips \(runID): not an agent run")
        } catch let error as RPCError where Agent.isFinal(error) {
            // A run that cannot continue must not block every later decision.
            agent.logger.error("decision follower could not resume \(runID): \(error)")
        }
    }
}
