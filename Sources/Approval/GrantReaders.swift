import RPC

/// Roles that see grants in what approval-svc returns: those that execute approved actions.
enum GrantReaders {
    static let roles: Set<String> = ["agent", "operator"]

    /// Whether `identity` may see grants.
    static func allows(_ identity: Identity?) -> Bool { identity.map { roles.contains($0.role) } ?? false }
}
