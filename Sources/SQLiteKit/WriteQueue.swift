import Logging
import RPC
import Synchronization

/// The writer: queues requests and commits whatever is waiting as one
/// transaction (group commit), on its own thread.
final class WriteQueue: Sendable {
    private struct State {
        var jobs: [WriteJob] = []
        var draining = false
    }

    let lane: ConnectionLane
    private let limits: SQLiteDatabase.Limits
    private let logger: Logger
    private let state = Mutex(State())

    init(lane: ConnectionLane, limits: SQLiteDatabase.Limits, logger: Logger) {
        self.lane = lane
        self.limits = limits
        self.logger = logger
    }

    func submit(_ job: WriteJob) {
        let (accepted, startDrain) = state.withLock { state -> (Bool, Bool) in
            guard state.jobs.count < limits.maximumQueue else { return (false, false) }
            state.jobs.append(job)
            guard !state.draining else { return (true, false) }
            state.draining = true
            return (true, true)
        }
        guard accepted else {
            job.complete(.failure(RPCError(
                .resourceExhausted, reason: "WRITE_QUEUE_FULL",
                "\(limits.maximumQueue) writes are already waiting; retry shortly")))
            return
        }
        if startDrain { lane.submit { connection in self.drain(connection) } }
    }

    /// Commits batches until the queue is empty. Runs on the writer thread only.
    private func drain(_ connection: SQLiteConnection) {
        while true {
            let batch = state.withLock { state -> [WriteJob] in
                guard !state.jobs.isEmpty else {
                    state.draining = false
                    return []
                }
                let count = min(state.jobs.count, limits.maximumBatch)
                let batch = Array(state.jobs.prefix(count))
                state.jobs.removeFirst(count)
                return batch
            }
            if batch.isEmpty { return }
            commit(batch, on: connection)
        }
    }

    private func commit(_ batch: [WriteJob], on connection: SQLiteConnection) {
        do {
            try connection.execute("BEGIN IMMEDIATE")
        } catch {
            logger.error("cannot begin a write transaction", metadata: ["error": "\(error)"])
            for job in batch { job.complete(.failure(error)) }
            return
        }
        var outcomes: [Result<any Sendable, any Error>] = []
        outcomes.reserveCapacity(batch.count)
        do {
            for job in batch {
                try connection.execute("SAVEPOINT request")
                let outcome = job.execute(connection)
                if case .failure = outcome { try connection.execute("ROLLBACK TO request") }
                try connection.execute("RELEASE request")
                outcomes.append(outcome)
            }
            try connection.execute("COMMIT")
            ServiceStatistics.committed(requests: outcomes.reduce(0) { count, outcome in
                if case .success = outcome { return count + 1 }
                return count
            })
        } catch {
            // The transaction's state is unknown: undo all of it and fail every request.
            try? connection.executeScript("ROLLBACK")
            logger.error("group commit failed; every request in it was rolled back", metadata: [
                "error": "\(error)", "db.batch": "\(batch.count)",
            ])
            for job in batch { job.complete(.failure(error)) }
            return
        }
        for (job, outcome) in zip(batch, outcomes) { job.complete(outcome) }
    }
}
