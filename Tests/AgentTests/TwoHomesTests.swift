import Foundation
import RPC
import RPCTesting
import ServiceKit
import Testing

/// Past one machine, as two homes on this one: state-svc, approval-svc and ledger-svc
/// serve home A's sockets and TCP ports with mutual TLS; agent-svc runs in home B, which
/// has only the stack's tokens, its CA and certificates, and `run/addresses.json` naming
/// A's ports. A chat on B pauses on A's approval service, a person decides on A, and B's
/// decision follower (approval.watch over TLS) resumes the run; the money moves on A, once.
@Suite(.serialized)
struct TwoHomesTests {
    /// Copies `name` (a file or a folder) from A's run folder to B's, replacing B's.
    static func copy(_ name: String, from a: TestHome, to b: TestHome) throws {
        let source = a.directory.run.appendingPathComponent(name)
        let target = b.directory.run.appendingPathComponent(name)
        try? FileManager.default.removeItem(at: target)
        try FileManager.default.copyItem(at: source, to: target)
    }

    @Test func anAgentOnOneHomeWorksWithServicesOnAnotherOverTLS() async throws {
        let a = try TestHome.make()
        let b = try TestHome.make()
        defer {
            a.remove()
            b.remove()
        }
        try TLSAuthority.provision(["state", "approval", "ledger", "client"], hosts: ["127.0.0.1"], in: a.directory)
        let ports = ["state": try TestPorts.freeLoopbackPort(), "approval": try TestPorts.freeLoopbackPort(), "ledger": try TestPorts.freeLoopbackPort()]
        let policy = repositoryRoot.appendingPathComponent("compose/policy.json").path
        let approval = try await ServiceProcess.launch(
            "approval-svc", service: "approval", home: a, arguments: ["--policy", policy, "--listen", "tcp://127.0.0.1:\(ports["approval"]!)"])
        let ledger = try await ServiceProcess.launch("ledger-svc", service: "ledger", home: a, arguments: ["--listen", "tcp://127.0.0.1:\(ports["ledger"]!)"])
        let state = try await ServiceProcess.launch("state-svc", service: "state", home: a, arguments: ["--listen", "tcp://127.0.0.1:\(ports["state"]!)"])
        let services = [approval, ledger, state]
        defer { Task { for process in services { await process.terminate() } } }
        let books = try a.client("ledger")
        for (account, opening) in [("checking", "1000.00"), ("alice", "0")] {
            _ = try await books.call(
                "ledger.open_account", ["account": .string(account), "opening_balance": .string(opening)] as JSONValue, as: JSONValue.self)
        }

        // Home B: the stack's identities and tokens, its TLS folder, and where A's services are.
        for name in ["tokens", "identities.json", "tls"] { try Self.copy(name, from: a, to: b) }
        let addresses = ports.mapValues { "tcp://127.0.0.1:\($0)" }
        try JSONEncoder().encode(addresses).write(to: b.directory.addresses)
        let (simulator, model) = try AgentStack.startSimulator(home: b)
        defer { simulator.terminate() }
        let agent = try await ServiceProcess.launch("agent-svc", service: "agent", home: b, environment: [
            "OPENAI_BASE_URL": "http://127.0.0.1:\(model)/v1", "OPENAI_API_KEY": "sk-test", "HITL_MODEL": "sim", "HITL_LLM_API": "responses",
        ])
        defer { Task { await agent.terminate() } }

        let chat = try b.client("agent")
        let paused = try await chat.call("agent.chat", ["message": "Transfer $150 to Alice"] as JSONValue, as: JSONValue.self)
        #expect(paused["status"]?.stringValue == "awaiting_approval", "\(paused)")
        let approvalID = try #require(paused["pending"]?.arrayValues?.first?["approval_id"]?.stringValue)
        #expect(try await books.call("ledger.balance", ["account": "checking"] as JSONValue, as: JSONValue.self)["held"]?.stringValue == "150.00",
                "the hold was placed on A's books from B")

        let person = try a.client("approval", as: "approver1")
        _ = try await person.call(
            "approval.decide", ["approval_id": .string(approvalID), "decision": "approve", "version": 1] as JSONValue, as: JSONValue.self)
        await person.close()
        var run = paused
        let deadline = ContinuousClock.now + .seconds(20)
        while run["status"]?.stringValue != "completed", ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            run = try await chat.call("agent.get_run", ["run_id": paused["run_id"] ?? .null] as JSONValue, as: JSONValue.self)
        }
        #expect(run["status"]?.stringValue == "completed", "B's decision follower resumed the run after a decision on A: \(run)")
        #expect(try await books.call("ledger.balance", ["account": "alice"] as JSONValue, as: JSONValue.self)["posted"]?.stringValue == "150.00")
        #expect(try await books.call("ledger.verify", [:] as JSONValue, as: JSONValue.self)["balanced"] == .bool(true))
        await chat.close()
        await books.close()
    }
}
