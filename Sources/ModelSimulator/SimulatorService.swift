import RPC

/// The simulator's control socket when the stack runs it (`model-sim --stack`):
/// only the methods every service shares, so the supervisor can check and
/// restart it like any other service.
public enum SimulatorService {
    /// The service's short name: socket `run/model.sock`, log `logs/model.log`.
    public static let name = "model"
    /// The HTTP socket in the run directory that the agent's `--model-simulator` reaches.
    public static let httpSocket = "model-http.sock"

    /// The contract, `Protocols/model.openrpc.json`.
    public static func description() throws -> RPCServiceDescription {
        try RPCServiceDescription(name: name, openRPC: PackageResources.model_openrpc_json)
    }
}
