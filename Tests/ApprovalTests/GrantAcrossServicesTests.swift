import Foundation
import RPC
import RPCTesting
import Testing

/// A grant issued by the real approval-svc executes in the real ledger-svc:
/// the two agree on the grant format byte for byte, and the ledger still
/// refuses everything the approval did not say.
@Suite(.serialized)
struct GrantAcrossServicesTests {
    struct Stack {
        let home: TestHome
        let approval: ServiceProcess
        let ledger: ServiceProcess

        func client(_ service: String, as identity: String) throws -> RPCClient { try home.client(service, as: identity) }

        func stop() async {
            await ledger.terminate()
            await approval.terminate()
            home.remove()
        }
    }

    static func start() async throws -> Stack {
        let home = try TestHome.make()
        let policy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("compose/policy.json").path
        // approval-svc creates the key pair; ledger-svc reads the public half.
        let approval = try await ServiceProcess.launch("approval-svc", service: "approval", home: home, arguments: ["--policy", policy])
        let ledger = try await ServiceProcess.launch("ledger-svc", service: "ledger", home: home)
        let operatorLedger = try home.client("ledger", as: "operator")
        for (account, opening) in [("checking", "1000.00"), ("alice", "0"), ("bob", "0")] {
            var params: JSONValue = ["account": .string(account)]
            if opening != "0", case .object(var fields) = params {
                fields["opening_balance"] = .string(opening)
                params = .object(fields)
            }
            _ = try await operatorLedger.call("ledger.open_account", params, as: JSONValue.self)
        }
        return Stack(home: home, approval: approval, ledger: ledger)
    }

    static func transfer(_ amount: String, to: String = "alice") -> JSONValue {
        ["kind": "transfer", "from": "checking", "to": .string(to), "amount": .string(amount), "currency": "USD"]
    }

    static func available(_ stack: Stack, _ account: String) async throws -> String? {
        let balance = try await stack.client("ledger", as: "operator").call("ledger.balance", ["account": .string(account)] as JSONValue, as: JSONValue.self)
        return balance["available"]?.stringValue
    }

    static func reason(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch let error as RPCError {
            return error.reason
        } catch {
            return "\(error)"
        }
    }

    @Test func aHumanApprovedGrantPostsTheHoldOnceAndOnlyThatHold() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let agentApproval = try stack.client("approval", as: "agent")
        let agentLedger = try stack.client("ledger", as: "agent")

        let submitted = try await agentApproval.call("approval.submit", [
            "run_id": "run_1", "call_id": "call_1", "action": Self.transfer("150.00"), "requested_by": "operator",
        ] as JSONValue, as: JSONValue.self)
        #expect(submitted["status"] == "pending")
        #expect(submitted["grant"] == nil)
        let approvalID = try #require(submitted["approval_id"]?.stringValue)

        let expiry = Date().addingTimeInterval(3600).formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
        let hold = try await agentLedger.call("ledger.hold", [
            "from": "checking", "to": "alice", "amount": "150.00", "idempotency_key": "run_1:call_1", "expires_at": .string(expiry),
        ] as JSONValue, as: JSONValue.self)
        let holdID = try #require(hold["hold_id"]?.stringValue)
        #expect(try await Self.available(stack, "checking") == "850.00")

