import Crypto
import Foundation
import RPC
import RPCFuzz
import RPCTesting
import Testing

/// Black-box security checks of the whole stack, over the real sockets of the
/// real executables. What the suites of each service already prove is referenced,
/// not repeated:
/// - ConformanceTests/AccessConformanceTests: for every service and every method
///   its `x-access` names, no token is UNAUTHENTICATED, an unknown token (or one of
///   another home) is UNKNOWN_TOKEN, each role the contract leaves out is
///   PERMISSION_DENIED, and no token is echoed in an error.
/// - ConformanceTests/ProcessConformanceTests: each service alone makes its socket
///   0600 and its run folder 0700, and refuses a socket folder others can enter.
/// - LedgerTests/LedgerGrantTests: forged, altered, misdirected, expired, malformed
///   and reused grants move nothing; ApprovalTests/GrantAcrossServicesTests: a real
///   grant posts once and cannot be stretched; ApprovalTests/ApprovalNotificationTests:
///   tampered, mismatched, reused link tokens are refused.
/// Here: the same rules with every service running together, the separation of
/// duties on a real pending approval, a replay after the ledger is killed, and
/// secrets in logs.
@Suite(.serialized)
struct SecurityTests {
    @Test func everySocketIs0600InA0700FolderAndEverySecretFileIs0600() async throws {
        try await withStack { stack in
            var folder = stat()
            #expect(stat(stack.home.directory.run.path, &folder) == 0)
            #expect(folder.st_mode & 0o777 == 0o700, "run folder mode \(String(folder.st_mode & 0o777, radix: 8))")
            for service in FuzzStack.allServices {
                var socket = stat()
                try #require(lstat(stack.home.socket(service), &socket) == 0, "no socket for \(service)")
                #expect(socket.st_mode & S_IFMT == S_IFSOCK)
                #expect(socket.st_mode & 0o777 == 0o600, "\(service).sock mode \(String(socket.st_mode & 0o777, radix: 8))")
                #expect(socket.st_uid == getuid())
            }
            // Tokens and the grant signing key: readable by the owner only.
            let run = stack.home.directory.run.path
            let files = try FileManager.default.subpathsOfDirectory(atPath: run).filter { !$0.hasSuffix(".sock") }
            #expect(files.contains { $0.hasSuffix(".token") })
            for file in files {
                var info = stat()
                guard stat(run + "/" + file, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
                let mode = info.st_mode & 0o777
                if file.hasSuffix(".pub") || file.contains("public") {
                    #expect(mode & 0o022 == 0, "\(file) is writable by others: \(String(mode, radix: 8))")
                } else {
                    #expect(mode & 0o077 == 0, "\(file) is readable by others: \(String(mode, radix: 8))")
                }
            }
        }
    }

    /// Separation of duties on a real pending approval: the agent that asked cannot
    /// decide it, nor can the operator; no one but an approver can, and a refused
    /// attempt leaves it pending.
    @Test func onlyAnApproverDecidesAndARefusedDecisionChangesNothing() async throws {
        try await withStack { stack in
            let submitted = try await stack.call("approval", "approval.submit", [
                "run_id": "sec-run", "call_id": "c1", "requested_by": "operator",
                "action": ["kind": "transfer", "from": "checking", "to": "alice", "amount": "150.00", "currency": "USD"],
            ], as: "agent")
            guard case .result(let approval) = submitted, let id = approval["approval_id"]?.stringValue else {
                Issue.record("submit failed: \(submitted)")
                return
            }
            #expect(approval["status"] == "pending")
            let decide: JSONValue = ["approval_id": .string(id), "decision": "approve", "version": 1]
            for identity in ["agent", "operator"] {
                let outcome = try await stack.call("approval", "approval.decide", decide, as: identity)
                #expect(outcome == .refused(status: "PERMISSION_DENIED", reason: "ROLE_NOT_ALLOWED"), "\(identity) decided: \(outcome)")
            }
            #expect(try await stack.call("approval", "approval.decide", decide, as: nil).reason == "UNAUTHENTICATED")
            // An approver's token presented to a method of another role is refused too.
            #expect(try await stack.call("approval", "approval.submit", [
                "run_id": "sec-run", "call_id": "c2", "requested_by": "approver1",
                "action": ["kind": "deposit", "to": "alice", "amount": "1.00", "currency": "USD"],
            ], as: "approver1").reason == "ROLE_NOT_ALLOWED")
            guard case .result(let still) = try await stack.call("approval", "approval.get", ["approval_id": .string(id)], as: "operator") else {
                Issue.record("approval.get failed")
                return
            }
            #expect(still["status"] == "pending", "a refused decision changed the approval: \(still.jsonText())")
            guard case .result(let decided) = try await stack.call("approval", "approval.decide", decide, as: "approver1") else {
                Issue.record("the approver could not decide")
                return
            }
            #expect(decided["status"] == "approved")
            #expect(decided["grant"] == nil, "the approver does not get the grant")
            guard case .result(let read) = try await stack.call("approval", "approval.get", ["approval_id": .string(id)], as: "agent") else {
                Issue.record("approval.get failed")
                return
            }
            #expect(read["grant"] != nil, "the agent, which executes, reads it")
        }
    }

    /// Methods only the operator may call, and reads a role must not make, per
    /// each method's `x-access` in `Protocols/*.openrpc.json`.
    @Test func operatorOnlyMethodsAndForbiddenReadsAreRefused() async throws {
        try await withStack { stack in
            let forbidden: [(String, String, JSONValue, [String])] = [
                ("ledger", "ledger.open_account", ["account": "eve", "opening_balance": "1000000.00"], ["agent", "approver1"]),
                ("state", "state.prune", ["completed_before": "2099-01-01T00:00:00Z"], ["agent", "approver1"]),
                ("echo", "echo.operator_only", [:], ["agent", "approver2"]),
                // Approvers see approvals, not the agent's runs, sessions or cursors.
                ("state", "state.list_runs", [:], ["approver1"]),
                ("state", "state.load_run", ["run_id": "any"], ["approver1"]),
                ("state", "state.load_session", ["session_id": "any"], ["approver2"]),
                ("state", "state.get_cursor", ["name": "agent.decisions"], ["approver1"]),
                // Approvers decide; they do not move money or touch holds themselves.
                ("ledger", "ledger.transfer", ["from": "checking", "to": "bob", "amount": "1.00", "idempotency_key": "k"], ["approver1"]),
                ("ledger", "ledger.void", ["hold_id": "hold_1"], ["approver1"]),
                ("approval", "approval.complete", ["approval_id": "ap_x", "outcome": ["status": "succeeded"]], ["approver1"]),
            ]
            for (service, method, params, identities) in forbidden {
                for identity in identities {
                    let outcome = try await stack.call(service, method, params, as: identity)
                    #expect(outcome == .refused(status: "PERMISSION_DENIED", reason: "ROLE_NOT_ALLOWED"), "\(identity) → \(method): \(outcome)")
                }
            }
            // Nothing the refused calls asked for happened.
            #expect(try await stack.call("ledger", "ledger.balance", ["account": "eve"], as: "operator").reason == "ACCOUNT_NOT_FOUND")
            guard case .result(let books) = try await stack.call("ledger", "ledger.balance", ["account": "checking"], as: "operator") else {
                Issue.record("balance failed")
                return
            }
            #expect(books["posted"] == "1000.00")
        }
    }

    /// A grant the real approval-svc issued, spent once, then replayed after
    /// ledger-svc was killed with SIGKILL and restarted: single use survives a crash.
    @Test func aSpentGrantIsStillRefusedAfterTheLedgerIsKilled() async throws {
        try await withStack { stack in
            guard case .result(let auto) = try await stack.call("approval", "approval.submit", [
                "run_id": "sec-replay", "call_id": "c1", "requested_by": "operator",
                "action": ["kind": "transfer", "from": "checking", "to": "bob", "amount": "20.00", "currency": "USD"],
            ], as: "agent"), let grant = auto["grant"] else {
                Issue.record("a $20 transfer was not auto-approved with a grant")
                return
            }
            let transfer: JSONValue = ["from": "checking", "to": "bob", "amount": "20.00", "idempotency_key": "sec-replay:c1", "grant": grant]
            guard case .result = try await stack.call("ledger", "ledger.transfer", transfer, as: "agent") else {
                Issue.record("the grant did not execute")
                return
            }
            let ledger = try #require(stack.processes["ledger"])
            await ledger.kill9()
            let restarted = try await ServiceProcess.launch("ledger-svc", service: "ledger", home: stack.home)
            // The same request again is the idempotent answer (nothing moves twice) …
            _ = try await stack.call("ledger", "ledger.transfer", transfer, as: "agent")
            // … and the grant under any other key, or for its hold, is refused.
            let other = try await stack.call("ledger", "ledger.transfer", transfer.with("idempotency_key", "sec-replay:c2"), as: "agent")
            #expect(other.reason == "GRANT_IDEMPOTENCY_MISMATCH" || other.reason == "GRANT_ALREADY_USED", "\(other)")
            guard case .result(let bob) = try await stack.call("ledger", "ledger.balance", ["account": "bob"], as: "operator") else {
                Issue.record("balance failed")
                return
            }
            #expect(bob["posted"] == "20.00", "the grant moved money twice: \(bob.jsonText())")
            if case .result(let verify) = try await stack.call("ledger", "ledger.verify", as: "operator") {
                #expect(verify["balanced"] == true)
            }
            await restarted.terminate()
        }
    }
}
