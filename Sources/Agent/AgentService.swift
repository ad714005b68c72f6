import Foundation
import RPC

/// `agent.resume` and `agent.get_run` params.
public struct RunParams: Codable, Sendable {
    public var runID: String

    enum CodingKeys: String, CodingKey { case runID = "run_id" }
}

/// The `agent.*` methods on the RPC core.
public enum AgentService {
    /// The service's name, version and contract (`Protocols/agent.openrpc.json`).
    public static func description() throws -> RPCServiceDescription {
        try RPCServiceDescription(name: "agent", openRPC: PackageResources.agent_openrpc_json)
    }

    /// Registers every `agent.*` method.
    public static func register(_ router: inout RPCRouterBuilder, agent: Agent) {
        // People ask (operators and users for themselves, the gateway for a signed-in
        // person); approvers decide and never drive runs; only operators resume by hand
        // (agent-svc resumes by itself once a decision is made).
        let chat = RPCMethodOptions(access: .roles(["operator", "user", "gateway"]), streaming: true, defaultTimeout: .seconds(600))
        let resume = RPCMethodOptions(access: .roles(["operator"]), streaming: true, defaultTimeout: .seconds(600))
        let streaming = RPCMethodOptions(streaming: true, defaultTimeout: .seconds(600))
        router.register("agent.chat", params: ChatParams.self, options: chat) { params, context in
            let caller = try context.requireIdentity()
            return try await agent.chat(params, caller: caller) { context.emit($0) }
        }
        router.register("agent.resume", params: RunParams.self, options: resume) { params, context in
            try await agent.resume(runID: params.runID) { context.emit($0) }
        }
        router.register("agent.watch_run", params: WatchRunParams.self, options: streaming) { params, context in
            try await agent.watchRun(params) { context.emit($0) }
        }
        router.register("agent.get_run", params: RunParams.self) { params, _ in
            try await agent.getRun(runID: params.runID)
        }
    }
}
