import Banking

/// Every limit of the ledger, each with the reason for its value.
public enum LedgerLimits {
    /// Elements in one `ledger.transfer_batch`: each element carries a grant of
    /// about 750 bytes, so 500 stay well under the 1 MiB line limit, and one
    /// batch stays a few milliseconds of writer time.
    public static let maximumBatchTransfers = BatchSummary.maximumCount
    /// Page size of `ledger.accounts` when the caller gives none, and its ceiling.
    public static let defaultAccountsPage = 100
    public static let maximumAccountsPage = 500
    /// Page size of `ledger.statement` when the caller gives none, and its ceiling.
    public static let defaultStatementPage = 50
    public static let maximumStatementPage = 500
    /// Idempotency keys: `run_id:call_id` fits easily; longer keys are a client bug.
    public static let maximumIdempotencyKeyLength = 256
    /// A memo is part of the approved action, so it is as long as an action's may be.
    public static let maximumMemoLength = Action.maximumMemoLength
    /// Free text (display name, void reason): enough for people, bounded for storage.
    public static let maximumDisplayNameLength = 128
    public static let maximumVoidReasonLength = 256
    /// A hold waits for a human: approvals expire after 24 h by default; 30 days
    /// bounds a forgotten hold without getting in the way of a slow approver.
    public static let maximumHoldSeconds: Int64 = 30 * 24 * 3600
    /// Idempotency keys are kept 7 days (the contract promises at least 24 h): a
    /// retry after a crash or a long outage still finds its original result.
    public static let idempotencyRetentionSeconds: Int64 = 7 * 24 * 3600
    /// How often the sweeper expires holds: a hold's funds come back within a
    /// second of `expires_at` even if nobody touches the account (reads never
    /// count an expired hold in the first place).
    public static let sweepIntervalMilliseconds: Int64 = 1_000
    /// How often the sweeper purges idempotency keys past retention.
    public static let purgeIntervalSeconds: Int64 = 3_600
    /// Rows one purge deletes at most, so it never holds the writer for long.
    public static let maximumPurgeRows = 10_000
    /// Currencies the books hold. A second currency is a data change: add it
    /// here and open an `external` account for it.
    public static let currencies: Set<String> = ["USD"]
}
