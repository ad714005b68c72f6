import Foundation
import Wire

/// A signed permission to execute exactly one action, once.
///
/// `approval-svc` issues it when an action is approved (by policy or by
/// people); `ledger-svc` executes nothing without one. The signature is
/// Ed25519 over ``canonicalBytes``: the JSON object of every field except
/// `signature`, keys sorted, no whitespace (RFC 8785 for these value types).
/// `Protocols/grant.schema.json` is the normative description.
public struct Grant: Sendable, Hashable, Codable {
    /// Single-use id: the ledger consumes it in the same transaction as the posting.
    public let grantID: String
    /// The approval this grant decides.
    public let approvalID: String
    /// The approval's version (an edited approval is a new version).
    public let approvalVersion: Int64
    /// The agent run and tool call that asked for the action.
    public let runID: String
    public let callID: String
    /// Exactly what may be executed.
    public let action: Action
    /// The ledger idempotency key the execution must carry (`run_id:call_id`).
    public let idempotencyKey: String
    /// Who approved, sorted; `["policy:auto"]` for auto-approval.
    public let approvers: [String]
    /// The policy version that decided.
    public let policyVersion: String
    /// RFC 3339 UTC timestamps, second precision.
    public let issuedAt: String
    public let expiresAt: String
    /// Which key signed: the first 16 hex digits of SHA-256 of the public key.
    public let keyID: String
    /// base64url (no padding) Ed25519 signature of ``canonicalBytes``.
    public let signature: String

    enum CodingKeys: String, CodingKey {
        case grantID = "grant_id"
        case approvalID = "approval_id"
        case approvalVersion = "approval_version"
        case runID = "run_id"
        case callID = "call_id"
        case action
        case idempotencyKey = "idempotency_key"
        case approvers
        case policyVersion = "policy_version"
        case issuedAt = "issued_at"
        case expiresAt = "expires_at"
        case keyID = "key_id"
        case signature
    }

    /// The grant without its signature: what is signed.
    public struct Body: Sendable, Hashable, Encodable {
        public let grantID: String
        public let approvalID: String
        public let approvalVersion: Int64
        public let runID: String
        public let callID: String
        public let action: Action
        public let idempotencyKey: String
        public let approvers: [String]
        public let policyVersion: String
        public let issuedAt: String
        public let expiresAt: String
        public let keyID: String

        typealias CodingKeys = Grant.CodingKeys

        /// - Parameters: every field of the grant but the signature.
        public init(
            grantID: String, approvalID: String, approvalVersion: Int64, runID: String, callID: String, action: Action,
            idempotencyKey: String, approvers: [String], policyVersion: String, issuedAt: Date, expiresAt: Date, keyID: String
        ) {
            self.grantID = grantID
            self.approvalID = approvalID
            self.approvalVersion = approvalVersion
            self.runID = runID
            self.callID = callID
            self.action = action
            self.idempotencyKey = idempotencyKey
            self.approvers = approvers.sorted()
            self.policyVersion = policyVersion
            self.issuedAt = GrantTime.format(issuedAt)
            self.expiresAt = GrantTime.format(expiresAt)
            self.keyID = keyID
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(grantID, forKey: .grantID)
            try container.encode(approvalID, forKey: .approvalID)
            try container.encode(approvalVersion, forKey: .approvalVersion)
            try container.encode(runID, forKey: .runID)
            try container.encode(callID, forKey: .callID)
            try container.encode(action, forKey: .action)
            try container.encode(idempotencyKey, forKey: .idempotencyKey)
            try container.encode(approvers, forKey: .approvers)
            try container.encode(policyVersion, forKey: .policyVersion)
            try container.encode(issuedAt, forKey: .issuedAt)
            try container.encode(expiresAt, forKey: .expiresAt)
            try container.encode(keyID, forKey: .keyID)
        }

        /// The bytes the signature covers: the canonical JSON of every member,
        /// written by hand in key order (``CanonicalJSON``). `encode(to:)` above
        /// gives the same bytes through `JSONEncoder` with sorted keys; the tests hold
        /// the two equal.
        public var canonicalBytes: Data { Data(canonicalJSON) }

