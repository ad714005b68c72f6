import Testing

// The conformance suite: black-box tests over the real socket of a real
// executable, for every service built on the RPC core.
//
// What runs against every target (`ConformanceTarget.all`):
//   JSONRPCSpecExampleTests      the JSON-RPC 2.0 specification's section 7 examples
//   IdentifierConformanceTests   ids echoed exactly (2^53 + 1 compared as text), null, bad types
//   FramingConformanceTests      pipelining, split writes, CRLF, blank lines, the 1 MiB limit,
//                                invalid UTF-8, deep nesting, malformed envelopes, batch limits
//   CallLifecycleConformanceTests  deadlines, rpc.cancel, streaming (on health.watch)
//   AccessConformanceTests       tokens and roles, driven by each method's x-access
//   ProcessConformanceTests      socket and folder modes, a second instance, a stale socket,
//                                SIGTERM and draining
//   ContractConformanceTests     rpc.discover against the OpenRPC meta-schema (through
//                                scripts/jsonschema-check) and against what is served
// Only rpc.* and health.* are assumed; everything else comes from the service's own
// contract. EchoConformanceTests holds what only echo-svc can show (sleeps, streams,
// every status, drain with a call in flight); InProcessServerTests and
// ContractMismatchTests run an RPCServer in this process.
//
// Every response a test reads is checked against WireRules (envelope, error shape,
// code = -32000 - status, reasons in upper snake case).
//
// Run: swift build --build-tests && swift test --skip-build --filter ConformanceTests
// Needs python3 with jsonschema (`pip install jsonschema`) for the contract checks.

/// A service executable the conformance suite runs against.
///
/// Every service built on the RPC core must pass the generic suites; to put a
/// new service under them, add one row to ``all``.
struct ConformanceTarget: Sendable, Hashable, CustomTestStringConvertible {
    /// The executable's name in the build folder, e.g. `ledger-svc`.
    let executable: String
    /// Its short name: it listens on `<home>/run/<service>.sock` and streams `<service>.event`.
    let service: String
    /// Extra command-line arguments the service needs to start in a fresh test home.
    var arguments: [String] = []
    /// Extra environment variables it needs.
    var environment: [String: String] = [:]
    /// Whether the home needs the grant key pair approval-svc would create
    /// (ledger-svc waits for the public key before serving).
    var needsGrantKey = false

    var testDescription: String { executable }

    /// Every service under test: one row each.
    static let all: [ConformanceTarget] = [
        ConformanceTarget(executable: "echo-svc", service: "echo"),
        ConformanceTarget(executable: "ledger-svc", service: "ledger", needsGrantKey: true),
        ConformanceTarget(executable: "state-svc", service: "state"),
        ConformanceTarget(executable: "approval-svc", service: "approval", arguments: ["--policy", Repository.root.appendingPathComponent("compose/policy.json").path]),
        // The generic suites need no model or other service: agent-svc connects lazily.
        ConformanceTarget(executable: "agent-svc", service: "agent", arguments: ["--no-follow", "--model-simulator"]),
        // The model simulator's control socket, as the stack runs it.
        ConformanceTarget(executable: "model-sim", service: "model", arguments: ["--stack"]),
        // Its RPC side serves only the common methods (its work is HTTP); any free port.
        ConformanceTarget(executable: "gateway", service: "gateway", arguments: ["--port", "0"]),
    ]

    /// The RPC core's own test service, for the echo-only checks.
    static let echo = ConformanceTarget(executable: "echo-svc", service: "echo")
}
