import Logging
import ServiceLifecycle

/// Deletes finished runs older than a retention period, on a timer, until
/// graceful shutdown.
public struct StatePruner: Service {
    private let store: StateStore
    private let retentionMs: Int64
    private let interval: Duration
    private let logger: Logger

    /// - Parameters:
    ///   - store: the store to prune.
    ///   - retentionHours: finished runs older than this many hours go.
    ///   - interval: how often to look.
    ///   - logger: where failures are logged.
    public init(store: StateStore, retentionHours: Int, interval: Duration, logger: Logger) {
        self.store = store
        self.retentionMs = Int64(retentionHours) * 3_600_000
        self.interval = interval
        self.logger = logger
    }

    /// Prunes once now, then every `interval`, until shutdown.
    public func run() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            await pruneOnce()
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
        }
    }

    /// One pass: prunes in bounded batches while more qualify.
    public func pruneOnce() async {
        let cutoff = Timestamp.nowMs() - retentionMs
        do {
            // Bounded: each call deletes at most maximumPrunePerCall runs; 100 calls is plenty per pass.
            for _ in 0..<100 {
                let result = try await store.prune(finishedBeforeMs: cutoff)
                if !result.more || Task.isCancelled { return }
            }
        } catch {
            logger.error("periodic prune failed; will retry at the next interval", metadata: ["error": "\(error)"])
        }
    }
}
