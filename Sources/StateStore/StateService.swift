import Foundation
import RPC

/// The `state` service: its contract and its methods on a router.
///
/// Access: the `agent` and `operator` roles may read and write runs, sessions
/// and cursors; only the `operator` may prune. Approvers get nothing here: run
/// documents hold whole conversations, and what an approver needs to decide
/// travels with the approval itself.
public enum StateService {
    /// The short name: socket `state.sock`, events `state.event`.
    public static let name = "state"

    /// Who may read and write runs, sessions and cursors.
    public static let readWrite = RPCMethodOptions(access: .roles(["agent", "operator"]))
    /// Who may read and follow a run's events: also the gateway, which shows them to
    /// the signed-in person (it never reads documents or writes).
    public static let eventReaders = RPCMethodOptions(access: .roles(["agent", "operator", "gateway"]))
    /// Who may delete finished runs.
    public static let operatorOnly = RPCMethodOptions(access: .roles(["operator"]))

    /// The service's name, version and contract (`Protocols/state.openrpc.json`).
    /// - Throws: when the embedded contract is not JSON.
    public static func description() throws -> RPCServiceDescription {
        try RPCServiceDescription(name: name, openRPC: PackageResources.state_openrpc_json)
    }

    /// Registers every `state.*` method.
    /// - Parameters:
    ///   - router: the router being built.
    ///   - store: the store the methods work on.
    public static func register(_ router: inout RPCRouterBuilder, store: StateStore) {
        router.register("state.create_run", params: CreateRunParams.self, options: readWrite) { params, context in
            try await store.createRun(params, identity: context.identity?.name)
        }
        router.register("state.load_run", params: RunRef.self, options: readWrite) { params, _ in
            try await store.loadRun(params.runID)
        }
        router.register("state.save_run", params: SaveRunParams.self, options: readWrite) { params, context in
            try await store.saveRun(params, identity: context.identity?.name)
        }
        router.register("state.append_events", params: AppendEventsParams.self, options: readWrite) { params, _ in
            try await store.appendEvents(params)
        }
        router.register("state.read_events", params: ReadEventsParams.self, options: eventReaders) { params, _ in
            try await store.readEvents(params)
        }
        router.register(
            "state.watch_events", params: ReadEventsParams.self,
            options: RPCMethodOptions(access: .roles(["agent", "operator", "gateway"]), streaming: true)
        ) { params, context in
            try await store.watchEvents(params, context: context)
        }
        router.register("state.claim_run", params: ClaimRunParams.self, options: readWrite) { params, _ in
            try await store.claimRun(params)
        }
        router.register("state.release_run", params: ReleaseRunParams.self, options: readWrite) { params, _ in
            try await store.releaseRun(params)
        }
        router.register("state.list_runs", params: ListRunsParams.self, options: readWrite) { params, _ in
            try await store.listRuns(params)
        }
        router.register("state.run_history", params: RunHistoryParams.self, options: readWrite) { params, _ in
            try await store.runHistory(params)
        }
        router.register("state.append_session", params: AppendSessionParams.self, options: readWrite) { params, _ in
            try await store.appendSession(params)
        }
        router.register("state.load_session", params: LoadSessionParams.self, options: readWrite) { params, _ in
            try await store.loadSession(params)
        }
        router.register("state.get_cursor", params: GetCursorParams.self, options: readWrite) { params, _ in
            try await store.getCursor(params.name)
        }
        router.register("state.set_cursor", params: SetCursorParams.self, options: readWrite) { params, _ in
            try await store.setCursor(params)
        }
        router.register("state.prune", params: PruneParams.self, options: operatorOnly) { params, _ in
            try await store.prune(params)
        }
    }
}
