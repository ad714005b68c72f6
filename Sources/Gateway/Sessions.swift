import Foundation
import RPC
import Synchronization

/// A signed-in approver: who it is, the token the gateway presents for them,
/// the account the agent acts on for them, and the CSRF token every POST of theirs must carry.
struct Session: Sendable {
    let id: String
    let approver: String
    let token: String
    let csrfToken: String
    /// Their own account (the first they own): the page's balance, the agent's runs.
    let account: String?
    var lastUsed: ContinuousClock.Instant
}

/// Sign-in by token (`POST /login`): the token is checked against the stack's
/// identities as they stand now, and only the approver role may sign in. Sessions
/// live in memory (a gateway restart signs everyone out), are found by a
/// random 256-bit id in an HttpOnly, SameSite=Strict cookie, expire when idle,
/// are bounded in number, and end at their next request once their person's
/// identity is removed (the identities reload within a second).
final class SessionStore: Sendable {
    /// The cookie holding the session id.
    static let cookieName = "hitl_session"

    private let identities: LiveIdentities
    private let idleTimeout: Duration
    private let maximumSessions: Int
    private let sessions = Mutex<[String: Session]>([:])

    init(identities: LiveIdentities, idleTimeout: Duration, maximumSessions: Int) {
        self.identities = identities
        self.idleTimeout = idleTimeout
        self.maximumSessions = maximumSessions
    }

    /// Signs an approver in.
    /// - Throws: ``GatewayError`` 401 for an unknown token, 403 for a token of another role.
    func signIn(token: String) throws -> Session {
        let trimmed = token.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 256 else {
            throw GatewayError.invalid("token", "paste the approver token from <home>/run/tokens/<name>.token")
        }
        guard let identity = identities.identify(token: trimmed) else {
            throw GatewayError(.unauthorized, code: "UNAUTHENTICATED", reason: "UNKNOWN_TOKEN",
                               "this token belongs to nobody in this stack; copy it again from <home>/run/tokens/approver1.token")
        }
        guard identity.role == "approver" else {
            throw GatewayError(.forbidden, code: "PERMISSION_DENIED", reason: "ROLE_NOT_ALLOWED",
                               "only approvers sign in here; '\(identity.name)' is a \(identity.role)")
        }
        let session = Session(
            id: Self.randomToken(), approver: identity.name, token: trimmed, csrfToken: Self.randomToken(),
            account: identity.accounts.first, lastUsed: .now)
        sessions.withLock { sessions in
            sessions[session.id] = session
            if sessions.count > maximumSessions, let oldest = sessions.values.min(by: { $0.lastUsed < $1.lastUsed }) {
                sessions[oldest.id] = nil
            }
        }
        return session
    }

    /// The live session with this id, touched; nil when unknown, idle too long, or
    /// when its token no longer belongs to an approver of that name (revoked).
    func session(id: String?) -> Session? {
        guard let id, !id.isEmpty else { return nil }
        let now = ContinuousClock.now
        return sessions.withLock { sessions -> Session? in
            guard var session = sessions[id] else { return nil }
            guard now - session.lastUsed < idleTimeout else {
                sessions[id] = nil
                return nil
            }
            guard let current = identities.identify(token: session.token), current.name == session.approver,
                  current.role == "approver"
            else {
                sessions[id] = nil
                return nil
            }
            session.lastUsed = now
            sessions[id] = session
            return session
        }
    }

    /// Ends a session.
    func signOut(id: String) {
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    /// 32 random bytes, base64url: a session id or a CSRF token.
    static func randomToken() -> String {
        IdentityProvisioner.newToken()
    }

    /// Compares two secrets in time independent of where they differ.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8), right = Array(b.utf8)
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }
}
