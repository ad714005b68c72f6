import Foundation
import Testing

@testable import HitlCLI

/// A service's `database` in compose: passed as `--database`, refused where the
/// service cannot use it or the URL is not PostgreSQL's.
struct ComposeDatabaseTests {
    func load(_ service: String) throws -> StackDefinition {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("stack-\(UUID().uuidString).json").path
        let text = #"{"identities": [{"name": "operator", "role": "operator"}], "services": [\#(service)]}"#
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try StackDefinition.load(path: path)
    }

    @Test func aDatabaseIsPassedToTheServiceBeforeItsArguments() throws {
        let definition = try load(
            #"{"name": "state", "executable": "state-svc", "args": ["--prune-completed-after-hours", "720"], "database": "postgres://hitl@db/hitl_state"}"#)
        #expect(definition.services[0].arguments == ["--database", "postgres://hitl@db/hitl_state", "--prune-completed-after-hours", "720"])
        let plain = try load(#"{"name": "state", "executable": "state-svc", "args": ["--x"]}"#)
        #expect(plain.services[0].arguments == ["--x"])
    }

    @Test func aDatabaseWhereItCannotBeUsedIsRefused() throws {
        #expect {
            _ = try load(#"{"name": "gateway", "executable": "gateway", "database": "postgres://hitl@db/gateway"}"#)
        } throws: { "\($0)".contains("only approval-svc, ledger-svc, state-svc can keep its data in PostgreSQL") }
        let approval = try load(#"{"name": "approval", "executable": "approval-svc", "database": "postgres://hitl@db/hitl"}"#)
        #expect(approval.services[0].arguments == ["--database", "postgres://hitl@db/hitl"])
        let ledger = try load(#"{"name": "ledger", "executable": "ledger-svc", "database": "postgres://hitl@db/hitl"}"#)
        #expect(ledger.services[0].arguments == ["--database", "postgres://hitl@db/hitl"])
        #expect {
            _ = try load(#"{"name": "state", "executable": "state-svc", "database": "mysql://hitl@db/state"}"#)
        } throws: { "\($0)".contains("must be a postgres:// URL") }
    }

    @Test func aListenAddressIsPassedAsListenAndOnlyWhereTheRPCIsServed() throws {
        let ledger = try load(
            #"{"name": "ledger", "executable": "ledger-svc", "database": "postgres://hitl@db/hitl", "listen": "tcp://10.0.0.2:9003", "args": ["--x"]}"#)
        #expect(ledger.services[0].arguments == ["--database", "postgres://hitl@db/hitl", "--listen", "tcp://10.0.0.2:9003", "--x"])
        #expect {
            _ = try load(#"{"name": "gateway", "executable": "gateway", "listen": "tcp://0.0.0.0:9000"}"#)
        } throws: { "\($0)".contains("gateway.listen: only agent-svc, approval-svc, echo-svc, ledger-svc, state-svc serve the RPC on TCP") }
        #expect {
            _ = try load(#"{"name": "ledger", "executable": "ledger-svc", "listen": "unix:/tmp/x.sock"}"#)
        } throws: { "\($0)".contains("ledger.listen must be a TCP address") }
    }
}
