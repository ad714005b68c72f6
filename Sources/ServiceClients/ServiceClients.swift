import Contracts
import Foundation
import NIOCore
import RPC

// The contracts served over JSON-RPC: each client names its service's methods once,
// here, and says which calls are safe to retry after a possible execution.

/// ``StateAPI`` over a connection to state-svc.
public struct RPCStateClient: StateAPI {
    public let client: RPCClient
    public init(_ client: RPCClient) { self.client = client }

    public func createRun<D>(_ params: CreateRunParamsOf<D>) async throws -> CreateRunResult {
        try await client.call("state.create_run", params, as: CreateRunResult.self)
    }
    public func loadRun<D>(_ runID: String, as document: D.Type) async throws -> RunRecordOf<D> {
        try await client.call("state.load_run", RunRef(runID: runID), as: RunRecordOf<D>.self, options: .init(idempotent: true))
    }
    public func claimRun<D>(_ params: ClaimRunParams, as document: D.Type) async throws -> RunRecordOf<D> {
        // Safe to retry: a claim by the same owner extends its own lease.
        try await client.call("state.claim_run", params, as: RunRecordOf<D>.self, options: .init(idempotent: true))
    }
    public func saveRun<D>(_ params: SaveRunParamsOf<D>) async throws -> SaveRunResult {
        try await client.call("state.save_run", params, as: SaveRunResult.self)
    }
    public func releaseRun(_ params: ReleaseRunParams) async throws -> ReleaseRunResult {
        try await client.call("state.release_run", params, as: ReleaseRunResult.self)
    }
    public func appendEvents(_ params: AppendEventsParams) async throws -> AppendEventsResult {
        try await client.call("state.append_events", params, as: AppendEventsResult.self)
    }
    public func listRuns(_ params: ListRunsParams) async throws -> ListRunsResult {
        try await client.call("state.list_runs", params, as: ListRunsResult.self, options: .init(idempotent: true))
    }
    public func loadSession(_ params: LoadSessionParams) async throws -> LoadSessionResult {
        try await client.call("state.load_session", params, as: LoadSessionResult.self, options: .init(idempotent: true))
    }
    public func appendSession(_ params: AppendSessionParams) async throws -> AppendSessionResult {
        try await client.call("state.append_session", params, as: AppendSessionResult.self)
    }
    public func getCursor(_ name: String) async throws -> CursorResult {
        try await client.call("state.get_cursor", GetCursorParams(name: name), as: CursorResult.self, options: .init(idempotent: true))
    }
    public func setCursor(_ params: SetCursorParams) async throws -> CursorResult {
        try await client.call("state.set_cursor", params, as: CursorResult.self)
    }
    public func watchEvents<D>(
        _ params: ReadEventsParams, as document: D.Type, timeout: Duration, onEvent: @escaping @Sendable (RunWatchEvent<D>) -> Void
    ) async throws {
        _ = try await client.stream(
            "state.watch_events", params, event: RunWatchEvent<D>.self, as: WatchEventsResult.self,
            options: .init(timeout: TimeAmount(timeout), idempotent: true), onEvent: onEvent)
    }
}

/// ``LedgerAPI`` over a connection to ledger-svc. Every method is idempotent (movements
/// on their key), so each is retried after a possible execution.
public struct RPCLedgerClient: LedgerAPI {
    public let client: RPCClient
    public init(_ client: RPCClient) { self.client = client }

    public func balance(_ params: AccountParams) async throws -> BalanceResult {
        try await client.call("ledger.balance", params, as: BalanceResult.self, options: .init(idempotent: true))
    }
    public func deposit(_ params: DepositParams) async throws -> EntryResult {
        try await client.call("ledger.deposit", params, as: EntryResult.self, options: .init(idempotent: true))
    }
    public func transfer(_ params: TransferParams) async throws -> EntryResult {
        try await client.call("ledger.transfer", params, as: EntryResult.self, options: .init(idempotent: true))
    }
    public func hold(_ params: HoldParams) async throws -> HoldResult {
        try await client.call("ledger.hold", params, as: HoldResult.self, options: .init(idempotent: true))
    }
    public func post(_ params: PostParams) async throws -> HoldResult {
        try await client.call("ledger.post", params, as: HoldResult.self, options: .init(idempotent: true))
    }
    public func void(_ params: VoidParams) async throws -> HoldResult {
        try await client.call("ledger.void", params, as: HoldResult.self, options: .init(idempotent: true))
    }
}

/// ``ApprovalAPI`` over a connection to approval-svc. Every method the executor calls is
/// idempotent on its approval (a submit on its run and call).
public struct RPCApprovalClient: ApprovalAPI {
    public let client: RPCClient
    public init(_ client: RPCClient) { self.client = client }

    public func submit(_ params: SubmitParams) async throws -> ApprovalView {
        try await client.call("approval.submit", params, as: ApprovalView.self, options: .init(idempotent: true))
    }
    public func get(_ approvalID: String) async throws -> ApprovalView {
        try await client.call("approval.get", ApprovalIDParams(approvalID: approvalID), as: ApprovalView.self, options: .init(idempotent: true))
    }
    public func cancel(_ params: CancelParams) async throws -> ApprovalView {
        try await client.call("approval.cancel", params, as: ApprovalView.self, options: .init(idempotent: true))
    }
    public func complete(_ params: CompleteParams) async throws -> ApprovalView {
        try await client.call("approval.complete", params, as: ApprovalView.self, options: .init(idempotent: true))
    }
    public func renewGrant(_ approvalID: String) async throws -> ApprovalView {
        try await client.call(
            "approval.renew_grant", ApprovalIDParams(approvalID: approvalID), as: ApprovalView.self, options: .init(idempotent: true))
    }
    public func list(_ params: ListParams) async throws -> ListResult {
        try await client.call("approval.list", params, as: ListResult.self, options: .init(idempotent: true))
    }
    public func watch(_ params: WatchParams, timeout: Duration, onEvent: @escaping @Sendable (DecidedEvent) -> Void) async throws {
        _ = try await client.stream(
            "approval.watch", params, event: DecidedEvent.self, as: WatchResult.self,
            options: .init(timeout: TimeAmount(timeout), idempotent: true), onEvent: onEvent)
    }
}

extension TimeAmount {
    /// The same span in NIO's terms.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
