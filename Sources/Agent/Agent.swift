import Banking
import Foundation
import LLM
import Logging
import RPC

/// The agent: the LLM loop with deferred execution. Every method works from
/// what state-svc holds; nothing is kept in memory between calls.
public final class Agent: Sendable {
    let ledger: RPCClient
    let approval: RPCClient
    let state: RPCClient
    let llm: LLMClient
    /// The stack's people and the accounts they own: a run acts on its requester's accounts only.
    let identities: LiveIdentities
    /// This process's name; each resume claims runs as `<owner>:<random>`.
    let owner: String
    let logger: Logger
    /// How long a resume's claim lasts unless renewed; a resume renews it every third of
    /// this while it works, so after a crash the run is free again within this time.
    let leaseMs: Int64 = 10_000
    /// How many model turns one call may take before the run fails.
    let maxTurns = 8
    /// Tool calls (or plan steps) one model turn may ask for: the seed's requests need
    /// three at most; a turn asking for hundreds is a runaway or an injection, and each
    /// call beyond this gets an error result instead of running.
    static let maximumCallsPerTurn = 10
    /// How many earlier session messages a new run starts with (keeps run documents small).
    static let sessionHistoryLimit: Int64 = 50

    /// - Parameters:
    ///   - directory: the run directory (sockets and the agent's token).
    ///   - llm: the model client.
    ///   - identities: the stack's identities (who may be a requester, and what they own).
    ///   - logger: where the agent logs.
    public init(directory: RunDirectory, llm: LLMClient, identities: LiveIdentities, logger: Logger) throws {
        ledger = try RPCClient(service: "ledger", directory: directory, identity: "agent")
        approval = try RPCClient(service: "approval", directory: directory, identity: "agent")
        state = try RPCClient(service: "state", directory: directory, identity: "agent")
        self.llm = llm
        self.identities = identities
        owner = "agent-svc:\(getpid()):\(UUID().uuidString.prefix(8))"
        self.logger = logger
    }

    /// Closes the downstream connections.
    public func close() async {
        await ledger.close()
        await approval.close()
        await state.close()
    }

    static let systemPrompt = """
        You are a banking assistant. Use the tools to check the balance, deposit money and transfer money. \
        Money moves only after the bank's approval service says so; never claim an action happened unless a tool result says it did.
        """
}

/// Sends `agent.event` notifications (or nothing, for background resumes).
public typealias AgentEmitter = @Sendable (JSONValue) -> Void

extension Agent {
    /// An event object: `{type, run_id, ...fields}`.
    static func event(_ type: String, _ runID: String, _ fields: [String: JSONValue] = [:]) -> JSONValue {
        var members = fields
        members["type"] = .string(type)
        members["run_id"] = .string(runID)
        return .object(members)
    }
}
