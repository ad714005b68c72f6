import RPC
import SQLiteKit

/// A run's head: everything in `runs` for one run.
struct RunRow: Sendable {
    var seq: Int64
    var runID: String
    var sessionID: String?
    var version: Int64
    var status: RunStatus
    var createdAt: Int64
    var updatedAt: Int64
    var leaseOwner: String?
    var leaseExpiresAt: Int64?
    /// The seq of the run's newest event (0: none yet).
    var lastEventSeq: Int64

    static let columns = "seq, run_id, session_id, version, status, created_at, updated_at, lease_owner, lease_expires_at, last_event_seq"


    /// The run's head, or nil when there is no such run.
    static func fetch(_ connection: SQLiteConnection, _ runID: String) throws -> RunRow? {
        try connection.queryOne("SELECT \(columns) FROM runs WHERE run_id = ?", [.text(runID)]) { try RunRow($0) }
    }

    /// The lease in force at `now`; an expired lease is no lease.
    func leaseHolder(at now: Int64) -> (owner: String, expiresAt: Int64)? {
        guard let leaseOwner, let leaseExpiresAt, leaseExpiresAt > now else { return nil }
        return (leaseOwner, leaseExpiresAt)
    }

    func lease(at now: Int64) -> Lease? {
        leaseHolder(at: now).map { Lease(owner: $0.owner, expiresAt: Timestamp.format($0.expiresAt)) }
    }

    func record(data: JSONValue, now: Int64) -> RunRecord {
        RunRecord(
            runID: runID, sessionID: sessionID, version: version, status: status.rawValue, data: data,
            createdAt: Timestamp.format(createdAt), updatedAt: Timestamp.format(updatedAt), lease: lease(at: now))
    }

    func summary(now: Int64) -> RunSummary {
        RunSummary(
            runID: runID, sessionID: sessionID, version: version, status: status.rawValue,
            createdAt: Timestamp.format(createdAt), updatedAt: Timestamp.format(updatedAt), lease: lease(at: now))
    }
}

/// Read from SQLite (an initializer here keeps the memberwise one, which PostgreSQL's reader uses).
extension RunRow {
    init(_ row: SQLiteRow) throws {
        seq = row.int(0)
        runID = row.text(1)
        sessionID = row.optionalText(2)
        version = row.int(3)
        guard let status = RunStatus(rawValue: row.text(4)) else {
            throw RPCError(.dataLoss, reason: "CORRUPT_RUN", "run \(row.text(1)) has an unknown status")
        }
        self.status = status
        createdAt = row.int(5)
        updatedAt = row.int(6)
        leaseOwner = row.optionalText(7)
        leaseExpiresAt = row.optionalInt(8)
        lastEventSeq = row.int(9)
    }
}

/// The domain errors of the state service, each with a stable reason.
enum StateErrors {
    static func runNotFound(_ runID: String) -> RPCError {
        RPCError(.notFound, reason: "RUN_NOT_FOUND", "no run \(runID)", details: ["run_id": .string(runID)])
    }

    static func runExists(_ runID: String) -> RPCError {
        RPCError(
            .alreadyExists, reason: "RUN_EXISTS", "run \(runID) already exists; load it, or create without run_id",
            details: ["run_id": .string(runID)])
    }

    static func versionConflict(_ runID: String, expected: Int64, current: Int64) -> RPCError {
        RPCError(
            .aborted, reason: "VERSION_CONFLICT",
            "run \(runID) is at version \(current), not \(expected); load it again and redo the step",
            details: ["run_id": .string(runID), "current_version": .int(current), "expected_version": .int(expected)])
    }

    static func claimed(_ row: RunRow, _ holder: (owner: String, expiresAt: Int64)) -> RPCError {
        RPCError(
            .aborted, reason: "RUN_CLAIMED",
            "run \(row.runID) is claimed by \(holder.owner) until \(Timestamp.format(holder.expiresAt))",
            details: [
                "run_id": .string(row.runID), "owner": .string(holder.owner),
                "lease_expires_at": .string(Timestamp.format(holder.expiresAt)),
            ])
    }

    static func leaseNotHeld(_ runID: String, owner: String) -> RPCError {
        RPCError(
            .failedPrecondition, reason: "LEASE_NOT_HELD",
            "\(owner) holds no lease on run \(runID) (released, or expired); claim it again to work on it",
            details: ["run_id": .string(runID), "owner": .string(owner)])
    }

    static func unexpectedStatus(_ row: RunRow, expected: RunStatus) -> RPCError {
        RPCError(
            .failedPrecondition, reason: "UNEXPECTED_STATUS",
            "run \(row.runID) is \(row.status.rawValue), not \(expected.rawValue); it was not claimed",
            details: ["run_id": .string(row.runID), "run_status": .string(row.status.rawValue), "expected_status": .string(expected.rawValue)])
    }

    static func terminal(_ row: RunRow) -> RPCError {
        RPCError(
            .failedPrecondition, reason: "TERMINAL_STATUS",
            "run \(row.runID) is \(row.status.rawValue), which is final",
            details: ["run_id": .string(row.runID), "status": .string(row.status.rawValue)])
    }

    static func tooManyEvents(_ runID: String, _ maximum: Int64) -> RPCError {
        RPCError(
            .resourceExhausted, reason: "TOO_MANY_EVENTS",
            "run \(runID) already has \(maximum) events; finish it and start a new run",
            details: ["run_id": .string(runID)])
    }

    static func tooManyVersions(_ runID: String, _ maximum: Int64) -> RPCError {
        RPCError(
            .resourceExhausted, reason: "TOO_MANY_VERSIONS",
            "run \(runID) already has \(maximum) versions; finish it and start a new run",
            details: ["run_id": .string(runID)])
    }

    static func versionMissing(_ runID: String, _ version: Int64) -> RPCError {
        RPCError(.dataLoss, reason: "VERSION_MISSING", "run \(runID) has no document for its version \(version)")
    }

    static func cursorConflict(_ name: String, current: Int64, expected: Int64) -> RPCError {
        RPCError(
            .aborted, reason: "CURSOR_CONFLICT",
            "cursor \(name) is at \(current), not \(expected); read it again",
            details: ["name": .string(name), "current": .int(current), "expected": .int(expected)])
    }

    static func sessionFull(_ session: String, maximum: Int64) -> RPCError {
        RPCError(
            .resourceExhausted, reason: "SESSION_FULL",
            "session \(session) would exceed \(maximum) messages; start a new session",
            details: ["session_id": .string(session)])
    }
}
