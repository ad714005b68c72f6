import Contracts
import Foundation
import RPC

extension Agent {
    /// Resumes runs paused for a human whose decision was made but never acted on.
    ///
    /// The decision follower resumes a run when its approval is decided (waiting, for
    /// a run still in its chat, until that chat saves it paused), but it gives up on a
    /// run another process holds, and on one whose chat takes longer than
    /// ``DecisionFollower/chatSaveWait``. If that chat died, or that other resume
    /// failed (a service away) or died after a checkpoint, the run would wait forever for a
    /// decision already taken. This finds such runs: paused, quiet for `quietFor`,
    /// unclaimed, and with an approval no longer pending (or, after a checkpoint, no
    /// pending calls at all), and resumes each exactly as the follower would.
    /// - Parameters:
    ///   - quietFor: how long a paused run must have gone without a save.
    ///   - cursor: where the previous sweep stopped (nil: from the start).
    ///   - now: the current time.
    ///   - limit: at most this many paused runs are looked at per sweep.
    /// - Returns: the runs resumed, and where the next sweep starts (nil: from the start).
    public func resumeStalledRuns(
        quietFor: Duration, after cursor: String?, now: Date = Date(), limit: Int = 200
    ) async throws -> (resumed: [String], next: String?) {
        let cutoff = now.addingTimeInterval(-Double(quietFor.components.seconds))
        let page = try await state.listRuns(ListRunsParams(status: RunStatus.awaitingApproval.rawValue, cursor: cursor, limit: limit))
        var resumed: [String] = []
        for run in page.runs {
            guard let updated = Timestamps.parse(run.updatedAt), updated < cutoff else { continue }
            if let lease = run.lease.flatMap({ Timestamps.parse($0.expiresAt) }), lease > now { continue }
            // One run that cannot go on now must not keep the others waiting: it is tried
            // again at the next pass over it, the rest carry on.
            do {
                guard try await isDue(run.runID) else { continue }
                logger.notice("resuming a paused run whose decision nobody acted on", metadata: ["run_id": "\(run.runID)"])
                let result = try await resume(runID: run.runID) { _ in }
                if result.status != "awaiting_approval" { resumed.append(run.runID) }
            } catch let error as RPCError where [StateReason.runClaimed, StateReason.terminalStatus, StateReason.runNotFound].contains(error.reason) {
                continue  // someone else got there first
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning("reconciler could not resume a run; it is tried again later", metadata: [
                    "run_id": "\(run.runID)", "error": "\(error)",
                ])
            }
        }
        return (resumed, page.nextCursor)
    }

    /// Whether a paused run can go on: one of its approvals was decided, or it is a
    /// resume's checkpoint (`continuing`: the resume died before finishing).
    private func isDue(_ runID: String) async throws -> Bool {
        let record = try await state.loadRun(runID, as: DocumentReading<RunDocument>.self)
        guard record.status == RunStatus.awaitingApproval.rawValue, let document = try? record.document() else { return false }
        if document.phase(stored: record.status) == .continuing { return true }
        for call in document.pending {
            if try await approval.get(call.approvalID).status.isDecided { return true }
        }
        return false
    }
}
