import ArgumentParser
import RPC
import ServiceKit

/// `hitl init`
struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the run directory and identity tokens (kept if they exist).",
        discussion: """
            Creates <home>/run (0700) and one token per identity of compose/stack.json in \
            <home>/run/tokens/<name>.token (0600). `scripts/stack up` does this for you.

            With --tls-host, also the stack's certificate authority and a certificate for each
            service and for clients, for the RPC over TCP (a service's --listen tcp://…, a
            client's --connect service=tcp://…).

            Examples:
              hitl init --home /tmp/hitl-try
              hitl init --tls-host 10.0.0.2 --tls-host ledger.internal
            """)

    @OptionGroup var global: GlobalOptions

    @Option(help: ArgumentHelp("The stack definition (default: $HITL_COMPOSE, else compose/stack.json).", valueName: "file"))
    var compose: String?

    @Option(name: .customLong("tls-host"), help: ArgumentHelp(
        "A host name or IP address the services are reached at over TCP (repeatable): makes the stack's CA (run/tls/ca.pem, kept if it exists) and a certificate for each service and for clients, valid for these hosts.",
        valueName: "host"))
    var tlsHosts: [String] = []

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
        if !tlsHosts.isEmpty {
            let names = definition.services.map(\.name) + ["client"]
            do {
                try TLSAuthority.provision(names, hosts: tlsHosts, in: directory)
            } catch let error as RPCTLSError {
                throw ValidationError(error.description)
            }
            Output.out("TLS: \(directory.run.appendingPathComponent("tls").path): ca.pem and a certificate for \(names.joined(separator: ", ")), valid for \(tlsHosts.joined(separator: ", "))")
        }
    }
}
