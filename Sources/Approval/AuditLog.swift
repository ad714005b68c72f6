import Banking
import Crypto
import Foundation
import RPC
import SQLiteKit

/// The append-only, hash-chained audit log.
///
/// Each record's hash is SHA-256 over the previous record's hash and the
/// record's own canonical JSON, so altering a record breaks its hash, removing
/// one breaks the sequence and the link, and removing the newest ones no
/// longer matches `audit_head`, which is written in the same transaction.
enum AuditLog {
    /// The previous hash of the first record.
    static let genesis = String(repeating: "0", count: 64)
    /// Records one verification reads at a time: bounded memory on any log size.
    static let verifyPageSize = 1_000

    /// What one step contributes; the log adds seq, links and hashes.
    struct Entry {
        let at: Date
        let approvalID: String
        let step: String
        let actor: String
        let version: Int64
        let policyVersion: String
        /// SHA-256 (hex) of what was decided: ``AuditLog/actionHash(_:)`` of an
        /// action, or a batch's digest (which is that SHA-256 over all its transfers).
        let actionHash: String
        let detail: [String: String]
    }

    /// The fields the hash covers, in canonical (sorted-key) JSON.
    private struct Hashed: Encodable {
        let seq: Int64
        let at: String
        let approvalID: String
        let step: String
        let actor: String
        let version: Int64
        let policyVersion: String
        let actionHash: String
        let detail: String
        let prevHash: String
        enum CodingKeys: String, CodingKey {
            case seq, at, approvalID = "approval_id", step, actor, version
            case policyVersion = "policy_version", actionHash = "action_hash", detail, prevHash = "prev_hash"
        }
    }

    /// Appends one record inside the caller's transaction.
    /// - Parameters:
    ///   - entry: the step.
    ///   - connection: the writer connection, inside a transaction.
    /// - Throws: ``SQLiteError``.
    static func append(_ entry: Entry, on connection: any SQLConnection) throws {
        let head = try connection.queryOne("SELECT seq, hash FROM audit_head WHERE id = 1") { ($0.int(0), $0.text(1)) }
        let seq = (head?.0 ?? 0) + 1
        let prevHash = head?.1 ?? genesis
        let detail = canonical(entry.detail)
        let at = ApprovalTime.format(entry.at)
        let hashed = Hashed(
            seq: seq, at: at, approvalID: entry.approvalID, step: entry.step, actor: entry.actor, version: entry.version,
            policyVersion: entry.policyVersion, actionHash: entry.actionHash, detail: detail, prevHash: prevHash)
        let hash = digest(hashed)
        try connection.execute(
            """
            INSERT INTO audit (seq, at, approval_id, step, actor, version, policy_version, action_hash, detail, prev_hash, hash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [.integer(seq), .text(at), .text(entry.approvalID), .text(entry.step),
             .text(entry.actor), .integer(entry.version), .text(entry.policyVersion), .text(hashed.actionHash),
             .text(detail), .text(prevHash), .text(hash)])
        try connection.execute(
            "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            [.integer(seq), .text(hash)])
    }

    /// The records of one approval, oldest first.
    static func records(of approvalID: String, on connection: any SQLConnection) throws -> [AuditRecord] {
        try connection.query("SELECT \(columns) FROM audit WHERE approval_id = ? ORDER BY seq", [.text(approvalID)], { record($0) })
    }

    /// Records after `seq`, at or after `since` and before `until` (times as the log
    /// writes them: fixed-width RFC 3339 UTC, so text order is time order).
    static func records(after seq: Int64, since: String?, until: String?, limit: Int, on connection: any SQLConnection) throws -> [AuditRecord] {
        var sql = "SELECT \(columns) FROM audit WHERE seq > ?"
        var values: [SQLiteValue] = [.integer(seq)]
        if let since {
            sql += " AND at >= ?"
            values.append(.text(since))
        }
        if let until {
            sql += " AND at < ?"
            values.append(.text(until))
        }
        sql += " ORDER BY seq LIMIT ?"
        values.append(.integer(Int64(limit)))
        return try connection.query(sql, values, { record($0) })
    }

    /// Walks the whole chain and reports every break.
    /// - Parameter connection: a reader (one snapshot).
    /// - Returns: the verdict, with each problem's seq.
    static func verify(on connection: any SQLConnection) throws -> AuditVerification {
        var problems: [AuditVerification.Problem] = []
        var expectedSeq: Int64 = 1
        var prevHash = genesis
        var count: Int64 = 0
        while true {
            let page = try connection.query(
                "SELECT \(columns) FROM audit WHERE seq >= ? ORDER BY seq LIMIT \(verifyPageSize)", [.integer(expectedSeq)], { record($0) })
            for row in page {
                if row.seq != expectedSeq {
                    problems.append(.init(seq: expectedSeq, problem: "records \(expectedSeq)...\(row.seq - 1) are missing"))
                }
                if row.prevHash != prevHash {
                    problems.append(.init(seq: row.seq, problem: "prev_hash does not match the previous record's hash"))
                }
                if recomputedHash(row) != row.hash {
                    problems.append(.init(seq: row.seq, problem: "the record's content does not match its hash: it was altered"))
                }
                prevHash = row.hash
                expectedSeq = row.seq + 1
                count += 1
            }
            if page.count < verifyPageSize { break }
        }
        let head = try connection.queryOne("SELECT seq, hash FROM audit_head WHERE id = 1") { ($0.int(0), $0.text(1)) }
        let headSeq = head?.0 ?? 0
        let headHash = head?.1 ?? genesis
        if headSeq != expectedSeq - 1 || headHash != prevHash {
            problems.append(.init(
                seq: headSeq, problem: "the chain ends at record \(expectedSeq - 1) but its head says \(headSeq): records were removed or the head was altered"))
        }
        return AuditVerification(ok: problems.isEmpty, records: count, headSeq: headSeq, headHash: headHash, problems: problems)
    }

    /// SHA-256 (hex) of an action's canonical JSON.
    static func actionHash(_ action: Action) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return hex(SHA256.hash(data: (try? encoder.encode(action)) ?? Data()))
    }

    private static let columns = "seq, at, approval_id, step, actor, version, policy_version, action_hash, detail, prev_hash, hash"

    private static func record(_ row: some SQLRow) -> AuditRecord {
        AuditRecord(
            seq: row.int(0), at: row.text(1), approvalID: row.text(2), step: row.text(3),
            actor: row.text(4), version: row.int(5), policyVersion: row.text(6), actionHash: row.text(7), detail: row.text(8),
            prevHash: row.text(9), hash: row.text(10))
    }

    private static func recomputedHash(_ record: AuditRecord) -> String {
        digest(Hashed(
            seq: record.seq, at: record.at, approvalID: record.approvalID, step: record.step, actor: record.actor,
            version: record.version, policyVersion: record.policyVersion, actionHash: record.actionHash,
            detail: record.detail, prevHash: record.prevHash))
    }

    private static func digest(_ hashed: Hashed) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return hex(SHA256.hash(data: (try? encoder.encode(hashed)) ?? Data()))
    }

    private static func canonical(_ detail: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(detail)) ?? Data("{}".utf8), as: UTF8.self)
    }

    private static func hex(_ digest: SHA256.Digest) -> String {
        Hex.encode(Array(digest))
    }
}
