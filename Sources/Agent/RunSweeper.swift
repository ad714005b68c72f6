import Logging
import ServiceLifecycle

/// Ends runs whose `agent.chat` died with its process (left `running`, no save
/// for `staleAfter`): see ``Agent/abandon(_:version:)``. Runs paused for a human
/// wait in state-svc for their decision; when `reconcileAfter` is set, a paused
/// run whose decision was made but never acted on is resumed
/// (``Agent/resumeStalledRuns(quietFor:after:now:limit:)``).
public struct RunSweeper: Service {
    let agent: Agent
    let interval: Duration
    let staleAfter: Duration
    let reconcileAfter: Duration?

    /// - Parameters:
    ///   - agent: the agent whose clients are used.
    ///   - interval: time between sweeps.
    ///   - staleAfter: how long a running run may go without a save; longer than one
    ///     model turn can take (a chat saves before each turn's tool calls run).
    ///   - reconcileAfter: how long a decided paused run may wait for its resume
    ///     before this resumes it; nil: never (runs resume only when asked).
    public init(agent: Agent, interval: Duration, staleAfter: Duration, reconcileAfter: Duration? = nil) {
        self.agent = agent
        self.interval = interval
        self.staleAfter = staleAfter
        self.reconcileAfter = reconcileAfter
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var cursor: String?
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                do {
                    _ = try await agent.sweepAbandonedRuns(staleAfter: staleAfter)
                } catch {
                    agent.logger.warning("run sweeper: \(error)")
                }
                guard let reconcileAfter else { continue }
                do {
                    cursor = try await agent.resumeStalledRuns(quietFor: reconcileAfter, after: cursor).next
                } catch {
                    cursor = nil
                    agent.logger.warning("run reconciler: \(error)")
                }
            }
        }
    }
}
