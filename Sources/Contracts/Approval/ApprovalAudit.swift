import Banking
import Foundation
import Wire

// The audit log as approval-svc serves it: records, periods, the chain's verdict.

/// One record of the hash-chained audit log.
public struct AuditRecord: Sendable, Codable, Equatable {
    public let seq: Int64
    public let at: String
    public let approvalID: String
    /// submitted, vote, edited, approved, rejected, expired, cancelled, completed, notified.
    public let step: String
    public let actor: String
    public let version: Int64
    public let policyVersion: String
    /// SHA-256 (hex) of the action's canonical JSON at this step.
    public let actionHash: String
    /// Step-specific facts (grant id, reason, outcome), as canonical JSON text.
    public let detail: String
    public let prevHash: String
    public let hash: String

    enum CodingKeys: String, CodingKey {
        case seq, at, approvalID = "approval_id", step, actor, version, policyVersion = "policy_version"
        case actionHash = "action_hash", detail, prevHash = "prev_hash", hash
    }

    /// - Parameters: the wire fields.
    public init(seq: Int64, at: String, approvalID: String, step: String, actor: String, version: Int64, policyVersion: String, actionHash: String, detail: String, prevHash: String, hash: String) {
        self.seq = seq
        self.at = at
        self.approvalID = approvalID
        self.step = step
        self.actor = actor
        self.version = version
        self.policyVersion = policyVersion
        self.actionHash = actionHash
        self.detail = detail
        self.prevHash = prevHash
        self.hash = hash
    }
}

public struct AuditResult: Codable, Sendable {
    public let records: [AuditRecord]

    /// - Parameters: the wire fields.
    public init(records: [AuditRecord]) {
        self.records = records
    }
}

/// `approval.audit_log` params: the audit records of a period, in chain order.
public struct AuditLogParams: Codable, Sendable {
    /// Records at or after this time (RFC 3339).
    public let since: String?
    /// Records before this time (RFC 3339).
    public let until: String?
    /// Records after this seq (the previous page's `next_after_seq`).
    public let afterSeq: Int64?
    public let limit: Int?
    enum CodingKeys: String, CodingKey { case since, until, afterSeq = "after_seq", limit }

    /// - Parameters: the wire fields.
    public init(since: String? = nil, until: String? = nil, afterSeq: Int64? = nil, limit: Int? = nil) {
        self.since = since
        self.until = until
        self.afterSeq = afterSeq
        self.limit = limit
    }
}

/// `approval.audit_log` result.
public struct AuditLogResult: Codable, Sendable {
    public let records: [AuditRecord]
    /// Pass as `after_seq` for the next page; absent on the last.
    public let nextAfterSeq: Int64?
    enum CodingKeys: String, CodingKey { case records, nextAfterSeq = "next_after_seq" }

    /// - Parameters: the wire fields.
    public init(records: [AuditRecord], nextAfterSeq: Int64?) {
        self.records = records
        self.nextAfterSeq = nextAfterSeq
    }
}

/// What `approval.verify_audit` found.
public struct AuditVerification: Sendable, Codable, Equatable {
    /// One thing wrong with the chain.
    public struct Problem: Sendable, Codable, Equatable {
        public let seq: Int64
        public let problem: String

        /// - Parameters: the wire fields.
        public init(seq: Int64, problem: String) {
            self.seq = seq
            self.problem = problem
        }
    }
    public let ok: Bool
    public let records: Int64
    public let headSeq: Int64
    public let headHash: String
    public let problems: [Problem]

    enum CodingKeys: String, CodingKey { case ok, records, headSeq = "head_seq", headHash = "head_hash", problems }

    /// - Parameters: the wire fields.
    public init(ok: Bool, records: Int64, headSeq: Int64, headHash: String, problems: [Problem]) {
        self.ok = ok
        self.records = records
        self.headSeq = headSeq
        self.headHash = headHash
        self.problems = problems
    }
}
