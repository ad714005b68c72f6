import Banking
import Contracts
import Foundation
import LLM
import Logging
import RPC
import ServiceClients
import Synchronization

/// The agent: the LLM loop with deferred execution. Every method works from
/// what state-svc holds; nothing a run needs is kept in memory between calls (only
/// which payee accounts exist, a fact that never becomes false: see ``knownPayees``).
public final class Agent: Sendable {
    let ledger: any LedgerAPI
    let approval: any ApprovalAPI
    let state: any StateAPI
    let llm: LLMClient
    /// Closes what the agent opened itself (its connections), nothing when given its clients.
    private let closeClients: @Sendable () async -> Void
    /// The stack's people and the accounts they own: a run acts on its requester's accounts only.
    let identities: LiveIdentities
    /// This process's name; each resume claims runs as `<owner>:<random>`.
    let owner: String
    /// The identity agent-svc calls the other services as (what approval-svc records as
    /// the actor of what the agent does itself, such as cancelling its own approvals).
    let identityName: String
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
    static let sessionHistoryLimit = 50
    /// Payee accounts the ledger said exist. The ledger never closes an account, so a
    /// name once found needs no second `ledger.balance` (one exchange fewer per transfer);
    /// names not found are asked again (the account may be opened meanwhile).
    let knownPayees = KnownNames(limit: Agent.knownPayeeLimit)
    /// How many payee names ``knownPayees`` remembers: a bank's payees are few; past the
    /// limit the set starts over rather than grow with names a model made up (those are
    /// never added: only names the ledger knows are).
    static let knownPayeeLimit = 10_000

    /// - Parameters:
    ///   - directory: the run directory (sockets and the agent's token).
    ///   - llm: the model client.
    ///   - identities: the stack's identities (who may be a requester, and what they own).
    ///   - logger: where the agent logs.
    public convenience init(directory: RunDirectory, llm: LLMClient, identities: LiveIdentities, logger: Logger) throws {
        let ledger = try RPCClient(service: "ledger", directory: directory, identity: "agent")
        let approval = try RPCClient(service: "approval", directory: directory, identity: "agent")
        let state = try RPCClient(service: "state", directory: directory, identity: "agent")
        self.init(
            ledger: RPCLedgerClient(ledger), approval: RPCApprovalClient(approval), state: RPCStateClient(state), llm: llm,
            identities: identities, logger: logger
        ) {
            await ledger.close()
            await approval.close()
            await state.close()
        }
    }

    /// An agent over the services it is given: JSON-RPC clients in agent-svc, the
    /// services' engines or fakes in a test.
    /// - Parameters:
    ///   - ledger, approval, state: the services.
    ///   - llm: the model client.
    ///   - identities: the stack's identities.
    ///   - logger: where the agent logs.
    ///   - close: what ``close()`` does (closing connections the caller opened for the agent).
    public init(
        ledger: any LedgerAPI, approval: any ApprovalAPI, state: any StateAPI, llm: LLMClient, identities: LiveIdentities,
        logger: Logger, identityName: String = "agent", close: @escaping @Sendable () async -> Void = {}
    ) {
        self.ledger = ledger
        self.approval = approval
        self.state = state
        self.llm = llm
        self.identities = identities
        owner = "agent-svc:\(getpid()):\(UUID().uuidString.prefix(8))"
        self.identityName = identityName
        self.logger = logger
        closeClients = close
    }

    /// Closes the downstream connections.
    public func close() async {
        await closeClients()
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

/// A bounded set of names, shared by concurrent calls.
final class KnownNames: Sendable {
    private let names = Mutex<Set<String>>([])
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    func contains(_ name: String) -> Bool {
        names.withLock { $0.contains(name) }
    }

    func insert(_ name: String) {
        names.withLock { names in
            if names.count >= limit { names.removeAll(keepingCapacity: true) }
            names.insert(name)
        }
    }
}
