import Crypto
import Foundation

/// Who is calling: a name from the run directory, the role it was given, and the
/// ledger accounts it owns (a person's own accounts, on which the agent may act for them).
public struct Identity: Sendable, Codable, Hashable, CustomStringConvertible {
    /// The identity's name, e.g. `approver1`.
    public let name: String
    /// The role, e.g. `operator`, `agent` or `approver`.
    public let role: String
    /// The accounts it owns, in the order compose lists them (the first is its default).
    public let accounts: [String]

    /// - Parameters:
    ///   - name: the identity's name.
    ///   - role: its role.
    ///   - accounts: the accounts it owns.
    public init(name: String, role: String, accounts: [String] = []) {
        self.name = name
        self.role = role
        self.accounts = accounts
    }

    /// Roles that belong to people, who may ask the agent to act for them (be a requester).
    /// The agent and the gateway are programs: they act for people, never as one.
    public static let personRoles: Set<String> = ["operator", "approver", "user"]

    /// Whether this identity is a person (see ``personRoles``).
    public var isPerson: Bool { Self.personRoles.contains(role) }

    /// Whether it owns `account`.
    public func owns(_ account: String) -> Bool { accounts.contains(account) }

    public var description: String { "\(name)(\(role))" }
}

/// Maps presented tokens to identities. Services hold only SHA-256 digests of
/// the tokens, never the tokens themselves.
public struct IdentityRegistry: Sendable, Equatable {
    private let byDigest: [String: Identity]
    private let byName: [String: Identity]

    /// All known identities.
    public var identities: [Identity] { Array(byDigest.values) }

    /// - Parameter entries: digests (hex SHA-256 of the token) and identities.
    public init(entries: [(digest: String, identity: Identity)]) {
        var map: [String: Identity] = [:]
        var names: [String: Identity] = [:]
        for entry in entries {
            map[entry.digest] = entry.identity
            names[entry.identity.name] = entry.identity
        }
        self.byDigest = map
        self.byName = names
    }

    /// The identity with this name, or nil when there is none (or it was removed).
    /// - Parameter name: e.g. `approver1`.
    public func identity(named name: String) -> Identity? { byName[name] }

    /// The identity a token belongs to, or nil for an unknown token.
    /// - Parameter token: the token from `params._meta.token`.
    public func identify(token: String) -> Identity? {
        byDigest[Self.digest(of: token)]
    }

    /// The identity whose token has this digest, or nil.
    /// - Parameter digest: hex SHA-256 of a token (``digest(of:)``).
    public func identify(digest: String) -> Identity? {
        byDigest[digest]
    }

    /// Hex SHA-256 of a token.
    /// - Parameter token: the token.
    public static func digest(of token: String) -> String {
        Hex.encode(Array(SHA256.hash(data: Data(token.utf8))))
    }

    /// Loads `run/identities.json`.
    /// - Parameter directory: the run directory.
    /// - Throws: ``RunDirectoryError`` when the file is missing or malformed.
    public static func load(from directory: RunDirectory) throws -> IdentityRegistry {
        let url = directory.identities
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw RunDirectoryError(
                "no identities at \(url.path): run `hitl init` (or `scripts/stack up`) to provision tokens")
        }
        do {
            let file = try JSONDecoder().decode(IdentitiesFile.self, from: data)
            return IdentityRegistry(entries: file.identities.map { ($0.tokenSHA256, $0.identity) })
        } catch {
            throw RunDirectoryError("\(url.path) is not a valid identities file (\(error)); delete it and run `hitl init`")
        }
    }
}

/// The on-disk form of `run/identities.json`.
struct IdentitiesFile: Codable {
    struct Entry: Codable {
        let name: String
        let role: String
        let accounts: [String]?
        let tokenSHA256: String
        enum CodingKeys: String, CodingKey {
            case name, role, accounts
            case tokenSHA256 = "token_sha256"
        }

        var identity: Identity { Identity(name: name, role: role, accounts: accounts ?? []) }
    }
    let identities: [Entry]
}

