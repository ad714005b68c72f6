import Logging
import ServiceLifecycle

/// Ends runs whose `agent.chat` died with its process (left `running`, no save
/// for `staleAfter`): see ``Agent/abandon(_:version:)``. Runs paused for a human
/// are not its business; they wait in state-svc for their decision.
public struct RunSweeper: Service {
    let agent: Agent
    let interval: Duration
    let staleAfter: Duration

    /// - Parameters:
    ///   - agent: the agent whose clients are used.
    ///   - interval: time between sweeps.
    ///   - staleAfter: how long a running run may go without a save; longer than any
    ///     chat can take (the model's timeouts and retries, times its turns).
    public init(agent: Agent, interval: Duration, staleAfter: Duration) {
        self.agent = agent
        self.interval = interval
        self.staleAfter = staleAfter
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                do {
                    _ = try await agent.sweepAbandonedRuns(staleAfter: staleAfter)
                } catch {
                    agent.logger.warning("run sweeper: \(error)")
                }
            }
        }
    }
}
