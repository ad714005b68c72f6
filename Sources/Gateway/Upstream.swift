import Foundation
import NIOCore
import Logging
import RPC

/// The services the gateway calls, through their RPC clients only: agent-svc and
/// ledger-svc as the gateway (``GatewayConfiguration/identity``, speaking for the
/// signed-in person), approval-svc as the signed-in approver (links as the gateway).
/// The gateway holds no operator or agent token.
final class Upstream: Sendable {
    let agent: RPCClient
    let approval: RPCClient
    let ledger: RPCClient
    private let directory: RunDirectory
    private let identity: String

    /// How long a plain call may take; agent calls that run the model get ``agentTimeout``.
    static let callTimeout: Duration = .seconds(30)
    /// The agent's streaming methods are allowed 600 s (its own default).
    static let agentTimeout: Duration = .seconds(600)

    /// - Throws: ``RunDirectoryError`` when the gateway's identity has no token.
    init(configuration: GatewayConfiguration) throws {
        let directory = configuration.directory
        agent = try RPCClient(service: "agent", directory: directory, identity: configuration.identity)
        approval = RPCClient(path: directory.socketPath(for: "approval"))
        ledger = try RPCClient(service: "ledger", directory: directory, identity: configuration.identity)
        self.directory = directory
        identity = configuration.identity
    }

    /// The gateway's own token, read when needed (links are redeemed with it).
    /// - Throws: ``RunDirectoryError`` when the gateway's identity has no token.
    func linkToken() throws -> String {
        try IdentityProvisioner.token(for: identity, in: directory)
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
