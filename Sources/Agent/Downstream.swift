import Banking
import RPC

/// The parts of other services' answers the agent reads.
struct ApprovalRecord: Decodable, Sendable {
    let approvalID: String
    let status: String
    /// The current version's action: what its grant binds (an approver may have edited it).
    let action: Action?
    /// Distinct people the current version needs (0: approved by the policy).
    let requiredApprovers: Int?
    let expiresAt: String
    let reason: String?
    let grant: JSONValue?

    enum CodingKeys: String, CodingKey {
        case approvalID = "approval_id"
        case status, reason, grant, action
        case requiredApprovers = "required_approvers"
        case expiresAt = "expires_at"
    }
}

/// A run as `state.load_run` and `state.claim_run` return it, its document decoded
/// straight from the response (no JSONValue in between).
struct RunRecord: Decodable, Sendable {
    let runID: String
    let version: Int64
    let status: String
    /// The lease in force, if anyone works on the run now.
    let lease: JSONValue?
    /// The document, or why it is not an agent run's (kept, not thrown: the
    /// record itself is fine, and callers decide what a foreign document means).
    private let decoded: Result<RunDocument, any Error>

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case version, status, data, lease
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        runID = try container.decode(String.self, forKey: .runID)
        version = try container.decode(Int64.self, forKey: .version)
        status = try container.decode(String.self, forKey: .status)
        lease = try container.decodeIfPresent(JSONValue.self, forKey: .lease)
        do {
            decoded = .success(try container.decode(RunDocument.self, forKey: .data))
        } catch {
            decoded = .failure(error)
        }
    }

    /// The run's document.
    /// - Throws: FAILED_PRECONDITION/NOT_AN_AGENT_RUN when the run was not saved by an agent
    ///   (state-svc keeps any caller's runs; only agent-svc's can be continued here).
    func document() throws -> RunDocument {
        do {
            return try decoded.get()
        } catch {
            throw RPCError(.failedPrecondition, reason: "NOT_AN_AGENT_RUN",
                "run \(runID.prefix(128)) was not created by agent-svc: its document is not an agent run, so the agent cannot show or continue it")
        }
    }
}

/// `state.create_run` params with the document typed (encoded once, on the way out).
struct CreateRunRequest: Encodable, Sendable {
    let runID: String
    let data: RunDocument
    let sessionID: String?
    let events: [JSONValue]

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case data, events
        case sessionID = "session_id"
    }
}

/// `state.save_run` params with the document typed.
struct SaveRunRequest: Encodable, Sendable {
    let runID: String
    let expectedVersion: Int64
    let status: String
    let data: RunDocument
    let owner: String?
    let events: [JSONValue]
    let release: Bool?

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case expectedVersion = "expected_version"
        case status, data, owner, events, release
    }
}

struct SavedRun: Decodable, Sendable {
    let version: Int64
    let lastEventSeq: Int64

    enum CodingKeys: String, CodingKey {
        case version
        case lastEventSeq = "last_event_seq"
    }
}

struct CreatedRun: Decodable, Sendable {
    let runID: String
    let version: Int64
    let lastEventSeq: Int64

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case version
        case lastEventSeq = "last_event_seq"
    }
}

struct AppendedEvents: Decodable, Sendable {
    let lastEventSeq: Int64

    enum CodingKeys: String, CodingKey { case lastEventSeq = "last_event_seq" }
}

struct HoldRecord: Decodable, Sendable {
    let holdID: String

    enum CodingKeys: String, CodingKey { case holdID = "hold_id" }
}

struct BalanceRecord: Decodable, Sendable {
    let available: String
    let posted: String
}

struct SessionRecord: Decodable, Sendable {
    let messages: [JSONValue]
}

extension RPCClient {
    /// A call with JSON params (so literals need no annotation).
    /// - Parameter idempotent: whether a retry after a possible execution is safe.
    func request<R: Decodable>(_ method: String, _ params: JSONValue, as type: R.Type, idempotent: Bool = false) async throws -> R {
        try await call(method, params, as: R.self, options: .init(idempotent: idempotent))
    }

    /// A call with typed params.
    /// - Parameter idempotent: whether a retry after a possible execution is safe.
    func request<P: Encodable & Sendable, R: Decodable>(_ method: String, typed params: P, as type: R.Type, idempotent: Bool = false) async throws -> R {
        try await call(method, params, as: R.self, options: .init(idempotent: idempotent))
    }
}