        /// ``canonicalBytes`` as an array, without the copy into `Data`.
        public var canonicalJSON: [UInt8] {
            var json = CanonicalJSON()
            json.beginObject()
            json.key("action")
            action.writeCanonical(into: &json)
            json.key("approval_id")
            json.string(approvalID)
            json.key("approval_version")
            json.integer(approvalVersion)
            json.key("approvers")
            json.beginArray()
            for approver in approvers { json.string(approver) }
            json.endArray()
            json.key("call_id")
            json.string(callID)
            json.key("expires_at")
            json.string(expiresAt)
            json.key("grant_id")
            json.string(grantID)
            json.key("idempotency_key")
            json.string(idempotencyKey)
            json.key("issued_at")
            json.string(issuedAt)
            json.key("key_id")
            json.string(keyID)
            json.key("policy_version")
            json.string(policyVersion)
            json.key("run_id")
            json.string(runID)
            json.endObject()
            return json.bytes
        }
    }

    /// Joins a body and its signature.
    /// - Parameters:
    ///   - body: what was signed.
    ///   - signature: base64url signature.
    public init(body: Body, signature: String) {
        grantID = body.grantID
        approvalID = body.approvalID
        approvalVersion = body.approvalVersion
        runID = body.runID
        callID = body.callID
        action = body.action
        idempotencyKey = body.idempotencyKey
        approvers = body.approvers
        policyVersion = body.policyVersion
        issuedAt = body.issuedAt
        expiresAt = body.expiresAt
        keyID = body.keyID
        self.signature = signature
    }

    /// The signed part, exactly as received (the approvers' order included:
    /// re-sorting would hide tampering that reorders them).
    public var body: Body {
        Body(unsorted: self)
    }
}

extension Grant.Body {
    fileprivate init(unsorted grant: Grant) {
        grantID = grant.grantID
        approvalID = grant.approvalID
        approvalVersion = grant.approvalVersion
        runID = grant.runID
        callID = grant.callID
        action = grant.action
        idempotencyKey = grant.idempotencyKey
        approvers = grant.approvers
        policyVersion = grant.policyVersion
        issuedAt = grant.issuedAt
        expiresAt = grant.expiresAt
        keyID = grant.keyID
    }
}

/// Grant timestamps: RFC 3339, UTC, whole seconds (`2026-11-25T02:00:00Z`).
public enum GrantTime {
    /// Formats a date.
    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
    }

    /// Parses a timestamp; nil when malformed. The grant form
    /// (`YYYY-MM-DDTHH:MM:SSZ`) is read by a small fixed-format parser, since
    /// every grant check reads one; anything else goes to Foundation's ISO 8601
    /// parser, as before.
    public static func parse(_ text: String) -> Date? {
        if let seconds = parseFixed(text) { return Date(timeIntervalSince1970: TimeInterval(seconds)) }
        return try? Date.ISO8601FormatStyle(timeZone: .gmt).parse(text)
    }

    /// Seconds since 1970 of `YYYY-MM-DDTHH:MM:SSZ` (a real calendar date, hours
    /// 0–23, minutes and seconds 0–59); nil for anything else.
    public static func parseFixed(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { utf8 -> Int64? in
            guard utf8.count == 20, utf8[4] == 0x2D, utf8[7] == 0x2D, utf8[10] == 0x54, utf8[13] == 0x3A, utf8[16] == 0x3A,
                  utf8[19] == 0x5A
            else { return nil }
            func number(_ start: Int, _ count: Int) -> Int64? {
                var value: Int64 = 0
                for index in start..<(start + count) {
                    let digit = utf8[index] &- 0x30
                    guard digit < 10 else { return nil }
                    value = value * 10 + Int64(digit)
                }
                return value
            }
            guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
                  let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
                  (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
                  hour < 24, minute < 60, second < 60
            else { return nil }
            return daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second
        }
    }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

/// A grant or action that is malformed, naming the field.
public struct GrantFormatError: Error, Equatable, CustomStringConvertible, RPCErrorConvertible {
    /// A dotted params path, e.g. `action.to`.
    public let field: String
    /// What is wrong.
    public let message: String

    /// - Parameters:
    ///   - field: the field.
    ///   - message: what is wrong.
    public init(field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
    public var rpcError: RPCError { .invalidParams(field: field, message) }
}
