import Banking
import Contracts
import RPC

/// A run as state-svc returns it, its document read as the agent's (or why it is not).
typealias AgentRun = RunRecordOf<DocumentReading<RunDocument>>

extension RunRecordOf where Document == DocumentReading<RunDocument> {
    /// The run's document.
    /// - Throws: FAILED_PRECONDITION/NOT_AN_AGENT_RUN when the run was not saved by an agent
    ///   (state-svc keeps any caller's runs; only agent-svc's can be continued here).
    func document() throws -> RunDocument {
        do {
            return try data.decoded.get()
        } catch {
            throw RPCError(.failedPrecondition, reason: "NOT_AN_AGENT_RUN",
                "run \(runID.prefix(128)) was not created by agent-svc: its document is not an agent run, so the agent cannot show or continue it")
        }
    }
}

extension ApprovalStatus {
    /// Decided by people or by time: a resume acts on it.
    var isDecided: Bool { self != .pending }
}