        // Without a decision there is no grant, and the ledger moves nothing.
        #expect(await Self.reason {
            _ = try await agentLedger.call("ledger.post", ["hold_id": .string(holdID)] as JSONValue, as: JSONValue.self)
        } != nil)

        let decided = try await stack.client("approval", as: "approver1").call("approval.decide", [
            "approval_id": .string(approvalID), "decision": "approve", "version": 1,
        ] as JSONValue, as: JSONValue.self)
        #expect(decided["status"] == "approved")
        #expect(decided["grant"] == nil, "the approver does not get the grant")
        // The executor reads it.
        let grant = try #require(try await stack.client("approval", as: "agent").call(
            "approval.get", ["approval_id": .string(approvalID)] as JSONValue, as: JSONValue.self)["grant"])

        let posted = try await agentLedger.call("ledger.post", ["hold_id": .string(holdID), "grant": grant] as JSONValue, as: JSONValue.self)
        #expect(posted["state"] == "posted")
        #expect(try await Self.available(stack, "alice") == "150.00")
        #expect(try await Self.available(stack, "checking") == "850.00")

        // The same grant cannot move money again, anywhere.
        let replayed = await Self.reason {
            _ = try await agentLedger.call("ledger.transfer", [
                "from": "checking", "to": "alice", "amount": "150.00", "idempotency_key": "run_1:call_1", "grant": grant,
            ] as JSONValue, as: JSONValue.self)
        }
        #expect(replayed == "GRANT_ALREADY_USED")
        #expect(try await Self.available(stack, "alice") == "150.00")
    }

    @Test func anAutoApprovedGrantExecutesButCannotBeStretched() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let submitted = try await stack.client("approval", as: "agent").call("approval.submit", [
            "run_id": "run_2", "call_id": "call_1", "action": Self.transfer("50.00", to: "bob"), "requested_by": "operator",
        ] as JSONValue, as: JSONValue.self)
        #expect(submitted["status"] == "approved")
        let grant = try #require(submitted["grant"])
        let agentLedger = try stack.client("ledger", as: "agent")

        // A bigger amount, or another payee, under the same grant: refused, nothing moves.
        for (amount, payee, expected) in [("5000.00", "bob", "GRANT_ACTION_MISMATCH"), ("50.00", "alice", "GRANT_ACTION_MISMATCH")] {
            let refused = await Self.reason {
                _ = try await agentLedger.call("ledger.transfer", [
                    "from": "checking", "to": .string(payee), "amount": .string(amount), "idempotency_key": "run_2:call_1", "grant": grant,
                ] as JSONValue, as: JSONValue.self)
            }
            #expect(refused == expected)
        }
        #expect(try await Self.available(stack, "checking") == "1000.00")

        let entry = try await agentLedger.call("ledger.transfer", [
            "from": "checking", "to": "bob", "amount": "50.00", "idempotency_key": "run_2:call_1", "grant": grant,
        ] as JSONValue, as: JSONValue.self)
        #expect(entry["grant_id"] == grant["grant_id"])
        #expect(try await Self.available(stack, "bob") == "50.00")
        let books = try await stack.client("ledger", as: "operator").call("ledger.verify", JSONValue.object([:]), as: JSONValue.self)
        #expect(books["balanced"] == .bool(true))
    }

    /// A payroll approved once by a person in approval-svc executes in ledger-svc
    /// through `ledger.transfer_batch` under the batch grant, exactly once, and the
    /// grant covers no other batch.
    @Test func aBatchGrantFromApprovalExecutesThatBatchOnce() async throws {
        let stack = try await Self.start()
        defer { Task { await stack.stop() } }
        let transfers: [JSONValue] = [
            ["from": "checking", "to": "alice", "amount": "120.00", "idempotency_key": "pay-1"],
            ["from": "checking", "to": "bob", "amount": "80.50", "idempotency_key": "pay-2"],
            ["from": "checking", "to": "alice", "amount": "99.50", "idempotency_key": "pay-3"],
        ]
        let submitted = try await stack.client("approval", as: "operator").call("approval.submit_batch", [
            "batch_id": "payroll-1", "requested_by": "payroll-office", "transfers": .array(transfers),
        ] as JSONValue, as: JSONValue.self)
        let approvalID = try #require(submitted["approval_id"]?.stringValue)
        let decided = try await stack.client("approval", as: "approver1").call("approval.decide_batch", [
            "approval_id": .string(approvalID), "decision": "approve",
        ] as JSONValue, as: JSONValue.self)
        #expect(decided["status"] == "approved" && decided["grant"] == nil)
        let grant = try #require(try await stack.client("approval", as: "operator").call(
            "approval.get_batch", ["approval_id": .string(approvalID)] as JSONValue, as: JSONValue.self)["grant"])
        let ledger = try stack.client("ledger", as: "agent")

        // Another batch under this grant (one amount changed): refused element by element, nothing moves.
        var altered = transfers
        altered[1] = ["from": "checking", "to": "bob", "amount": "800.50", "idempotency_key": "pay-2"]
        let refused = try await ledger.call("ledger.transfer_batch", ["transfers": .array(altered), "grant": grant] as JSONValue, as: JSONValue.self)
        #expect(refused["applied"] == 0)
        #expect(refused["results"]?.arrayValues?.allSatisfy { $0["error"]?["reason"] == "GRANT_BATCH_MISMATCH" } == true)
        #expect(try await Self.available(stack, "checking") == "1000.00")

        let applied = try await ledger.call("ledger.transfer_batch", ["transfers": .array(transfers), "grant": grant] as JSONValue, as: JSONValue.self)
        #expect(applied["applied"] == 3)
        #expect(try await Self.available(stack, "checking") == "700.00")
        #expect(try await Self.available(stack, "alice") == "219.50")
        #expect(try await Self.available(stack, "bob") == "80.50")
        // The same call again answers as before and moves nothing more.
        let replay = try await ledger.call("ledger.transfer_batch", ["transfers": .array(transfers), "grant": grant] as JSONValue, as: JSONValue.self)
        #expect(replay["results"] == applied["results"])
        #expect(try await Self.available(stack, "checking") == "700.00")
        let books = try await stack.client("ledger", as: "operator").call("ledger.verify", JSONValue.object([:]), as: JSONValue.self)
        #expect(books["balanced"] == .bool(true))
    }
}
