import Wire

/// approval-svc as the executor (agent-svc) calls it, with the wire types approval-svc
/// itself uses. Errors are ``RPCError``s with approval-svc's reasons.
public protocol ApprovalAPI: Sendable {
    func submit(_ params: SubmitParams) async throws -> ApprovalView
    func get(_ approvalID: String) async throws -> ApprovalView
    func cancel(_ params: CancelParams) async throws -> ApprovalView
    func complete(_ params: CompleteParams) async throws -> ApprovalView
    func renewGrant(_ approvalID: String) async throws -> ApprovalView
    func list(_ params: ListParams) async throws -> ListResult
    /// Follows approval events after `params.afterSeq` (`approval.watch`); returns when
    /// the watch ends (approval-svc closed it, or `timeout`).
    func watch(_ params: WatchParams, timeout: Duration, onEvent: @escaping @Sendable (DecidedEvent) -> Void) async throws
}
