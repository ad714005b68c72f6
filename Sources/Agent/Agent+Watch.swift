import RPC

extension Agent {
    /// Follows a run from state-svc until it pauses for approval or ends: one
    /// `status` event per change, then the run as it stands. Polls, since the agent
    /// keeps nothing in memory and any process may be running the run.
    public func watchRun(runID: String, interval: Duration = .milliseconds(100), emit: AgentEmitter) async throws -> RunResult {
        var last = ""
        while true {
            let run = try await getRun(runID: runID)
            if run.status != last {
                emit(Self.event("status", runID, ["status": .string(run.status)]))
                last = run.status
            }
            if run.status != "running" { return run }
            try await Task.sleep(for: interval)
        }
    }
}