/// Creates identity tokens in a run directory: one random 256-bit token per
/// identity in `run/tokens/<name>.token` (0600), and `run/identities.json`.
/// Existing tokens are kept, so re-provisioning never locks anyone out.
public enum IdentityProvisioner {
    /// Provisions tokens for the given identities.
    /// - Parameters:
    ///   - identities: names and roles.
    ///   - directory: the run directory (prepared if needed).
    /// - Returns: the resulting registry.
    /// - Throws: when files cannot be written.
    @discardableResult
    public static func provision(_ identities: [Identity], in directory: RunDirectory) throws -> IdentityRegistry {
        try directory.prepare()
        var entries: [IdentitiesFile.Entry] = []
        for identity in identities {
            guard identity.name.range(of: "^[a-z][a-z0-9_-]{0,62}$", options: .regularExpression) != nil else {
                throw RunDirectoryError("identity name '\(identity.name)' must be lowercase letters, digits, '-' or '_'")
            }
            let path = directory.tokenPath(for: identity.name)
            let token: String
            if let existing = try? String(contentsOfFile: path, encoding: .utf8), !existing.isEmpty {
                token = existing.trimmingCharacters(in: .whitespacesAndNewlines)
            } else {
                token = newToken()
                try writePrivate(Data(token.utf8), to: path)
            }
            entries.append(.init(
                name: identity.name, role: identity.role, accounts: identity.accounts.isEmpty ? nil : identity.accounts,
                tokenSHA256: IdentityRegistry.digest(of: token)))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writePrivate(try encoder.encode(IdentitiesFile(identities: entries)), to: directory.identities.path)
        return IdentityRegistry(entries: entries.map { ($0.tokenSHA256, $0.identity) })
    }

    /// Revokes identities: they leave `run/identities.json` and their token files are
    /// deleted. Services reload the file within ``IdentityWatcher/pollInterval`` (or on
    /// SIGHUP) and refuse the tokens from then on; the gateway ends their sessions.
    /// - Parameters:
    ///   - names: the identities to remove (unknown names are ignored).
    ///   - directory: the run directory.
    /// - Returns: the names that were removed.
    /// - Throws: when the files cannot be read or written.
    @discardableResult
    public static func revoke(_ names: Set<String>, in directory: RunDirectory) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: directory.identities.path) else { return [] }
        let file = try JSONDecoder().decode(IdentitiesFile.self, from: data)
        let kept = file.identities.filter { !names.contains($0.name) }
        let removed = file.identities.filter { names.contains($0.name) }.map(\.name)
        guard !removed.isEmpty else { return [] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try writePrivate(try encoder.encode(IdentitiesFile(identities: kept)), to: directory.identities.path)
        for name in removed { try? FileManager.default.removeItem(atPath: directory.tokenPath(for: name)) }
        return removed.sorted()
    }

    /// The names in `run/identities.json` now (none when there is no file).
    /// - Parameter directory: the run directory.
    public static func provisionedNames(in directory: RunDirectory) -> Set<String> {
        guard let data = FileManager.default.contents(atPath: directory.identities.path),
              let file = try? JSONDecoder().decode(IdentitiesFile.self, from: data) else { return [] }
        return Set(file.identities.map(\.name))
    }

    /// Reads the token of an identity from the run directory.
    /// - Parameters:
    ///   - name: the identity, e.g. `operator`.
    ///   - directory: the run directory.
    /// - Throws: ``RunDirectoryError`` when there is no such token.
    public static func token(for name: String, in directory: RunDirectory) throws -> String {
        let path = directory.tokenPath(for: name)
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw RunDirectoryError("no token for identity '\(name)' at \(path): check --as, or run `hitl init`")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A new random token: 32 bytes, base64url without padding.
    public static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Writes a file readable by its owner only (0600), atomically.
    /// - Parameters:
    ///   - data: the contents.
    ///   - path: where.
    /// - Throws: when the file cannot be written.
    public static func writePrivate(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw RunDirectoryError("cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            throw RunDirectoryError("cannot move \(temporary) to \(path): \(String(cString: strerror(errno)))")
        }
    }
}
