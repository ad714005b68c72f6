import ArgumentParser
import RPC

/// `hitl init`
struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the run directory and identity tokens (kept if they exist).",
        discussion: """
            Creates <home>/run (0700) and one token per identity of compose/stack.json in \
            <home>/run/tokens/<name>.token (0600). `scripts/stack up` does this for you.

            Example:
              hitl init --home /tmp/hitl-try
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The stack definition (default: $HITL_COMPOSE, else compose/stack.json).", valueName: "file"))
    var compose: String?

    func run() async throws {
        let definition = try StackDefinition.load(path: StackDefinition.given(compose) ?? StackDefinition.locate(compose))
        let directory = global.directory
        let listed = Set(definition.identities.map(\.name))
        let before = IdentityProvisioner.provisionedNames(in: directory)
        let registry = try IdentityProvisioner.provision(definition.identities.map(\.identity), in: directory)
        // Identities no longer in the stack definition are revoked: their tokens stop
        // working within a second in every running service, and their sessions end.
        let removed = try IdentityProvisioner.revoke(before.subtracting(listed), in: directory)
        Output.out("run directory \(directory.home.path): \(registry.identities.count) identities")
        for identity in definition.identities {
            let owns = (identity.accounts ?? []).isEmpty ? "" : ", owns \((identity.accounts ?? []).joined(separator: ", "))"
            Output.out("  \(identity.name) (\(identity.role)\(owns)): \(directory.tokenPath(for: identity.name))")
        }
        for name in removed {
            Output.out("  \(name): removed (no longer in the stack definition); its token no longer works")
        }
    }
}
