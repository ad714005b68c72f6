import Banking
import RPC

/// The parts of other services' answers the agent reads.
struct ApprovalRecord: Decodable, Sendable {
    let approvalID: String
    let status: String
    let expiresAt: String
    let reason: String?
    let grant: JSONValue?

    enum CodingKeys: String, CodingKey {
        case approvalID = "approval_id"
        case status, reason, grant
        case expiresAt = "expires_at"
    }
}

struct RunRecord: Decodable, Sendable {
    let runID: String
    let version: Int64
    let status: String
    let data: JSONValue

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case version, status, data
    }
}

struct SavedRun: Decodable, Sendable {
    let version: Int64
}

struct CreatedRun: Decodable, Sendable {
    let runID: String
    let version: Int64

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case version
    }
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
}
