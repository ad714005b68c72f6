import Foundation
import RPC

/// A private, throw-away run directory for one test, with identity tokens.
///
/// It lives under `/tmp` with a short name, because socket paths are limited
/// to 107 bytes.
public struct TestHome: Sendable {
    /// The identities every test home gets: the same roles and accounts the stack provisions.
    public static let defaultIdentities = [
        Identity(name: "operator", role: "operator", accounts: ["checking"]),
        Identity(name: "agent", role: "agent"),
        Identity(name: "approver1", role: "approver", accounts: ["checking"]),
        Identity(name: "approver2", role: "approver", accounts: ["checking"]),
        Identity(name: "approver3", role: "approver"),
        Identity(name: "gateway", role: "gateway"),
    ]

    /// The run directory.
    public let directory: RunDirectory

    /// Creates a new home in `/tmp` and provisions tokens.
    /// - Parameter identities: who gets a token.
    /// - Throws: when the folder cannot be created.
    public static func make(identities: [Identity] = defaultIdentities) throws -> TestHome {
        var template = Array("/tmp/hitl-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else {
            throw RunDirectoryError("mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        let home = TestHome(directory: RunDirectory(home: String(cString: created)))
        try IdentityProvisioner.provision(identities, in: home.directory)
        return home
    }

    /// The token of an identity.
    /// - Parameter identity: e.g. `approver1`.
    public func token(_ identity: String) throws -> String {
        try IdentityProvisioner.token(for: identity, in: directory)
    }

    /// A client for a service in this home.
    /// - Parameters:
    ///   - service: the short name.
    ///   - identity: whose token to present (nil: none).
    public func client(_ service: String, as identity: String? = "operator") throws -> RPCClient {
        try RPCClient(service: service, directory: directory, identity: identity)
    }

    /// The socket of a service in this home.
    public func socket(_ service: String) -> String { directory.socketPath(for: service) }

    /// Deletes the home and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(at: directory.home)
    }
}
