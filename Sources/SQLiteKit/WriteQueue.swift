import Logging
import RPC
import Synchronization

/// The writer: queues requests and commits whatever is waiting as one
/// transaction (group commit), on its own thread. `commit` is the backend's: it
/// runs a batch in one transaction and completes every job in it.
public final class WriteQueue<Connection>: Sendable {
    public typealias Commit = @Sendable ([WriteJob<Connection>], Connection, Logger) -> Void

    private struct State {
        var jobs: [WriteJob<Connection>] = []
        var draining = false
    }

    public let lane: ConnectionLane<Connection>
    private let maximumBatch: Int
    private let maximumQueue: Int
    private let logger: Logger
    private let commit: Commit
    private let state: Mutex<State>

    /// - Parameters:
    ///   - lane: the writer's connection and thread.
    ///   - maximumBatch: requests in one transaction at most.
    ///   - maximumQueue: requests waiting at most; past it a write fails RESOURCE_EXHAUSTED.
    ///   - logger: for failed commits.
    ///   - commit: runs one batch in one transaction and completes its jobs.
    public init(lane: ConnectionLane<Connection>, maximumBatch: Int, maximumQueue: Int, logger: Logger, commit: @escaping Commit) {
        self.lane = lane
        self.maximumBatch = maximumBatch
        self.maximumQueue = maximumQueue
        self.logger = logger
        self.commit = commit
        state = Mutex(State())
    }

    /// Queues a job; the writer starts draining if it was idle.
    public func submit(_ job: WriteJob<Connection>) {
        let (accepted, startDrain) = state.withLock { state -> (Bool, Bool) in
            guard state.jobs.count < maximumQueue else { return (false, false) }
            state.jobs.append(job)
            guard !state.draining else { return (true, false) }
            state.draining = true
            return (true, true)
        }
        guard accepted else {
            job.complete(.failure(RPCError(
                .resourceExhausted, reason: "WRITE_QUEUE_FULL",
                "\(maximumQueue) writes are already waiting; retry shortly")))
            return
        }
        if startDrain { lane.submit { connection in self.drain(connection) } }
    }

    /// Commits batches until the queue is empty. Runs on the writer thread only.
    private func drain(_ connection: Connection) {
        while true {
            let batch = state.withLock { state -> [WriteJob<Connection>] in
                guard !state.jobs.isEmpty else {
                    state.draining = false
                    return []
                }
                let count = min(state.jobs.count, maximumBatch)
                let batch = Array(state.jobs.prefix(count))
                state.jobs.removeFirst(count)
                return batch
            }
            if batch.isEmpty { return }
            commit(batch, connection, logger)
        }
    }
}
