/// ledger-svc as its consumers call it, with the wire types ledger-svc itself uses.
/// Every movement is idempotent on its key; errors are ``RPCError``s with
/// ledger-svc's reasons (``LedgerReason``).
public protocol LedgerAPI: Sendable {
    func balance(_ params: AccountParams) async throws -> BalanceResult
    func deposit(_ params: DepositParams) async throws -> EntryResult
    func transfer(_ params: TransferParams) async throws -> EntryResult
    func hold(_ params: HoldParams) async throws -> HoldResult
    func post(_ params: PostParams) async throws -> HoldResult
    func void(_ params: VoidParams) async throws -> HoldResult
}

/// The reasons ledger-svc gives that its consumers act on.
public enum LedgerReason {
    public static let grantExpired = "GRANT_EXPIRED"
    public static let holdExpired = "HOLD_EXPIRED"
    public static let holdVoided = "HOLD_VOIDED"
    public static let holdAlreadyPosted = "HOLD_ALREADY_POSTED"
    /// A hold that no longer holds anything: voiding it again needs nothing more.
    public static let holdOver: Set<String> = [holdExpired, holdVoided, holdAlreadyPosted]
}
