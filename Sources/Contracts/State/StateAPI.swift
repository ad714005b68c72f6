import Wire

/// state-svc as its consumers call it: one method per `state.*` method they use, with
/// the wire types state-svc itself decodes and encodes. A run's document is generic:
/// state-svc keeps any JSON object; a consumer reads and writes its own type.
///
/// Errors are ``RPCError``s with state-svc's reasons (``StateReason``), whoever answers.
public protocol StateAPI: Sendable {
    func createRun<D>(_ params: CreateRunParamsOf<D>) async throws -> CreateRunResult
    func loadRun<D>(_ runID: String, as document: D.Type) async throws -> RunRecordOf<D>
    func claimRun<D>(_ params: ClaimRunParams, as document: D.Type) async throws -> RunRecordOf<D>
    func saveRun<D>(_ params: SaveRunParamsOf<D>) async throws -> SaveRunResult
    func releaseRun(_ params: ReleaseRunParams) async throws -> ReleaseRunResult
    func appendEvents(_ params: AppendEventsParams) async throws -> AppendEventsResult
    func listRuns(_ params: ListRunsParams) async throws -> ListRunsResult
    func loadSession(_ params: LoadSessionParams) async throws -> LoadSessionResult
    func appendSession(_ params: AppendSessionParams) async throws -> AppendSessionResult
    func getCursor(_ name: String) async throws -> CursorResult
    func setCursor(_ params: SetCursorParams) async throws -> CursorResult
    /// Follows a run's events (`state.watch_events`): with `with_run`, the run first.
    /// Returns when the watch ends (the run's stream closed, or `timeout`).
    func watchEvents<D>(
        _ params: ReadEventsParams, as document: D.Type, timeout: Duration,
        onEvent: @escaping @Sendable (RunWatchEvent<D>) -> Void
    ) async throws
}

/// One message of `state.watch_events`: the run as it stood (`with_run`, first), or an event.
public enum RunWatchEvent<Document: Codable & Sendable>: Decodable, Sendable {
    case snapshot(RunSnapshotOf<Document>)
    case event(JSONValue)

    private enum Key: String, CodingKey { case type }

    public init(from decoder: any Decoder) throws {
        let type = try decoder.container(keyedBy: Key.self).decodeIfPresent(String.self, forKey: .type)
        self = type == "run_snapshot" ? .snapshot(try RunSnapshotOf<Document>(from: decoder)) : .event(try JSONValue(from: decoder))
    }
}

/// A run's document read by a consumer that knows one kind of document: decoded when
/// it is that kind, and why not when it is not (state-svc keeps other callers' runs;
/// the record itself is fine, and the consumer decides what a foreign document means).
public struct DocumentReading<Document: Codable & Sendable>: Codable, Sendable {
    public let decoded: Result<Document, any Error>

    public init(_ document: Document) { decoded = .success(document) }

    public init(from decoder: any Decoder) throws {
        do {
            decoded = .success(try Document(from: decoder))
        } catch {
            decoded = .failure(error)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        try decoded.get().encode(to: encoder)
    }
}

/// The reasons state-svc gives that its consumers act on.
public enum StateReason {
    public static let runNotFound = "RUN_NOT_FOUND"
    public static let runClaimed = "RUN_CLAIMED"
    public static let versionConflict = "VERSION_CONFLICT"
    public static let terminalStatus = "TERMINAL_STATUS"
    public static let unexpectedStatus = "UNEXPECTED_STATUS"
    public static let leaseNotHeld = "LEASE_NOT_HELD"
    public static let cursorConflict = "CURSOR_CONFLICT"
}
