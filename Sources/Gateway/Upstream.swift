import Foundation
import NIOCore
import Logging
import RPC

/// A run as agent-svc reports it (`RunResult` in Protocols/agent.openrpc.json).
struct RunView: Codable, Sendable {
    struct Pending: Codable, Sendable {
        let approvalID: String
        let callID: String
        let action: JSONValue
        let holdID: String?

        enum CodingKeys: String, CodingKey {
            case approvalID = "approval_id", callID = "call_id", action, holdID = "hold_id"
        }
    }

    let runID: String
    let status: String
    let reply: String?
    let pending: [Pending]

    enum CodingKeys: String, CodingKey { case runID = "run_id", status, reply, pending }

    /// What a client must know of where the run stands: nil while it is running.
    var outcome: String? {
        switch status {
        case "awaiting_approval": "awaiting:" + pending.map(\.approvalID).sorted().joined(separator: ",")
        case "running": nil
        default: status
        }
    }

    /// The events that say where the run stands, as agent-svc would have sent them.
    func pausingEvents() -> [(name: String, data: String)] {
        switch status {
        case "awaiting_approval":
            return pending.map { call in
                ("approval_required", JSONValue.object([
                    "type": "approval_required", "run_id": .string(runID), "approval_id": .string(call.approvalID),
                    "call_id": .string(call.callID), "action": call.action,
                ]).jsonText())
            }
        case "completed":
            return [("run_completed", JSONValue.object(["type": "run_completed", "run_id": .string(runID), "reply": .string(reply ?? "")]).jsonText())]
        case "running":
            return []
        default:
            let message = reply ?? "the run ended as \(status)"
            return [("error", JSONValue.object([
                "type": "error", "run_id": .string(runID), "reason": .string("RUN_\(status.uppercased())"), "message": .string(message),
            ]).jsonText())]
        }
    }
}

/// The services the gateway calls, through their RPC clients only:
/// agent-svc as the agent, approval-svc as the signed-in approver (links as
/// ``GatewayConfiguration/linkIdentity``), ledger-svc for the balance.
/// With the default link identity the gateway holds no operator token.
final class Upstream: Sendable {
    let agent: RPCClient
    let approval: RPCClient
    let ledger: RPCClient
    let account: String
    private let directory: RunDirectory
    private let linkIdentity: String

    /// How long a plain call may take; agent calls that run the model get ``agentTimeout``.
    static let callTimeout: Duration = .seconds(30)
    /// The agent's streaming methods are allowed 600 s (its own default).
    static let agentTimeout: Duration = .seconds(600)

    /// - Throws: ``RunDirectoryError`` when the agent identity has no token.
    ///   A missing link identity only stops links (see ``linkToken()``).
    init(configuration: GatewayConfiguration) throws {
        let directory = configuration.directory
        agent = try RPCClient(service: "agent", directory: directory, identity: "agent")
        approval = RPCClient(path: directory.socketPath(for: "approval"))
        ledger = try RPCClient(service: "ledger", directory: directory, identity: "agent")
        account = configuration.account
        self.directory = directory
        linkIdentity = configuration.linkIdentity
    }

    /// Whether the link identity has a token in the run directory now.
    var hasLinkToken: Bool { (try? linkToken()) != nil }

    /// The token links are redeemed with, read when needed: a run directory
    /// provisioned before the `gateway` identity existed gets it at the next
    /// `hitl init` or stack start without restarting the gateway.
    /// - Throws: ``RunDirectoryError`` when the link identity has no token.
    func linkToken() throws -> String {
        try IdentityProvisioner.token(for: linkIdentity, in: directory)
    }

    func close() async {
        await agent.close()
        await approval.close()
        await ledger.close()
    }

    static func options(_ trace: TraceContext, timeout: Duration = callTimeout, idempotent: Bool = true, token: String? = nil) -> CallOptions {
        CallOptions(timeout: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000), idempotent: idempotent, trace: trace, token: token)
    }
}
