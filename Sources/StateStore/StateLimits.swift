/// Every limit of the state service, each with the reason for its number.
public enum StateLimits {
    /// The largest run document (`data`), in bytes of compact JSON: half of the
    /// 1 MiB request line limit, so a document always fits in a request with room
    /// for its envelope, and an oversized one is refused with a clear reason
    /// (RESOURCE_EXHAUSTED/DOCUMENT_TOO_LARGE) rather than by the framing.
    public static let maximumDocumentBytes = 512 << 10
    /// Saved versions per run: an agent loop saves a few times per tool call; ten
    /// thousand is far past any sane run and keeps a run's history bounded.
    public static let maximumVersionsPerRun: Int64 = 10_000
    /// Messages in one `append_session`: one turn rarely holds more than a few dozen.
    public static let maximumMessagesPerAppend = 1_000
    /// Bytes of messages in one `append_session`: the same bound as a document.
    public static let maximumAppendBytes = maximumDocumentBytes
    /// Messages in one session: a long conversation, still bounded.
    public static let maximumSessionMessages: Int64 = 100_000
    /// A lease shorter than this expires before a resume can do any work.
    public static let minimumLeaseMs: Int64 = 100
    /// A lease longer than ten minutes blocks a run for too long after its holder dies.
    public static let maximumLeaseMs: Int64 = 600_000
    /// Runs per `list_runs` page when no limit is given, and at most.
    public static let defaultListLimit = 50
    public static let maximumListLimit = 500
    /// Versions per `run_history` page when no limit is given, and at most.
    public static let defaultHistoryLimit = 100
    public static let maximumHistoryLimit = 1_000
    /// Messages per `load_session` when no limit is given, and at most.
    public static let defaultSessionLimit = 200
    public static let maximumSessionLimit = 1_000
    /// Bytes of documents or messages in one answer: well under the client's
    /// 16 MiB line limit; a page stops early (but always holds one entry) past it.
    public static let maximumResponseBytes = 4 << 20
    /// Runs deleted by one `prune`: keeps one group commit short; call again while `more` is true.
    public static let maximumPrunePerCall = 5_000
    /// Events one save (or `append_events`) may carry: a model turn of at most a dozen
    /// tool calls makes a few dozen; past this, something loops.
    public static let maximumEventsPerAppend = 256
    /// Bytes of one event as compact JSON: a tool result or the model's reply, not a document.
    public static let maximumEventBytes = 64 << 10
    /// Events per run: like versions, far past any sane run.
    public static let maximumEventsPerRun: Int64 = 20_000
    /// Events per `read_events` page when no limit is given, and at most.
    public static let defaultEventLimit = 200
    public static let maximumEventLimit = 1_000
    /// Characters of a run id, session id, cursor name or lease owner.
    public static let maximumIdentifierLength = 128
}
