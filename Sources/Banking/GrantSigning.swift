import Crypto
import Foundation
import Wire

/// The key id: the first 16 hex digits of SHA-256 of the raw public key.
extension GrantVerifier {
    static func keyID(of key: Curve25519.Signing.PublicKey) -> String {
        SHA256.hash(data: key.rawRepresentation).prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}

/// Signs grant bodies. Lives only in approval-svc.
public struct GrantSigner: Sendable {
    let key: Curve25519.Signing.PrivateKey
    /// The id of this key, for ``Grant/keyID``.
    public let keyID: String

    /// - Parameter key: the private key (tests make their own).
    public init(key: Curve25519.Signing.PrivateKey) {
        self.key = key
        keyID = GrantVerifier.keyID(of: key.publicKey)
    }

    /// The matching verifier.
    public var verifier: GrantVerifier { GrantVerifier(key: key.publicKey) }

    /// Signs a body.
    /// - Parameter body: the grant body (its keyID must be this key's).
    /// - Throws: when signing fails (it does not for valid keys).
    public func sign(_ body: Grant.Body) throws -> Grant {
        precondition(body.keyID == keyID, "a grant body must name the key that signs it")
        let signature = try key.signature(for: body.canonicalJSON)
        return Grant(body: body, signature: Base64URL.encode(signature))
    }
}

/// Verifies grants. Lives in ledger-svc.
public struct GrantVerifier: Sendable {
    let key: Curve25519.Signing.PublicKey
    /// The id of the trusted key, computed once (every check compares it).
    public let keyID: String

    /// - Parameter key: the approval service's public key.
    public init(key: Curve25519.Signing.PublicKey) {
        self.key = key
        keyID = GrantVerifier.keyID(of: key)
    }

    /// Checks that `grant` was signed by this key, is unexpired, and permits
    /// exactly `action` under `idempotencyKey`. Single use is the caller's job
    /// (the ledger consumes the grant id in the posting's transaction).
    /// - Parameters:
    ///   - grant: the grant presented.
    ///   - action: the action about to be executed.
    ///   - idempotencyKey: the key the execution carries.
    ///   - now: the current time.
    /// - Throws: ``RPCError`` PERMISSION_DENIED with a precise reason.
    public func verify(_ grant: Grant, permits action: Action, idempotencyKey: String, now: Date = Date()) throws {
        try checkSignature(keyID: grant.keyID, signature: grant.signature, content: grant.body.canonicalJSON)
        try checkExpiry(grant.expiresAt, now: now)
        guard grant.action == action else {
            throw Self.denied("GRANT_ACTION_MISMATCH", "the grant permits \(Self.describe(grant.action)), not \(Self.describe(action))")
        }
        guard grant.idempotencyKey == idempotencyKey else {
            throw Self.denied("GRANT_IDEMPOTENCY_MISMATCH", "the grant is bound to idempotency key '\(grant.idempotencyKey)'")
        }
    }

    /// The trusted key signed `content`: GRANT_KEY_UNKNOWN, then GRANT_SIGNATURE_INVALID.
    func checkSignature(keyID grantKeyID: String, signature: String, content: [UInt8]) throws {
        guard grantKeyID == keyID else {
            throw Self.denied("GRANT_KEY_UNKNOWN", "the grant was signed by key \(grantKeyID), which this ledger does not trust")
        }
        guard let signature = Base64URL.decode(signature), key.isValidSignature(signature, for: content) else {
            throw Self.denied("GRANT_SIGNATURE_INVALID", "the grant's signature does not match its content: it was forged or altered")
        }
    }

    /// `expiresAt` is a time after `now`: GRANT_MALFORMED, then GRANT_EXPIRED.
    func checkExpiry(_ expiresAt: String, now: Date) throws {
        guard let expiry = GrantTime.parse(expiresAt) else {  // the fixed-format fast path, for grants
            throw Self.denied("GRANT_MALFORMED", "the grant's expires_at is not an RFC 3339 time")
        }
        guard now < expiry else {
            throw Self.denied("GRANT_EXPIRED", "the grant expired at \(expiresAt); ask approval-svc for a new decision")
        }
    }

    static func denied(_ reason: String, _ message: String) -> RPCError {
        RPCError(.permissionDenied, reason: reason, message)
    }

    private static func describe(_ action: Action) -> String {
        let source = action.from.map { " from \($0)" } ?? ""
        let memo = action.memo.map { " for \"\($0)\"" } ?? " (no memo)"
        return "\(action.kind.rawValue) of \(action.amount) \(action.currency)\(source) to \(action.to)\(memo)"
    }
}

/// base64url without padding (RFC 4648 §5).
public enum Base64URL {
    /// Encodes bytes.
    public static func encode(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Decodes text; nil when malformed.
    public static func decode(_ text: String) -> Data? {
        var base64 = Array(text.utf8)
        for index in base64.indices {
            switch base64[index] {
            case UInt8(ascii: "-"): base64[index] = UInt8(ascii: "+")
            case UInt8(ascii: "_"): base64[index] = UInt8(ascii: "/")
            default: break
            }
        }
        while base64.count % 4 != 0 { base64.append(UInt8(ascii: "=")) }
        return Data(base64Encoded: Data(base64))
    }
}
